package mgmt_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

const apiNewest = "2025-11-01"

// terraformBody is what the azurerm provider PUTs for a Premium registry
// with admin enabled and nothing else configured.
func terraformBody() map[string]any {
	return map[string]any{
		"location": "eastus",
		"sku":      map[string]any{"name": "Premium", "tier": "Premium"},
		"identity": map[string]any{"type": "None"},
		"properties": map[string]any{
			"adminUserEnabled": true,
			"policies": map[string]any{
				"quarantinePolicy":                 map[string]any{"status": "disabled"},
				"retentionPolicy":                  map[string]any{},
				"exportPolicy":                     map[string]any{"status": "enabled"},
				"azureADAuthenticationAsArmPolicy": map[string]any{"status": "enabled"},
			},
			"publicNetworkAccess":              "Enabled",
			"zoneRedundancy":                   "Disabled",
			"anonymousPullEnabled":             false,
			"dataEndpointEnabled":              false,
			"networkRuleBypassOptions":         "AzureServices",
			"roleAssignmentMode":               "LegacyRegistryPermissions",
			"networkRuleBypassAllowedForTasks": false,
		},
	}
}

func props(t *testing.T, res testarm.Response) map[string]any {
	t.Helper()
	return res.JSON(t)["properties"].(map[string]any)
}

func TestSettingsStoredAndRendered(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	reg := testarm.RegistryPath("rg", "settings01")

	res := e.arm.Request(http.MethodPut, testarm.WithAPI(reg, apiNewest), terraformBody())
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	p := props(t, res)
	assert.Equal(t, "LegacyRegistryPermissions", p["roleAssignmentMode"])
	assert.Equal(t, false, p["networkRuleBypassAllowedForTasks"])
	assert.Nil(t, res.JSON(t)["identity"], "type None renders no identity")

	// Every setting changed at once, then read back at the newest version.
	body := terraformBody()
	body["identity"] = map[string]any{"type": "SystemAssigned,UserAssigned", "userAssignedIdentities": map[string]any{
		"/subscriptions/" + testarm.Subscription + "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1": map[string]any{},
	}}
	pp := body["properties"].(map[string]any)
	pp["roleAssignmentMode"] = "abacrepositorypermissions"
	pp["networkRuleBypassAllowedForTasks"] = true
	pp["publicNetworkAccess"] = "Disabled"
	pp["policies"] = map[string]any{
		"quarantinePolicy":                 map[string]any{"status": "enabled"},
		"trustPolicy":                      map[string]any{"type": "Notary", "status": "enabled"},
		"retentionPolicy":                  map[string]any{"days": 30, "status": "enabled"},
		"exportPolicy":                     map[string]any{"status": "disabled"},
		"azureADAuthenticationAsArmPolicy": map[string]any{"status": "disabled"},
		"softDeletePolicy":                 map[string]any{"retentionDays": 14, "status": "enabled"},
	}
	e.clock.Add(time.Second)
	res = e.arm.Request(http.MethodPut, testarm.WithAPI(reg, apiNewest), body)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	res = e.arm.Request(http.MethodGet, testarm.WithAPI(reg, apiNewest), nil)
	p = props(t, res)
	assert.Equal(t, "AbacRepositoryPermissions", p["roleAssignmentMode"])
	assert.Equal(t, true, p["networkRuleBypassAllowedForTasks"])
	pol := p["policies"].(map[string]any)
	assert.Equal(t, map[string]any{"status": "enabled"}, pol["quarantinePolicy"])
	assert.Equal(t, map[string]any{"type": "Notary", "status": "enabled"}, pol["trustPolicy"])
	assert.Equal(t, float64(30), pol["retentionPolicy"].(map[string]any)["days"])
	assert.Equal(t, "enabled", pol["retentionPolicy"].(map[string]any)["status"])
	assert.Equal(t, map[string]any{"status": "disabled"}, pol["exportPolicy"])
	assert.Equal(t, map[string]any{"status": "disabled"}, pol["azureADAuthenticationAsArmPolicy"])
	assert.NotContains(t, pol, "softDeletePolicy", "preview-only")
	id := res.JSON(t)["identity"].(map[string]any)
	assert.Equal(t, "SystemAssigned, UserAssigned", id["type"])
	assert.Equal(t, testarm.Tenant, id["tenantId"])
	assert.Len(t, id["userAssignedIdentities"], 1)
	principal := id["principalId"]

	// A preview shows the soft-delete policy; stable 2023-07-01 lacks the
	// newer settings.
	res = e.arm.Request(http.MethodGet, testarm.WithAPI(reg, "2023-11-01-preview"), nil)
	sd := props(t, res)["policies"].(map[string]any)["softDeletePolicy"].(map[string]any)
	assert.Equal(t, float64(14), sd["retentionDays"])
	assert.Equal(t, "enabled", sd["status"])
	assert.Equal(t, "Disabled", props(t, res)["metadataSearch"])
	res = e.arm.Request(http.MethodGet, testarm.WithAPI(reg, "2023-07-01"), nil)
	p = props(t, res)
	for _, k := range []string{"roleAssignmentMode", "networkRuleBypassAllowedForTasks", "anonymousPullEnabled", "metadataSearch"} {
		assert.NotContains(t, p, k, "2023-07-01")
	}
	assert.NotContains(t, p["policies"], "azureADAuthenticationAsArmPolicy")

	// PATCH changes one setting and keeps the others and the identity's id.
	res = e.arm.Request(http.MethodPatch, testarm.WithAPI(reg, apiNewest), map[string]any{"properties": map[string]any{"roleAssignmentMode": "LegacyRegistryPermissions"}})
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, "LegacyRegistryPermissions", props(t, res)["roleAssignmentMode"])
	assert.Equal(t, true, props(t, res)["networkRuleBypassAllowedForTasks"])
	assert.Equal(t, principal, res.JSON(t)["identity"].(map[string]any)["principalId"])
}

