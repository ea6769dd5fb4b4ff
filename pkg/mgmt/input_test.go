package mgmt_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/token"
)

// send sends an authenticated ARM request with a verbatim body and exactly
// the Content-Type given (none when contentType is "-").
func (e *env) send(method, path, body, contentType string) testarm.Response {
	e.t.Helper()
	hdr := http.Header{"Authorization": {"Bearer " + e.token}}
	if contentType != "-" {
		hdr.Set("Content-Type", contentType)
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return e.arm.Do(method, path, rd, hdr)
}

// guarded is a Premium registry behind a Deny firewall with one rule: what
// every refused request below must leave exactly as it is.
func guarded(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "guarded1", "Premium", ipRules("52.57.22.38"))
	return e, "guarded1"
}

// unchanged asserts that the registry and the hook log are as before.
func unchanged(t *testing.T, e *env, name string, before store.Registry, events int) {
	t.Helper()
	after := e.stored(name)
	assert.Equal(t, before, after, "stored registry changed")
	assert.Equal(t, "Deny", after.NetworkRuleSet.DefaultAction, "firewall opened")
	assert.Len(t, e.hooks.Events(), events, "hook called")
}

func TestDuplicateKeys(t *testing.T) {
	e, name := guarded(t)
	many := `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"K3":3}`
	tests := []struct {
		name    string
		body    string
		wantMsg string // substring of the message: the path
	}{
		{name: "same key opens the firewall", body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny","defaultAction":"Allow"}}}`,
			wantMsg: "The request content was invalid and could not be deserialized: 'Property with the name 'defaultAction' already exists in the current JSON object. Path 'properties.networkRuleSet.defaultAction', line 1, position 71.'."},
		{name: "case variant", body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny","DefaultAction":"Allow"}}}`,
			wantMsg: "Property with the name 'DefaultAction' already exists in the current JSON object (as 'defaultAction'). Path 'properties.networkRuleSet.DefaultAction'"},
		{name: "escaped spelling", body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny","default\u0041ction":"Allow"}}}`,
			wantMsg: "Path 'properties.networkRuleSet.defaultAction'"},
		{name: "top level", body: `{"properties":{"adminUserEnabled":false},"Properties":{"networkRuleSet":{"defaultAction":"Allow"}}}`,
			wantMsg: "Path 'Properties'"},
		{name: "in an array element", body: `{"properties":{"networkRuleSet":{"ipRules":[{"value":"52.57.22.38"},{"value":"52.57.22.39","VALUE":"0.0.0.0/1"}]}}}`,
			wantMsg: "Path 'properties.networkRuleSet.ipRules[1].VALUE'"},
		{name: "tag names", body: `{"tags":{"env":"a","Env":"b"}}`, wantMsg: "Path 'tags.Env'"},
		{name: "tag name that is not an identifier", body: `{"tags":{"cost center":"a","Cost Center":"b"}}`, wantMsg: "Path 'tags['Cost Center']'"},
		{name: "ignored field", body: `{"policies":{"x":1,"x":2}}`, wantMsg: "Path 'policies.x'"},
		{name: "Unicode case folding", body: `{"tags":{"kelvin":"a","\u212aelvin":"b"}}`, wantMsg: "Path 'tags.\u212aelvin'"},
		{name: "large object", body: `{"tags":` + many + `}`, wantMsg: "Path 'tags.K3'"},
		{name: "after a nested array", body: `{"properties":{"networkRuleSet":{"ipRules":[[1,[2]],{}],"ipRules":[]}}}`,
			wantMsg: "Path 'properties.networkRuleSet.ipRules'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			before, events := e.stored(name), len(e.hooks.Events())
			res := e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", name), testarm.APIRegistry), tt.body)
			require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
			assert.Equal(t, "InvalidRequestContent", res.ErrCode(t))
			assert.Contains(t, res.ErrMessage(t), tt.wantMsg)
			unchanged(t, e, name, before, events)
		})
	}

	t.Run("create with two locations", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "twoloc01"), testarm.APIRegistry),
			`{"location":"eastus","sku":{"name":"Basic"},"Location":"westus"}`)
		require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
		assert.Equal(t, "InvalidRequestContent", res.ErrCode(t))
		assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "twoloc01"), testarm.APIRegistry), nil).Code)
	})
	t.Run("group with two locations", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.GroupPath("twoloc"), testarm.APIGroups), `{"location":"eastus","location":"westus"}`)
		require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
		assert.Equal(t, "InvalidRequestContent", res.ErrCode(t))
		assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodHead, testarm.WithAPI(testarm.GroupPath("twoloc"), testarm.APIGroups), nil).Code)
	})
	t.Run("same names in different objects are fine", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", name), testarm.APIRegistry),
			`{"tags":{"name":"x"},"sku":{"name":"Premium"},"properties":{"networkRuleSet":{"defaultAction":"Deny",`+
				`"ipRules":[{"action":"Allow","value":"52.57.22.38"},{"action":"Allow","value":"52.57.22.39"}]}}}`)
		require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
		assert.Len(t, e.stored(name).NetworkRuleSet.IPRules, 2)
	})
}

