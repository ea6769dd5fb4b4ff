package registry

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/scopemap"
	"github.com/acremu/acremu/pkg/token"
)

func TestScopeMapGrants(t *testing.T) {
	cfg := defaultConfig()
	cfg.Tokens = []Token{{
		Name: "ci-token", Enabled: true,
		Passwords: []TokenPassword{{Name: "password1", Hash: scopemap.HashPassword("pw1")}},
		Actions: []string{
			"repositories/hello/content/read", "repositories/hello/metadata/read",
			"repositories/team/*/content/read", "repositories/team/*/content/write",
			"repositories/*/content/delete", "gateway/edge/config/read",
		},
	}}
	e := newEnv(t, cfg, nil)
	tests := []struct {
		scope string
		want  []token.Access
	}{
		{"repository:hello:pull,push,metadata_read", []token.Access{{Type: "repository", Name: "hello", Actions: []string{"pull", "metadata_read"}}}},
		{"repository:team/app:pull,push", []token.Access{{Type: "repository", Name: "team/app", Actions: []string{"pull", "push"}}}},
		{"repository:team/a/b:push", []token.Access{{Type: "repository", Name: "team/a/b", Actions: []string{"push"}}}},
		{"repository:team:pull", nil}, // team/* does not cover team itself
		{"repository:anything:delete,pull", []token.Access{{Type: "repository", Name: "anything", Actions: []string{"delete"}}}},
		{"registry:catalog:*", nil}, // tokens never list the catalog
	}
	for _, tt := range tests {
		t.Run(tt.scope, func(t *testing.T) {
			q := url.Values{"service": {e.host}, "scope": {tt.scope}}
			r := e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, basic("CI-Token", "pw1"))
			c, err := testSigner.Verify(tokenField(t, r, "access_token"), token.GrantAccess, e.host)
			require.NoError(t, err)
			assert.Equal(t, "ci-token", c.Subject)
			assert.Equal(t, tt.want, c.Access)
		})
	}
}

func TestTokenRefusalMessages(t *testing.T) {
	past := time.Now().Add(-time.Hour)
	cfg := defaultConfig()
	cfg.Tokens = []Token{
		{Name: "offtoken", Enabled: false, Passwords: []TokenPassword{{Name: "password1", Hash: scopemap.HashPassword("pw")}}, Actions: []string{"repositories/*/content/read"}},
		{Name: "oldtoken", Enabled: true, Passwords: []TokenPassword{{Name: "password1", Hash: scopemap.HashPassword("pw"), Expiry: past}}, Actions: []string{"repositories/*/content/read"}},
	}
	e := newEnv(t, cfg, nil)
	tests := []struct {
		name, user, pass, want string
	}{
		{"disabled", "offtoken", "pw", "offtoken\\u0027 is disabled"},
		{"disabled, wrong password says nothing", "offtoken", "nope", msgAuthRequired},
		{"expired", "oldtoken", "pw", "oldtoken\\u0027 has expired"},
		{"unknown user", "nobody", "pw", msgAuthRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/oauth2/token?scope=repository:a:pull", "/v2/a/tags/list"} {
				r := e.do(http.MethodGet, path, nil, basic(tt.user, tt.pass))
				assert.Equal(t, http.StatusUnauthorized, r.status, path)
				assert.Contains(t, r.body, tt.want, path)
			}
			body, hdr := form("grant_type", "password", "username", tt.user, "password", tt.pass)
			r := e.do(http.MethodPost, "/oauth2/token", body, hdr)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.Contains(t, r.body, tt.want)
		})
	}
}

// TestAnonymousPost: the Azure SDKs ask for the anonymous token with POST.
func TestAnonymousPost(t *testing.T) {
	cfg := defaultConfig()
	cfg.AnonymousPullEnabled = true
	e := newEnv(t, cfg, nil)
	tests := []struct {
		name string
		form []string
	}{
		{"password grant, empty credentials", []string{"grant_type", "password", "service", e.host, "scope", "registry:catalog:*", "username", "", "password", ""}},
		{"password grant, no credential fields", []string{"grant_type", "password", "service", e.host, "scope", "registry:catalog:*"}},
		{"empty refresh token (JavaScript SDK)", []string{"grant_type", "refresh_token", "service", e.host, "scope", "registry:catalog:*", "refresh_token", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, hdr := form(tt.form...)
			r := e.do(http.MethodPost, "/oauth2/token", body, hdr)
			c, err := testSigner.Verify(tokenField(t, r, "access_token"), token.GrantAccess, e.host)
			require.NoError(t, err)
			assert.Equal(t, AnonymousSubject, c.Subject)
			assert.Equal(t, []token.Access{{Type: "registry", Name: "catalog", Actions: []string{"*"}}}, c.Access)
		})
	}
	cfg.AnonymousPullEnabled = false
	require.NoError(t, e.update(cfg))
	body, hdr := form(tests[0].form...)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/oauth2/token", body, hdr).status)
}
