package portal_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/portal"
	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/token"
)

const (
	testSub    = "11111111-1111-1111-1111-111111111111"
	testClient = "33333333-3333-3333-3333-333333333333"
	testSecret = "acremu-dev-secret"
	natAddr    = "203.0.113.10"
)

// clock is a settable clock for the signer, the ARM API and the portal.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// hooks serves nothing: every registry is on the front end.
type hooks struct {
	mu      sync.Mutex
	deleted []string
}

func (*hooks) AllocatePort([]int) (int, error) { return 0, nil }
func (*hooks) PrepareRegistry(store.Registry, []mgmt.ResolvedToken) (mgmt.PreparedChange, error) {
	return mgmt.PreparedChange{}, nil
}
func (*hooks) LoginServer(r store.Registry) string { return "localhost:5000" }
func (h *hooks) RegistryDeleted(r store.Registry) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deleted = append(h.deleted, r.Name)
}

// env is a portal in front of a real ARM API on an ephemeral store, served
// by an httptest server.
type env struct {
	t        *testing.T
	api      *mgmt.API
	hooks    *hooks
	clock    *clock
	srv      *httptest.Server
	client   firewall.Client // what ClientOf answers
	activity map[string]portal.Activity
	mu       sync.Mutex
}

type envOption func(*portal.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	st, err := store.OpenEphemeral()
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := &env{
		t: t, hooks: &hooks{}, clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		client:   firewall.Client{Peer: netip.MustParseAddr("127.0.0.1"), Source: netip.MustParseAddr("127.0.0.1"), Addr: netip.MustParseAddr(natAddr)},
		activity: map[string]portal.Activity{},
	}
	key, err := token.GenerateKey()
	require.NoError(t, err)
	signer, err := token.NewSigner(key, e.clock.Now)
	require.NoError(t, err)
	e.api, err = mgmt.New(mgmt.Config{
		Store: st, Signer: signer, Hooks: e.hooks, Subscription: testSub, Tenant: "22222222-2222-2222-2222-222222222222",
		ClientID: testClient, ClientSecret: testSecret, MaxIPRules: 100, Now: e.clock.Now,
	})
	require.NoError(t, err)
	_, _, err = e.api.EnsureRegistry("acremu", "myregistry")
	require.NoError(t, err)
	e.srv = httptest.NewServer(e.portal(t, []byte(strings.Repeat("k", 32)), opts...))
	t.Cleanup(e.srv.Close)
	return e
}

// portal builds a portal on e's ARM API with its own session key.
func (e *env) portal(t *testing.T, key []byte, opts ...envOption) *portal.Portal {
	cfg := portal.Config{
		ARM: e.api, SignIn: e.api.Token, Subscription: testSub, SessionKey: key,
		ClientOf: func(*http.Request) firewall.Client {
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.client
		},
		Activity: func(name string) (portal.Activity, bool) {
			e.mu.Lock()
			defer e.mu.Unlock()
			a, ok := e.activity[name]
			return a, ok
		},
		HintClientID: testClient, HintSecret: testSecret,
		Now: e.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := portal.New(cfg)
	require.NoError(t, err)
	return p
}

func (e *env) setClient(c firewall.Client) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.client = c
}

// arm sends an ARM request directly (as az would) and returns status and
// decoded body.
func (e *env) arm(method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	tok, _, err := e.api.Token(testClient, testSecret)
	require.NoError(e.t, err)
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(e.t, err)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path+"?api-version=2023-07-01", rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &out), rec.Body.String())
	}
	return rec.Code, out
}

func groupPath(rg string) string { return "/subscriptions/" + testSub + "/resourceGroups/" + rg }

func regPath(rg, name string) string {
	return groupPath(rg) + "/providers/Microsoft.ContainerRegistry/registries/" + name
}

// createRegistry creates a registry through ARM (as az would).
func (e *env) createRegistry(rg, name, sku string, extra map[string]any) {
	e.t.Helper()
	status, body := e.arm("PUT", groupPath(rg), map[string]any{"location": "eastus"})
	require.Contains(e.t, []int{200, 201}, status, body)
	reg := map[string]any{"location": "eastus", "sku": map[string]string{"name": sku}}
	for k, v := range extra {
		reg[k] = v
	}
	status, body = e.arm("PUT", regPath(rg, name), reg)
	require.Equal(e.t, 201, status, body)
}

