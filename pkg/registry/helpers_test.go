package registry

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/token"
)

const (
	testName = "myreg"
	testPW1  = "first-password"
	testPW2  = "second-password"
)

// natAddr is what the default NAT makes every loopback test client look like.
var natAddr = firewall.DocumentationNATAddr.String()

func defaultConfig() Config {
	return Config{Name: testName, AdminUserEnabled: true, Passwords: [2]string{testPW1, testPW2}}
}

// testEnv is one Registry behind a real HTTP server on loopback.
type testEnv struct {
	t      *testing.T
	reg    *Registry
	srv    *httptest.Server
	signer *token.Signer
	host   string // host:port of srv, the registry's service name
}

var testSigner = func() *token.Signer {
	key, err := token.GenerateKey()
	if err != nil {
		panic(err)
	}
	s, err := token.NewSigner(key, nil)
	if err != nil {
		panic(err)
	}
	return s
}()

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func mustResolver(t *testing.T, cfg firewall.ResolverConfig) *firewall.Resolver {
	t.Helper()
	r, err := firewall.NewResolver(cfg)
	require.NoError(t, err)
	return r
}

// newEnv starts a registry with cfg; mod may adjust the options (the
// defaults: in-memory storage, loopback NATed to natAddr, a quiet logger).
func newEnv(t *testing.T, cfg Config, mod func(*Options)) *testEnv {
	t.Helper()
	opts := Options{
		HTTPSecret: "test-secret",
		Signer:     testSigner,
		Resolver:   mustResolver(t, firewall.ResolverConfig{NAT: firewall.DefaultNAT}),
		Logger:     quietLogger(),
	}
	if mod != nil {
		mod(&opts)
	}
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	if cfg.LoginServer == "" {
		cfg.LoginServer = host
	}
	if cfg.ID == "" {
		cfg.ID = testRegistryID(cfg.LoginServer)
	}
	reg, err := New(opts, cfg)
	require.NoError(t, err)
	srv.Config.Handler = reg
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, reg.Close())
	})
	return &testEnv{t: t, reg: reg, srv: srv, signer: testSigner, host: host}
}

// testRegistryID is the ID newEnv gives the registry at loginServer unless
// the test chooses one.
func testRegistryID(loginServer string) string { return "id-of-" + strings.ToLower(loginServer) }

// response is a fully read HTTP response.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends one request with a fresh connection-reusing client.
func (e *testEnv) do(method, path string, body io.Reader, hdr http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	require.NoError(e.t, err)
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	return e.send(e.srv.Client(), req)
}

func (e *testEnv) send(c *http.Client, req *http.Request) response {
	e.t.Helper()
	resp, err := c.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return response{resp.StatusCode, resp.Header, string(b)}
}

func basic(user, pass string) http.Header {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return http.Header{"Authorization": r.Header.Values("Authorization")}
}

func bearer(tok string) http.Header {
	return http.Header{"Authorization": {"Bearer " + tok}}
}

func form(kv ...string) (io.Reader, http.Header) {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return strings.NewReader(v.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
}

func merge(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, vs := range h {
			out[k] = append(out[k], vs...)
		}
	}
	return out
}

// tokenField decodes a token endpoint response and returns one field.
func tokenField(t *testing.T, r response, field string) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, r.body)
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.body), &m))
	return m[field]
}

// armToken mints what acremu's ADFS endpoint hands out.
func armToken(t *testing.T) string {
	t.Helper()
	tok, err := testSigner.Sign(token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "sp-object-id", Audience: jwt.ClaimStrings{"https://management.azure.com/"}},
		GrantType:        token.GrantARM,
		Tenant:           "tenant-from-arm",
		AppID:            "app-id",
	}, time.Hour)
	require.NoError(t, err)
	return tok
}

// accessToken mints an ACR access token of the registry newEnv serves at
// host, with the given access, as one issued from an exchanged identity's
// refresh token (which carries the tenant).
func accessToken(t testing.TB, host string, access ...token.Access) string {
	t.Helper()
	tok, err := testSigner.Sign(token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: "someone", Audience: jwt.ClaimStrings{host}},
		GrantType:        token.GrantAccess,
		Registry:         testRegistryID(host),
		Tenant:           "tenant-from-arm",
		Access:           access,
	}, time.Hour)
	require.NoError(t, err)
	return tok
}

func deniedBody(addr string) string {
	return `{"errors":[{"code":"DENIED","message":"client with IP \u0027` + addr +
		`\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}` + "\n"
}

const unauthorizedNull = `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":null}]}` + "\n"

const unauthorizedNoDetail = `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information."}]}` + "\n"

func denyAll() firewall.Rules { return firewall.Rules{DefaultAction: firewall.ActionDeny} }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// update applies c to the registry of e, under e's identity.
func (e *testEnv) update(c Config) error {
	c.ID, c.LoginServer = e.reg.id, e.reg.loginServer
	return e.reg.Update(c)
}

// refusedBody is a token endpoint's 401 body with a message saying why
// (msg as it appears in the JSON).
func refusedBody(msg string) string {
	return `{"errors":[{"code":"UNAUTHORIZED","message":"` + msg + `"}]}` + "\n"
}
