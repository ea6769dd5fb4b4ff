package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/store"
)

// freeRange finds n consecutive free loopback ports.
func freeRange(t *testing.T, n int) PortRange {
	t.Helper()
	for base := 31000 + os.Getpid()%2000*10; base < 60000; base += 37 {
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return PortRange{base, base + n - 1}
		}
	}
	t.Fatal("no free port range")
	return PortRange{}
}

func testConfig(t *testing.T) Config {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.RegistryPorts = EphemeralPorts // no probe-then-release race; tests of port ranges set one
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return cfg
}

func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// client talks to s as one user: plain HTTP, signed in as the
// development identity on its first ARM request.
type client struct {
	*testarm.Client
	t *testing.T
}

func newClient(t *testing.T, s *Server) *client {
	c := testarm.NewClient(t, fmt.Sprintf("http://127.0.0.1:%d", s.FrontPort()))
	c.HTTP.Timeout = 10 * time.Second
	c.APIVersion = testarm.APICurrent
	return &client{Client: c, t: t}
}

// forTest is c reporting to t: a subtest's failures must end the subtest's
// goroutine, not its parent's.
func (c *client) forTest(t *testing.T) *client {
	return &client{Client: c.For(t), t: t}
}

// do sends a request with exactly the given headers and returns status
// and body.
func (c *client) do(method, rawURL string, body any, header http.Header) (int, []byte) {
	c.t.Helper()
	res := c.Do(method, rawURL, body, header)
	return res.Code, res.Body
}

// arm sends an ARM request and returns status and decoded body (nil when
// empty).
func (c *client) arm(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	res := c.Request(method, path, body)
	if len(res.Body) == 0 {
		return res.Code, nil
	}
	return res.Code, res.JSON(c.t)
}

// TestDevelopmentIdentityIsTheSharedTestIdentity keeps the identity the
// shared ARM test client signs in with equal to the server's defaults.
func TestDevelopmentIdentityIsTheSharedTestIdentity(t *testing.T) {
	assert.Equal(t, DefaultSubscription, testarm.Subscription)
	assert.Equal(t, DefaultTenant, testarm.Tenant)
	assert.Equal(t, DefaultClientID, testarm.ClientID)
	assert.Equal(t, DefaultClientSecret, testarm.ClientSecret)
}

func loginServerOf(t *testing.T, m map[string]any) string {
	t.Helper()
	props, ok := m["properties"].(map[string]any)
	require.True(t, ok, "no properties in %v", m)
	return props["loginServer"].(string)
}

func TestDefaultRegistryServedOnFrontEndForAnyHost(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)
	status, m := c.arm("GET", testarm.RegistryPath(DefaultResourceGroup, "myregistry"), nil)
	require.Equal(t, 200, status, m)
	require.Equal(t, fmt.Sprintf("localhost:%d", s.FrontPort()), loginServerOf(t, m))

	for _, host := range []string{"localhost", "127.0.0.1", "unknown.example"} {
		t.Run(host, func(t *testing.T) {
			c := c.forTest(t)
			req, _ := http.NewRequest("GET", c.Base+"/v2/", nil)
			req.Host = fmt.Sprintf("%s:%d", host, s.FrontPort())
			resp, err := c.HTTP.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, 401, resp.StatusCode)
			require.Equal(t, fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s"`, req.Host, req.Host), resp.Header.Get("WWW-Authenticate"))
		})
	}
}

