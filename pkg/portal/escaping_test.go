package portal_test

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/portal"
)

const xss = `<script>alert(1)</script>`

// requireEscaped checks that the markup came out as text and that the
// page has no script but the portal's own.
func requireEscaped(t *testing.T, body string) {
	t.Helper()
	assert.NotContains(t, body, xss)
	assert.NotContains(t, body, "<img src=x")
	assert.Equal(t, 1, strings.Count(body, "<script"), "only the portal's script element")
}

func TestOutputIsEscaped(t *testing.T) {
	tests := []struct {
		name string
		run  func(e *env, u *user) string // returns the page to check
		want string                       // the escaped text that must appear
	}{
		{"registry tag value", func(e *env, u *user) string {
			e.createRegistry("lab", "tagged01", "Premium", map[string]any{"tags": map[string]string{"note": xss}})
			return u.get("/portal/registries/lab/tagged01").body
		}, "note : &lt;script&gt;alert(1)&lt;/script&gt;"},
		{"registry tag key", func(e *env, u *user) string {
			e.createRegistry("lab", "tagged02", "Premium", map[string]any{"tags": map[string]string{xss: "v"}})
			return u.get("/portal/registries/lab/tagged02").body
		}, "&lt;script&gt;alert(1)&lt;/script&gt; : v"},
		{"pending address range", func(e *env, u *user) string {
			u.get(netPath)
			return u.post(netPath, url.Values{"op": {"add"}, "access": {"selected"}, "newrule": {`"><img src=x onerror=alert(1)>`}}).body
		}, `value="&#34;&gt;&lt;img`},
		{"ARM error echoing an address range", func(e *env, u *user) string {
			u.get(netPath)
			return u.post(netPath, url.Values{"op": {"save"}, "access": {"selected"}, "newrule": {xss}}).body
		}, "The IP rule value &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; is invalid"},
		{"create form echo", func(e *env, u *user) string {
			u.get("/portal/create")
			return u.post("/portal/create", url.Values{"name": {xss}, "group": {"lab"}, "location": {"eastus"}, "sku": {"Basic"}}).body
		}, `value="&lt;script&gt;alert(1)&lt;/script&gt;"`},
		{"denied request path", func(e *env, u *user) string {
			e.activity["myregistry"] = portal.Activity{Denied: 1, Recent: []portal.Denial{{Time: time.Now(), Method: "GET", Path: "/v2/" + xss,
				Source: netip.MustParseAddr("127.0.0.1"), Addr: netip.MustParseAddr(natAddr), Reason: "default action Deny and no IP rule matches"}}}
			return u.get(netPath).body
		}, "GET /v2/&lt;script&gt;alert(1)&lt;/script&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.newUser()
			u.signIn()
			body := tt.run(e, u)
			assert.Contains(t, body, tt.want)
			requireEscaped(t, body)
		})
	}
	t.Run("sign-in echo of the client id", func(t *testing.T) {
		e := newEnv(t)
		u := e.newUser()
		u.get("/portal/signin")
		r := u.post("/portal/signin", url.Values{"client_id": {`"><script>alert(1)</script>`}, "client_secret": {"x"}})
		require.Equal(t, http.StatusUnauthorized, r.status)
		assert.Contains(t, r.body, `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`)
		requireEscaped(t, r.body)
	})
}
