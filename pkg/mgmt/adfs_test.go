package mgmt_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/token"
)

func TestADFSToken(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name      string
		form      url.Values
		basicUser string // when set, credentials go in Basic auth
		basicPass string
		wantCode  int
		wantErr   string
		wantAud   []string
	}{
		{
			name:     "good, az scope",
			form:     url.Values{"grant_type": {"client_credentials"}, "client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}, "scope": {e.srv.URL + "//.default"}},
			wantCode: 200, wantAud: []string{e.srv.URL + "/"},
		},
		{
			name:     "good, registry scope",
			form:     url.Values{"grant_type": {"client_credentials"}, "client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}, "scope": {"https://containerregistry.azure.net/.default"}},
			wantCode: 200, wantAud: []string{"https://containerregistry.azure.net"},
		},
		{
			name:     "good, no scope",
			form:     url.Values{"grant_type": {"client_credentials"}, "client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}},
			wantCode: 200, wantAud: []string{e.srv.URL + "/"},
		},
		{
			name:      "good, basic auth",
			form:      url.Values{"grant_type": {"client_credentials"}, "scope": {"x/.default"}},
			basicUser: testarm.ClientID, basicPass: testarm.ClientSecret,
			wantCode: 200, wantAud: []string{"x"},
		},
		{
			name:     "wrong secret",
			form:     url.Values{"grant_type": {"client_credentials"}, "client_id": {testarm.ClientID}, "client_secret": {"nope"}},
			wantCode: 401, wantErr: "invalid_client",
		},
		{
			name:     "wrong client id",
			form:     url.Values{"grant_type": {"client_credentials"}, "client_id": {"44444444-4444-4444-4444-444444444444"}, "client_secret": {testarm.ClientSecret}},
			wantCode: 401, wantErr: "invalid_client",
		},
		{
			name:     "missing client id",
			form:     url.Values{"grant_type": {"client_credentials"}, "client_secret": {testarm.ClientSecret}},
			wantCode: 400, wantErr: "invalid_request",
		},
		{
			name:     "password grant",
			form:     url.Values{"grant_type": {"password"}, "client_id": {testarm.ClientID}, "client_secret": {testarm.ClientSecret}},
			wantCode: 400, wantErr: "unsupported_grant_type",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/adfs/oauth2/token", strings.NewReader(tt.form.Encode()))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.basicUser != "" {
				req.SetBasicAuth(tt.basicUser, tt.basicPass)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, tt.wantCode, res.StatusCode)
			assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"))
			var body map[string]any
			require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, body["error"])
				assert.NotEmpty(t, body["error_description"])
				assert.NotContains(t, body, "access_token")
				return
			}
			assert.Equal(t, "Bearer", body["token_type"])
			assert.EqualValues(t, 3600, body["expires_in"])
			assert.EqualValues(t, 3600, body["ext_expires_in"])
			claims, err := e.signer.Verify(body["access_token"].(string), token.GrantARM, "")
			require.NoError(t, err)
			assert.Equal(t, testarm.ClientID, claims.AppID)
			assert.Equal(t, testarm.Tenant, claims.Tenant)
			assert.Equal(t, tt.wantAud, []string(claims.Audience))
		})
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	e := newEnv(t)
	res := e.arm.Do(http.MethodGet, "/adfs/.well-known/openid-configuration", nil, nil)
	require.Equal(t, http.StatusOK, res.Code)
	m := res.JSON(t)
	assert.Equal(t, e.srv.URL+"/adfs", m["issuer"])
	assert.Equal(t, e.srv.URL+"/adfs/oauth2/authorize", m["authorization_endpoint"])
	assert.Equal(t, e.srv.URL+"/adfs/oauth2/token", m["token_endpoint"])
}

func TestMetadataEndpoints(t *testing.T) {
	e := newEnv(t)
	t.Run("2015-01-01 object, as az 2.45 reads it", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Do(http.MethodGet, "/metadata/endpoints?api-version=2015-01-01", nil, nil)
		require.Equal(t, http.StatusOK, res.Code)
		m := res.JSON(t)
		assert.Equal(t, e.srv.URL+"/", m["galleryEndpoint"])
		assert.Equal(t, e.srv.URL+"/graph/", m["graphEndpoint"])
		auth := m["authentication"].(map[string]any)
		assert.Equal(t, e.srv.URL+"/adfs", auth["loginEndpoint"])
		assert.Equal(t, []any{e.srv.URL + "/"}, auth["audiences"])
	})
	t.Run("2019-05-01 list of clouds", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Do(http.MethodGet, "/metadata/endpoints?api-version=2019-05-01", nil, nil)
		require.Equal(t, http.StatusOK, res.Code)
		var clouds []map[string]any
		require.NoError(t, json.Unmarshal(res.Body, &clouds))
		require.Len(t, clouds, 1)
		assert.Equal(t, e.srv.URL+"/", clouds[0]["resourceManager"])
		auth := clouds[0]["authentication"].(map[string]any)
		assert.Equal(t, e.srv.URL+"/adfs", auth["loginEndpoint"])
		assert.Equal(t, "ADFS", auth["identityProvider"])
	})
	t.Run("2022-09-01 one cloud, as go-azure-sdk reads it", func(t *testing.T) {
		e := e.forTest(t)
		for _, path := range []string{"/metadata/endpoints?api-version=2022-09-01", "//metadata/endpoints?api-version=2023-01-01"} {
			res := e.arm.Do(http.MethodGet, path, nil, nil)
			require.Equal(t, http.StatusOK, res.Code, path)
			m := res.JSON(t)
			assert.Equal(t, e.srv.URL+"/", m["resourceManager"])
			assert.Equal(t, e.srv.URL+"/graph/", m["microsoftGraphResourceId"])
			assert.Equal(t, "AcrEmu", m["name"])
			auth := m["authentication"].(map[string]any)
			assert.Equal(t, e.srv.URL, auth["loginEndpoint"])
			assert.Equal(t, "common", auth["tenant"])
			assert.Equal(t, "AAD", auth["identityProvider"])
			suffixes := m["suffixes"].(map[string]any)
			for _, k := range []string{"storage", "keyVaultDns", "acrLoginServer"} {
				assert.NotEmpty(t, suffixes[k], k)
			}
		}
	})
	t.Run("double slash, old version", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Do(http.MethodGet, "//metadata/endpoints?api-version=2018-01-01", nil, nil)
		require.Equal(t, http.StatusOK, res.Code)
		assert.Equal(t, e.srv.URL+"/", res.JSON(t)["galleryEndpoint"])
	})
	t.Run("malformed api-version", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Do(http.MethodGet, "/metadata/endpoints?api-version=yesterday", nil, nil)
		require.Equal(t, http.StatusBadRequest, res.Code)
		assert.Equal(t, "InvalidApiVersionParameter", res.ErrCode(t))
	})
}

func TestTokenMethod(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, id, secret string
		wantErr          error
	}{
		{"good", testarm.ClientID, testarm.ClientSecret, nil},
		{"wrong secret", testarm.ClientID, "x", mgmt.ErrInvalidClient},
		{"wrong client", "x", testarm.ClientSecret, mgmt.ErrInvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			tok, ttl, err := e.api.Token(tt.id, tt.secret)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, mgmt.TokenTTL, ttl)
			// The token works on ARM.
			res := e.arm.Do(http.MethodGet, testarm.WithAPI("/subscriptions", "2019-11-01"), nil,
				http.Header{"Authorization": {"Bearer " + tok}})
			assert.Equal(t, http.StatusOK, res.Code)
		})
	}
}
