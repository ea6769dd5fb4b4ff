package mgmt_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/token"
)

func TestARMAuth(t *testing.T) {
	e := newEnv(t)
	otherKey, err := token.GenerateKey()
	require.NoError(t, err)
	otherSigner, err := token.NewSigner(otherKey, e.clock.Now)
	require.NoError(t, err)
	foreign, err := otherSigner.Sign(token.Claims{GrantType: token.GrantARM, AppID: testarm.ClientID}, time.Hour)
	require.NoError(t, err)
	acrToken, err := e.signer.Sign(token.Claims{GrantType: token.GrantRefresh}, time.Hour)
	require.NoError(t, err)
	expired := e.token // expires an hour after the clock's start

	tests := []struct {
		name        string
		authz       string
		advance     time.Duration
		wantCode    int
		wantErr     string
		wantMessage string
	}{
		{name: "valid", authz: "Bearer " + e.token, wantCode: 200},
		{name: "lower-case scheme", authz: "bearer " + e.token, wantCode: 200},
		{name: "none", wantCode: 401, wantErr: "AuthenticationFailed",
			wantMessage: "Authentication failed. The 'Authorization' header is missing."},
		{name: "basic scheme", authz: "Basic eDp5", wantCode: 401, wantErr: "AuthenticationFailed"},
		{name: "garbage", authz: "Bearer not-a-jwt", wantCode: 401, wantErr: "InvalidAuthenticationToken"},
		{name: "signed by another key", authz: "Bearer " + foreign, wantCode: 401, wantErr: "InvalidAuthenticationToken"},
		{name: "ACR refresh token", authz: "Bearer " + acrToken, wantCode: 401, wantErr: "InvalidAuthenticationToken"},
		{name: "expired", authz: "Bearer " + expired, advance: 2 * time.Hour, wantCode: 401, wantErr: "ExpiredAuthenticationToken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			e.clock.Add(tt.advance)
			defer e.clock.Add(-tt.advance)
			hdr := http.Header{}
			if tt.authz != "" {
				hdr.Set("Authorization", tt.authz)
			}
			for _, path := range []string{
				testarm.WithAPI("/subscriptions", "2019-11-01"),
				testarm.WithAPI(testarm.GroupPath("rg"), testarm.APIGroups),
				"/no/such/path", // unknown paths authenticate too
			} {
				res := e.arm.Do(http.MethodGet, path, nil, hdr)
				if tt.wantErr == "" {
					assert.NotEqual(t, http.StatusUnauthorized, res.Code, path)
					continue
				}
				require.Equal(t, tt.wantCode, res.Code, "%s: %s", path, res.Body)
				assert.Equal(t, tt.wantErr, res.ErrCode(t), path)
				if tt.wantMessage != "" {
					assert.Equal(t, tt.wantMessage, res.ErrMessage(t))
				}
				challenge := res.Header.Get("WWW-Authenticate")
				assert.True(t, strings.HasPrefix(challenge, `Bearer authorization_uri="`+e.srv.URL+`/adfs", error="invalid_token"`), challenge)
			}
		})
	}

	t.Run("no change without a token", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Do(http.MethodPut, testarm.WithAPI(testarm.GroupPath("sneaky"), testarm.APIGroups), `{"location":"eastus"}`, nil)
		require.Equal(t, http.StatusUnauthorized, res.Code)
		res = e.arm.Request(http.MethodHead, testarm.WithAPI(testarm.GroupPath("sneaky"), testarm.APIGroups), nil)
		assert.Equal(t, http.StatusNotFound, res.Code)
	})

	t.Run("expired message names both times", func(t *testing.T) {
		e := e.forTest(t)
		e.clock.Add(2 * time.Hour)
		defer e.clock.Add(-2 * time.Hour)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI("/subscriptions", "2019-11-01"), nil)
		assert.Regexp(t, `^The access token expiry UTC time '3/4/2026 6:06:07 AM' is earlier than current UTC time '3/4/2026 7:06:07 AM'\.$`, res.ErrMessage(t))
	})
}

func TestAPIVersion(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	tests := []struct {
		name     string
		query    string
		wantCode int
		wantErr  string
	}{
		{"stable", "?api-version=2021-04-01", 200, ""},
		{"preview", "?api-version=2022-02-01-preview", 200, ""},
		{"missing", "", 400, "MissingApiVersionParameter"},
		{"empty", "?api-version=", 400, "MissingApiVersionParameter"},
		{"not a date", "?api-version=latest", 400, "InvalidApiVersionParameter"},
		{"impossible date", "?api-version=2021-13-40", 400, "InvalidApiVersionParameter"},
		{"unknown suffix", "?api-version=2021-04-01-beta", 400, "InvalidApiVersionParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(http.MethodGet, testarm.GroupPath("rg")+tt.query, nil)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
				if tt.wantErr == "MissingApiVersionParameter" {
					assert.Equal(t, "The api-version query parameter (?api-version=) is required for all requests.", res.ErrMessage(t))
				}
				return
			}
			assert.Equal(t, strings.TrimPrefix(tt.query, "?api-version="), res.Header.Get("api-supported-versions"))
		})
	}
}

