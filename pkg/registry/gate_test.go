package registry

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
)

func TestFirewallDenialWireFormat(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, Config{Name: testName, Rules: denyAll()}, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.DenyLogInterval = -1 // one line per denial, to check each
	})
	tests := []struct {
		name   string
		method string
		path   string
		form   []string // POST form fields
	}{
		{name: "GET /v2/", method: http.MethodGet, path: "/v2/"},
		{name: "HEAD manifest", method: http.MethodHead, path: "/v2/hello/manifests/latest"},
		{name: "GET catalog", method: http.MethodGet, path: "/v2/_catalog"},
		{name: "GET token", method: http.MethodGet, path: "/oauth2/token?service=" + e.host + "&scope=repository:hello:pull"},
		{name: "POST exchange", method: http.MethodPost, path: "/oauth2/exchange",
			form: []string{"grant_type", "access_token", "service", e.host, "access_token", armToken(t)}},
		{name: "ACR metadata API", method: http.MethodGet, path: "/acr/v1/_catalog"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, hdr := form(tt.form...)
			r := e.do(tt.method, tt.path, body, merge(hdr, basic(testName, testPW1)))
			assert.Equal(t, http.StatusForbidden, r.status)
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
			assert.Equal(t, []string{"registry/2.0"}, r.header.Values("Docker-Distribution-Api-Version"))
			assert.Empty(t, r.header.Values("Www-Authenticate"))
			want := deniedBody(natAddr)
			assert.Equal(t, fmt.Sprint(len(want)), r.header.Get("Content-Length"))
			if tt.method == http.MethodHead {
				assert.Empty(t, r.body)
			} else {
				assert.Equal(t, want, r.body)
			}
			assert.Equal(t, Stats{Denied: uint64(i + 1)}, e.reg.Stats())
			d := e.reg.RecentDenials()[0]
			assert.Equal(t, tt.method, d.Method)
			assert.Equal(t, strings.Split(tt.path, "?")[0], d.Path)
			assert.Equal(t, netip.MustParseAddr("127.0.0.1"), d.Peer)
			assert.Equal(t, netip.MustParseAddr("127.0.0.1"), d.Source)
			assert.Equal(t, firewall.DocumentationNATAddr, d.Addr)
			assert.Equal(t, firewall.ReasonNotInIPRules.String(), d.Reason)
		})
	}
	// One log line per denial, with every field.
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	require.Len(t, lines, len(tests))
	for _, k := range []string{"level=WARN", "registry=myreg", "peer=127.0.0.1", "source=127.0.0.1", "addr=" + natAddr, "method=GET", "path=/v2/", `reason="default action Deny and no IP rule matches"`} {
		assert.Contains(t, lines[0], k)
	}
}

func TestFirewallPolicies(t *testing.T) {
	tests := []struct {
		name     string
		rules    firewall.Rules
		resolver firewall.ResolverConfig
		allowed  bool
		addr     string // address named in the 403
	}{
		{name: "default allow", allowed: true},
		{name: "deny, no rules", rules: denyAll(), addr: natAddr},
		{name: "deny, rule names the client", rules: firewall.Rules{DefaultAction: "Deny", IPRules: []string{natAddr}}, allowed: true},
		{name: "deny, range holds the client", rules: firewall.Rules{DefaultAction: "Deny", IPRules: []string{"52.0.0.1", "203.0.113.0/24"}}, allowed: true},
		{name: "deny, rule for another address", rules: firewall.Rules{DefaultAction: "Deny", IPRules: []string{"52.0.0.1"}}, addr: natAddr},
		{name: "public access disabled overrides an allowing rule", rules: firewall.Rules{PublicNetworkAccess: "Disabled", DefaultAction: "Deny", IPRules: []string{natAddr}}, addr: natAddr},
		{name: "public access disabled with default allow", rules: firewall.Rules{PublicNetworkAccess: "Disabled", DefaultAction: "Allow"}, addr: natAddr},
		{
			name:     "private endpoint bypasses disabled public access",
			rules:    firewall.Rules{PublicNetworkAccess: "Disabled", DefaultAction: "Deny", PrivateEndpointNetworks: []string{"lab"}},
			resolver: firewall.ResolverConfig{NAT: firewall.DefaultNAT, VNets: []firewall.VNet{{Name: "lab", Prefix: pfx("127.0.0.0/8")}}},
			allowed:  true,
		},
		{
			name:     "a virtual network without a private endpoint is public",
			rules:    firewall.Rules{PublicNetworkAccess: "Disabled", DefaultAction: "Deny", PrivateEndpointNetworks: []string{"other"}},
			resolver: firewall.ResolverConfig{NAT: firewall.DefaultNAT, VNets: []firewall.VNet{{Name: "lab", Prefix: pfx("127.0.0.0/8")}}},
			addr:     natAddr,
		},
		{
			name:     "without NAT the loopback address is judged",
			rules:    firewall.Rules{DefaultAction: "Deny", IPRules: []string{"52.0.0.1"}},
			resolver: firewall.ResolverConfig{},
			addr:     "127.0.0.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{Name: testName, Rules: tt.rules}, func(o *Options) {
				if tt.resolver.NAT != nil || tt.resolver.VNets != nil || tt.addr == "127.0.0.1" {
					o.Resolver = mustResolver(t, tt.resolver)
				}
			})
			r := e.do(http.MethodGet, "/v2/", nil, nil)
			if tt.allowed {
				assert.Equal(t, http.StatusUnauthorized, r.status, r.body)
				assert.Equal(t, Stats{Allowed: 1}, e.reg.Stats())
				return
			}
			assert.Equal(t, http.StatusForbidden, r.status)
			assert.Equal(t, deniedBody(tt.addr), r.body)
			assert.Equal(t, Stats{Denied: 1}, e.reg.Stats())
		})
	}
}

