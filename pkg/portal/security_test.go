package portal_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

func TestSignIn(t *testing.T) {
	tests := []struct {
		name       string
		clientID   string
		secret     string
		next       string
		wantStatus int
		wantGo     string // redirect after a successful sign-in
	}{
		{"development credentials", testarm.ClientID, testarm.ClientSecret, "/portal/", http.StatusSeeOther, "/portal/"},
		{"keeps the page asked for", testarm.ClientID, testarm.ClientSecret, "/portal/registries/acremu/myregistry/networking", http.StatusSeeOther, "/portal/registries/acremu/myregistry/networking"},
		{"no open redirect", testarm.ClientID, testarm.ClientSecret, "https://evil.example/portal/", http.StatusSeeOther, "/portal/"},
		{"no scheme-relative redirect", testarm.ClientID, testarm.ClientSecret, "//evil.example/portal/", http.StatusSeeOther, "/portal/"},
		{"wrong secret", testarm.ClientID, "not-the-secret", "/portal/", http.StatusUnauthorized, ""},
		{"unknown client", "44444444-4444-4444-4444-444444444444", testarm.ClientSecret, "/portal/", http.StatusUnauthorized, ""},
		{"empty secret", testarm.ClientID, "", "/portal/", http.StatusUnauthorized, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.newUser()
			page := u.get("/portal/signin")
			require.Equal(t, http.StatusOK, page.status)
			assert.Contains(t, page.body, "acremu-dev-secret", "the development hint")
			r := u.post("/portal/signin", url.Values{"client_id": {tt.clientID}, "client_secret": {tt.secret}, "next": {tt.next}})
			require.Equal(t, tt.wantStatus, r.status, r.body)
			if tt.wantGo == "" {
				assert.Contains(t, r.body, "Sign-in failed: the client ID or the client secret is wrong.")
				assert.Empty(t, u.sessionCookie())
				assert.Equal(t, http.StatusSeeOther, u.get("/portal/").status)
				return
			}
			assert.Equal(t, tt.wantGo, r.location)
			var sc *http.Cookie
			for _, c := range (&http.Response{Header: r.header}).Cookies() {
				if strings.HasPrefix(c.Name, "acremu_portal_") && !strings.Contains(c.Name, "signin") {
					sc = c
				}
			}
			require.NotNil(t, sc)
			assert.True(t, sc.HttpOnly)
			assert.Equal(t, http.SameSiteStrictMode, sc.SameSite)
			assert.Equal(t, "/portal/", sc.Path)
			assert.InDelta(t, time.Hour.Seconds(), sc.MaxAge, 1, "a session lives as long as its ARM token")
			assert.Equal(t, http.StatusOK, u.get("/portal/").status)
		})
	}
}

