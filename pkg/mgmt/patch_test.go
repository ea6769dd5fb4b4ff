package mgmt_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// regState is the part of a registry the merge tests follow.
type regState struct {
	sku, defaultAction, publicAccess, bypass string
	ipRules                                  []string
	admin                                    bool
	tags                                     map[string]any
}

func stateOf(t *testing.T, res testarm.Response) regState {
	t.Helper()
	m := res.JSON(t)
	p := m["properties"].(map[string]any)
	nrs := p["networkRuleSet"].(map[string]any)
	rules := []string{}
	for _, r := range nrs["ipRules"].([]any) {
		rule := r.(map[string]any)
		require.Equal(t, "Allow", rule["action"])
		rules = append(rules, rule["value"].(string))
	}
	return regState{
		sku:           m["sku"].(map[string]any)["name"].(string),
		defaultAction: nrs["defaultAction"].(string),
		publicAccess:  p["publicNetworkAccess"].(string),
		bypass:        p["networkRuleBypassOptions"].(string),
		ipRules:       rules,
		admin:         p["adminUserEnabled"].(bool),
		tags:          m["tags"].(map[string]any),
	}
}

// TestPatchMerge replays the PATCH bodies az sends (az-cli.md §5, and the
// recorded ACR traffic of acr-api.md §1.5) against one registry and checks
// ARM's merge semantics after each.
func TestPatchMerge(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "myregistry", "Premium", nil)
	path := testarm.RegistryPath("rg", "myregistry")
	noTags := map[string]any{}

	steps := []struct {
		name    string
		api     string
		body    string
		want    regState
		wantErr string
	}{
		{name: "acr update --default-action Deny", api: testarm.APIRegistry,
			body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny"}}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{}, false, noTags}},
		{name: "network-rule add (az 2.45)", api: testarm.APINetworkRule,
			body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"16.17.18.19"}]}}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{"16.17.18.19"}, false, noTags}},
		{name: "network-rule add (recorded, with virtualNetworkRules)", api: testarm.APINetworkRule,
			body: `{"properties": {"networkRuleSet": {"defaultAction": "Deny", "virtualNetworkRules": [], "ipRules": [{"action": "Allow", "value": "16.17.18.19"}, {"action": "Allow", "value": "52.57.22.38"}, {"action": "Allow", "value": "16.17.18.0/24"}]}}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{"16.17.18.19", "52.57.22.38", "16.17.18.0/24"}, false, noTags}},
		{name: "default action Allow keeps the rules (recorded)", api: testarm.APIRegistry,
			body: `{"properties":{"networkRuleSet":{"defaultAction":"Allow"}}}`,
			want: regState{"Premium", "Allow", "Enabled", "AzureServices", []string{"16.17.18.19", "52.57.22.38", "16.17.18.0/24"}, false, noTags}},
		{name: "acr update --public-network-enabled false", api: testarm.APIRegistry,
			body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny"},"publicNetworkAccess":"Disabled"}}`,
			want: regState{"Premium", "Deny", "Disabled", "AzureServices", []string{"16.17.18.19", "52.57.22.38", "16.17.18.0/24"}, false, noTags}},
		{name: "acr update --public-network-enabled true", api: testarm.APIRegistry,
			body: `{"properties":{"publicNetworkAccess":"Enabled"}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{"16.17.18.19", "52.57.22.38", "16.17.18.0/24"}, false, noTags}},
		{name: "Disabled with bypass None (recorded)", api: "2021-08-01-preview",
			body: `{"properties": {"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "None"}}`,
			want: regState{"Premium", "Deny", "Disabled", "None", []string{"16.17.18.19", "52.57.22.38", "16.17.18.0/24"}, false, noTags}},
		{name: "acr update --admin-enabled true", api: testarm.APIRegistry,
			body: `{"properties":{"adminUserEnabled":true}}`,
			want: regState{"Premium", "Deny", "Disabled", "None", []string{"16.17.18.19", "52.57.22.38", "16.17.18.0/24"}, true, noTags}},
		{name: "acr update --tags foo=bar", api: testarm.APIRegistry,
			body: `{"tags":{"foo":"bar"}}`,
			want: regState{"Premium", "Deny", "Disabled", "None", []string{"16.17.18.19", "52.57.22.38", "16.17.18.0/24"}, true, map[string]any{"foo": "bar"}}},
		{name: "network-rule remove", api: testarm.APINetworkRule,
			body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"52.57.22.38"}]}}}`,
			want: regState{"Premium", "Deny", "Disabled", "None", []string{"52.57.22.38"}, true, map[string]any{"foo": "bar"}}},
		{name: "empty update changes nothing", api: testarm.APIRegistry, body: `{}`,
			want: regState{"Premium", "Deny", "Disabled", "None", []string{"52.57.22.38"}, true, map[string]any{"foo": "bar"}}},
		{name: "null fields count as absent", api: testarm.APIRegistry, body: `{"tags":null,"properties":{"networkRuleSet":{"ipRules":null}}}`,
			want: regState{"Premium", "Deny", "Disabled", "None", []string{"52.57.22.38"}, true, map[string]any{"foo": "bar"}}},
		{name: "downgrade with Disabled public access", api: testarm.APIRegistry, body: `{"sku":{"name":"Standard"}}`,
			wantErr: "DisablingPublicNetworkAccessNotSupported"},
		{name: "enable public access, lower case values", api: testarm.APIRegistry,
			body: `{"properties":{"publicNetworkAccess":"enabled","networkRuleBypassOptions":"azureservices"}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{"52.57.22.38"}, true, map[string]any{"foo": "bar"}}},
		{name: "downgrade with IP rules", api: testarm.APIRegistry, body: `{"sku":{"name":"Basic"}}`,
			wantErr: "NetworkRuleSetNotSupported"},
		{name: "clear rules", api: testarm.APINetworkRule, body: `{"properties":{"networkRuleSet":{"defaultAction":"Deny","virtualNetworkRules":[],"ipRules":[]}}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{}, true, map[string]any{"foo": "bar"}}},
		{name: "downgrade with Deny", api: testarm.APIRegistry, body: `{"sku":{"name":"Standard"}}`,
			wantErr: "NetworkRuleSetNotSupported"},
		{name: "downgrade together with Allow", api: testarm.APIRegistry, body: `{"sku":{"name":"Standard"},"properties":{"networkRuleSet":{"defaultAction":"Allow"}}}`,
			want: regState{"Standard", "Allow", "Enabled", "AzureServices", []string{}, true, map[string]any{"foo": "bar"}}},
		{name: "Standard to Basic", api: testarm.APIRegistry, body: `{"sku":{"name":"Basic"}}`,
			want: regState{"Basic", "Allow", "Enabled", "AzureServices", []string{}, true, map[string]any{"foo": "bar"}}},
		{name: "back to Premium with rules", api: testarm.APIRegistry,
			body: `{"sku":{"name":"Premium"},"properties":{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"value":"203.0.113.10"}]}}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{"203.0.113.10"}, true, map[string]any{"foo": "bar"}}},
		{name: "clear tags", api: testarm.APIRegistry, body: `{"tags":{}}`,
			want: regState{"Premium", "Deny", "Enabled", "AzureServices", []string{"203.0.113.10"}, true, noTags}},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(http.MethodPatch, testarm.WithAPI(path, s.api), s.body)
			if s.wantErr != "" {
				require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
				assert.Equal(t, s.wantErr, res.ErrCode(t))
				return
			}
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			assert.Equal(t, s.want, stateOf(t, res))
			// A fresh GET shows the same: the change is stored.
			assert.Equal(t, s.want, stateOf(t, e.arm.Request(http.MethodGet, testarm.WithAPI(path, testarm.APIRegistry), nil)))
		}) {
			t.FailNow()
		}
	}
}

