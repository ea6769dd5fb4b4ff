package registry

import (
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
