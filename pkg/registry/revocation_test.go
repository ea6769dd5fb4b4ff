package registry

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/scopemap"
	"github.com/acremu/acremu/pkg/token"
)

const (
	ciToken     = "ci-token"
	ciTokenPW1  = "ci-password-1"
	ciTokenPW2  = "ci-password-2"
	ciPWExpires = 10 * time.Minute // after the test's start; within an access token's lifetime
)

// revocationConfig is a registry with every kind of credential: the admin
// user with both passwords, a repository-scoped token with both passwords
// (password1 expiring), and anonymous pull.
func revocationConfig(start time.Time) Config {
	cfg := defaultConfig()
	cfg.AnonymousPullEnabled = true
	cfg.Tokens = []Token{{
		Name: ciToken, Enabled: true,
		Passwords: []TokenPassword{
			{Name: "password1", Hash: scopemap.HashPassword(ciTokenPW1), Expiry: start.Add(ciPWExpires)},
			{Name: "password2", Hash: scopemap.HashPassword(ciTokenPW2)},
		},
		Actions: []string{"repositories/hello/content/read", "repositories/hello/content/write"},
	}}
	return cfg
}

// heldTokens are what a client holds after signing in: an access token
// and a refresh token.
type heldTokens struct{ access, refresh string }

// accessFor signs in at the token endpoint with Basic credentials (none:
// anonymously) and returns the access token.
func accessFor(e *testEnv, hdr http.Header) string {
	q := url.Values{"service": {e.host}, "scope": {"repository:hello:pull,push"}}
	return tokenField(e.t, e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, hdr), "access_token")
}

// credentialTokens signs in with user and pass. acremu hands out no
// refresh token for a password, so the refresh token is minted for the
// same credential, as one renewed from such a token would be.
func credentialTokens(user, pass string) func(*testEnv) heldTokens {
	return func(e *testEnv) heldTokens {
		access := accessFor(e, basic(user, pass))
		c, err := testSigner.Verify(access, token.GrantAccess, e.host)
		require.NoError(e.t, err)
		require.NotEmpty(e.t, c.Credential, "a token issued for a credential names it")
		refresh, err := testSigner.Sign(token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: c.Subject, Audience: c.Audience},
			GrantType:        token.GrantRefresh,
			Registry:         c.Registry,
			Credential:       c.Credential,
			Permissions:      &token.Permissions{Actions: []string{"*"}, NotActions: []string{}},
		}, RefreshTokenTTL)
		require.NoError(e.t, err)
		return heldTokens{access: access, refresh: refresh}
	}
}

// exchangedTokens are az acr login's: a refresh token exchanged from an
// ARM token, and an access token from the refresh-token grant.
func exchangedTokens(e *testEnv) heldTokens {
	refresh := tokenField(e.t, exchange(e), "refresh_token")
	body, hdr := form("grant_type", "refresh_token", "service", e.host, "scope", "repository:hello:pull,push", "refresh_token", refresh)
	access := tokenField(e.t, e.do(http.MethodPost, "/oauth2/token", body, hdr), "access_token")
	return heldTokens{access: access, refresh: refresh}
}

// anonymousTokens: the anonymous identity gets an access token only.
func anonymousTokens(e *testEnv) heldTokens { return heldTokens{access: accessFor(e, nil)} }

// revokeEverything changes every credential: the admin user disabled with
// new passwords, every token deleted.
func revokeEverything(cfg *Config, _ *testarm.Clock) {
	cfg.AdminUserEnabled = false
	cfg.Passwords = [2]string{"new-password-1", "new-password-2"}
	cfg.Tokens = nil
}