func TestRegistryPortLifecycle(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	c := newClient(t, s)
	status, m := c.arm("PUT", testarm.SubscriptionPath+"/resourcegroups/rg", map[string]any{"location": "eastus"})
	require.Contains(t, []int{200, 201}, status, m)
	status, m = c.arm("PUT", testarm.RegistryPath("rg", "portreg"), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Premium"}})
	require.Equal(t, 201, status, m)
	login := loginServerOf(t, m)
	_, port, err := net.SplitHostPort(login)
	require.NoError(t, err)
	require.NotEqual(t, "0", port)
	var regID string
	require.NoError(t, s.store.View(func(tx *store.Tx) error {
		rec, err := tx.Registry("portreg")
		regID = rec.ID
		return err
	}))
	require.DirExists(t, filepath.Join(cfg.DataDir, "registries", regID))

	v2 := func() (int, error) {
		resp, err := c.HTTP.Get("http://127.0.0.1:" + port + "/v2/")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	code, err := v2()
	require.NoError(t, err)
	require.Equal(t, 401, code)

	// The port answers TLS too, with a certificate from the acremu CA.
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.CA().Pool()}}}
	resp, err := tlsClient.Get("https://" + login + "/v2/")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)

	// A restart reopens the port.
	require.NoError(t, s.Close(context.Background()))
	s2 := startServer(t, cfg)
	code, err = v2()
	require.NoError(t, err)
	require.Equal(t, 401, code)

	// Deleting closes it and removes the storage.
	c2 := newClient(t, s2)
	status, _ = c2.arm("DELETE", testarm.RegistryPath("rg", "portreg"), nil)
	require.Equal(t, 200, status)
	_, err = v2()
	require.Error(t, err)
	entries, err := os.ReadDir(filepath.Join(cfg.DataDir, "registries"))
	require.NoError(t, err)
	for _, e := range entries {
		require.NotEqual(t, regID, e.Name(), "storage of the deleted registry")
	}
}

func TestDomainRoutingByHostAndSNI(t *testing.T) {
	cfg := testConfig(t)
	cfg.Domain = "acremu.test"
	s := startServer(t, cfg)
	c := newClient(t, s)
	c.arm("PUT", testarm.SubscriptionPath+"/resourcegroups/rg", map[string]any{"location": "eastus"})
	status, m := c.arm("PUT", testarm.RegistryPath("rg", "Contoso"), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Premium"}})
	require.Equal(t, 201, status, m)
	host := fmt.Sprintf("contoso.acremu.test:%d", s.FrontPort())
	require.Equal(t, host, loginServerOf(t, m))

	// Deny the named registry only: the default registry must stay open.
	status, m = c.arm("PATCH", testarm.RegistryPath("rg", "contoso"), map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
	require.Equal(t, 200, status, m)

	dialer := &net.Dialer{}
	tlsClient := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.CA().Pool()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, fmt.Sprintf("127.0.0.1:%d", s.FrontPort()))
		},
	}}
	tests := []struct {
		name string
		url  string
		want int
	}{
		{"named registry over https with SNI", "https://" + host + "/v2/", 403},
		{"named registry over http by Host", "http://" + host + "/v2/", 403},
		{"other names fall back to the default registry", fmt.Sprintf("https://other.acremu.test:%d/v2/", s.FrontPort()), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := tlsClient.Get(tt.url)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, tt.want, resp.StatusCode)
		})
	}
}

func TestWhoamiIgnoresSpoofedHeadersFromUntrustedPeers(t *testing.T) {
	tests := []struct {
		name    string
		trusted bool
		want    string
	}{
		{"untrusted peer", false, "203.0.113.10"},
		{"trusted proxy", true, "198.51.100.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			if tt.trusted {
				p, _ := firewall.ParsePrefix("127.0.0.1")
				cfg.TrustedProxies = append(cfg.TrustedProxies, p)
			}
			s := startServer(t, cfg)
			c := newClient(t, s)
			status, out := c.do("GET", c.Base+"/_acremu/whoami", nil, http.Header{"X-Forwarded-For": {"198.51.100.9"}})
			require.Equal(t, 200, status)
			var who whoamiResponse
			require.NoError(t, json.Unmarshal(out, &who))
			require.Equal(t, tt.want, who.IP)
		})
	}
}

func TestHealthAndUnknownPaths(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)
	status, out := c.do("GET", c.Base+"/_acremu/health", nil, nil)
	require.Equal(t, 200, status)
	require.JSONEq(t, `{"status":"ok"}`, string(out))
	status, out = c.do("GET", c.Base+"/nothing/here", nil, nil)
	require.Equal(t, 401, status, "ARM paths need a token first")
	require.True(t, strings.Contains(string(out), `"error"`), string(out))
}

func TestConfigValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no listeners", func(c *Config) { c.Listen = nil }, "--listen"},
		{"empty public host", func(c *Config) { c.PublicHost = "" }, "--public-host"},
		{"cert without key", func(c *Config) { c.TLSCert = "x.pem" }, "--tls-cert and --tls-key"},
		{"empty secret", func(c *Config) { c.ClientSecret = "" }, "--client-secret"},
		{"negative delay", func(c *Config) { c.RuleDelay = -time.Second }, "--rule-delay"},
		{"trusted proxy 0.0.0.0/0", func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")} }, "--allow-any-trusted-proxy"},
		{"trusted proxy ::/0", func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("::/0")} }, "--allow-any-trusted-proxy"},
		{"trusted proxy 0.0.0.0/1", func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/1")} }, "--allow-any-trusted-proxy"},
		{"trusted proxy 2000::/3", func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("2000::/3")} }, "--allow-any-trusted-proxy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.mutate(&cfg)
			_, err := New(cfg)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in      string
		want    PortRange
		wantErr bool
	}{
		{"5001-5099", PortRange{5001, 5099}, false},
		{"6000", PortRange{6000, 6000}, false},
		{"0", EphemeralPorts, false},
		{" 0 ", EphemeralPorts, false},
		{"5099-5001", PortRange{}, true},
		{"0-10", PortRange{}, true},
		{"a-b", PortRange{}, true},
		{"1-70000", PortRange{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePortRange(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestMetricsCountFirewallDecisions(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)
	status, m := c.arm("PATCH", testarm.RegistryPath(DefaultResourceGroup, "myregistry"), map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
	require.Equal(t, 200, status, m)
	for i := 0; i < 3; i++ {
		status, _ := c.do("GET", c.Base+"/v2/", nil, nil)
		require.Equal(t, 403, status)
	}
	status, out := c.do("GET", c.Base+"/_acremu/metrics", nil, nil)
	require.Equal(t, 200, status)
	require.Contains(t, string(out), `acremu_firewall_requests_total{decision="denied",registry="myregistry"} 3`)
	require.Contains(t, string(out), `acremu_firewall_requests_total{decision="allowed",registry="myregistry"} 0`)
}

// TestTrustedProxyRanges: real proxy networks are accepted; catch-alls only
// with --allow-any-trusted-proxy.
func TestTrustedProxyRanges(t *testing.T) {
	tests := []struct {
		prefix   string
		allowAny bool
		wantErr  bool
	}{
		{"10.0.0.0/8", false, false},
		{"172.16.0.0/12", false, false},
		{"127.0.0.1/32", false, false},
		{"fd00::/16", false, false},
		{"0.0.0.0/0", false, true},
		{"0.0.0.0/7", false, true},
		{"::/0", false, true},
		{"::/0", true, false},
		{"0.0.0.0/0", true, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s allowAny=%v", tt.prefix, tt.allowAny), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(tt.prefix)}
			cfg.AllowAnyTrustedProxy = tt.allowAny
			err := cfg.validate()
			if tt.wantErr {
				require.ErrorContains(t, err, "--allow-any-trusted-proxy")
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestExposedWithWellKnownSecret(t *testing.T) {
	tests := []struct {
		name   string
		listen []string
		secret string
		want   bool
	}{
		{"loopback v4", []string{"127.0.0.1:5000"}, DefaultClientSecret, false},
		{"loopback v6", []string{"[::1]:5000"}, DefaultClientSecret, false},
		{"localhost", []string{"localhost:5000"}, DefaultClientSecret, false},
		{"wildcard", []string{"0.0.0.0:5000"}, DefaultClientSecret, true},
		{"empty host", []string{":5000"}, DefaultClientSecret, true},
		{"v6 wildcard", []string{"[::]:5000"}, DefaultClientSecret, true},
		{"LAN address", []string{"127.0.0.1:5000", "192.168.1.5:5000"}, DefaultClientSecret, true},
		{"wildcard with own secret", []string{"0.0.0.0:5000"}, "s3cret-of-my-own", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Listen: tt.listen, ClientSecret: tt.secret}
			assert.Equal(t, tt.want, cfg.ExposedWithWellKnownSecret())
		})
	}
}