func TestSettingsRefused(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "basicreg1", "Basic", nil)
	e.mustRegistry("rg", "premium01", "Premium", nil)
	tests := []struct {
		name, target string
		body         map[string]any
		wantErr      string
		wantMsg      string // substring
	}{
		{"unknown property", "premium01", map[string]any{"properties": map[string]any{"somethingNew": 1}}, "UnsupportedProperty", "'somethingNew'"},
		{"unknown policy", "premium01", map[string]any{"properties": map[string]any{"policies": map[string]any{"newPolicy": map[string]any{}}}}, "UnsupportedProperty", "'newPolicy'"},
		{"unknown top level", "premium01", map[string]any{"zones": []string{"1"}}, "UnsupportedProperty", "'zones'"},
		{"regional endpoints", "premium01", map[string]any{"properties": map[string]any{"regionalEndpoints": "Enabled"}}, "UnsupportedProperty", "properties.regionalEndpoints"},
		{"bad role mode", "premium01", map[string]any{"properties": map[string]any{"roleAssignmentMode": "Other"}}, "InvalidRoleAssignmentMode", "roleAssignmentMode"},
		{"bad policy status", "premium01", map[string]any{"properties": map[string]any{"policies": map[string]any{"trustPolicy": map[string]any{"status": "on"}}}}, "InvalidPolicyStatus", "trustPolicy"},
		{"retention too long", "premium01", map[string]any{"properties": map[string]any{"policies": map[string]any{"retentionPolicy": map[string]any{"days": 366}}}}, "InvalidRetentionDays", "366"},
		{"trust on Basic", "basicreg1", map[string]any{"properties": map[string]any{"policies": map[string]any{"trustPolicy": map[string]any{"status": "enabled"}}}}, "PolicyNotSupported", "Basic"},
		{"export disabled with public access", "premium01", map[string]any{"properties": map[string]any{"policies": map[string]any{"exportPolicy": map[string]any{"status": "disabled"}}}}, "ExportPolicyNotSupported", "public network access"},
		{"encryption after creation", "premium01", map[string]any{"properties": map[string]any{"encryption": map[string]any{"status": "enabled",
			"keyVaultProperties": map[string]any{"keyIdentifier": "https://kv.vault.azure.net/keys/k", "identity": "c"}}}}, "EncryptionCannotBeChanged", "premium01"},
		{"user identity without ids", "premium01", map[string]any{"identity": map[string]any{"type": "UserAssigned"}}, "InvalidIdentity", "userAssignedIdentities"},
		{"bad identity type", "premium01", map[string]any{"identity": map[string]any{"type": "Mine"}}, "InvalidIdentityType", "identity.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			before := e.stored(tt.target)
			res := e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", tt.target), apiNewest), tt.body)
			require.Equal(t, http.StatusBadRequest, res.Code, "%s", res.Body)
			assert.Equal(t, tt.wantErr, res.ErrCode(t))
			assert.Contains(t, res.ErrMessage(t), tt.wantMsg)
			assert.Equal(t, before, e.stored(tt.target), "nothing changed")
		})
	}
	t.Run("encryption at creation", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "cmkreg01"), apiNewest), map[string]any{
			"location": "eastus", "sku": map[string]any{"name": "Premium"},
			"properties": map[string]any{"encryption": map[string]any{"status": "enabled",
				"keyVaultProperties": map[string]any{"keyIdentifier": "https://kv.vault.azure.net/keys/k", "identity": "c"}}},
		})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
		enc := props(t, res)["encryption"].(map[string]any)
		assert.Equal(t, "enabled", enc["status"])
		assert.Equal(t, "https://kv.vault.azure.net/keys/k", enc["keyVaultProperties"].(map[string]any)["keyIdentifier"])
	})
}
