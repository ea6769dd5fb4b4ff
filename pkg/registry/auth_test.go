package registry

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/token"
)

func TestChallenge(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	detail := func(items string) string {
		return `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":[` + items + `]}]}` + "\n"
	}
	tests := []struct {
		name       string
		method     string
		path       string
		host       string // Host header; "" means the server's address
		hdr        http.Header
		wantScope  string // appended to the challenge
		wantBody   string
		wantReason string // error= parameter
	}{
		{name: "GET /v2/", method: http.MethodGet, path: "/v2/", wantBody: unauthorizedNull},
		{name: "GET /v2/ keeps the Host as sent", method: http.MethodGet, path: "/v2/", host: "MyReg.azurecr.io:8443", wantBody: unauthorizedNull},
		{name: "wrong password", method: http.MethodGet, path: "/v2/", hdr: basic(testName, "nope"), wantBody: unauthorizedNull},
		{name: "unknown user", method: http.MethodGet, path: "/v2/", hdr: basic("someone", testPW1), wantBody: unauthorizedNull},
		{name: "garbage bearer", method: http.MethodGet, path: "/v2/", hdr: bearer("garbage"), wantBody: unauthorizedNull, wantReason: "invalid_token"},
		{
			name: "GET manifest", method: http.MethodGet, path: "/v2/samples/hello/manifests/latest",
			wantScope: `repository:samples/hello:pull`,
			wantBody:  detail(`{"Type":"repository","Name":"samples/hello","Action":"pull"}`),
		},
		{
			name: "HEAD manifest", method: http.MethodHead, path: "/v2/hello/manifests/latest",
			wantScope: `repository:hello:pull`,
		},
		{
			name: "start upload", method: http.MethodPost, path: "/v2/hello/blobs/uploads/",
			wantScope: `repository:hello:push,pull`,
			wantBody:  detail(`{"Type":"repository","Name":"hello","Action":"pull"},{"Type":"repository","Name":"hello","Action":"push"}`),
		},
		{
			name: "cross-repository mount", method: http.MethodPost, path: "/v2/hello/blobs/uploads/?mount=sha256:" + zeros + "&from=other",
			wantScope: `repository:hello:push,pull repository:other:pull`,
			wantBody:  detail(`{"Type":"repository","Name":"hello","Action":"pull"},{"Type":"repository","Name":"hello","Action":"push"},{"Type":"repository","Name":"other","Action":"pull"}`),
		},
		{
			name: "delete", method: http.MethodDelete, path: "/v2/hello/manifests/sha256:" + zeros,
			wantScope: `repository:hello:delete`,
			wantBody:  detail(`{"Type":"repository","Name":"hello","Action":"delete"}`),
		},
		{
			name: "catalog", method: http.MethodGet, path: "/v2/_catalog",
			wantScope: `registry:catalog:*`,
			wantBody:  detail(`{"Type":"registry","Name":"catalog","Action":"*"}`),
		},
		{
			name: "pull-only token cannot push", method: http.MethodPost, path: "/v2/hello/blobs/uploads/",
			hdr:       bearer(accessToken(t, e.host, token.Access{Type: "repository", Name: "hello", Actions: []string{"pull"}})),
			wantScope: `repository:hello:push,pull`, wantReason: "insufficient_scope",
		},
		{
			name: "pull-only token cannot delete", method: http.MethodDelete, path: "/v2/hello/manifests/sha256:" + zeros,
			hdr:       bearer(accessToken(t, e.host, token.Access{Type: "repository", Name: "hello", Actions: []string{"pull"}})),
			wantScope: `repository:hello:delete`, wantReason: "insufficient_scope",
		},
		{
			name: "repository token cannot list the catalog", method: http.MethodGet, path: "/v2/_catalog",
			hdr:       bearer(accessToken(t, e.host, token.Access{Type: "repository", Name: "hello", Actions: []string{"*"}})),
			wantScope: `registry:catalog:*`, wantReason: "insufficient_scope",
		},
		{
			name: "token for another repository", method: http.MethodGet, path: "/v2/other/tags/list",
			hdr:       bearer(accessToken(t, e.host, token.Access{Type: "repository", Name: "hello", Actions: []string{"pull"}})),
			wantScope: `repository:other:pull`, wantReason: "insufficient_scope",
		},
		{
			name: "token for another host", method: http.MethodGet, path: "/v2/",
			hdr:      bearer(accessToken(t, "other.azurecr.io")),
			wantBody: unauthorizedNull, wantReason: "invalid_token",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := merge(tt.hdr)
			host := e.host
			if tt.host != "" {
				hdr.Set("Host", tt.host)
				host = tt.host
			}
			r := e.do(tt.method, tt.path, nil, hdr)
			require.Equal(t, http.StatusUnauthorized, r.status, r.body)
			want := `Bearer realm="http://` + host + `/oauth2/token",service="` + host + `"`
			if tt.wantScope != "" {
				want += `,scope="` + tt.wantScope + `"`
			}
			if tt.wantReason != "" {
				want += `,error="` + tt.wantReason + `"`
			}
			assert.Equal(t, []string{want}, r.header.Values("Www-Authenticate"))
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
			assert.Equal(t, []string{"registry/2.0"}, r.header.Values("Docker-Distribution-Api-Version"))
			if tt.method == http.MethodHead {
				assert.Empty(t, r.body)
			} else if tt.wantBody != "" {
				assert.Equal(t, tt.wantBody, r.body)
				assert.Equal(t, strconv.Itoa(len(tt.wantBody)), r.header.Get("Content-Length"))
			}
		})
	}
}

