//go:build e2e

package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// portalClient is a cookie-keeping HTTP client for the portal that does not
// follow redirects and remembers the last page's CSRF token.
type portalClient struct {
	t    *testing.T
	c    *http.Client
	csrf string
}

func newPortalClient(t *testing.T) *portalClient {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &portalClient{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request (a form post when form is non-nil, with the browser's
// Origin) and returns the status, the Location and the body.
func (p *portalClient) do(method, u string, form url.Values) (int, string, string) {
	p.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	require.NoError(p.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://"+req.URL.Host)
	}
	resp, err := p.c.Do(req)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	if m := csrfInput.FindStringSubmatch(string(b)); m != nil {
		p.csrf = m[1]
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (p *portalClient) signIn(base string) {
	p.t.Helper()
	p.do("GET", base+"/portal/signin", nil)
	status, loc, body := p.do("POST", base+"/portal/signin", url.Values{"csrf": {p.csrf}, "client_id": {clientID}, "client_secret": {clientSecret}})
	require.Equal(p.t, http.StatusSeeOther, status, body)
	require.Equal(p.t, "/portal/", loc)
	p.do("GET", base+"/portal/", nil)
}

// TestPortalSecurity checks the portal's guards against real acremu
// processes: without a session or a valid CSRF token nothing can be read or
// changed, another instance's session is refused, and output is escaped.
func TestPortalSecurity(t *testing.T) {
	in := startAcremu(t)
	base := "http://" + in.Host()
	netURL := base + "/portal/registries/acremu/myregistry/networking"
	disable := url.Values{"op": {"save"}, "access": {"disabled"}}
	unchanged := networkState{"Enabled", "Allow", []string{}}

	t.Run("no session", func(t *testing.T) {
		p := newPortalClient(t)
		status, loc, _ := p.do("GET", netURL, nil)
		assert.Equal(t, http.StatusSeeOther, status)
		assert.Equal(t, "/portal/signin?next="+url.QueryEscape("/portal/registries/acremu/myregistry/networking"), loc)
		status, _, body := p.do("POST", netURL, disable)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, body, "Nothing was changed")
		assert.Equal(t, unchanged, in.networkState("acremu", "myregistry"))
	})

	t.Run("wrong secret", func(t *testing.T) {
		p := newPortalClient(t)
		p.do("GET", base+"/portal/signin", nil)
		status, _, body := p.do("POST", base+"/portal/signin", url.Values{"csrf": {p.csrf}, "client_id": {clientID}, "client_secret": {"wrong"}})
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, body, "Sign-in failed")
		status, _, _ = p.do("GET", netURL, nil)
		assert.Equal(t, http.StatusSeeOther, status)
	})

	t.Run("missing or forged CSRF token", func(t *testing.T) {
		p := newPortalClient(t)
		p.signIn(base)
		for name, token := range map[string]string{"missing": "", "forged": strings.Repeat("A", 43)} {
			f := url.Values{"op": {"save"}, "access": {"disabled"}, "csrf": {token}}
			status, _, body := p.do("POST", netURL, f)
			assert.Equal(t, http.StatusForbidden, status, name)
			assert.Contains(t, body, "Nothing was changed", name)
		}
		assert.Equal(t, unchanged, in.networkState("acremu", "myregistry"))
	})

	t.Run("a session from another instance", func(t *testing.T) {
		other := startAcremu(t)
		p := newPortalClient(t)
		p.signIn(base)
		// The browser sends the first instance's cookie to the second one
		// too (cookies ignore ports); the second is not signed in by it.
		status, loc, _ := p.do("GET", "http://"+other.Host()+"/portal/", nil)
		assert.Equal(t, http.StatusSeeOther, status)
		assert.Contains(t, loc, "/portal/signin")
		// Nor when the cookie is replayed under the second instance's name.
		q := newPortalClient(t)
		q.signIn("http://" + other.Host())
		otherURL, _ := url.Parse("http://" + other.Host() + "/portal/")
		firstURL, _ := url.Parse(base + "/portal/")
		var first, second *http.Cookie
		for _, c := range p.c.Jar.Cookies(firstURL) {
			if !strings.Contains(c.Name, "signin") {
				first = c
			}
		}
		for _, c := range q.c.Jar.Cookies(otherURL) {
			if !strings.Contains(c.Name, "signin") {
				second = c
			}
		}
		require.NotNil(t, first)
		require.NotNil(t, second)
		req, err := http.NewRequest("POST", "http://"+other.Host()+"/portal/registries/acremu/myregistry/networking",
			strings.NewReader(url.Values{"op": {"save"}, "access": {"disabled"}, "csrf": {q.csrf}}.Encode()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: second.Name, Value: first.Value})
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, unchanged, other.networkState("acremu", "myregistry"))
	})

	t.Run("output is escaped in the browser", func(t *testing.T) {
		in.patchRegistry("acremu", "myregistry", map[string]any{"tags": map[string]string{"note": `<script>window.pwned=1</script><img src=x onerror="window.pwned=1">`}})
		b := newBrowser(t, base, t.TempDir())
		b.open("/portal/signin")
		b.do(chromedp.SendKeys(chromedp.ID("client_id"), clientID), chromedp.SendKeys(chromedp.ID("client_secret"), clientSecret))
		b.click("main form button[type=submit]")
		require.EqualValues(t, 200, b.open("/portal/registries/acremu/myregistry"))
		assert.Equal(t, `note : <script>window.pwned=1</script><img src=x onerror="window.pwned=1">`, b.text(".tag"))
		assert.Equal(t, 0, evalIn[int](b, `document.querySelectorAll("main script, main img").length`))
		assert.False(t, evalIn[bool](b, `window.pwned === 1`))
	})

	t.Run("every port serves the portal", func(t *testing.T) {
		status, out := in.arm("PUT", "/subscriptions/"+subscription+"/resourceGroups/ports", map[string]string{"location": "eastus"})
		require.Contains(t, []int{200, 201}, status, string(out))
		status, out = in.arm("PUT", registryPath("ports", "portsreg1"), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Basic"}})
		require.Equal(t, 201, status, string(out))
		port := regexp.MustCompile(`"loginServer":"localhost:(\d+)"`).FindStringSubmatch(string(out))
		require.NotNil(t, port, string(out))
		p := newPortalClient(t)
		status, _, body := p.do("GET", "http://localhost:"+port[1]+"/portal/signin", nil)
		assert.Equal(t, http.StatusOK, status)
		assert.Contains(t, body, "Client secret")
	})
}
