package registry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/acremu/acremu/pkg/firewall"
)

// BenchmarkServeHTTP measures whole requests in process, per credential
// kind, against a denied request (the firewall alone).
func BenchmarkServeHTTP(b *testing.B) {
	resolver, _ := firewall.NewResolver(firewall.ResolverConfig{NAT: firewall.DefaultNAT})
	cfg := defaultConfig()
	cfg.LoginServer, cfg.ID = "example.azurecr.io", testRegistryID("example.azurecr.io")
	reg, err := New(Options{HTTPSecret: "s", Signer: testSigner, Resolver: resolver, Logger: quietLogger()}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer reg.Close()
	denied, err := New(Options{HTTPSecret: "s", Signer: testSigner, Resolver: resolver, Logger: quietLogger()},
		Config{ID: "denied", LoginServer: "denied.azurecr.io", Name: testName, Rules: firewall.Rules{PublicNetworkAccess: "Disabled"}})
	if err != nil {
		b.Fatal(err)
	}
	defer denied.Close()
	client := resolver.FromPeer(netip.MustParseAddr("127.0.0.1"))
	tok := accessToken(b, "example.azurecr.io")
	adminTok := benchAdminToken(b, reg, client)
	cases := []struct {
		name string
		reg  *Registry
		auth http.Header
		want int
	}{
		{"denied", denied, nil, http.StatusForbidden},
		{"challenge", reg, nil, http.StatusUnauthorized},
		{"basic admin", reg, basic(testName, testPW1), http.StatusOK},
		{"bearer", reg, bearer(tok), http.StatusOK},
		{"bearer for admin credential", reg, bearer(adminTok), http.StatusOK},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://example.azurecr.io/v2/", nil)
			req = req.WithContext(firewall.NewContext(req.Context(), client))
			req.Header = bc.auth
			if req.Header == nil {
				req.Header = http.Header{}
			}
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				bc.reg.ServeHTTP(w, req)
				if w.Code != bc.want {
					b.Fatalf("status %d, want %d", w.Code, bc.want)
				}
			}
		})
	}
}

// benchAdminToken signs in as the admin user at reg's token endpoint and
// returns the access token, which names the admin password it was issued
// for.
func benchAdminToken(b *testing.B, reg *Registry, client firewall.Client) string {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://example.azurecr.io/oauth2/token?service=example.azurecr.io", nil)
	req = req.WithContext(firewall.NewContext(req.Context(), client))
	req.SetBasicAuth(testName, testPW1)
	w := httptest.NewRecorder()
	reg.ServeHTTP(w, req)
	var resp tokenResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.AccessToken == "" {
		b.Fatalf("admin token: %d %s", w.Code, w.Body)
	}
	return resp.AccessToken
}