func TestIPRuleInvisibleCharacters(t *testing.T) {
	e, name := guarded(t)
	tests := []struct {
		name  string
		value string
		r     rune
	}{
		{"leading space", " 52.57.22.39", ' '},
		{"trailing space", "52.57.22.39 ", ' '},
		{"trailing tab", "52.57.22.39\t", '\t'},
		{"trailing newline", "52.57.22.0/24\n", '\n'},
		{"carriage return", "52.57.22.39\r", '\r'},
		{"no-break space", "\u00a052.57.22.39", '\u00a0'},
		{"zero-width space", "52.57.22.39\u200b", '\u200b'},
		{"zero-width joiner inside", "52.57.\u200d22.39", '\u200d'},
		{"byte order mark", "\ufeff52.57.22.39", '\ufeff'},
		{"NUL", "52.57.22.39\x00", 0},
		{"escape", "52.57.22.39\x1b", 0x1b},
		{"ideographic space", "52.57.22.39\u3000", '\u3000'},
		{"right-to-left mark", "\u200f52.57.22.39", '\u200f'},
		{"line separator", "52.57.22.39\u2028", '\u2028'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			want := fmt.Sprintf("The IP rule value %q is invalid: it contains whitespace or an invisible character (U+%04X). Send the address or range alone.", tt.value, tt.r)
			before, events := e.stored(name), len(e.hooks.Events())
			res := e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", name), testarm.APINetworkRule), ipRulesMap(tt.value))
			require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
			assert.Equal(t, "InvalidIpRule", res.ErrCode(t))
			assert.Equal(t, want, res.ErrMessage(t))
			unchanged(t, e, name, before, events)

			res = e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "invisible1"), testarm.APIRegistry),
				map[string]any{"location": "eastus", "sku": map[string]any{"name": "Premium"}, "properties": ipRulesMap(tt.value)["properties"]})
			require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
			assert.Equal(t, "InvalidIpRule", res.ErrCode(t))
			assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "invisible1"), testarm.APIRegistry), nil).Code)
		})
	}
}

// ipRulesMap is a PATCH body that sets the network rule set to Deny with
// one rule of value v.
func ipRulesMap(v string) map[string]any {
	return map[string]any{"properties": ipRules("52.57.22.38", v)}
}

