package registry

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/token"
)

func TestNewValidates(t *testing.T) {
	good := Options{HTTPSecret: "s", Signer: testSigner, Logger: quietLogger()}
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	tests := []struct {
		name string
		opts func(*Options)
		cfg  func(*Config)
	}{
		{name: "empty name", cfg: func(c *Config) { c.Name = "" }},
		{name: "no HTTP secret", opts: func(o *Options) { o.HTTPSecret = "" }},
		{name: "no signer", opts: func(o *Options) { o.Signer = nil }},
		{name: "negative delay", opts: func(o *Options) { o.RuleDelay = -1 }},
		{name: "bad default action", cfg: func(c *Config) { c.Rules.DefaultAction = "Maybe" }},
		{name: "bad IP rule", cfg: func(c *Config) { c.Rules.IPRules = []string{"not-an-ip"} }},
		{name: "IPv6 rule", cfg: func(c *Config) { c.Rules.IPRules = []string{"2001:db8::/32"} }},
		{name: "storage dir below a file", opts: func(o *Options) { o.StorageDir = filepath.Join(file, "storage") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, cfg := good, defaultConfig()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			reg, err := New(opts, cfg)
			assert.Error(t, err)
			assert.Nil(t, reg)
		})
	}
	t.Run("defaults", func(t *testing.T) {
		reg, err := New(Options{HTTPSecret: "s", Signer: testSigner}, defaultConfig())
		require.NoError(t, err)
		assert.Equal(t, testName, reg.Name())
		assert.NoError(t, reg.Close())
	})
}

func TestUpdateValidates(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	allowOne := firewall.Rules{DefaultAction: "Deny", IPRules: []string{natAddr}}
	cfg := defaultConfig()
	cfg.Rules = allowOne
	require.NoError(t, e.reg.Update(cfg))

	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"another registry", func(c *Config) { c.Name = "other" }},
		{"bad rule", func(c *Config) { c.Rules.IPRules = []string{"1.2.3.4/40"} }},
		{"bad public access", func(c *Config) { c.Rules.PublicNetworkAccess = "Sometimes" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := defaultConfig()
			bad.AdminUserEnabled = false
			tt.cfg(&bad)
			assert.Error(t, e.reg.Update(bad))
			// Nothing changed: neither rules nor credentials.
			assert.Equal(t, allowOne, e.reg.Rules())
			assert.True(t, e.reg.creds.Load().adminEnabled)
		})
	}
	t.Run("name in another case", func(t *testing.T) {
		c := defaultConfig()
		c.Name = "MyReg"
		assert.NoError(t, e.reg.Update(c))
	})
}

func TestTokenCache(t *testing.T) {
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	e := newEnv(t, defaultConfig(), func(o *Options) { o.Now = func() time.Time { return *now.Load() } })
	tok := accessToken(t, e.host, token.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}})

	for range 2 { // the second use is served from the cache
		_, err := e.reg.verify(tok, token.GrantAccess, e.host)
		require.NoError(t, err)
	}
	tests := []struct {
		name  string
		grant string
		aud   string
	}{
		{"another grant type", token.GrantRefresh, e.host},
		{"another audience", token.GrantAccess, "other.azurecr.io"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.reg.verify(tok, tt.grant, tt.aud)
			assert.ErrorIs(t, err, token.ErrInvalid)
		})
	}
	t.Run("expired", func(t *testing.T) {
		later := start.Add(2 * time.Hour)
		now.Store(&later)
		_, err := e.reg.verify(tok, token.GrantAccess, e.host)
		assert.ErrorIs(t, err, token.ErrInvalid)
	})
}
