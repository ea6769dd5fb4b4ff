package registry

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
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
		{name: "no ID", cfg: func(c *Config) { c.ID = "" }},
		{name: "no login server", cfg: func(c *Config) { c.LoginServer = "" }},
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
			cfg.ID, cfg.LoginServer = "id", "myreg.azurecr.io"
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
		cfg := defaultConfig()
		cfg.ID, cfg.LoginServer = "id", "myreg.azurecr.io"
		reg, err := New(Options{HTTPSecret: "s", Signer: testSigner}, cfg)
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
	require.NoError(t, e.update(cfg))

	tests := []struct {
		name string
		cfg  func(*Config)
	}{
		{"another name", func(c *Config) { c.Name = "other" }},
		{"bad rule", func(c *Config) { c.Rules.IPRules = []string{"1.2.3.4/40"} }},
		{"bad public access", func(c *Config) { c.Rules.PublicNetworkAccess = "Sometimes" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := defaultConfig()
			bad.AdminUserEnabled = false
			tt.cfg(&bad)
			assert.Error(t, e.update(bad))
			bad = defaultConfig()
			bad.ID, bad.LoginServer = "another-id", e.reg.loginServer
			assert.Error(t, e.reg.Update(bad), "another registry's ID")
			// Nothing changed: neither rules nor credentials.
			assert.Equal(t, allowOne, e.reg.Rules())
			assert.True(t, e.reg.creds.Load().adminEnabled)
		})
	}
	t.Run("name in another case", func(t *testing.T) {
		c := defaultConfig()
		c.Name = "MyReg"
		assert.NoError(t, e.update(c))
	})
}

// TestTokenBinding checks that a registry accepts only tokens it issued
// itself: bound to its ID and its login server, whatever the request's Host
// said when the token was minted. Each case is tried twice, so that the
// verified-token cache is held to the same rules as the signature check.
func TestTokenBinding(t *testing.T) {
	// The signer stamps tokens with the real time; the registry's clock
	// starts there and is moved past their expiry below.
	start := time.Now()
	clock := testarm.NewClock(start)
	e := newEnv(t, defaultConfig(), func(o *Options) { o.Now = clock.Now })
	sign := func(grant, registryID string, aud ...string) string {
		tok, err := testSigner.Sign(token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: "someone", Audience: aud},
			GrantType:        grant,
			Registry:         registryID,
			Tenant:           "tenant-from-arm",
		}, time.Hour)
		require.NoError(t, err)
		return tok
	}
	own := sign(token.GrantAccess, e.reg.id, e.host)
	tests := []struct {
		name    string
		raw     string
		grant   string
		wantErr error // nil: accepted
	}{
		{"own token", own, token.GrantAccess, nil},
		{"own token as another grant type", own, token.GrantRefresh, token.ErrInvalid},
		{"another registry's ID, this audience", sign(token.GrantAccess, "another-registry", e.host), token.GrantAccess, errForeignToken},
		{"this ID, another audience", sign(token.GrantAccess, e.reg.id, "other.azurecr.io"), token.GrantAccess, errForeignToken},
		{"this ID, no audience", sign(token.GrantAccess, e.reg.id), token.GrantAccess, errForeignToken},
		{"no registry ID", sign(token.GrantAccess, "", e.host), token.GrantAccess, errForeignToken},
		{"refresh token of another registry", sign(token.GrantRefresh, "another-registry", e.host), token.GrantRefresh, errForeignToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for attempt := range 2 {
				_, _, err := e.reg.verify(tt.raw, tt.grant)
				if tt.wantErr == nil {
					require.NoError(t, err, "attempt %d", attempt)
				} else {
					require.ErrorIs(t, err, tt.wantErr, "attempt %d", attempt)
				}
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		clock.Set(start.Add(2 * time.Hour))
		_, _, err := e.reg.verify(own, token.GrantAccess)
		assert.ErrorIs(t, err, token.ErrInvalid)
	})
}

// TestLazyBackend: a lazily created registry judges and serves requests as
// an eager one does; its backend is built on first use or by Warm, and a
// registry closed before that never builds it.
func TestLazyBackend(t *testing.T) {
	lazy := func(o *Options) {
		o.Lazy = true
		o.StorageDir = t.TempDir()
	}
	t.Run("first request builds it", func(t *testing.T) {
		e := newEnv(t, defaultConfig(), lazy)
		require.Nil(t, e.reg.app, "not built by New")
		r := e.do(http.MethodGet, "/v2/", nil, basic(testName, testPW1))
		assert.Equal(t, http.StatusOK, r.status, r.body)
		require.NotNil(t, e.reg.app)
	})
	t.Run("denied before it is built", func(t *testing.T) {
		e := newEnv(t, Config{Name: testName, Rules: denyAll()}, lazy)
		r := e.do(http.MethodGet, "/v2/", nil, nil)
		assert.Equal(t, http.StatusForbidden, r.status)
		assert.Nil(t, e.reg.app, "the firewall answered without the backend")
	})
	t.Run("Warm builds it", func(t *testing.T) {
		e := newEnv(t, defaultConfig(), lazy)
		require.NoError(t, e.reg.Warm())
		assert.NotNil(t, e.reg.app)
	})
	t.Run("closed before use", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.ID, cfg.LoginServer = "id", "myreg.azurecr.io"
		reg, err := New(Options{HTTPSecret: "s", Signer: testSigner, Logger: quietLogger(), Lazy: true, StorageDir: t.TempDir()}, cfg)
		require.NoError(t, err)
		require.NoError(t, reg.Close())
		assert.ErrorIs(t, reg.Warm(), ErrClosed)
		assert.Nil(t, reg.app)
	})
}