func TestBodyShapeAndContentType(t *testing.T) {
	e, name := guarded(t)
	const form = "The content media type 'application/x-www-form-urlencoded' is not supported. Only 'application/json' is supported."
	deep := `{"tags":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`
	tests := []struct {
		name        string
		body        string
		contentType string // "-" for none
		wantCode    int
		wantErr     string
		wantMsg     string // substring
	}{
		{name: "null", body: `null`, wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "must be a JSON object, not null"},
		{name: "null with spaces", body: " \n null \n", wantCode: 400, wantErr: "InvalidRequestContent"},
		{name: "empty array", body: `[]`, wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "not an array"},
		{name: "array of an object", body: `[{"properties":{"networkRuleSet":{"defaultAction":"Allow"}}}]`, wantCode: 400, wantErr: "InvalidRequestContent"},
		{name: "string", body: `"Allow"`, wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "not a string"},
		{name: "number", body: `42`, wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "not a number"},
		{name: "boolean", body: `true`, wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "not a boolean"},
		{name: "invalid UTF-8", body: "{\"tags\":{\"a\":\"\xff\"}}", wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "not valid UTF-8 (at byte 14)"},
		{name: "overlong UTF-8", body: "{\"tags\":{\"a\":\"\xc0\xaf\"}}", wantCode: 400, wantErr: "InvalidRequestContent"},
		{name: "too deep", body: deep, wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "MaxDepth of 64"},
		{name: "object then more", body: `{} {"properties":{"networkRuleSet":{"defaultAction":"Allow"}}}`, wantCode: 400, wantErr: "InvalidRequestContent", wantMsg: "Additional text"},
		{name: "trailing comma", body: `{"tags":{"a":"b",}}`, wantCode: 400, wantErr: "InvalidRequestContent"},
		{name: "truncated", body: `{"tags":{"a":"b"}`, wantCode: 400, wantErr: "InvalidRequestContent"},
		{name: "curl -d form", body: `{"properties":{"networkRuleSet":{"defaultAction":"Allow"}}}`, contentType: "application/x-www-form-urlencoded",
			wantCode: 415, wantErr: "UnsupportedMediaType", wantMsg: form},
		{name: "text/plain", body: `{"tags":{}}`, contentType: "text/plain; charset=utf-8", wantCode: 415, wantErr: "UnsupportedMediaType",
			wantMsg: "The content media type 'text/plain' is not supported."},
		{name: "text/json", body: `{"tags":{}}`, contentType: "text/json", wantCode: 415, wantErr: "UnsupportedMediaType"},
		{name: "xml", body: `<tags/>`, contentType: "application/xml", wantCode: 415, wantErr: "UnsupportedMediaType"},
		{name: "JSON in UTF-16", body: `{"tags":{}}`, contentType: "application/json; charset=utf-16", wantCode: 415, wantErr: "UnsupportedMediaType",
			wantMsg: "'application/json; charset=utf-16'"},
		{name: "unparsable", body: `{"tags":{}}`, contentType: "application/json;;=", wantCode: 415, wantErr: "UnsupportedMediaType"},
		{name: "no Content-Type", body: `{"tags":{"a":"1"}}`, contentType: "-", wantCode: 200},
		{name: "JSON with charset", body: `{"tags":{"a":"1"}}`, contentType: "application/json; charset=UTF-8", wantCode: 200},
		{name: "upper-case JSON", body: `{"tags":{"a":"1"}}`, contentType: "Application/JSON", wantCode: 200},
		{name: "+json", body: `{"tags":{"a":"1"}}`, contentType: "application/merge-patch+json", wantCode: 200},
		{name: "other parameters", body: `{"tags":{"a":"1"}}`, contentType: "application/json;odata=minimalmetadata", wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			before, events := e.stored(name), len(e.hooks.Events())
			res := e.send(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", name), testarm.APIRegistry), tt.body, ct)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantCode == http.StatusOK {
				assert.Equal(t, map[string]string{"a": "1"}, e.stored(name).Tags)
				return
			}
			assert.Equal(t, tt.wantErr, res.ErrCode(t))
			assert.Contains(t, res.ErrMessage(t), tt.wantMsg)
			unchanged(t, e, name, before, events)

			// The same body creates nothing, whatever endpoint gets it.
			for _, target := range []struct{ method, path string }{
				{http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "shape0001"), testarm.APIRegistry)},
				{http.MethodPut, testarm.WithAPI(testarm.GroupPath("shapegroup"), testarm.APIGroups)},
				{http.MethodPatch, testarm.WithAPI(testarm.GroupPath("rg"), testarm.APIGroups)},
				{http.MethodPost, testarm.WithAPI(testarm.RegistryPath("rg", name)+"/regenerateCredential", testarm.APIRegistry)},
				{http.MethodPost, testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/checkNameAvailability", testarm.APIRegistry)},
			} {
				res := e.send(target.method, target.path, tt.body, ct)
				assert.Equal(t, tt.wantCode, res.Code, "%s %s: %s", target.method, target.path, res.Body)
				assert.Equal(t, tt.wantErr, res.ErrCode(t), target.path)
			}
			assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "shape0001"), testarm.APIRegistry), nil).Code)
			assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodHead, testarm.WithAPI(testarm.GroupPath("shapegroup"), testarm.APIGroups), nil).Code)
			unchanged(t, e, name, before, events)
		})
	}
}

