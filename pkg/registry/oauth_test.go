package registry

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/token"
)

// exchange runs az acr login's exchange of an ARM token for a refresh token.
func exchange(e *testEnv) response {
	body, hdr := form("grant_type", "access_token", "service", e.host, "tenant", "my-tenant", "access_token", armToken(e.t))
	return e.do(http.MethodPost, "/oauth2/exchange", body, hdr)
}

func TestExchange(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	r := exchange(e)
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	refresh := tokenField(t, r, "refresh_token")
	assert.NotContains(t, r.body, "access_token")

	c, err := testSigner.Verify(refresh, token.GrantRefresh, e.host)
	require.NoError(t, err)
	assert.Equal(t, jwt.ClaimStrings{e.host}, c.Audience)
	assert.Equal(t, "sp-object-id", c.Subject)
	assert.Equal(t, "my-tenant", c.Tenant)
	assert.Equal(t, &token.Permissions{Actions: []string{"*"}, NotActions: []string{}}, c.Permissions)
	assert.Equal(t, token.Issuer, c.Issuer)
	assert.WithinDuration(t, time.Now().Add(RefreshTokenTTL), c.ExpiresAt.Time, time.Minute)

	tests := []struct {
		name   string
		method string
		form   []string
		status int
		body   string
	}{
		{"invalid ARM token", http.MethodPost, []string{"grant_type", "access_token", "service", e.host, "access_token", "garbage"}, http.StatusUnauthorized,
			refusedBody("the token is not valid: token is malformed: token contains an invalid number of segments")},
		{"refresh token is not an ARM token", http.MethodPost, []string{"grant_type", "access_token", "service", e.host, "access_token", refresh}, http.StatusUnauthorized,
			refusedBody(`the token is not valid: grant type \"refresh_token\", want \"client_credentials\"`)},
		{"another service", http.MethodPost, []string{"grant_type", "access_token", "service", "other.azurecr.io", "access_token", armToken(t)}, http.StatusUnauthorized,
			refusedBody(`the service \u0027other.azurecr.io\u0027 is not this registry; its login server is \u0027` + e.host + `\u0027`)},
		{"deprecated grant", http.MethodPost, []string{"grant_type", "refresh_token", "service", e.host, "refresh_token", refresh}, http.StatusBadRequest,
			`{"errors":[{"code":"UNSUPPORTED","message":"grant_type \"refresh_token\" is not supported"}]}` + "\n"},
		{"GET", http.MethodGet, nil, http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, hdr := form(tt.form...)
			r := e.do(tt.method, "/oauth2/exchange", body, hdr)
			assert.Equal(t, tt.status, r.status)
			if tt.body != "" {
				assert.Equal(t, tt.body, r.body)
			}
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
			assert.Empty(t, r.header.Values("Www-Authenticate"))
		})
	}
}

