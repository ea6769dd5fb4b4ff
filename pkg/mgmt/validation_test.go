package mgmt_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
)

func ipRules(values ...string) map[string]any {
	rules := []any{}
	for _, v := range values {
		rules = append(rules, map[string]any{"action": "Allow", "value": v})
	}
	return map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": rules}}
}

func manyRules(n int) map[string]any {
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("52.%d.%d.0/24", i/250, i%250)
	}
	return ipRules(values...)
}

// TestValidationRejects sends every invalid input as a create (PUT of a
// new registry) and, where it can be, as an update (PATCH of an existing
// registry of the same SKU), and checks the error and that nothing changed.
func TestValidationRejects(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	existing := map[string]string{"Basic": "basicreg1", "Standard": "standardreg1", "Premium": "premiumreg1"}
	for sku, name := range existing {
		e.mustRegistry("rg", name, sku, nil)
	}
	tests := []struct {
		name    string
		regName string         // PUT target; default "newreg01"
		sku     string         // default Premium
		props   map[string]any // properties for PUT and PATCH
		raw     string         // a verbatim body instead (sent to PUT and PATCH)
		putOnly bool
		wantErr string
		wantMsg string
	}{
		{name: "name too short", regName: "abcd", putOnly: true, wantErr: "InvalidResourceName"},
		{name: "name too long", regName: strings.Repeat("a", 51), putOnly: true, wantErr: "InvalidResourceName"},
		{name: "name with dash", regName: "my-registry", putOnly: true, wantErr: "InvalidResourceName",
			wantMsg: "The registry name 'my-registry' is invalid. Registry names must be 5 to 50 characters long and may contain only alphanumeric characters."},
		{name: "malformed JSON", raw: `{"location":"eastus","sku":`, wantErr: "InvalidRequestContent"},
		{name: "trailing data", raw: `{"location":"eastus","sku":{"name":"Basic"}} {}`, wantErr: "InvalidRequestContent"},
		{name: "empty body", raw: ` `, wantErr: "InvalidRequestContent"},
		{name: "array body", raw: `[]`, wantErr: "InvalidRequestContent"},
		{name: "wrong type", raw: `{"location":"eastus","sku":{"name":"Basic"},"properties":{"adminUserEnabled":"yes"}}`, wantErr: "InvalidRequestContent",
			wantMsg: "The request content was invalid and could not be deserialized: 'properties.adminUserEnabled must be a boolean, not string'."},
		{name: "missing location", raw: `{"sku":{"name":"Basic"}}`, putOnly: true, wantErr: "LocationRequired",
			wantMsg: "The location property is required for this definition."},
		{name: "missing sku", raw: `{"location":"eastus"}`, putOnly: true, wantErr: "InvalidSku"},
		{name: "sku without name", raw: `{"location":"eastus","sku":{}}`, wantErr: "InvalidSku"},
		{name: "Classic sku", raw: `{"location":"eastus","sku":{"name":"Classic"}}`, wantErr: "InvalidSku",
			wantMsg: "Classic SKU is no longer supported. Please select a managed SKU."},
		{name: "unknown sku", raw: `{"location":"eastus","sku":{"name":"Gold"}}`, wantErr: "InvalidSku"},
		{name: "bad default action", props: map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Block"}}, wantErr: "InvalidNetworkRuleSet"},
		{name: "bad public access", props: map[string]any{"publicNetworkAccess": "Off"}, wantErr: "InvalidPublicNetworkAccess"},
		{name: "bad bypass", props: map[string]any{"networkRuleBypassOptions": "Everything"}, wantErr: "InvalidNetworkRuleBypassOptions"},
		{name: "bad zone redundancy", props: map[string]any{"zoneRedundancy": "Maybe"}, putOnly: true, wantErr: "InvalidZoneRedundancy"},
		{name: "zone redundancy on Standard", sku: "Standard", props: map[string]any{"zoneRedundancy": "Enabled"}, putOnly: true, wantErr: "ZoneRedundancyNotSupported"},
		{name: "data endpoint on Standard", sku: "Standard", props: map[string]any{"dataEndpointEnabled": true}, wantErr: "DataEndpointNotSupported"},
		{name: "public access disabled on Basic", sku: "Basic", props: map[string]any{"publicNetworkAccess": "Disabled"},
			wantErr: "DisablingPublicNetworkAccessNotSupported",
			wantMsg: "Disabling public network access is not supported for the SKU Basic. For more information, please visit https://aka.ms/acr/private-link."},
		{name: "public access disabled on Standard", sku: "Standard", props: map[string]any{"publicNetworkAccess": "Disabled"},
			wantErr: "DisablingPublicNetworkAccessNotSupported",
			wantMsg: "Disabling public network access is not supported for the SKU Standard. For more information, please visit https://aka.ms/acr/private-link."},
		{name: "IP rules on Standard", sku: "Standard", props: ipRules("52.57.22.38"), wantErr: "NetworkRuleSetNotSupported",
			wantMsg: "Network rule set is not supported for the SKU Standard."},
		{name: "Deny on Basic", sku: "Basic", props: map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}},
			wantErr: "NetworkRuleSetNotSupported", wantMsg: "Network rule set is not supported for the SKU Basic."},
		{name: "anonymous pull on Basic", sku: "Basic", props: map[string]any{"anonymousPullEnabled": true}, wantErr: "AnonymousPullNotSupported"},
		{name: "virtual network rules", props: map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny",
			"virtualNetworkRules": []any{map[string]any{"action": "Allow", "id": "/subscriptions/x/subnets/y"}}}}, wantErr: "InvalidNetworkRuleSet"},
		{name: "IPv6 address", props: ipRules("2001:db8::1"), wantErr: "InvalidIpRule"},
		{name: "IPv6 range", props: ipRules("2001:db8::/32"), wantErr: "InvalidIpRule"},
		{name: "private range", props: ipRules("52.57.22.38", "10.0.0.0/8"), wantErr: "InvalidIpRule"},
		{name: "private address", props: ipRules("192.168.1.10"), wantErr: "InvalidIpRule",
			wantMsg: "The IP rule value '192.168.1.10' is invalid: 192.168.1.10/32 overlaps the private range 192.168.0.0/16: only public IPv4 addresses and ranges are allowed."},
		{name: "range covering private", props: ipRules("8.0.0.0/4"), wantErr: "InvalidIpRule"},
		{name: "loopback", props: ipRules("127.0.0.1"), wantErr: "InvalidIpRule"},
		{name: "link-local", props: ipRules("169.254.10.1"), wantErr: "InvalidIpRule"},
		{name: "CGNAT", props: ipRules("100.64.1.1"), wantErr: "InvalidIpRule"},
		{name: "multicast", props: ipRules("224.0.0.251"), wantErr: "InvalidIpRule"},
		{name: "reserved", props: ipRules("240.0.0.1"), wantErr: "InvalidIpRule"},
		{name: "this network", props: ipRules("0.0.0.0/0"), wantErr: "InvalidIpRule"},
		{name: "malformed address", props: ipRules("1.2.3"), wantErr: "InvalidIpRule"},
		{name: "malformed prefix length", props: ipRules("52.1.2.0/33"), wantErr: "InvalidIpRule"},
		{name: "empty value", props: ipRules(""), wantErr: "InvalidIpRule"},
		{name: "hostname", props: ipRules("example.com"), wantErr: "InvalidIpRule"},
		{name: "missing value", props: map[string]any{"networkRuleSet": map[string]any{"ipRules": []any{map[string]any{"action": "Allow"}}}}, wantErr: "InvalidIpRule"},
		{name: "Deny action", props: map[string]any{"networkRuleSet": map[string]any{"ipRules": []any{map[string]any{"action": "Deny", "value": "52.57.22.38"}}}},
			wantErr: "InvalidIpRule", wantMsg: "The IP rule action 'Deny' for value '52.57.22.38' is invalid. The only allowed action is 'Allow'."},
		{name: "101 rules", props: manyRules(101), wantErr: "QuotaExceeded",
			wantMsg: "The requested feature IP rule exceeds allowed quota 100 for the SKU Premium."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			sku := tt.sku
			if sku == "" {
				sku = "Premium"
			}
			regName := tt.regName
			if regName == "" {
				regName = "newreg01"
			}
			putBody, patchBody := tt.raw, tt.raw
			if tt.raw == "" {
				put, err := json.Marshal(map[string]any{"location": "eastus", "sku": map[string]any{"name": sku}, "properties": tt.props})
				require.NoError(t, err)
				patch, err := json.Marshal(map[string]any{"properties": tt.props})
				require.NoError(t, err)
				putBody, patchBody = string(put), string(patch)
			}
			eventsBefore := len(e.hooks.Events())

			res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", regName), testarm.APIRegistry), putBody)
			require.Equal(t, http.StatusBadRequest, res.Code, "PUT: %s", res.Body)
			assert.Equal(t, tt.wantErr, res.ErrCode(t), "PUT")
			if tt.wantMsg != "" {
				assert.Equal(t, tt.wantMsg, res.ErrMessage(t), "PUT")
			}
			get := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("rg", regName), testarm.APIRegistry), nil)
			assert.Equal(t, http.StatusNotFound, get.Code, "nothing created")

			if !tt.putOnly {
				target := existing[sku]
				before := e.stored(target)
				res := e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", target), testarm.APIRegistry), patchBody)
				require.Equal(t, http.StatusBadRequest, res.Code, "PATCH: %s", res.Body)
				assert.Equal(t, tt.wantErr, res.ErrCode(t), "PATCH")
				if tt.wantMsg != "" {
					assert.Equal(t, tt.wantMsg, res.ErrMessage(t), "PATCH")
				}
				assert.Equal(t, before, e.stored(target), "nothing changed")
			}
			assert.Len(t, e.hooks.Events(), eventsBefore, "no hook call")
		})
	}
}