func TestAPIVersions(t *testing.T) {
	e, name := guarded(t)
	e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.GroupPath("westrg"), testarm.APIGroups), `{"location":"westeurope"}`)
	reg := testarm.RegistryPath("rg", name)
	const acrVersions = "2017-03-01, 2017-10-01, 2019-05-01, 2019-12-01-preview, 2020-11-01-preview, 2021-06-01-preview, " +
		"2021-08-01-preview, 2021-09-01, 2021-12-01-preview, 2022-02-01-preview, 2022-12-01, 2023-01-01-preview, " +
		"2023-06-01-preview, 2023-07-01, 2023-08-01-preview, 2023-11-01-preview, 2024-11-01-preview, 2025-03-01-preview, " +
		"2025-04-01, 2025-05-01-preview, 2025-06-01-preview, 2025-11-01, 2026-01-01-preview"
	noProvider := func(loc, v, typ string) string {
		return "No registered resource provider found for location '" + loc + "' and API version '" + v + "' for type '" + typ +
			"'. The supported api-versions are '" + acrVersions + "'. The supported locations are 'eastus, eastus2, westus, "
	}
	tests := []struct {
		name     string
		method   string
		path     string // without api-version
		version  string // "-" for none
		body     string
		wantCode int
		wantErr  string
		wantMsg  string // prefix
	}{
		{name: "registry, unknown preview", method: "GET", path: reg, version: "2024-01-01-preview", wantCode: 400,
			wantErr: "NoRegisteredProviderFound", wantMsg: noProvider("eastus", "2024-01-01-preview", "registries")},
		{name: "registry, nonsense", method: "GET", path: reg, version: "banana", wantCode: 400,
			wantErr: "NoRegisteredProviderFound", wantMsg: noProvider("eastus", "banana", "registries")},
		{name: "registry, Resources version", method: "GET", path: reg, version: "2021-04-01", wantCode: 400, wantErr: "NoRegisteredProviderFound"},
		{name: "registry, too old", method: "GET", path: reg, version: "1999-01-01", wantCode: 400, wantErr: "NoRegisteredProviderFound"},
		{name: "registry, missing", method: "GET", path: reg, version: "-", wantCode: 400, wantErr: "MissingApiVersionParameter",
			wantMsg: "The api-version query parameter (?api-version=) is required for all requests."},
		{name: "registry, empty", method: "GET", path: reg, version: "", wantCode: 400, wantErr: "MissingApiVersionParameter"},
		{name: "patch refused before the body is read", method: "PATCH", path: reg, version: "2099-01-01",
			body: `{"properties":{"networkRuleSet":{"defaultAction":"Allow"}}}`, wantCode: 400, wantErr: "NoRegisteredProviderFound"},
		{name: "create names the body's location", method: "PUT", path: testarm.RegistryPath("westrg", "versioned1"), version: "2020-01-01",
			body: `{"location":"West Europe","sku":{"name":"Basic"}}`, wantCode: 400, wantErr: "NoRegisteredProviderFound",
			wantMsg: noProvider("westeurope", "2020-01-01", "registries")},
		{name: "create without location names the group's", method: "PUT", path: testarm.RegistryPath("westrg", "versioned1"), version: "2020-01-01",
			body: `{"sku":{"name":"Basic"}}`, wantCode: 400, wantErr: "NoRegisteredProviderFound",
			wantMsg: noProvider("westeurope", "2020-01-01", "registries")},
		{name: "subscription list", method: "GET", path: testarm.SubscriptionPath + "/providers/Microsoft.ContainerRegistry/registries", version: "2016-06-27-preview",
			wantCode: 400, wantErr: "NoRegisteredProviderFound", wantMsg: noProvider("eastus", "2016-06-27-preview", "registries")},
		{name: "name check", method: "POST", path: testarm.SubscriptionPath + "/providers/Microsoft.ContainerRegistry/checkNameAvailability", version: "2018-01-01",
			body: `{"name":"x"}`, wantCode: 400, wantErr: "NoRegisteredProviderFound", wantMsg: noProvider("eastus", "2018-01-01", "checkNameAvailability")},
		{name: "credentials", method: "POST", path: reg + "/listCredentials", version: "2024-01-01", wantCode: 400, wantErr: "NoRegisteredProviderFound"},
		{name: "group, nonsense", method: "GET", path: testarm.GroupPath("rg"), version: "banana", wantCode: 400, wantErr: "InvalidApiVersionParameter",
			wantMsg: "The api-version 'banana' is invalid. The supported versions are '2025-04-01,2025-03-01,"},
		{name: "group, too old", method: "GET", path: testarm.GroupPath("rg"), version: "1999-01-01", wantCode: 400, wantErr: "InvalidApiVersionParameter"},
		{name: "group, from the future", method: "GET", path: testarm.GroupPath("rg"), version: "2027-01-01", wantCode: 400, wantErr: "InvalidApiVersionParameter"},
		{name: "group, missing", method: "GET", path: testarm.GroupPath("rg"), version: "-", wantCode: 400, wantErr: "MissingApiVersionParameter"},
		{name: "subscriptions, nonsense", method: "GET", path: "/subscriptions", version: "v1", wantCode: 400, wantErr: "InvalidApiVersionParameter"},
		{name: "group create refused", method: "PUT", path: testarm.GroupPath("versioned"), version: "1999-01-01", body: `{"location":"eastus"}`,
			wantCode: 400, wantErr: "InvalidApiVersionParameter"},

		// Accepted: what real clients send.
		{name: "az 2.45 registries", method: "GET", path: reg, version: "2022-02-01-preview", wantCode: 200},
		{name: "az 2.45 network rules", method: "GET", path: reg, version: "2021-08-01-preview", wantCode: 200},
		{name: "newer az", method: "GET", path: reg, version: "2025-03-01-preview", wantCode: 200},
		{name: "az 2026 network rules", method: "GET", path: reg, version: "2026-01-01-preview", wantCode: 200},
		{name: "Go and JS SDKs", method: "GET", path: reg, version: "2025-11-01", wantCode: 200},
		{name: "portal", method: "GET", path: reg, version: "2023-07-01", wantCode: 200},
		{name: "Terraform previews", method: "GET", path: reg, version: "2023-11-01-preview", wantCode: 200},
		{name: "upper-case preview", method: "GET", path: reg, version: "2022-02-01-PREVIEW", wantCode: 200},
		{name: "list", method: "GET", path: testarm.SubscriptionPath + "/providers/Microsoft.ContainerRegistry/registries", version: "2019-05-01", wantCode: 200},
		{name: "usages", method: "GET", path: reg + "/listUsages", version: "2023-01-01-preview", wantCode: 200},
		{name: "az subscriptions", method: "GET", path: "/subscriptions", version: "2019-11-01", wantCode: 200},
		{name: "az tenants", method: "GET", path: "/tenants", version: "2019-11-01", wantCode: 200},
		{name: "Terraform subscription", method: "GET", path: testarm.SubscriptionPath, version: "2022-12-01", wantCode: 200},
		{name: "az 2.45 groups", method: "GET", path: testarm.GroupPath("rg"), version: "2021-04-01", wantCode: 200},
		{name: "portal groups", method: "GET", path: testarm.GroupPath("rg"), version: "2022-09-01", wantCode: 200},
		{name: "newest az resources", method: "GET", path: testarm.SubscriptionPath + "/resources", version: "2024-11-01", wantCode: 200},
		{name: "unlisted but dated Resources version", method: "GET", path: testarm.GroupPath("rg"), version: "2022-02-01-preview", wantCode: 200},
		{name: "provider registration is Microsoft.Resources", method: "GET", path: testarm.SubscriptionPath + "/providers/Microsoft.ContainerRegistry", version: "2022-09-01",
			wantCode: 200},
		{name: "provider registration, unlisted Resources version", method: "GET", path: testarm.SubscriptionPath + "/providers/Microsoft.ContainerRegistry", version: "2022-02-01-preview",
			wantCode: 200},
		{name: "operations are Microsoft.ContainerRegistry's", method: "GET", path: "/providers/Microsoft.ContainerRegistry/operations", version: "2022-09-01",
			wantCode: 400, wantErr: "NoRegisteredProviderFound"},
		{name: "another provider: shape only", method: "GET", path: testarm.SubscriptionPath + "/providers/Microsoft.Storage/storageAccounts", version: "2023-01-01",
			wantCode: 404, wantErr: "NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			path := tt.path
			if tt.version != "-" {
				path += "?api-version=" + url.QueryEscape(tt.version)
			}
			before, events := e.stored(name), len(e.hooks.Events())
			res := e.send(tt.method, path, tt.body, "application/json")
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
				assert.True(t, strings.HasPrefix(res.ErrMessage(t), tt.wantMsg), "message %q\nwant prefix %q", res.ErrMessage(t), tt.wantMsg)
				unchanged(t, e, name, before, events)
			}
		})
	}
	assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("westrg", "versioned1"), testarm.APIRegistry), nil).Code)
	assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodHead, testarm.WithAPI(testarm.GroupPath("versioned"), testarm.APIGroups), nil).Code)
}