func TestTokenGrants(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	refresh := tokenField(t, exchange(e), "refresh_token")
	pullHello := token.Access{Type: "repository", Name: "hello", Actions: []string{"pull"}}
	access := accessToken(t, e.host, pullHello)
	query := func(kv ...string) string {
		v := url.Values{"service": {e.host}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return "/oauth2/token?" + v.Encode()
	}
	all := []token.Access{
		{Type: "repository", Name: "hello", Actions: []string{"pull", "push"}},
		{Type: "registry", Name: "catalog", Actions: []string{"*"}},
	}
	tests := []struct {
		name        string
		method      string
		path        string
		form        []string
		hdr         http.Header
		wantSubject string
		wantAccess  []token.Access
		wantRefresh bool
	}{
		{
			name: "GET, Basic admin", method: http.MethodGet,
			path: query("scope", "repository:hello:pull,push", "scope", "registry:catalog:*"),
			hdr:  basic(testName, testPW1), wantSubject: testName, wantAccess: all,
		},
		{
			name: "GET, Basic admin password2, space-separated scopes", method: http.MethodGet,
			path: query("scope", "repository:hello:pull,push registry:catalog:*"),
			hdr:  basic(testName, testPW2), wantSubject: testName, wantAccess: all,
		},
		{
			name: "docker login as admin: no refresh token", method: http.MethodGet,
			path: query("account", testName, "client_id", "docker", "offline_token", "true"),
			hdr:  basic(testName, testPW1), wantSubject: testName,
		},
		{
			name: "docker login with refresh token: refresh token returned", method: http.MethodGet,
			path: query("account", NullGUID, "client_id", "docker", "offline_token", "true"),
			hdr:  basic(NullGUID, refresh), wantSubject: "sp-object-id", wantRefresh: true,
		},
		{
			name: "GET, null GUID with refresh token", method: http.MethodGet,
			path: query("scope", "repository:hello:pull,push", "scope", "registry:catalog:*"),
			hdr:  basic(NullGUID, refresh), wantSubject: "sp-object-id", wantAccess: all,
		},
		{
			name: "GET, null GUID with access token: only what it holds", method: http.MethodGet,
			path: query("scope", "repository:hello:pull,push,delete", "scope", "registry:catalog:*"),
			hdr:  basic(NullGUID, access), wantSubject: "someone", wantAccess: []token.Access{pullHello},
		},
		{
			name: "POST password grant", method: http.MethodPost, path: "/oauth2/token",
			form:        []string{"grant_type", "password", "service", e.host, "scope", "repository:hello:pull,push", "scope", "registry:catalog:*", "username", testName, "password", testPW2},
			wantSubject: testName, wantAccess: all,
		},
		{
			name: "POST refresh_token grant", method: http.MethodPost, path: "/oauth2/token",
			form:        []string{"grant_type", "refresh_token", "service", e.host, "scope", "repository:hello:pull,push registry:catalog:*", "refresh_token", refresh, "client_id", "docker"},
			wantSubject: "sp-object-id", wantAccess: all,
		},
		{
			name: "POST refresh_token grant, docker offline access: no new refresh token", method: http.MethodPost, path: "/oauth2/token",
			form:        []string{"grant_type", "refresh_token", "service", e.host, "scope", "repository:hello:pull", "refresh_token", refresh, "access_type", "offline"},
			wantSubject: "sp-object-id", wantAccess: []token.Access{pullHello},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, hdr := form(tt.form...)
			r := e.do(tt.method, tt.path, body, merge(hdr, tt.hdr))
			require.Equal(t, http.StatusOK, r.status, r.body)
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
			c, err := testSigner.Verify(tokenField(t, r, "access_token"), token.GrantAccess, e.host)
			require.NoError(t, err)
			assert.Equal(t, tt.wantSubject, c.Subject)
			assert.Equal(t, tt.wantAccess, c.Access)
			assert.WithinDuration(t, time.Now().Add(AccessTokenTTL), c.ExpiresAt.Time, time.Minute)
			if tt.wantRefresh {
				_, err := testSigner.Verify(tokenField(t, r, "refresh_token"), token.GrantRefresh, e.host)
				assert.NoError(t, err)
			} else {
				assert.NotContains(t, r.body, "refresh_token")
			}
		})
	}
}