// TestCredentialRevocation: a token issued for a credential stops working
// on its next use once the credential is no longer valid, on /v2/ (access
// token) and at the token endpoint (refresh grant, and the access token as
// the null GUID's password); tokens of identities are unaffected. Every
// case holds three sets of tokens: one used twice before the change and
// twice after (the verified-token cache), one used only after it (the
// signature check), and one renewed from the first before the change.
func TestCredentialRevocation(t *testing.T) {
	tests := []struct {
		name   string
		issue  func(*testEnv) heldTokens
		change func(cfg *Config, clock *testarm.Clock)
		// refusal is the token endpoint's message once the change is
		// made, as it appears in the JSON body; "" means the tokens keep
		// working.
		refusal string
	}{
		{
			name:    "admin user disabled",
			issue:   credentialTokens(testName, testPW1),
			change:  func(cfg *Config, _ *testarm.Clock) { cfg.AdminUserEnabled = false },
			refusal: "the token was issued for the admin user, which is disabled",
		},
		{
			name:    "admin password1 regenerated",
			issue:   credentialTokens(testName, testPW1),
			change:  func(cfg *Config, _ *testarm.Clock) { cfg.Passwords[0] = "regenerated" },
			refusal: refusalCredentialGone.msg,
		},
		{
			name:   "admin password1 regenerated, password2 tokens still work",
			issue:  credentialTokens(testName, testPW2),
			change: func(cfg *Config, _ *testarm.Clock) { cfg.Passwords[0] = "regenerated" },
		},
		{
			name:    "scope-map token disabled",
			issue:   credentialTokens(ciToken, ciTokenPW2),
			change:  func(cfg *Config, _ *testarm.Clock) { cfg.Tokens[0].Enabled = false },
			refusal: `the token was issued for token \u0027ci-token\u0027, which is disabled`,
		},
		{
			name:    "scope-map token deleted",
			issue:   credentialTokens(ciToken, ciTokenPW2),
			change:  func(cfg *Config, _ *testarm.Clock) { cfg.Tokens = nil },
			refusal: refusalCredentialGone.msg,
		},
		{
			name:  "scope-map token password2 regenerated",
			issue: credentialTokens(ciToken, ciTokenPW2),
			change: func(cfg *Config, _ *testarm.Clock) {
				cfg.Tokens[0].Passwords[1].Hash = scopemap.HashPassword("regenerated")
			},
			refusal: refusalCredentialGone.msg,
		},
		{
			name:    "scope-map token password2 removed",
			issue:   credentialTokens(ciToken, ciTokenPW2),
			change:  func(cfg *Config, _ *testarm.Clock) { cfg.Tokens[0].Passwords = cfg.Tokens[0].Passwords[:1] },
			refusal: refusalCredentialGone.msg,
		},
		{
			name:  "scope-map token password2 regenerated, password1 tokens still work",
			issue: credentialTokens(ciToken, ciTokenPW1),
			change: func(cfg *Config, _ *testarm.Clock) {
				cfg.Tokens[0].Passwords[1].Hash = scopemap.HashPassword("regenerated")
			},
		},
		{
			name:    "scope-map token password expired",
			issue:   credentialTokens(ciToken, ciTokenPW1),
			change:  func(_ *Config, clock *testarm.Clock) { clock.Add(ciPWExpires) },
			refusal: `the token was issued for a password of token \u0027ci-token\u0027, which has expired`,
		},
		{
			name:   "anonymous pull token unaffected by credential changes",
			issue:  anonymousTokens,
			change: revokeEverything,
		},
		{
			name:    "anonymous pull disabled",
			issue:   anonymousTokens,
			change:  func(cfg *Config, _ *testarm.Clock) { cfg.AnonymousPullEnabled = false },
			refusal: refusalAnonymousOff.msg,
		},
		{
			name:   "exchanged identity tokens unaffected",
			issue:  exchangedTokens,
			change: revokeEverything,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			clock := testarm.NewClock(start)
			cfg := revocationConfig(start)
			e := newEnv(t, cfg, func(o *Options) { o.Now = clock.Now })
			garbage := e.do(http.MethodGet, "/v2/", nil, bearer("garbage"))
			require.Equal(t, http.StatusUnauthorized, garbage.status)

			used, fresh := tt.issue(e), tt.issue(e)
			for range 2 {
				assertTokensWork(t, e, used)
			}
			renewed := renew(e, used)

			tt.change(&cfg, clock)
			require.NoError(t, e.update(cfg))

			for _, held := range []heldTokens{used, used, fresh, fresh, renewed} {
				if tt.refusal == "" {
					assertTokensWork(t, e, held)
					continue
				}
				// /v2/ answers as for any invalid token, so that docker
				// signs in again.
				r := e.do(http.MethodGet, "/v2/", nil, bearer(held.access))
				assert.Equal(t, http.StatusUnauthorized, r.status)
				assert.Equal(t, garbage.header.Get("Www-Authenticate"), r.header.Get("Www-Authenticate"))
				assert.Equal(t, garbage.body, r.body)
				// The token endpoints say why.
				for what, r := range tokenEndpointUses(e, held) {
					assert.Equal(t, http.StatusUnauthorized, r.status, what)
					assert.Equal(t, refusedBody(tt.refusal), r.body, what)
				}
			}
		})
	}
}