func TestLocations(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	tests := []struct {
		name     string
		location string
		wantCode int    // for the registry; the group gets the same status
		wantErr  string // registry code; "" for success
		wantLoc  string // stored location on success
	}{
		{name: "Mars", location: "mars", wantCode: 400, wantErr: "LocationNotAvailableForResourceType"},
		{name: "made-up region", location: "eastus3", wantCode: 400, wantErr: "LocationNotAvailableForResourceType"},
		{name: "dashes", location: "east-us", wantCode: 400, wantErr: "LocationNotAvailableForResourceType"},
		{name: "sovereign cloud", location: "usgovvirginia", wantCode: 400, wantErr: "LocationNotAvailableForResourceType"},
		{name: "global", location: "global", wantCode: 400, wantErr: "LocationNotAvailableForResourceType"},
		{name: "zero-width space", location: "east\u200bus", wantCode: 400, wantErr: "LocationNotAvailableForResourceType"},
		{name: "empty", location: "", wantCode: 400, wantErr: "LocationRequired"},
		{name: "canonical", location: "eastus", wantCode: 201, wantLoc: "eastus"},
		{name: "display name", location: "East US 2", wantCode: 201, wantLoc: "eastus2"},
		{name: "upper case", location: "WESTEUROPE", wantCode: 201, wantLoc: "westeurope"},
		{name: "long display name", location: "Germany West Central", wantCode: 201, wantLoc: "germanywestcentral"},
		{name: "newer region", location: "newzealandnorth", wantCode: 201, wantLoc: "newzealandnorth"},
		{name: "portal test region", location: "westus3", wantCode: 201, wantLoc: "westus3"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			name := fmt.Sprintf("located%02d", i)
			group := fmt.Sprintf("located%02d", i)
			res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", name), testarm.APIRegistry),
				map[string]any{"location": tt.location, "sku": map[string]any{"name": "Basic"}})
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			gres := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.GroupPath(group), testarm.APIGroups), map[string]any{"location": tt.location})
			require.Equal(t, tt.wantCode, gres.Code, "%s", gres.Body)
			if tt.wantErr == "" {
				assert.Equal(t, tt.wantLoc, e.stored(name).Location)
				assert.Equal(t, tt.wantLoc, gres.JSON(t)["location"])
				return
			}
			assert.Equal(t, tt.wantErr, res.ErrCode(t))
			assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", name), testarm.APIRegistry), nil).Code)
			assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodHead, testarm.WithAPI(testarm.GroupPath(group), testarm.APIGroups), nil).Code)
			if tt.wantErr == "LocationRequired" {
				return
			}
			assert.Equal(t, "LocationNotAvailableForResourceGroup", gres.ErrCode(t))
			assert.True(t, strings.HasPrefix(res.ErrMessage(t), "The provided location '"+tt.location+
				"' is not available for resource type 'Microsoft.ContainerRegistry/registries'. List of available regions for the resource type is 'eastus,eastus2,westus,"),
				res.ErrMessage(t))
			assert.True(t, strings.HasPrefix(gres.ErrMessage(t), "The provided location '"+tt.location+
				"' is not available for resource group. List of available regions is 'eastus,eastus2,westus,"), gres.ErrMessage(t))
		})
	}
}