// The client the front end stores in the connection's context is the one
// judged; RemoteAddr is only the fallback.
func TestFirewallUsesContextClient(t *testing.T) {
	resolver := mustResolver(t, firewall.ResolverConfig{NAT: []firewall.NAT{{From: pfx("127.0.0.0/8"), To: netip.MustParseAddr("198.51.100.7")}}})
	reg, err := New(Options{HTTPSecret: "s", Signer: testSigner, Resolver: resolver, Logger: quietLogger()},
		Config{ID: "id", LoginServer: "myreg.azurecr.io", Name: testName, Rules: firewall.Rules{DefaultAction: "Deny", IPRules: []string{"198.51.100.7"}}})
	require.NoError(t, err)
	defer reg.Close()
	srv := httptest.NewUnstartedServer(reg)
	srv.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		peer := c.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
		return firewall.NewContext(ctx, resolver.FromPeer(peer))
	}
	srv.Start()
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL + "/v2/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

// A rule change applies to the next request, even on a connection that is
// already open and kept alive.
func TestRuleChangeOnKeepAliveConnection(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	client := e.srv.Client()
	get := func() (response, bool) {
		var reused bool
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, e.srv.URL+"/v2/", nil)
		require.NoError(t, err)
		return e.send(client, req), reused
	}

	r, _ := get()
	require.Equal(t, http.StatusUnauthorized, r.status)

	cfg := defaultConfig()
	cfg.Rules = denyAll()
	require.NoError(t, e.update(cfg))
	r, reused := get()
	assert.True(t, reused, "second request must reuse the connection")
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, deniedBody(natAddr), r.body)

	cfg.Rules.IPRules = []string{natAddr}
	require.NoError(t, e.update(cfg))
	r, reused = get()
	assert.True(t, reused)
	assert.Equal(t, http.StatusUnauthorized, r.status)
}

func TestRuleDelay(t *testing.T) {
	const delay = 100 * time.Millisecond
	e := newEnv(t, defaultConfig(), func(o *Options) { o.RuleDelay = delay })
	cfg := defaultConfig()
	cfg.Rules = denyAll()
	start := time.Now()
	require.NoError(t, e.update(cfg))
	// Credentials apply at once; the rules only after the delay.
	r := e.do(http.MethodGet, "/v2/", nil, nil)
	if time.Since(start) < delay {
		assert.Equal(t, http.StatusUnauthorized, r.status, "rule applied before the delay")
	}
	require.Eventually(t, func() bool {
		return e.do(http.MethodGet, "/v2/", nil, nil).status == http.StatusForbidden
	}, 5*time.Second, 10*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(start), delay)
	assert.Equal(t, denyAll(), e.reg.Rules())
}

// An earlier delayed change that fires late must not undo a later one.
func TestRuleDelayOrder(t *testing.T) {
	e := newEnv(t, defaultConfig(), func(o *Options) { o.RuleDelay = time.Hour })
	first, err := firewall.NewPolicy(denyAll())
	require.NoError(t, err)
	second, err := firewall.NewPolicy(firewall.Rules{DefaultAction: "Deny", IPRules: []string{natAddr}})
	require.NoError(t, err)

	e.reg.applyPolicy(2, second)
	e.reg.applyPolicy(1, first)
	assert.Equal(t, []string{natAddr}, e.reg.Rules().IPRules)

	// Real updates are queued until Close cancels them.
	cfg := defaultConfig()
	cfg.Rules = denyAll()
	require.NoError(t, e.update(cfg))
	e.reg.mu.Lock()
	assert.Len(t, e.reg.pending, 1)
	e.reg.mu.Unlock()
	require.NoError(t, e.reg.Close())
	e.reg.mu.Lock()
	assert.Empty(t, e.reg.pending)
	e.reg.mu.Unlock()
	assert.Error(t, e.update(cfg))
}