// snapshot is every registry's ARM representation, to prove that a
// refused request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	status, body := e.arm("GET", "/subscriptions/"+testSub+"/providers/Microsoft.ContainerRegistry/registries", nil)
	require.Equal(e.t, 200, status)
	_, groups := e.arm("GET", "/subscriptions/"+testSub+"/resourcegroups", nil)
	b, err := json.Marshal([]any{body, groups})
	require.NoError(e.t, err)
	return string(b)
}

// network is a registry's network properties as ARM reports them.
func (e *env) network(rg, name string) (publicAccess, defaultAction string, rules []string) {
	e.t.Helper()
	status, body := e.arm("GET", regPath(rg, name), nil)
	require.Equal(e.t, 200, status, body)
	props := body["properties"].(map[string]any)
	nrs := props["networkRuleSet"].(map[string]any)
	rules = []string{}
	for _, r := range nrs["ipRules"].([]any) {
		rules = append(rules, r.(map[string]any)["value"].(string))
	}
	return props["publicNetworkAccess"].(string), nrs["defaultAction"].(string), rules
}

// user is a browser: a cookie jar, no automatic redirects, and the CSRF
// token of the last page it loaded.
type user struct {
	t      *testing.T
	base   string // the portal server's URL
	c      *http.Client
	csrf   string
	origin string
}

func (e *env) newUser() *user { return e.newUserAt(e.srv.URL) }

// newUserAt is a browser for the portal served at base.
func (e *env) newUserAt(base string) *user {
	jar, err := cookiejar.New(nil)
	require.NoError(e.t, err)
	return &user{t: e.t, base: base, origin: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// response is a page as the user got it.
type response struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (u *user) do(req *http.Request) response {
	u.t.Helper()
	resp, err := u.c.Do(req)
	require.NoError(u.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(u.t, err)
	if m := csrfField.FindStringSubmatch(string(b)); m != nil {
		u.csrf = m[1]
	}
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b), header: resp.Header}
}

func (u *user) get(path string) response {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u.base+path, nil)
	require.NoError(u.t, err)
	return u.do(req)
}

// post sends a form as the page would: with the page's CSRF token (unless
// the form sets csrf itself) and the browser's Origin header.
func (u *user) post(path string, form url.Values) response {
	u.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", u.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, u.base+path, strings.NewReader(form.Encode()))
	require.NoError(u.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if u.origin != "" {
		req.Header.Set("Origin", u.origin)
	}
	return u.do(req)
}

// signIn signs in with the development credentials and requires success.
func (u *user) signIn() {
	u.t.Helper()
	u.get("/portal/signin")
	r := u.post("/portal/signin", url.Values{"client_id": {testClient}, "client_secret": {testSecret}, "next": {"/portal/"}})
	require.Equal(u.t, http.StatusSeeOther, r.status, r.body)
	require.Equal(u.t, "/portal/", r.location)
	u.get("/portal/") // loads the session's CSRF token
}

// sessionCookie is the user's portal session cookie value ("" if none).
func (u *user) sessionCookie() string {
	_, v := u.session()
	return v
}

// session is the name and value of the user's portal session cookie.
func (u *user) session() (name, value string) {
	base, _ := url.Parse(u.base + "/portal/")
	for _, c := range u.c.Jar.Cookies(base) {
		if strings.HasPrefix(c.Name, "acremu_portal_") && !strings.Contains(c.Name, "signin") {
			return c.Name, c.Value
		}
	}
	return "", ""
}

// armLog records the JSON bodies of the ARM PATCH requests the portal sends.
type armLog struct {
	mu      sync.Mutex
	patches []string
}

func (l *armLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.patches) == 0 {
		return ""
	}
	return l.patches[len(l.patches)-1]
}

// recordPatches wraps the ARM handler so tests see the exact bodies.
func recordPatches(l *armLog) envOption {
	return func(cfg *portal.Config) {
		next := cfg.ARM
		cfg.ARM = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPatch {
				b, _ := io.ReadAll(r.Body)
				l.mu.Lock()
				l.patches = append(l.patches, string(b))
				l.mu.Unlock()
				r.Body = io.NopCloser(bytes.NewReader(b))
			}
			next.ServeHTTP(w, r)
		})
	}
}