func TestTokenAudience(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "audience1", "Premium", ipRules("52.57.22.38"))
	u, err := url.Parse(e.srv.URL)
	require.NoError(t, err)
	withScope := func(form url.Values) string {
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", testarm.ClientID)
		form.Set("client_secret", testarm.ClientSecret)
		res, err := http.PostForm(e.srv.URL+"/adfs/oauth2/token", form)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var body struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return body.AccessToken
	}
	scope := func(s string) string { return withScope(url.Values{"scope": {s}}) }
	signed := func(aud ...string) string {
		tok, err := e.signer.Sign(token.Claims{GrantType: token.GrantARM, AppID: testarm.ClientID,
			RegisteredClaims: jwt.RegisteredClaims{Audience: aud}}, time.Hour)
		require.NoError(t, err)
		return tok
	}
	const allowed = "It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."
	tests := []struct {
		name    string
		token   string
		refused bool
		wantAud string // the audience the message names
	}{
		{name: "Key Vault", token: scope("https://vault.azure.net/.default"), refused: true, wantAud: "https://vault.azure.net"},
		{name: "Microsoft Graph", token: scope("https://graph.microsoft.com/.default"), refused: true, wantAud: "https://graph.microsoft.com"},
		{name: "acremu's own Graph audience", token: scope(e.srv.URL + "/graph//.default"), refused: true, wantAud: e.srv.URL + "/graph/"},
		{name: "container registry", token: scope("https://containerregistry.azure.net/.default"), refused: true, wantAud: "https://containerregistry.azure.net"},
		{name: "look-alike host", token: scope("https://management.azure.com.example.net/.default"), refused: true, wantAud: "https://management.azure.com.example.net"},
		{name: "management with a path", token: withScope(url.Values{"resource": {"https://management.azure.com/subscriptions"}}), refused: true, wantAud: "https://management.azure.com/subscriptions"},
		{name: "own endpoint with a path", token: scope(e.srv.URL + "/adfs/.default"), refused: true, wantAud: e.srv.URL + "/adfs"},
		{name: "own endpoint under another name", token: scope("http://localhost:" + u.Port() + "/.default"), refused: true, wantAud: "http://localhost:" + u.Port()},
		{name: "another port", token: scope("http://" + u.Hostname() + ":1/.default"), refused: true, wantAud: "http://" + u.Hostname() + ":1"},
		{name: "no audience", token: signed(), refused: true, wantAud: ""},

		{name: "az in the public cloud", token: scope("https://management.core.windows.net//.default")},
		{name: "SDKs in the public cloud", token: scope("https://management.azure.com/.default")},
		{name: "v1 resource", token: withScope(url.Values{"resource": {"https://management.core.windows.net/"}})},
		{name: "az in a custom cloud", token: scope(e.srv.URL + "//.default")},
		{name: "SDK in a custom cloud", token: scope(e.srv.URL + "/.default")},
		{name: "host in upper case", token: scope(strings.ToUpper(e.srv.URL) + "/.default")},
		{name: "one good audience of two", token: signed("https://vault.azure.net", "https://management.azure.com/")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			hdr := http.Header{"Authorization": {"Bearer " + tt.token}}
			if !tt.refused {
				res := e.arm.Do(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "audience1"), testarm.APIRegistry), nil, hdr)
				assert.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
				return
			}
			before, events := e.stored("audience1"), len(e.hooks.Events())
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", "audience1"), testarm.APIRegistry), nil},
				{http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", "audience1"), testarm.APIRegistry), `{"properties":{"networkRuleSet":{"defaultAction":"Allow"}}}`},
				{http.MethodPut, testarm.WithAPI(testarm.GroupPath("audiencerg"), testarm.APIGroups), `{"location":"eastus"}`},
				{http.MethodGet, "/subscriptions/no/such/path", nil},
			} {
				res := e.arm.Do(req.method, req.path, req.body, hdr)
				require.Equal(t, http.StatusUnauthorized, res.Code, "%s %s: %s", req.method, req.path, res.Body)
				assert.Equal(t, "InvalidAuthenticationTokenAudience", res.ErrCode(t))
				msg := "The access token has been obtained for wrong audience or resource '" + tt.wantAud + "'. " + allowed
				assert.Equal(t, msg, res.ErrMessage(t))
				assert.Equal(t, `Bearer authorization_uri="`+e.srv.URL+`/adfs", error="invalid_token", error_description="`+msg+`"`,
					res.Header.Get("WWW-Authenticate"))
			}
			unchanged(t, e, "audience1", before, events)
			assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodHead, testarm.WithAPI(testarm.GroupPath("audiencerg"), testarm.APIGroups), nil).Code)
		})
	}
}