// assertTokensWork uses held on /v2/ and at the token endpoint.
func assertTokensWork(t *testing.T, e *testEnv, held heldTokens) {
	t.Helper()
	r := e.do(http.MethodGet, "/v2/", nil, bearer(held.access))
	assert.Equal(t, http.StatusOK, r.status, "/v2/: %s", r.body)
	for what, r := range tokenEndpointUses(e, held) {
		assert.Equal(t, http.StatusOK, r.status, "%s: %s", what, r.body)
	}
}

// renew gets new tokens for held as docker does: an access token with the
// access token as the null GUID's password, a refresh token (offline_token)
// with the refresh token.
func renew(e *testEnv, held heldTokens) heldTokens {
	q := url.Values{"service": {e.host}, "scope": {"repository:hello:pull"}}
	out := heldTokens{access: tokenField(e.t, e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, basic(NullGUID, held.access)), "access_token")}
	if held.refresh != "" {
		q.Set("offline_token", "true")
		out.refresh = tokenField(e.t, e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, basic(NullGUID, held.refresh)), "refresh_token")
	}
	return out
}

// tokenEndpointUses renews held at the token endpoint: the refresh grant
// with the refresh token, and a GET with the access token as the null
// GUID's password.
func tokenEndpointUses(e *testEnv, held heldTokens) map[string]response {
	q := url.Values{"service": {e.host}, "scope": {"repository:hello:pull"}}
	out := map[string]response{
		"null GUID with access token": e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, basic(NullGUID, held.access)),
	}
	if held.refresh != "" {
		body, hdr := form("grant_type", "refresh_token", "service", e.host, "scope", "repository:hello:pull", "refresh_token", held.refresh)
		out["refresh grant"] = e.do(http.MethodPost, "/oauth2/token", body, hdr)
	}
	return out
}

// TestTokensWithoutCredential: a token that names no credential is an
// identity's (it carries a tenant, a managed identity or the anonymous
// subject) or was issued for a credential before tokens named theirs;
// those fail closed, as nothing shows their credential is still valid.
func TestTokensWithoutCredential(t *testing.T) {
	e := newEnv(t, revocationConfig(time.Now()), nil)
	garbage := e.do(http.MethodGet, "/v2/", nil, bearer("garbage"))
	sign := func(subject, tenant, mi string) string {
		tok, err := testSigner.Sign(token.Claims{
			RegisteredClaims: jwt.RegisteredClaims{Subject: subject, Audience: jwt.ClaimStrings{e.host}},
			GrantType:        token.GrantAccess,
			Registry:         e.reg.id,
			Tenant:           tenant,
			ManagedIdentity:  mi,
		}, AccessTokenTTL)
		require.NoError(t, err)
		return tok
	}
	tests := []struct {
		name    string
		access  string
		refused bool
	}{
		{"admin user's, from before tokens named their credential", sign(testName, "", ""), true},
		{"scope-map token's, from before tokens named their credential", sign(ciToken, "", ""), true},
		{"exchanged identity's", sign("sp-object-id", "tenant-from-arm", ""), false},
		{"managed identity's", sign("mi-object-id", "", "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"), false},
		{"anonymous", sign(AnonymousSubject, "", ""), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 2 {
				r := e.do(http.MethodGet, "/v2/", nil, bearer(tt.access))
				renewal := tokenEndpointUses(e, heldTokens{access: tt.access})["null GUID with access token"]
				if !tt.refused {
					assert.Equal(t, http.StatusOK, r.status, r.body)
					assert.Equal(t, http.StatusOK, renewal.status, renewal.body)
					continue
				}
				assert.Equal(t, http.StatusUnauthorized, r.status)
				assert.Equal(t, garbage.body, r.body)
				assert.Equal(t, http.StatusUnauthorized, renewal.status)
				assert.Equal(t, refusedBody(refusalNoFingerprint.msg), renewal.body)
			}
		})
	}
}

