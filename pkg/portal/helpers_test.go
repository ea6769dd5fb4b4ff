package portal_test

import (
	"bytes"
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

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/portal"
	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/token"
)

// natAddr is what ClientOf answers for every request unless a test sets
// another client.
const natAddr = "203.0.113.10"

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
	clock    *testarm.Clock
	arm      *testarm.Client // az's view: the ARM API over HTTP, signed in
	srv      *httptest.Server
	*callers // shared by every view of e
}

// callers is what the portal is told about who calls it.
type callers struct {
	mu       sync.Mutex
	client   firewall.Client // what ClientOf answers
	activity map[string]portal.Activity
}

type envOption func(*portal.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	st, err := store.OpenEphemeral()
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := &env{
		t: t, hooks: &hooks{}, clock: testarm.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		callers: &callers{
			client:   firewall.Client{Peer: netip.MustParseAddr("127.0.0.1"), Source: netip.MustParseAddr("127.0.0.1"), Addr: netip.MustParseAddr(natAddr)},
			activity: map[string]portal.Activity{},
		},
	}
	key, err := token.GenerateKey()
	require.NoError(t, err)
	signer, err := token.NewSigner(key, e.clock.Now)
	require.NoError(t, err)
	e.api, err = mgmt.New(mgmt.Config{
		Store: st, Signer: signer, Hooks: e.hooks, Subscription: testarm.Subscription, Tenant: testarm.Tenant,
		ClientID: testarm.ClientID, ClientSecret: testarm.ClientSecret, MaxIPRules: 100, Now: e.clock.Now,
	})
	require.NoError(t, err)
	armSrv := httptest.NewServer(e.api)
	t.Cleanup(armSrv.Close)
	e.arm = testarm.NewClient(t, armSrv.URL)
	e.arm.APIVersion = testarm.APICurrent
	_, _, err = e.api.EnsureRegistry("acremu", "myregistry")
	require.NoError(t, err)
	e.srv = httptest.NewServer(e.portal(t, []byte(strings.Repeat("k", 32)), opts...))
	t.Cleanup(e.srv.Close)
	return e
}

// forTest is e reporting to t: a subtest's failures must end the subtest's
// goroutine, not its parent's.
func (e *env) forTest(t *testing.T) *env {
	cp := *e
	cp.t, cp.arm = t, e.arm.For(t)
	return &cp
}

// portal builds a portal on e's ARM API with its own session key.
func (e *env) portal(t *testing.T, key []byte, opts ...envOption) *portal.Portal {
	cfg := portal.Config{
		ARM: e.api, SignIn: e.api.Token, Subscription: testarm.Subscription, SessionKey: key,
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
		HintClientID: testarm.ClientID, HintSecret: testarm.ClientSecret,
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

// createRegistry creates a registry through ARM (as az would).
func (e *env) createRegistry(rg, name, sku string, extra map[string]any) {
	e.t.Helper()
	res := e.arm.Request(http.MethodPut, testarm.GroupPath(rg), map[string]any{"location": "eastus"})
	require.Contains(e.t, []int{200, 201}, res.Code, "%s", res.Body)
	reg := map[string]any{"location": "eastus", "sku": map[string]string{"name": sku}}
	for k, v := range extra {
		reg[k] = v
	}
	res = e.arm.Request(http.MethodPut, testarm.RegistryPath(rg, name), reg)
	require.Equal(e.t, http.StatusCreated, res.Code, "%s", res.Body)
}

// snapshot is every registry's and group's ARM representation, to prove
// that a refused request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	regs := e.arm.Request(http.MethodGet, testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/registries", nil)
	require.Equal(e.t, http.StatusOK, regs.Code, "%s", regs.Body)
	groups := e.arm.Request(http.MethodGet, testarm.SubscriptionPath+"/resourcegroups", nil)
	require.Equal(e.t, http.StatusOK, groups.Code, "%s", groups.Body)
	return string(regs.Body) + string(groups.Body)
}

// network is a registry's network properties as ARM reports them.
func (e *env) network(rg, name string) (publicAccess, defaultAction string, rules []string) {
	e.t.Helper()
	res := e.arm.Request(http.MethodGet, testarm.RegistryPath(rg, name), nil)
	require.Equal(e.t, http.StatusOK, res.Code, "%s", res.Body)
	props := res.JSON(e.t)["properties"].(map[string]any)
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

// forTest is u reporting to t; the copy shares u's cookies.
func (u *user) forTest(t *testing.T) *user {
	cp := *u
	cp.t = t
	return &cp
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
	r := u.post("/portal/signin", url.Values{"client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}, "next": {"/portal/"}})
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
