package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/registry"
)

// revocationRegistry is one registry of TestHeldTokensEndWithTheirCredential.
type revocationRegistry struct {
	path     string // ARM resource path
	name     string
	login    string
	addr     string // its port on loopback
	password string // the admin user's first password
}

// TestHeldTokensEndWithTheirCredential: a client holds a bearer token
// issued for a credential and keeps using it on its keep-alive
// connection; once ARM disables or changes that credential, the next
// request with the token is refused, on /v2/ with the invalid-token
// challenge and at the token endpoint with the reason. Tokens of an
// exchanged identity outlive such changes.
func TestHeldTokensEndWithTheirCredential(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)

	adminToken := func(c *client, r revocationRegistry) string {
		return heldToken(c, r, r.name, r.password)
	}
	scopeMapToken := func(c *client, r revocationRegistry) string {
		status, out := c.arm("PUT", r.path+"/tokens/ci-token", map[string]any{"properties": map[string]any{"scopeMapId": r.path + "/scopeMaps/_repositories_pull"}})
		require.Equal(c.t, http.StatusCreated, status, out)
		status, out = c.arm("POST", r.path+"/generateCredentials", map[string]any{"tokenId": r.path + "/tokens/ci-token", "name": "password1"})
		require.Equal(c.t, http.StatusOK, status, out)
		password := out["passwords"].([]any)[0].(map[string]any)["value"].(string)
		return heldToken(c, r, "ci-token", password)
	}
	arm := func(method, suffix string, body map[string]any) func(*client, revocationRegistry) {
		return func(c *client, r revocationRegistry) {
			status, out := c.arm(method, r.path+suffix, body)
			require.Contains(c.t, []int{http.StatusOK, http.StatusAccepted, http.StatusNoContent}, status, out)
		}
	}
	tests := []struct {
		name   string
		issue  func(*client, revocationRegistry) string
		change func(*client, revocationRegistry)
		reason string // "": the token keeps working
	}{
		{
			name:   "admin user disabled",
			issue:  adminToken,
			change: arm("PATCH", "", map[string]any{"properties": map[string]any{"adminUserEnabled": false}}),
			reason: "the token was issued for the admin user, which is disabled",
		},
		{
			name:   "admin password regenerated",
			issue:  adminToken,
			change: arm("POST", "/regenerateCredential", map[string]any{"name": "password"}),
			reason: "regenerated",
		},
		{
			name:   "token disabled",
			issue:  scopeMapToken,
			change: arm("PATCH", "/tokens/ci-token", map[string]any{"properties": map[string]any{"status": "disabled"}}),
			reason: `the token was issued for token \u0027ci-token\u0027, which is disabled`,
		},
		{
			name:   "token deleted",
			issue:  scopeMapToken,
			change: arm("DELETE", "/tokens/ci-token", nil),
			reason: "since deleted",
		},
		{
			name:   "exchanged identity's token, admin user disabled",
			issue:  exchangedToken,
			change: arm("PATCH", "", map[string]any{"properties": map[string]any{"adminUserEnabled": false}}),
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.forTest(t)
			r := revocationRegistry{name: fmt.Sprintf("revoking%d", i)}
			r.path = testarm.RegistryPath("rg", r.name)
			r.login, r.password = createRegistry(t, c, "rg", r.name, false)
			r.addr = "127.0.0.1:" + portOf(t, r.login)

			tok := tt.issue(c, r)
			for range 2 {
				require.Equal(t, http.StatusOK, bearerGet(t, c, r.addr, r.login, "/v2/", tok))
			}
			tt.change(c, r)

			res := bearerRequest(c, r, tok)
			renewal, renewed := registryToken(t, c, r.addr, r.login, r.login, registry.NullGUID, tok, "repository:hello:pull")
			if tt.reason == "" {
				assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
				assert.Equal(t, http.StatusOK, renewal, renewed)
				return
			}
			assert.Equal(t, http.StatusUnauthorized, res.Code)
			assert.Contains(t, res.Header.Get("Www-Authenticate"), `error="invalid_token"`)
			assert.Contains(t, string(res.Body), "authentication required")
			assert.Equal(t, http.StatusUnauthorized, renewal)
			assert.Contains(t, renewed, tt.reason)
		})
	}
}

// heldToken signs in at r's token endpoint with user and password and
// returns the access token.
func heldToken(c *client, r revocationRegistry, user, password string) string {
	c.t.Helper()
	status, tok := registryToken(c.t, c, r.addr, r.login, r.login, user, password, "repository:hello:pull")
	require.Equal(c.t, http.StatusOK, status, tok)
	return tok
}

// exchangedToken is az acr login's: the development identity's ARM token
// exchanged for a refresh token, and an access token from that.
func exchangedToken(c *client, r revocationRegistry) string {
	c.t.Helper()
	post := func(path string, form url.Values, field string) string {
		req, err := http.NewRequest("POST", "http://"+r.addr+path, strings.NewReader(form.Encode()))
		require.NoError(c.t, err)
		req.Host = r.login
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.HTTP.Do(req)
		require.NoError(c.t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(c.t, err)
		require.Equal(c.t, http.StatusOK, resp.StatusCode, "%s", body)
		var m map[string]string
		require.NoError(c.t, json.Unmarshal(body, &m))
		return m[field]
	}
	refresh := post("/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {r.login},
		"access_token": {c.Token(testarm.ClientID, testarm.ClientSecret)}}, "refresh_token")
	return post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {r.login},
		"scope": {"repository:hello:pull"}, "refresh_token": {refresh}}, "access_token")
}

// bearerRequest sends GET /v2/ with tok to r and returns the whole answer.
func bearerRequest(c *client, r revocationRegistry, tok string) testarm.Response {
	c.t.Helper()
	req, err := http.NewRequest("GET", "http://"+r.addr+"/v2/", nil)
	require.NoError(c.t, err)
	req.Host = r.login
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.HTTP.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return testarm.Response{Code: resp.StatusCode, Header: resp.Header, Body: body}
}