func TestTokenRefusals(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	access := accessToken(t, e.host)
	tests := []struct {
		name   string
		method string
		path   string
		form   []string
		hdr    http.Header
		status int
		body   string
	}{
		{"wrong password", http.MethodGet, "/oauth2/token?scope=repository:a:pull", nil, basic(testName, "nope"), http.StatusUnauthorized, unauthorizedNoDetail},
		{"no credentials, anonymous pull disabled", http.MethodGet, "/oauth2/token?scope=repository:a:pull", nil, nil, http.StatusUnauthorized, unauthorizedNoDetail},
		{"bearer instead of Basic", http.MethodGet, "/oauth2/token?scope=repository:a:pull", nil, bearer(access), http.StatusUnauthorized, unauthorizedNoDetail},
		{"access token as refresh token", http.MethodPost, "/oauth2/token", []string{"grant_type", "refresh_token", "refresh_token", access}, nil, http.StatusUnauthorized,
			refusedBody(`the token is not valid: grant type \"access_token\", want \"refresh_token\"`)},
		{"password grant, wrong password", http.MethodPost, "/oauth2/token", []string{"grant_type", "password", "username", testName, "password", "nope"}, nil, http.StatusUnauthorized, unauthorizedNoDetail},
		{"another service", http.MethodGet, "/oauth2/token?service=other.azurecr.io", nil, basic(testName, testPW1), http.StatusUnauthorized,
			refusedBody(`the service \u0027other.azurecr.io\u0027 is not this registry; its login server is \u0027` + e.host + `\u0027`)},
		{"unknown grant", http.MethodPost, "/oauth2/token", []string{"grant_type", "client_credentials"}, nil, http.StatusBadRequest,
			`{"errors":[{"code":"UNSUPPORTED","message":"grant_type \"client_credentials\" is not supported"}]}` + "\n"},
		{"PUT", http.MethodPut, "/oauth2/token", nil, nil, http.StatusMethodNotAllowed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, hdr := form(tt.form...)
			r := e.do(tt.method, tt.path, body, merge(hdr, tt.hdr))
			assert.Equal(t, tt.status, r.status)
			if tt.body != "" {
				assert.Equal(t, tt.body, r.body)
			}
			assert.Equal(t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
		})
	}
	t.Run("disabled admin user", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.AdminUserEnabled = false
		require.NoError(t, e.update(cfg))
		r := e.do(http.MethodGet, "/oauth2/token?scope=repository:a:pull", nil, basic(testName, testPW1))
		assert.Equal(t, http.StatusUnauthorized, r.status)
		assert.Equal(t, unauthorizedNoDetail, r.body)
	})
}

func TestAnonymousPull(t *testing.T) {
	cfg := defaultConfig()
	cfg.AnonymousPullEnabled = true
	e := newEnv(t, cfg, nil)
	path := "/oauth2/token?service=" + e.host + "&scope=repository:hello:pull,push,delete&scope=registry:catalog:*&scope=repository:other:pull"

	r := e.do(http.MethodGet, path, nil, nil)
	anon := tokenField(t, r, "access_token")
	c, err := testSigner.Verify(anon, token.GrantAccess, e.host)
	require.NoError(t, err)
	// ACR's anonymous identity pulls and lists the catalog.
	assert.Equal(t, AnonymousSubject, c.Subject)
	assert.Equal(t, []token.Access{
		{Type: "repository", Name: "hello", Actions: []string{"pull"}},
		{Type: "registry", Name: "catalog", Actions: []string{"*"}},
		{Type: "repository", Name: "other", Actions: []string{"pull"}},
	}, c.Access)

	// The anonymous token reads but never writes or deletes.
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v2/", nil, bearer(anon)).status)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v2/hello/tags/list", nil, bearer(anon)).status)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/v2/hello/blobs/uploads/", nil, bearer(anon)).status)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodDelete, "/v2/hello/manifests/sha256:"+zeros, nil, bearer(anon)).status)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v2/_catalog", nil, bearer(anon)).status)

	// Turning anonymous pull off stops new anonymous tokens at once.
	cfg.AnonymousPullEnabled = false
	require.NoError(t, e.update(cfg))
	r = e.do(http.MethodGet, path, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, unauthorizedNoDetail, r.body)
}

// TestExchangeRefusesTokensForOtherResources: an ARM token obtained for
// Key Vault or Graph is not exchanged for a registry refresh token.
func TestExchangeRefusesTokensForOtherResources(t *testing.T) {
	e := newEnv(t, defaultConfig(), func(o *Options) {
		o.ARMAudience = func(aud []string) bool { return slices.Contains(aud, "https://management.azure.com/") }
	})
	sign := func(aud string) string {
		tok, err := testSigner.Sign(token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: "sp", Audience: jwt.ClaimStrings{aud}},
			GrantType:        token.GrantARM,
		}, time.Hour)
		require.NoError(t, err)
		return tok
	}
	tests := []struct {
		name   string
		aud    string
		status int
	}{
		{"management", "https://management.azure.com/", http.StatusOK},
		{"Key Vault", "https://vault.azure.net", http.StatusUnauthorized},
		{"Graph", "https://graph.microsoft.com", http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, hdr := form("grant_type", "access_token", "service", e.host, "access_token", sign(tt.aud))
			r := e.do(http.MethodPost, "/oauth2/exchange", body, hdr)
			assert.Equal(t, tt.status, r.status, r.body)
		})
	}
}