// TestScopeMapChangesIssuedTokens: a token issued for a repository-scoped
// token may do what it was granted and its scope map still allows.
// Narrowing the scope map narrows it at once; widening it grants the token
// nothing it was not issued with.
func TestScopeMapChangesIssuedTokens(t *testing.T) {
	cfg := revocationConfig(time.Now())
	e := newEnv(t, cfg, nil)
	pushPull := accessFor(e, basic(ciToken, ciTokenPW2))
	q := url.Values{"service": {e.host}, "scope": {"repository:hello:pull"}}
	pullOnly := tokenField(t, e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, basic(ciToken, ciTokenPW2)), "access_token")
	pull := func(tok string) int { return e.do(http.MethodGet, "/v2/hello/tags/list", nil, bearer(tok)).status }
	push := func(tok string) int {
		return e.do(http.MethodPost, "/v2/hello/blobs/uploads/", nil, bearer(tok)).status
	}

	require.Equal(t, http.StatusAccepted, push(pushPull))
	require.Equal(t, http.StatusNotFound, pull(pushPull)) // allowed; nothing pushed yet
	require.Equal(t, http.StatusUnauthorized, push(pullOnly))

	t.Run("narrowed", func(t *testing.T) {
		cfg.Tokens[0].Actions = []string{"repositories/hello/content/read"}
		require.NoError(t, e.update(cfg))
		assert.Equal(t, http.StatusUnauthorized, push(pushPull))
		assert.Equal(t, http.StatusNotFound, pull(pushPull))
		// A renewal is narrowed as well.
		renewQ := url.Values{"service": {e.host}, "scope": {"repository:hello:pull,push"}}
		renewed := tokenField(t, e.do(http.MethodGet, "/oauth2/token?"+renewQ.Encode(), nil, basic(NullGUID, pushPull)), "access_token")
		c, err := testSigner.Verify(renewed, token.GrantAccess, e.host)
		require.NoError(t, err)
		assert.Equal(t, []token.Access{{Type: "repository", Name: "hello", Actions: []string{"pull"}}}, c.Access)
	})
	t.Run("widened", func(t *testing.T) {
		cfg.Tokens[0].Actions = []string{"repositories/hello/content/read", "repositories/hello/content/write", "repositories/*/content/delete"}
		require.NoError(t, e.update(cfg))
		assert.Equal(t, http.StatusAccepted, push(pushPull))
		assert.Equal(t, http.StatusUnauthorized, push(pullOnly))
	})
}

// TestCredentialCheckDoesNotAllocate: checking a token's credential is a
// map lookup; verifying a remembered token issued for a credential costs
// what verifying an identity's does.
func TestCredentialCheckDoesNotAllocate(t *testing.T) {
	e := newEnv(t, revocationConfig(time.Now()), nil)
	identity := accessToken(t, e.host)
	creds := e.reg.creds.Load()
	now := time.Now()
	for name, held := range map[string]heldTokens{
		"admin user":              credentialTokens(testName, testPW1)(e),
		"repository-scoped token": credentialTokens(ciToken, ciTokenPW1)(e),
	} {
		c, err := testSigner.Verify(held.access, token.GrantAccess, e.host)
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := creds.standing(c, now); err != nil {
				panic(err)
			}
		})
		assert.Zero(t, allocs, name)

		verify := func(raw string) float64 {
			return testing.AllocsPerRun(100, func() {
				if _, _, err := e.reg.verify(raw, token.GrantAccess); err != nil {
					panic(err)
				}
			})
		}
		assert.Equal(t, verify(identity), verify(held.access), name)
	}
}

// TestCredentialTokensSurviveRestart: fingerprints derive from the
// persisted HTTP secret, so a registry served again by a new process (same
// ID, secret and signing key) honours the tokens issued before.
func TestCredentialTokensSurviveRestart(t *testing.T) {
	cfg := revocationConfig(time.Now())
	e := newEnv(t, cfg, nil)
	held := credentialTokens(ciToken, ciTokenPW2)(e)

	cfg.ID, cfg.LoginServer = e.reg.id, e.reg.loginServer
	restarted, err := New(Options{HTTPSecret: "test-secret", Signer: testSigner, Logger: quietLogger()}, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, restarted.Close()) })
	_, cred, err := restarted.verify(held.access, token.GrantAccess)
	require.NoError(t, err)
	assert.Equal(t, ciToken, cred.scope.name)
}
