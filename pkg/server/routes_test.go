package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routedResponse is what a client sees of one answer; headers that differ
// per response (request ids, dates) are left out.
type routedResponse struct {
	Status                                          int
	ContentType, WWWAuthenticate, APIVersions, Body string
}

// TestFrontEndRouting sends each request to a front-end port and, for the
// paths ARM answers, the same request to the ARM API alone: the front end
// must hand those over untouched, whatever their case or tenant segment.
func TestFrontEndRouting(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	front := fmt.Sprintf("http://127.0.0.1:%d", s.FrontPort())
	armAlone := httptest.NewServer(s.api)
	t.Cleanup(armAlone.Close)
	httpClient := &http.Client{Timeout: 10 * time.Second}

	send := func(t *testing.T, base, method, path, body, bearer string) routedResponse {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Host = "acremu.test" // both servers then hand out the same URLs
		req.Header.Set("x-ms-correlation-request-id", "00000000-0000-0000-0000-000000000001")
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := httpClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return routedResponse{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("WWW-Authenticate"),
			resp.Header.Get("api-supported-versions"), string(out)}
	}

	tok := armToken(t, httpClient, front)
	mixedCaseRegistry := "/Subscriptions/" + DefaultSubscription + "/ResourceGroups/" + DefaultResourceGroup +
		"/providers/microsoft.containerregistry/Registries/" + cfg.DefaultRegistry + "?api-version=2023-07-01"
	const (
		lowerCaseGroup = "/subscriptions/" + DefaultSubscription + "/resourcegroups/" + DefaultResourceGroup + "?api-version=2022-09-01"
		badSecret      = "grant_type=client_credentials&client_id=" + DefaultClientID + "&client_secret=wrong&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
	)
	tests := []struct {
		name               string
		method, path, body string
		authenticated      bool
		wantStatus         int    // the status ARM answers with, or the front end's
		wantRegistryError  string // set: the front end or the data plane answers, not ARM
	}{
		{name: "registry in mixed case", method: "GET", path: mixedCaseRegistry, authenticated: true, wantStatus: 200},
		{name: "resource group in lower case", method: "GET", path: lowerCaseGroup, authenticated: true, wantStatus: 200},
		{name: "anonymous ARM request", method: "GET", path: mixedCaseRegistry, wantStatus: 401},
		{name: "subscriptions with a trailing slash", method: "GET", path: "/subscriptions/?api-version=2022-12-01", authenticated: true, wantStatus: 200},
		{name: "tenants", method: "GET", path: "/TENANTS?api-version=2022-12-01", authenticated: true, wantStatus: 200},
		{name: "unknown path under subscriptions", method: "GET", path: "/subscriptions/" + DefaultSubscription + "/nothing?api-version=2022-12-01", authenticated: true, wantStatus: 404},
		{name: "unknown method on a registry", method: "POST", path: mixedCaseRegistry, authenticated: true, wantStatus: 405},
		{name: "provider operations", method: "GET", path: "/Providers/Microsoft.ContainerRegistry/operations?api-version=2023-07-01", authenticated: true, wantStatus: 200},
		{name: "cloud metadata", method: "GET", path: "/metadata/endpoints?api-version=2022-09-01", wantStatus: 200},
		{name: "cloud metadata after a doubled slash", method: "GET", path: "//metadata/endpoints?api-version=2020-06-01", wantStatus: 200},
		{name: "unknown metadata path", method: "GET", path: "/Metadata/nothing", wantStatus: 404},
		{name: "managed identity endpoint with the wrong method", method: "POST", path: identityPath, wantStatus: 404},
		{name: "graph without a token", method: "GET", path: "/v1.0/servicePrincipals", wantStatus: 401},
		{name: "graph under its audience", method: "GET", path: "/graph/v1.0/servicePrincipals", wantStatus: 401},
		{name: "adfs openid configuration", method: "GET", path: "/adfs/.well-known/openid-configuration", wantStatus: 200},
		{name: "entra v2 openid configuration in mixed case", method: "GET", path: "/Common/V2.0/.well-known/openid-configuration", wantStatus: 200},
		{name: "signing keys of the tenant id", method: "GET", path: "/" + DefaultTenant + "/discovery/v2.0/keys", wantStatus: 200},
		{name: "signing keys of organizations", method: "GET", path: "/organizations/discovery/keys", wantStatus: 200},
		{name: "token with a wrong secret", method: "POST", path: "/common/oauth2/v2.0/token", body: badSecret, wantStatus: 401},
		{name: "token endpoint read with GET", method: "GET", path: "/adfs/oauth2/token", wantStatus: 405},
		{name: "unknown tenant", method: "GET", path: "/nosuchtenant/.well-known/openid-configuration", wantStatus: 400},
		{name: "unknown identity path of a tenant", method: "GET", path: "/common/discovery/instance", wantStatus: 401},
		{name: "identity path with the front end's segment as tenant", method: "GET", path: "/_acremu/discovery/keys", wantStatus: 400},
		{name: "mixed-case identity path with the front end's segment as tenant", method: "GET", path: "/_acremu/Discovery/V2.0/Keys", wantStatus: 400},
		{name: "root", method: "GET", path: "/", wantStatus: 401},
		{name: "path under no prefix", method: "GET", path: "/nothing/here", wantStatus: 404,
			wantRegistryError: `{"code":"NOT_FOUND","message":"acremu serves nothing at /nothing/here"}`},
		{name: "path under no prefix with a token", method: "GET", path: "/nothing/here?api-version=2022-12-01", authenticated: true, wantStatus: 404,
			wantRegistryError: `{"code":"NOT_FOUND","message":"acremu serves nothing at /nothing/here"}`},
		{name: "one-segment path", method: "DELETE", path: "/favicon.ico", wantStatus: 404,
			wantRegistryError: `{"code":"NOT_FOUND","message":"acremu serves nothing at /favicon.ico"}`},
		{name: "unknown front-end path", method: "GET", path: "/_acremu/nothing", wantStatus: 404,
			wantRegistryError: `{"code":"NOT_FOUND","message":"acremu serves nothing at /_acremu/nothing"}`},
		{name: "front-end namespace itself", method: "GET", path: "/_acremu", wantStatus: 404,
			wantRegistryError: `{"code":"NOT_FOUND","message":"acremu serves nothing at /_acremu"}`},
		{name: "health with the wrong method", method: "POST", path: "/_acremu/health", wantStatus: 405,
			wantRegistryError: `{"code":"UNSUPPORTED","message":"the method POST is not supported at /_acremu/health"}`},
		{name: "tenant-shaped data-plane path", method: "GET", path: "/v2/oauth2/token", wantStatus: 404,
			wantRegistryError: `{"code":"NOT_FOUND","message":"the requested resource was not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bearer := ""
			if tt.authenticated {
				bearer = tok
			}
			got := send(t, front, tt.method, tt.path, tt.body, bearer)
			require.Equal(t, tt.wantStatus, got.Status, got.Body)
			if tt.wantRegistryError != "" {
				assert.JSONEq(t, `{"errors":[`+tt.wantRegistryError+`]}`, got.Body)
				return
			}
			assert.Equal(t, send(t, armAlone.URL, tt.method, tt.path, tt.body, bearer), got)
		})
	}
}

// armToken is an ARM token from the front end's ADFS endpoint.
func armToken(t *testing.T, httpClient *http.Client, base string) string {
	t.Helper()
	resp, err := httpClient.PostForm(base+"/adfs/oauth2/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {DefaultClientSecret},
		"scope": {"https://management.azure.com/.default"},
	})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}
