package main

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/server"
)

func parseServe(t *testing.T, args []string, env map[string]string) (server.Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	fs, o := serveFlags()
	require.NoError(t, fs.Parse(args))
	if err := applyEnv(fs); err != nil {
		return server.Config{}, err
	}
	return o.config()
}

func TestServeFlagsAndEnvironmentTwins(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(t *testing.T, c server.Config)
	}{
		{"defaults", nil, nil, func(t *testing.T, c server.Config) {
			require.Equal(t, ".acremu", c.DataDir)
			require.Equal(t, []string{"127.0.0.1:5000"}, c.Listen)
			require.Equal(t, "myregistry", c.DefaultRegistry)
			require.Equal(t, server.PortRange{First: 5001, Last: 5099}, c.RegistryPorts)
			require.Equal(t, firewall.DefaultNAT, c.NAT)
			require.Equal(t, server.DefaultClientSecret, c.ClientSecret)
		}},
		{"flags", []string{"--data-dir", "/d", "--listen", ":1", "--listen", ":2", "--nat", "10.0.0.0/8=198.51.100.1", "--rule-delay", "2s", "--default-registry", ""}, nil,
			func(t *testing.T, c server.Config) {
				require.Equal(t, "/d", c.DataDir)
				require.Equal(t, []string{":1", ":2"}, c.Listen)
				require.Equal(t, []firewall.NAT{{From: netip.MustParsePrefix("10.0.0.0/8"), To: netip.MustParseAddr("198.51.100.1")}}, c.NAT)
				require.Equal(t, 2*time.Second, c.RuleDelay)
				require.Empty(t, c.DefaultRegistry)
			}},
		{"environment", nil, map[string]string{
			"ACREMU_DATA_DIR": "/env", "ACREMU_LISTEN": "0.0.0.0:5000, [::]:5000", "ACREMU_IN_MEMORY": "true",
			"ACREMU_TRUSTED_PROXY": "10.1.0.0/16", "ACREMU_VNET": "lab=10.2.0.0/16,lab=10.3.0.1", "ACREMU_TRUSTED_SERVICE_NETWORK": "100.64.0.0/10", "ACREMU_NAT": "none",
		}, func(t *testing.T, c server.Config) {
			require.Equal(t, "/env", c.DataDir)
			require.True(t, c.InMemory)
			require.Equal(t, []string{"0.0.0.0:5000", "[::]:5000"}, c.Listen)
			require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, c.TrustedProxies)
			require.Equal(t, []firewall.VNet{{Name: "lab", Prefix: netip.MustParsePrefix("10.2.0.0/16")}, {Name: "lab", Prefix: netip.MustParsePrefix("10.3.0.1/32")}}, c.VNets)
			require.Equal(t, []netip.Prefix{netip.MustParsePrefix("100.64.0.0/10")}, c.TrustedServiceNetworks)
			require.Empty(t, c.NAT)
		}},
		{"flag beats environment", []string{"--public-host", "flag"}, map[string]string{"ACREMU_PUBLIC_HOST": "env"}, func(t *testing.T, c server.Config) {
			require.Equal(t, "flag", c.PublicHost)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseServe(t, tt.args, tt.env)
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestServeFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad nat", []string{"--nat", "10.0.0.0/8"}, nil, "want CIDR=IP"},
		{"bad proxy", []string{"--trusted-proxy", "nope"}, nil, "--trusted-proxy"},
		{"bad vnet", []string{"--vnet", "10.0.0.0/8"}, nil, "--vnet \"10.0.0.0/8\": want NAME=CIDR"},
		{"private network refused", []string{"--private-network", "10.0.0.0/8"}, nil, "--vnet NAME=CIDR"},
		{"bad trusted-service network", []string{"--trusted-service-network", "x"}, nil, "--trusted-service-network"},
		{"bad port range", []string{"--registry-ports", "9-1"}, nil, "port range"},
		{"bad env duration", nil, map[string]string{"ACREMU_RULE_DELAY": "soon"}, "ACREMU_RULE_DELAY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseServe(t, tt.args, tt.env)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestHelpDocumentsEveryFlagAndItsEnvironmentTwin(t *testing.T) {
	fs, _ := serveFlags()
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	fs.Usage()
	for _, name := range []string{"data-dir", "in-memory", "listen", "public-host", "default-registry", "registry-ports", "domain",
		"subscription", "tenant", "client-id", "client-secret", "nat", "trusted-proxy", "vnet", "trusted-service-network", "rule-delay", "tls-cert", "tls-key"} {
		require.Contains(t, buf.String(), "--"+name)
		require.Contains(t, buf.String(), envName(name))
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        "plain",
		"https://a:1/": "https://a:1/",
		"with space":   "'with space'",
		"it's":         `'it'\''s'`,
		"":             "''",
		"$(rm -rf /)":  "'$(rm -rf /)'",
	} {
		require.Equal(t, want, shellQuote(in), in)
	}
}

func TestBannerNamesWhatAUserNeeds(t *testing.T) {
	cfg := server.DefaultConfig()
	var buf bytes.Buffer
	printBanner(&buf, cfg, server.Info{
		Listeners: []string{"127.0.0.1:5000"}, CAPath: ".acremu/ca.crt", CAURL: "http://localhost:5000/_acremu/ca.crt",
		Default: &server.RegistryInfo{Name: "myregistry", LoginServer: "localhost:5000", Username: "myregistry", Passwords: [2]string{"p1", "p2"}},
	})
	out := buf.String()
	for _, want := range []string{"127.0.0.1:5000", ".acremu/ca.crt", server.DefaultSubscription, server.DefaultTenant, server.DefaultClientID,
		server.DefaultClientSecret, "203.0.113.10", "localhost:5000", "p1", "p2", "docker login localhost:5000 -u myregistry -p p1", "az-login", "/portal/"} {
		require.True(t, strings.Contains(out, want), "banner lacks %q:\n%s", want, out)
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5000": "127.0.0.1:5000",
		"0.0.0.0:5000":   "127.0.0.1:5000",
		"[::]:5000":      "127.0.0.1:5000",
		":5000":          "127.0.0.1:5000",
		"[::1]:5000":     "[::1]:5000",
		"10.1.2.3:443":   "10.1.2.3:443",
	} {
		require.Equal(t, want, dialable(in), in)
	}
}
