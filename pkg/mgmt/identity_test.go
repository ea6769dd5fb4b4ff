package mgmt_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// tokenAt posts client credentials to path and returns the status and body.
func (e *env) tokenAt(path string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+path, form)
	require.NoError(e.t, err)
	defer res.Body.Close()
	var m map[string]any
	require.NoError(e.t, json.NewDecoder(res.Body).Decode(&m))
	return res.StatusCode, m
}

// jwtPayload decodes a JWT's claims without verifying it.
func jwtPayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	require.Len(t, parts, 3)
	data, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(data, &m))
	return m
}

func TestTenantTokenEndpoints(t *testing.T) {
	e := newEnv(t)
	form := func(scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}, "scope": {scope}}
	}
	tests := []struct {
		name, path, scope string
		wantCode          int
		wantAud           string
	}{
		{"v2, tenant id, ARM (go-azure-sdk)", "/" + testarm.Tenant + "/oauth2/v2.0/token", e.srv.URL + "/.default", 200, e.srv.URL},
		{"v2, tenant id, Graph", "/" + testarm.Tenant + "/oauth2/v2.0/token", e.srv.URL + "/graph/.default", 200, e.srv.URL + "/graph"},
		{"v2, common", "/common/oauth2/v2.0/token", e.srv.URL + "/.default", 200, e.srv.URL},
		{"v2, organizations", "/organizations/oauth2/v2.0/token", e.srv.URL + "/.default", 200, e.srv.URL},
		{"v1, tenant id", "/" + testarm.Tenant + "/oauth2/token", "", 200, e.srv.URL + "/"},
		{"v2, upper-case tenant id", "/" + strings.ToUpper(testarm.Tenant) + "/oauth2/v2.0/token", e.srv.URL + "/.default", 200, e.srv.URL},
		{"adfs, v2 path", "/adfs/oauth2/v2.0/token", e.srv.URL + "/.default", 200, e.srv.URL},
		{"unknown tenant", "/44444444-4444-4444-4444-444444444444/oauth2/v2.0/token", e.srv.URL + "/.default", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			code, body := e.tokenAt(tt.path, form(tt.scope))
			require.Equal(t, tt.wantCode, code, "%v", body)
			if tt.wantCode != 200 {
				assert.Contains(t, body["error_description"], "AADSTS90002")
				return
			}
			claims := jwtPayload(t, body["access_token"].(string))
			assert.Equal(t, tt.wantAud, claims["aud"], "aud is a string")
			assert.Equal(t, testarm.Tenant, claims["tid"])
			assert.Equal(t, testarm.ClientID, claims["appid"])
			assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, claims["oid"])
		})
	}

	t.Run("v2 token works on ARM, Graph token does not", func(t *testing.T) {
		e := e.forTest(t)
		_, arm := e.tokenAt("/"+testarm.Tenant+"/oauth2/v2.0/token", form(e.srv.URL+"/.default"))
		res := e.arm.Do(http.MethodGet, testarm.WithAPI("/subscriptions", "2022-12-01"), nil,
			http.Header{"Authorization": {"Bearer " + arm["access_token"].(string)}})
		assert.Equal(t, http.StatusOK, res.Code)
		_, graph := e.tokenAt("/"+testarm.Tenant+"/oauth2/v2.0/token", form(e.srv.URL+"/graph/.default"))
		res = e.arm.Do(http.MethodGet, testarm.WithAPI("/subscriptions", "2022-12-01"), nil,
			http.Header{"Authorization": {"Bearer " + graph["access_token"].(string)}})
		assert.Equal(t, http.StatusUnauthorized, res.Code)
	})
}

func TestDiscoveryDocuments(t *testing.T) {
	e := newEnv(t)
	base := e.srv.URL
	tests := []struct {
		path                            string
		wantIssuer, wantToken, wantJWKS string
		wantCode                        int
	}{
		{"/adfs/.well-known/openid-configuration", base + "/adfs", base + "/adfs/oauth2/token", base + "/adfs/discovery/keys", 200},
		{"/" + testarm.Tenant + "/.well-known/openid-configuration", base + "/" + testarm.Tenant, base + "/" + testarm.Tenant + "/oauth2/token", base + "/" + testarm.Tenant + "/discovery/keys", 200},
		{"/" + testarm.Tenant + "/v2.0/.well-known/openid-configuration", base + "/" + testarm.Tenant + "/v2.0", base + "/" + testarm.Tenant + "/oauth2/v2.0/token", base + "/" + testarm.Tenant + "/discovery/v2.0/keys", 200},
		{"/common/v2.0/.well-known/openid-configuration", base + "/{tenantid}/v2.0", base + "/common/oauth2/v2.0/token", base + "/common/discovery/v2.0/keys", 200},
		{"/nobody/v2.0/.well-known/openid-configuration", "", "", "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Do(http.MethodGet, tt.path, nil, nil)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantCode != 200 {
				return
			}
			m := res.JSON(t)
			assert.Equal(t, tt.wantIssuer, m["issuer"])
			assert.Equal(t, tt.wantToken, m["token_endpoint"])
			assert.Equal(t, tt.wantJWKS, m["jwks_uri"])
			assert.NotEmpty(t, m["authorization_endpoint"])
			// The JWKS it names publishes the signing key.
			keys := e.arm.Do(http.MethodGet, strings.TrimPrefix(m["jwks_uri"].(string), base), nil, nil)
			require.Equal(t, http.StatusOK, keys.Code)
			var set struct {
				Keys []map[string]string `json:"keys"`
			}
			require.NoError(t, json.Unmarshal(keys.Body, &set))
			require.Len(t, set.Keys, 1)
			assert.Equal(t, e.signer.PublicJWK().X, set.Keys[0]["x"])
			assert.Equal(t, "ES256", set.Keys[0]["alg"])
		})
	}
}