func TestPatchMissing(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	tests := []struct {
		name, path, body string
		wantCode         int
		wantErr          string
	}{
		{"missing registry", testarm.RegistryPath("rg", "absent1"), `{}`, 404, "ResourceNotFound"},
		{"missing group", testarm.RegistryPath("nope", "absent1"), `{}`, 404, "ResourceGroupNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(http.MethodPatch, testarm.WithAPI(tt.path, testarm.APIRegistry), tt.body)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			assert.Equal(t, tt.wantErr, res.ErrCode(t))
		})
	}
}

func TestPatchStampsSystemData(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "stamped1", "Basic", nil)
	e.clock.Add(90 * time.Second)
	res := e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", "stamped1"), testarm.APIRegistry), `{"properties":{"adminUserEnabled":true}}`)
	require.Equal(t, http.StatusOK, res.Code)
	sd := res.JSON(t)["systemData"].(map[string]any)
	assert.Equal(t, tsOffset, sd["createdAt"])
	assert.Equal(t, "2026-03-04T05:07:37.1234567+00:00", sd["lastModifiedAt"])
	assert.Equal(t, testarm.ClientID, sd["lastModifiedBy"])
	assert.Equal(t, tsZ, res.JSON(t)["properties"].(map[string]any)["creationDate"])
}