const zeros = "0000000000000000000000000000000000000000000000000000000000000000"

// Credentials a /v2/ request may carry directly.
func TestV2Credentials(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	refresh := tokenField(t, exchange(e), "refresh_token")
	catalog := token.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}
	tests := []struct {
		name string
		path string
		hdr  http.Header
	}{
		{"admin password", "/v2/_catalog", basic(testName, testPW1)},
		{"admin password2, username in other case", "/v2/_catalog", basic("MYREG", testPW2)},
		{"catalog token", "/v2/_catalog", bearer(accessToken(t, e.host, catalog))},
		{"any valid token on /v2/", "/v2/", bearer(accessToken(t, e.host))},
		{"null GUID with refresh token", "/v2/_catalog", basic(NullGUID, refresh)},
		{"null GUID with access token", "/v2/_catalog", basic(NullGUID, accessToken(t, e.host, catalog))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodGet, tt.path, nil, tt.hdr)
			assert.Equal(t, http.StatusOK, r.status, r.body)
		})
	}

	t.Run("disabled admin user", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.AdminUserEnabled = false
		require.NoError(t, e.update(cfg))
		defer func() { require.NoError(t, e.update(defaultConfig())) }()
		r := e.do(http.MethodGet, "/v2/", nil, basic(testName, testPW1))
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, unauthorizedNull, r.body)
	})
	t.Run("regenerated password", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.Passwords[0] = "regenerated"
		require.NoError(t, e.update(cfg))
		defer func() { require.NoError(t, e.update(defaultConfig())) }()
		assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/v2/", nil, basic(testName, testPW1)).status)
		assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v2/", nil, basic(testName, "regenerated")).status)
	})
}

func TestUnknownPaths(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	want := `{"errors":[{"code":"NOT_FOUND","message":"the requested resource was not found"}]}` + "\n"
	for _, path := range []string{"/", "/oauth2/other", "/acr/v1/hello/_referrers", "/v2/hello/referrers/", "/v2/a/b/c/nothing"} {
		t.Run(path, func(t *testing.T) {
			r := e.do(http.MethodGet, path, nil, basic(testName, testPW1))
			assert.Equal(t, http.StatusNotFound, r.status)
			assert.Equal(t, want, r.body)
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
		})
	}
}

func TestScopeParsing(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []token.Access
	}{
		{"single", []string{"repository:a/b:pull"}, []token.Access{{Type: "repository", Name: "a/b", Actions: []string{"pull"}}}},
		{"several actions", []string{"repository:a:pull,push"}, []token.Access{{Type: "repository", Name: "a", Actions: []string{"pull", "push"}}}},
		{"space separated and repeated", []string{"repository:a:pull registry:catalog:*", "repository:a:push"}, []token.Access{
			{Type: "repository", Name: "a", Actions: []string{"pull", "push"}},
			{Type: "registry", Name: "catalog", Actions: []string{"*"}},
		}},
		{"resource class dropped", []string{"repository(plugin):a:pull"}, []token.Access{{Type: "repository", Name: "a", Actions: []string{"pull"}}}},
		{"unknown actions and types ignored", []string{"repository:a:fly,pull", "spaceship:a:pull", "registry:other:*", "malformed"}, []token.Access{
			{Type: "repository", Name: "a", Actions: []string{"pull"}},
		}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, parseScopes(tt.in))
		})
	}
}