func TestValidationAccepts(t *testing.T) {
	e := newEnv(t, func(c *mgmt.Config) { c.MaxIPRules = 3 })
	e.mustGroup("rg")
	tests := []struct {
		name  string
		sku   string
		props map[string]any
		check func(t *testing.T, m map[string]any)
	}{
		{name: "documentation addresses are public", sku: "Premium", props: ipRules("203.0.113.10", "198.51.100.0/24", "192.0.2.1")},
		{name: "host bits set, kept verbatim", sku: "Premium", props: ipRules("52.57.22.38/24"), check: func(t *testing.T, m map[string]any) {
			rules := m["properties"].(map[string]any)["networkRuleSet"].(map[string]any)["ipRules"].([]any)
			assert.Equal(t, "52.57.22.38/24", rules[0].(map[string]any)["value"])
		}},
		{name: "duplicates kept", sku: "Premium", props: ipRules("52.57.22.38", "52.57.22.38")},
		{name: "Disabled with Allow (recorded)", sku: "Premium", props: map[string]any{"publicNetworkAccess": "Disabled",
			"networkRuleSet": map[string]any{"defaultAction": "Allow"}}},
		{name: "anonymous pull on Standard", sku: "Standard", props: map[string]any{"anonymousPullEnabled": true}},
		{name: "zone redundancy on Premium", sku: "Premium", props: map[string]any{"zoneRedundancy": "enabled"}, check: func(t *testing.T, m map[string]any) {
			assert.Equal(t, "Enabled", m["properties"].(map[string]any)["zoneRedundancy"])
		}},
		{name: "default settings and read-only fields", sku: "Basic", props: map[string]any{"policies": map[string]any{"exportPolicy": map[string]any{"status": "enabled"}},
			"encryption": map[string]any{"status": "disabled"}, "loginServer": "x", "provisioningState": "Succeeded", "dataEndpointHostNames": []string{}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.mustRegistry("rg", fmt.Sprintf("accepted%02d", i), tt.sku, tt.props)
			if tt.check != nil {
				tt.check(t, res.JSON(t))
			}
		})
	}
	t.Run("quota follows config", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "quota001"), testarm.APIRegistry),
			map[string]any{"location": "eastus", "sku": map[string]any{"name": "Premium"}, "properties": manyRules(4)})
		require.Equal(t, http.StatusBadRequest, res.Code)
		assert.Equal(t, "The requested feature IP rule exceeds allowed quota 3 for the SKU Premium.", res.ErrMessage(t))
		e.mustRegistry("rg", "quota002", "Premium", manyRules(3))
	})
}