func TestForwardedHeaders(t *testing.T) {
	rules := firewall.Rules{DefaultAction: "Deny", IPRules: []string{"198.51.100.1"}}
	xff := http.Header{"X-Forwarded-For": {"198.51.100.1"}}
	t.Run("spoofed from an untrusted peer", func(t *testing.T) {
		e := newEnv(t, Config{Name: testName, Rules: rules}, nil)
		r := e.do(http.MethodGet, "/v2/", nil, merge(xff, http.Header{"Forwarded": {"for=198.51.100.1"}}))
		assert.Equal(t, http.StatusForbidden, r.status)
		assert.Equal(t, deniedBody(natAddr), r.body)
		d := e.reg.RecentDenials()[0]
		assert.Equal(t, netip.MustParseAddr("127.0.0.1"), d.Source)
	})
	t.Run("honoured from a trusted proxy", func(t *testing.T) {
		e := newEnv(t, Config{Name: testName, Rules: rules}, func(o *Options) {
			o.Resolver = mustResolver(t, firewall.ResolverConfig{NAT: firewall.DefaultNAT, TrustedProxies: []netip.Prefix{pfx("127.0.0.0/8")}})
		})
		r := e.do(http.MethodGet, "/v2/", nil, merge(xff, http.Header{"X-Forwarded-Proto": {"https"}}))
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, `Bearer realm="https://`+e.host+`/oauth2/token",service="`+e.host+`"`, r.header.Get("Www-Authenticate"))
	})
	t.Run("stripped before distribution builds URLs", func(t *testing.T) {
		e := newEnv(t, defaultConfig(), nil)
		r := e.do(http.MethodPost, "/v2/hello/blobs/uploads/", nil, merge(basic(testName, testPW1), http.Header{
			"X-Forwarded-Host":  {"evil.example"},
			"X-Forwarded-Proto": {"https"},
			"Forwarded":         {"host=evil.example;proto=https"},
		}))
		require.Equal(t, http.StatusAccepted, r.status, r.body)
		assert.True(t, strings.HasPrefix(r.header.Get("Location"), "http://"+e.host+"/v2/hello/blobs/uploads/"), r.header.Get("Location"))
	})
}

func TestRecentDenialsRing(t *testing.T) {
	var ring denialRing
	assert.Empty(t, ring.list())
	for i := range maxDenials + 10 {
		ring.add(Denial{Path: fmt.Sprint(i)})
	}
	got := ring.list()
	require.Len(t, got, maxDenials)
	assert.Equal(t, fmt.Sprint(maxDenials+9), got[0].Path)
	assert.Equal(t, "10", got[maxDenials-1].Path)
}

// The decision path allocates nothing, with the client from the context
// (the front end's way) and from RemoteAddr (the fallback).
func TestAdmitDoesNotAllocate(t *testing.T) {
	resolver := mustResolver(t, firewall.ResolverConfig{NAT: firewall.DefaultNAT})
	reg, err := New(Options{HTTPSecret: "s", Signer: testSigner, Resolver: resolver, Logger: quietLogger()},
		Config{ID: "id", LoginServer: "myreg.azurecr.io", Name: testName, Rules: firewall.Rules{DefaultAction: "Deny", IPRules: []string{"52.0.0.0/8", "198.51.100.0/24", "203.0.113.10"}}})
	require.NoError(t, err)
	defer reg.Close()

	withCtx := httptest.NewRequest(http.MethodGet, "/v2/", nil)
	withCtx = withCtx.WithContext(firewall.NewContext(withCtx.Context(), resolver.FromPeer(netip.MustParseAddr("127.0.0.1"))))
	bare := httptest.NewRequest(http.MethodGet, "/v2/", nil)
	bare.RemoteAddr = "127.0.0.1:40000"
	for name, req := range map[string]*http.Request{"context": withCtx, "remote addr": bare} {
		var d firewall.Decision
		allocs := testing.AllocsPerRun(100, func() { _, d = reg.admit(req) })
		assert.Zero(t, allocs, name)
		assert.True(t, d.Allowed, name)
	}
}

// The fallback peer from RemoteAddr is unmapped before NAT and rules apply.
func TestAdmitRemoteAddr(t *testing.T) {
	resolver := mustResolver(t, firewall.ResolverConfig{NAT: firewall.DefaultNAT})
	reg, err := New(Options{HTTPSecret: "s", Signer: testSigner, Resolver: resolver, Logger: quietLogger()},
		Config{ID: "id", LoginServer: "myreg.azurecr.io", Name: testName, Rules: firewall.Rules{DefaultAction: "Deny", IPRules: []string{natAddr, "52.1.2.3"}}})
	require.NoError(t, err)
	defer reg.Close()
	tests := []struct {
		remote  string
		addr    string
		allowed bool
	}{
		{"127.0.0.1:40000", natAddr, true},
		{"[::ffff:127.0.0.1]:40000", natAddr, true},
		{"[::1]:40000", natAddr, true},
		{"[::ffff:52.1.2.3]:40000", "52.1.2.3", true},
		{"52.1.2.4:40000", "52.1.2.4", false},
		{"not an address", "invalid IP", false},
	}
	for _, tt := range tests {
		t.Run(tt.remote, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
			req.RemoteAddr = tt.remote
			c, d := reg.admit(req)
			assert.Equal(t, tt.addr, c.Addr.String())
			assert.Equal(t, tt.allowed, d.Allowed)
		})
	}
}