func TestCommonHeaders(t *testing.T) {
	e := newEnv(t)
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tests := []struct {
		name            string
		hdr             http.Header
		wantCorrelation string // empty: a fresh UUID
	}{
		{"no ids", http.Header{}, ""},
		{"client request id", http.Header{"X-Ms-Client-Request-Id": {"client-1"}}, "client-1"},
		{"correlation id wins", http.Header{"X-Ms-Client-Request-Id": {"client-1"}, "X-Ms-Correlation-Request-Id": {"corr-1"}}, "corr-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			tt.hdr.Set("Authorization", "Bearer "+e.token)
			for _, path := range []string{testarm.WithAPI("/subscriptions", "2019-11-01"), "/subscriptions", "/adfs/.well-known/openid-configuration"} {
				res := e.arm.Do(http.MethodGet, path, nil, tt.hdr)
				assert.Equal(t, "application/json; charset=utf-8", res.Header.Get("Content-Type"), path)
				assert.Regexp(t, uuid, res.Header.Get("x-ms-request-id"), path)
				if tt.wantCorrelation == "" {
					assert.Regexp(t, uuid, res.Header.Get("x-ms-correlation-request-id"), path)
				} else {
					assert.Equal(t, tt.wantCorrelation, res.Header.Get("x-ms-correlation-request-id"), path)
				}
			}
		})
	}
}

func TestSubscriptionsAndTenants(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name     string
		path     string
		wantCode int
		wantErr  string
		check    func(t *testing.T, res testarm.Response)
	}{
		{name: "list subscriptions", path: "/subscriptions", wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			v := res.JSON(t)["value"].([]any)
			require.Len(t, v, 1)
			s := v[0].(map[string]any)
			assert.Equal(t, "/subscriptions/"+testarm.Subscription, s["id"])
			assert.Equal(t, testarm.Subscription, s["subscriptionId"])
			assert.Equal(t, testarm.Tenant, s["tenantId"])
			assert.Equal(t, "Enabled", s["state"])
			assert.Equal(t, []string{"id", "subscriptionId", "tenantId", "displayName", "state", "authorizationSource", "managedByTenants", "subscriptionPolicies"},
				keyOrder(t, res.Body, "value", "0"))
		}},
		{name: "get subscription", path: testarm.SubscriptionPath, wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			assert.Equal(t, testarm.Subscription, res.JSON(t)["subscriptionId"])
		}},
		{name: "get subscription, upper case", path: "/SUBSCRIPTIONS/" + strings.ToUpper(testarm.Subscription), wantCode: 200},
		{name: "other subscription", path: "/subscriptions/99999999-9999-9999-9999-999999999999", wantCode: 404, wantErr: "SubscriptionNotFound"},
		{name: "other subscription's groups", path: "/subscriptions/99999999-9999-9999-9999-999999999999/resourcegroups", wantCode: 404, wantErr: "SubscriptionNotFound"},
		{name: "tenants", path: "/tenants", wantCode: 200, check: func(t *testing.T, res testarm.Response) {
			v := res.JSON(t)["value"].([]any)
			require.Len(t, v, 1)
			assert.Equal(t, "/tenants/"+testarm.Tenant, v[0].(map[string]any)["id"])
			assert.Equal(t, "Home", v[0].(map[string]any)["tenantCategory"])
		}},
		{name: "unknown path", path: testarm.SubscriptionPath + "/providers/Microsoft.Storage/storageAccounts", wantCode: 404, wantErr: "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(http.MethodGet, testarm.WithAPI(tt.path, "2019-11-01"), nil)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
			}
			if tt.check != nil {
				tt.check(t, res)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	res := e.arm.Request(http.MethodPost, testarm.WithAPI("/subscriptions", "2019-11-01"), nil)
	require.Equal(t, http.StatusMethodNotAllowed, res.Code)
	assert.Equal(t, "MethodNotAllowed", res.ErrCode(t))
	res = e.arm.Do(http.MethodPost, testarm.WithAPI("/subscriptions", "2019-11-01"), nil, nil)
	assert.Equal(t, http.StatusUnauthorized, res.Code)
}