func TestGraphServicePrincipals(t *testing.T) {
	e := newEnv(t)
	_, tok := e.tokenAt("/"+testarm.Tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}, "scope": {e.srv.URL + "/graph/.default"}})
	graph := http.Header{"Authorization": {"Bearer " + tok["access_token"].(string)}}
	oid := jwtPayload(t, tok["access_token"].(string))["oid"]
	tests := []struct {
		name, path string
		hdr        http.Header
		wantCode   int
		wantCount  int
	}{
		{"by appId", "/v1.0/servicePrincipals?$filter=" + url.QueryEscape("appId eq '"+testarm.ClientID+"'"), graph, 200, 1},
		{"under /graph", "/graph/v1.0/servicePrincipals?$filter=" + url.QueryEscape("appId eq '"+testarm.ClientID+"'"), graph, 200, 1},
		{"other appId", "/v1.0/servicePrincipals?$filter=" + url.QueryEscape("appId eq 'x'"), graph, 200, 0},
		{"unsupported filter", "/v1.0/servicePrincipals?$filter=" + url.QueryEscape("displayName eq 'x'"), graph, 400, 0},
		{"ARM token", "/v1.0/servicePrincipals", http.Header{"Authorization": {"Bearer " + e.token}}, 401, 0},
		{"no token", "/v1.0/servicePrincipals", nil, 401, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Do(http.MethodGet, tt.path, nil, tt.hdr)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantCode != 200 {
				return
			}
			var body struct {
				Value []map[string]any `json:"value"`
			}
			require.NoError(t, json.Unmarshal(res.Body, &body))
			require.Len(t, body.Value, tt.wantCount)
			if tt.wantCount == 1 {
				assert.Equal(t, oid, body.Value[0]["id"], "the token's oid is the service principal's id")
				assert.Equal(t, testarm.ClientID, body.Value[0]["appId"])
			}
		})
	}
}

func TestProviders(t *testing.T) {
	e := newEnv(t)
	t.Run("list", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/providers", "2022-09-01"), nil)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var body struct {
			Value []struct {
				ID, Namespace, RegistrationState string
				ResourceTypes                    []struct {
					ResourceType string
					Locations    []string
					APIVersions  []string
				}
			}
		}
		require.NoError(t, json.Unmarshal(res.Body, &body))
		states := map[string]string{}
		for _, p := range body.Value {
			states[p.Namespace] = p.RegistrationState
			assert.Equal(t, testarm.SubscriptionPath+"/providers/"+p.Namespace, p.ID)
			if p.Namespace == "Microsoft.ContainerRegistry" {
				require.Equal(t, "registries", p.ResourceTypes[0].ResourceType)
				assert.Equal(t, "2026-01-01-preview", p.ResourceTypes[0].APIVersions[0], "newest first")
				assert.Contains(t, p.ResourceTypes[0].APIVersions, "2025-11-01")
				assert.Contains(t, p.ResourceTypes[0].Locations, "westeurope")
			}
		}
		assert.Equal(t, map[string]string{"Microsoft.ContainerRegistry": "Registered", "Microsoft.Resources": "Registered"}, states)
	})
	t.Run("get, any case", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/providers/microsoft.containerregistry", "2022-09-01"), nil)
		require.Equal(t, http.StatusOK, res.Code)
		assert.Equal(t, "Microsoft.ContainerRegistry", res.JSON(t)["namespace"])
	})
	t.Run("register", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPost, testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/register", "2022-09-01"), nil)
		require.Equal(t, http.StatusOK, res.Code)
		assert.Equal(t, "Registered", res.JSON(t)["registrationState"])
		assert.Equal(t, "true", res.Header.Get("X-Go-Azure-Sdk-Skip-Polling-Delay"))
	})
	t.Run("unknown namespace", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.Nope", "2022-09-01"), nil)
		require.Equal(t, http.StatusNotFound, res.Code)
		assert.Equal(t, "InvalidResourceNamespace", res.ErrCode(t))
	})
	t.Run("operations", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI("/providers/Microsoft.ContainerRegistry/operations", "2025-11-01"), nil)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		var body struct{ Value []struct{ Name string } }
		require.NoError(t, json.Unmarshal(res.Body, &body))
		var names []string
		for _, o := range body.Value {
			names = append(names, o.Name)
		}
		assert.Contains(t, names, "Microsoft.ContainerRegistry/registries/write")
	})
	t.Run("needs a token", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Do(http.MethodGet, testarm.WithAPI(testarm.SubscriptionPath+"/providers", "2022-09-01"), nil, nil)
		assert.Equal(t, http.StatusUnauthorized, res.Code)
	})
}