func TestSignInNeedsItsForm(t *testing.T) {
	creds := url.Values{"client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}}
	tests := []struct {
		name  string
		setup func(u *user)
	}{
		{"no sign-in page loaded (no nonce cookie)", func(u *user) { u.csrf = "x" }},
		{"forged form token", func(u *user) { u.get("/portal/signin"); u.csrf = strings.Repeat("A", 43) }},
		{"posted from another site", func(u *user) { u.get("/portal/signin"); u.origin = "http://evil.example" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.newUser()
			tt.setup(u)
			r := u.post("/portal/signin", creds)
			assert.Equal(t, http.StatusForbidden, r.status)
			assert.Empty(t, u.sessionCookie())
		})
	}
}

// Every portal action, as a signed-in user would send it.
var actions = []struct {
	name string
	path string
	form url.Values
}{
	{"create", "/portal/create", url.Values{"name": {"newreg01"}, "group": {"rg2"}, "location": {"eastus"}, "sku": {"Premium"}}},
	{"networking save", "/portal/registries/acremu/myregistry/networking", url.Values{"op": {"save"}, "access": {"disabled"}}},
	{"admin off", "/portal/registries/acremu/myregistry/keys", url.Values{"op": {"admin-off"}}},
	{"regenerate", "/portal/registries/acremu/myregistry/keys", url.Values{"op": {"regenerate:password"}}},
	{"delete registry", "/portal/registries/acremu/myregistry/delete", url.Values{"confirm": {"myregistry"}}},
	{"delete group", "/portal/groups/acremu/delete", url.Values{"confirm": {"acremu"}}},
}

func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func TestNoSessionChangesNothing(t *testing.T) {
	e := newEnv(t)
	before := e.snapshot()
	u := e.newUser()
	for _, path := range []string{"/portal/", "/portal/create", "/portal/registries/acremu/myregistry", "/portal/registries/acremu/myregistry/keys",
		"/portal/registries/acremu/myregistry/networking", "/portal/groups/acremu/delete"} {
		t.Run("GET "+path, func(t *testing.T) {
			u := u.forTest(t)
			r := u.get(path)
			assert.Equal(t, http.StatusSeeOther, r.status)
			assert.Equal(t, "/portal/signin?next="+url.QueryEscape(path), r.location)
			assert.NotContains(t, r.body, "localhost:5000", "no registry data without a session")
		})
	}
	for _, a := range actions {
		t.Run("POST "+a.name, func(t *testing.T) {
			u := u.forTest(t)
			r := u.post(a.path, cloneForm(a.form))
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.Contains(t, r.body, "Nothing was changed")
		})
	}
	assert.Equal(t, before, e.snapshot())
}

func TestCSRFRefusedChangesNothing(t *testing.T) {
	e := newEnv(t)
	other := e.newUser()
	other.signIn()
	cases := []struct {
		name  string
		tweak func(u *user, f url.Values)
	}{
		{"missing token", func(u *user, f url.Values) { f.Set("csrf", "") }},
		{"forged token", func(u *user, f url.Values) { f.Set("csrf", strings.Repeat("A", 43)) }},
		{"another session's token", func(u *user, f url.Values) { f.Set("csrf", other.csrf) }},
		{"cross-site origin", func(u *user, f url.Values) { u.origin = "http://evil.example" }},
	}
	for _, c := range cases {
		for _, a := range actions {
			t.Run(c.name+"/"+a.name, func(t *testing.T) {
				e := e.forTest(t)
				u := e.newUser()
				u.signIn()
				before := e.snapshot()
				f := cloneForm(a.form)
				c.tweak(u, f)
				r := u.post(a.path, f)
				assert.Equal(t, http.StatusForbidden, r.status)
				assert.Contains(t, r.body, "Nothing was changed")
				assert.Equal(t, before, e.snapshot())
			})
		}
	}
	t.Run("the real token works", func(t *testing.T) {
		e := e.forTest(t)
		u := e.newUser()
		u.signIn()
		r := u.post("/portal/registries/acremu/myregistry/keys", url.Values{"op": {"admin-off"}})
		assert.Equal(t, http.StatusSeeOther, r.status, r.body)
	})
}

func TestSessionCookieRefused(t *testing.T) {
	tests := []struct {
		name   string
		cookie func(e *env, u *user) string // the session cookie value to present
	}{
		{"from another instance", func(e *env, u *user) string {
			// The same ARM API behind another instance's portal (its own key).
			other := httptest.NewServer(e.portal(e.t, []byte(strings.Repeat("z", 32))))
			e.t.Cleanup(other.Close)
			ou := e.newUserAt(other.URL)
			ou.signIn()
			return ou.sessionCookie()
		}},
		{"tampered", func(e *env, u *user) string {
			v := []byte(u.sessionCookie())
			v[len(v)/2] ^= 1
			return string(v)
		}},
		{"garbage", func(*env, *user) string { return "not-a-session" }},
		{"expired", func(e *env, u *user) string {
			e.clock.Add(time.Hour + time.Second)
			return u.sessionCookie()
		}},
		{"signed out", func(e *env, u *user) string {
			v := u.sessionCookie()
			r := u.post("/portal/signout", url.Values{})
			require.Equal(t, http.StatusSeeOther, r.status)
			return v
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.newUser()
			u.signIn()
			name, _ := u.session()
			value := tt.cookie(e, u)
			require.NotEmpty(t, value)
			before := e.snapshot()
			for _, a := range actions[:3] {
				req, err := http.NewRequest(http.MethodPost, e.srv.URL+a.path, strings.NewReader(cloneForm(a.form).Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(&http.Cookie{Name: name, Value: value})
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, a.name)
			}
			fresh := e.newUser()
			req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/portal/", nil)
			require.NoError(t, err)
			req.AddCookie(&http.Cookie{Name: name, Value: value})
			r := fresh.do(req)
			assert.Equal(t, http.StatusSeeOther, r.status)
			assert.True(t, strings.HasPrefix(r.location, "/portal/signin"))
			assert.Equal(t, before, e.snapshot())
		})
	}
}

// Browsers share cookies between the ports of a host: two instances on one
// machine must neither clash nor accept each other's session.
func TestTwoInstancesKeepSeparateSessions(t *testing.T) {
	e := newEnv(t)
	other := httptest.NewServer(e.portal(t, []byte(strings.Repeat("z", 32))))
	t.Cleanup(other.Close)
	u := e.newUser()
	u.signIn()

	// The same browser (cookie jar) at the other instance is not signed in.
	ub := e.newUserAt(other.URL)
	ub.c.Jar = u.c.Jar
	r := ub.get("/portal/")
	require.Equal(t, http.StatusSeeOther, r.status)
	ub.signIn()
	base, _ := url.Parse(other.URL + "/portal/")
	var names []string
	for _, c := range u.c.Jar.Cookies(base) {
		names = append(names, c.Name)
	}
	assert.Len(t, names, 2, "one session cookie per instance: %v", names)
	assert.Equal(t, http.StatusOK, u.get("/portal/").status, "signing in at B keeps the session at A")
	assert.Equal(t, http.StatusOK, ub.get("/portal/").status)
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	u := e.newUser()
	for _, path := range []string{"/portal/signin", "/portal/", "/portal/nope"} {
		r := u.get(path)
		assert.Contains(t, r.header.Get("Content-Security-Policy"), "script-src 'self'", path)
		assert.Contains(t, r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'", path)
		assert.Equal(t, "DENY", r.header.Get("X-Frame-Options"), path)
		assert.Equal(t, "nosniff", r.header.Get("X-Content-Type-Options"), path)
	}
	r := u.get("/portal/static/portal.css")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.header.Get("Content-Type"), "text/css")
	assert.Equal(t, http.StatusNotFound, u.get("/portal/static/").status)
}
