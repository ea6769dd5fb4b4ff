package mgmt_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/store"
)

// The fixed clock of newEnv, in ACR's two timestamp formats.
const (
	tsZ      = "2026-03-04T05:06:07.1234567Z"
	tsOffset = "2026-03-04T05:06:07.1234567+00:00"
)

// goldenRegistry is the full body of a new Premium registry as acremu
// renders it for api-version 2022-02-01-preview: ACR's key order and
// defaults (acr-api.md §1.4).
var goldenRegistry = `{"sku":{"name":"Premium","tier":"Premium"},"type":"Microsoft.ContainerRegistry/registries",` +
	`"id":"/subscriptions/` + testarm.Subscription + `/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myRegistry",` +
	`"name":"myRegistry","location":"eastus","tags":{},` +
	`"systemData":{"createdBy":"` + testarm.ClientID + `","createdByType":"Application","createdAt":"` + tsOffset + `",` +
	`"lastModifiedBy":"` + testarm.ClientID + `","lastModifiedByType":"Application","lastModifiedAt":"` + tsOffset + `"},` +
	`"properties":{"loginServer":"localhost:5000","creationDate":"` + tsZ + `","provisioningState":"Succeeded",` +
	`"adminUserEnabled":false,"networkRuleSet":{"defaultAction":"Allow","ipRules":[]},` +
	`"policies":{"quarantinePolicy":{"status":"disabled"},"trustPolicy":{"type":"Notary","status":"disabled"},` +
	`"retentionPolicy":{"days":7,"lastUpdatedTime":"` + tsOffset + `","status":"disabled"},"exportPolicy":{"status":"enabled"},` +
	`"azureADAuthenticationAsArmPolicy":{"status":"enabled"},` +
	`"softDeletePolicy":{"retentionDays":7,"lastUpdatedTime":"` + tsOffset + `","status":"disabled"}},` +
	`"encryption":{"status":"disabled"},"dataEndpointEnabled":false,"dataEndpointHostNames":[],"privateEndpointConnections":[],` +
	`"publicNetworkAccess":"Enabled","networkRuleBypassOptions":"AzureServices","zoneRedundancy":"Disabled","anonymousPullEnabled":false}}`

// goldenLegacy is goldenRegistry as api-version 2021-08-01-preview shows
// it: virtualNetworkRules present, the two newer policies absent.
var goldenLegacy = strings.NewReplacer(
	`"networkRuleSet":{"defaultAction":"Allow","ipRules":[]}`,
	`"networkRuleSet":{"defaultAction":"Allow","virtualNetworkRules":[],"ipRules":[]}`,
	`,"azureADAuthenticationAsArmPolicy":{"status":"enabled"},"softDeletePolicy":{"retentionDays":7,"lastUpdatedTime":"`+tsOffset+`","status":"disabled"}`,
	``,
).Replace(goldenRegistry)

// golden2019 is the registry as stable api-version 2019-05-01 shows it:
// only the properties that version had (no systemData, no
// publicNetworkAccess, no export policy).
var golden2019 = `{"sku":{"name":"Premium","tier":"Premium"},"type":"Microsoft.ContainerRegistry/registries",` +
	`"id":"/subscriptions/` + testarm.Subscription + `/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myRegistry",` +
	`"name":"myRegistry","location":"eastus","tags":{},` +
	`"properties":{"loginServer":"localhost:5000","creationDate":"` + tsZ + `","provisioningState":"Succeeded",` +
	`"adminUserEnabled":false,"networkRuleSet":{"defaultAction":"Allow","virtualNetworkRules":[],"ipRules":[]},` +
	`"policies":{"quarantinePolicy":{"status":"disabled"},"trustPolicy":{"type":"Notary","status":"disabled"},` +
	`"retentionPolicy":{"days":7,"lastUpdatedTime":"` + tsOffset + `","status":"disabled"}}}}`

// golden2025 is the registry as the newest stable api-version, 2025-11-01,
// shows it: no preview-only softDeletePolicy, and roleAssignmentMode and
// networkRuleBypassAllowedForTasks, which Terraform compares with its
// configuration on every plan.
var golden2025 = strings.NewReplacer(
	`,"softDeletePolicy":{"retentionDays":7,"lastUpdatedTime":"`+tsOffset+`","status":"disabled"}`, ``,
	`"anonymousPullEnabled":false}`, `"anonymousPullEnabled":false,"roleAssignmentMode":"LegacyRegistryPermissions","networkRuleBypassAllowedForTasks":false}`,
).Replace(goldenRegistry)

func TestRegistryCRUD(t *testing.T) {
	e := newEnv(t)
	e.hooks.nextPort = 5000
	e.mustGroup("rg")
	e.mustGroup("other")
	reg := testarm.RegistryPath("rg", "myRegistry")
	azCreate := `{"location":"eastus","sku":{"name":"Premium"},"properties":{"adminUserEnabled":false,"anonymousPullEnabled":false}}`

	steps := []struct {
		name     string
		method   string
		path     string
		body     any
		wantCode int
		wantErr  string
		wantBody string
		check    func(t *testing.T, res testarm.Response)
	}{
		{name: "create in missing group", method: "PUT", path: testarm.WithAPI(testarm.RegistryPath("nogroup", "myRegistry"), testarm.APIRegistry), body: azCreate,
			wantCode: 404, wantErr: "ResourceGroupNotFound"},
		{name: "create, az body", method: "PUT", path: testarm.WithAPI(reg, testarm.APIRegistry), body: azCreate, wantCode: 201,
			wantBody: strings.Replace(goldenRegistry, `"provisioningState":"Succeeded"`, `"provisioningState":"Creating"`, 1),
			check: func(t *testing.T, res testarm.Response) {
				assert.Contains(t, res.Header.Get("Azure-AsyncOperation"), "/operationStatuses/registries-", "ACR's long-running create")
				assert.Equal(t, testarm.APIRegistry, res.Header.Get("api-supported-versions"))
				st := e.stored("MYREGISTRY")
				assert.Equal(t, 5000, st.Port)
				assert.Len(t, st.Passwords[0], 52)
				assert.NotEqual(t, st.Passwords[0], st.Passwords[1])
			}},
		{name: "get", method: "GET", path: testarm.WithAPI(reg, testarm.APIRegistry), wantCode: 200, wantBody: goldenRegistry},
		{name: "get, network-rule api-version", method: "GET", path: testarm.WithAPI(reg, testarm.APINetworkRule), wantCode: 200, wantBody: goldenLegacy},
		{name: "get, stable 2019-05-01: virtualNetworkRules, nothing newer", method: "GET", path: testarm.WithAPI(reg, "2019-05-01"), wantCode: 200, wantBody: golden2019},
		{name: "get, newest stable", method: "GET", path: testarm.WithAPI(reg, "2025-11-01"), wantCode: 200, wantBody: golden2025},
		{name: "get, any casing", method: "GET", wantCode: 200, wantBody: goldenRegistry,
			path: testarm.WithAPI("/SUBSCRIPTIONS/"+testarm.Subscription+"/RESOURCEGROUPS/RG/PROVIDERS/microsoft.containerregistry/Registries/MYREGISTRY", testarm.APIRegistry)},
		{name: "get in another group", method: "GET", path: testarm.WithAPI(testarm.RegistryPath("other", "myRegistry"), testarm.APIRegistry), wantCode: 404, wantErr: "ResourceNotFound",
			check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, "The Resource 'Microsoft.ContainerRegistry/registries/myRegistry' under resource group 'other' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", res.ErrMessage(t))
			}},
		{name: "create same name in another group", method: "PUT", path: testarm.WithAPI(testarm.RegistryPath("other", "MyRegistry"), testarm.APIRegistry), body: azCreate,
			wantCode: 409, wantErr: "AlreadyInUse", check: func(t *testing.T, res testarm.Response) {
				assert.Equal(t, "The registry DNS name myregistry.azurecr.io is already in use. You can check if the name is already claimed using following API: https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability", res.ErrMessage(t))
			}},
		{name: "replace in same group", method: "PUT", path: testarm.WithAPI(testarm.RegistryPath("RG", "MYREGISTRY"), testarm.APIRegistry),
			body:     `{"location":"eastus","sku":{"name":"standard"},"tags":{"env":"dev"},"properties":{"adminUserEnabled":true}}`,
			wantCode: 200, check: func(t *testing.T, res testarm.Response) {
				m := res.JSON(t)
				assert.Equal(t, "myRegistry", m["name"], "original spelling")
				assert.Equal(t, map[string]any{"name": "Standard", "tier": "Standard"}, m["sku"])
				assert.Equal(t, map[string]any{"env": "dev"}, m["tags"])
				assert.Equal(t, true, m["properties"].(map[string]any)["adminUserEnabled"])
				assert.Equal(t, "localhost:5000", m["properties"].(map[string]any)["loginServer"], "port kept")
			}},
		{name: "replace in another location", method: "PUT", path: testarm.WithAPI(reg, testarm.APIRegistry), body: `{"location":"westus","sku":{"name":"Premium"}}`,
			wantCode: 409, wantErr: "InvalidResourceLocation"},
		{name: "list group", method: "GET", path: testarm.WithAPI(testarm.GroupPath("rg")+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry), wantCode: 200,
			check: func(t *testing.T, res testarm.Response) {
				v := res.JSON(t)["value"].([]any)
				require.Len(t, v, 1)
				assert.Equal(t, "myRegistry", v[0].(map[string]any)["name"])
				assert.NotContains(t, res.JSON(t), "nextLink")
			}},
		{name: "list other group", method: "GET", path: testarm.WithAPI(testarm.GroupPath("other")+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry), wantCode: 200,
			wantBody: `{"value":[]}`},
		{name: "list missing group", method: "GET", path: testarm.WithAPI(testarm.GroupPath("nope")+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry),
			wantCode: 404, wantErr: "ResourceGroupNotFound"},
		{name: "list subscription", method: "GET", path: testarm.WithAPI(testarm.SubscriptionPath+"/providers/Microsoft.ContainerRegistry/registries", testarm.APIRegistry), wantCode: 200,
			check: func(t *testing.T, res testarm.Response) {
				require.Len(t, res.JSON(t)["value"].([]any), 1)
			}},
		{name: "delete in another group", method: "DELETE", path: testarm.WithAPI(testarm.RegistryPath("other", "myRegistry"), testarm.APIRegistry), wantCode: 204},
		{name: "delete", method: "DELETE", path: testarm.WithAPI(reg, testarm.APIRegistry), wantCode: 200, wantBody: ""},
		{name: "get deleted", method: "GET", path: testarm.WithAPI(reg, testarm.APIRegistry), wantCode: 404, wantErr: "ResourceNotFound"},
		{name: "delete again", method: "DELETE", path: testarm.WithAPI(reg, testarm.APIRegistry), wantCode: 204},
		{name: "delete in missing group", method: "DELETE", path: testarm.WithAPI(testarm.RegistryPath("nope", "myRegistry"), testarm.APIRegistry), wantCode: 404, wantErr: "ResourceGroupNotFound"},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(s.method, s.path, s.body)
			require.Equal(t, s.wantCode, res.Code, "%s", res.Body)
			if s.wantErr != "" {
				assert.Equal(t, s.wantErr, res.ErrCode(t))
			} else if s.check == nil || s.wantBody != "" {
				assert.Equal(t, s.wantBody, string(res.Body))
			}
			if s.check != nil {
				s.check(t, res)
			}
		}) {
			t.FailNow()
		}
	}

	kinds := []string{}
	for _, ev := range e.hooks.Events() {
		kinds = append(kinds, ev.kind+":"+ev.reg.Name)
	}
	assert.Equal(t, []string{"changed:myRegistry", "changed:myRegistry", "deleted:myRegistry"}, kinds)
}

func TestRegistryKeyOrder(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	res := e.mustRegistry("rg", "ordered1", "Premium", map[string]any{
		"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]any{"value": "52.57.22.38"}}},
	})
	assert.Equal(t, []string{"sku", "type", "id", "name", "location", "tags", "systemData", "properties"}, keyOrder(t, res.Body))
	assert.Equal(t, []string{"loginServer", "creationDate", "provisioningState", "adminUserEnabled", "networkRuleSet", "policies",
		"encryption", "dataEndpointEnabled", "dataEndpointHostNames", "privateEndpointConnections", "publicNetworkAccess",
		"networkRuleBypassOptions", "zoneRedundancy", "anonymousPullEnabled"}, keyOrder(t, res.Body, "properties"))
	assert.Equal(t, []string{"action", "value"}, keyOrder(t, res.Body, "properties", "networkRuleSet", "ipRules", "0"))
	assert.Contains(t, string(res.Body), `"ipRules":[{"action":"Allow","value":"52.57.22.38"}]`, "action defaults to Allow; value verbatim")
}

func TestGenericResources(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustGroup("rg2")
	e.mustRegistry("rg", "alpha1", "Premium", nil)
	e.mustRegistry("rg2", "Beta22", "Basic", nil)
	const filter = "$filter=resourceType eq 'Microsoft.ContainerRegistry/registries'"
	tests := []struct {
		name      string
		path      string
		wantCode  int
		wantErr   string
		wantNames []string
	}{
		{"az filter", testarm.SubscriptionPath + "/resources?" + filter, 200, "", []string{"alpha1", "Beta22"}},
		{"filter any case", testarm.SubscriptionPath + "/resources?$filter=RESOURCETYPE eq 'microsoft.containerregistry/REGISTRIES'", 200, "", []string{"alpha1", "Beta22"}},
		{"no filter", testarm.SubscriptionPath + "/resources", 200, "", []string{"alpha1", "Beta22"}},
		{"other type", testarm.SubscriptionPath + "/resources?$filter=resourceType eq 'Microsoft.Storage/storageAccounts'", 200, "", []string{}},
		{"type and name", testarm.SubscriptionPath + "/resources?" + filter + " and name eq 'beta22'", 200, "", []string{"Beta22"}},
		{"group scope", testarm.GroupPath("RG2") + "/resources?" + filter, 200, "", []string{"Beta22"}},
		{"missing group", testarm.GroupPath("nope") + "/resources?" + filter, 404, "ResourceGroupNotFound", nil},
		{"unsupported filter", testarm.SubscriptionPath + "/resources?$filter=substringof('a', name)", 400, "InvalidFilterInQueryString", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(http.MethodGet, testarm.WithAPI(strings.ReplaceAll(tt.path, " ", "%20"), testarm.APIGroups), nil)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
				return
			}
			names := []string{}
			for _, v := range res.JSON(t)["value"].([]any) {
				names = append(names, v.(map[string]any)["name"].(string))
			}
			assert.Equal(t, tt.wantNames, names)
		})
	}
	t.Run("item shape", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.GroupPath("rg")+"/resources", testarm.APIGroups), nil)
		require.Equal(t, http.StatusOK, res.Code)
		assert.Equal(t, `{"value":[{"id":"`+testarm.RegistryPath("rg", "alpha1")+`","name":"alpha1","type":"Microsoft.ContainerRegistry/registries",`+
			`"sku":{"name":"Premium","tier":"Premium"},"location":"eastus","tags":{}}]}`, string(res.Body))
	})
}

func TestAllocatePortFailure(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode int
		wantErr  string
	}{
		{"ports exhausted", fmt.Errorf("all 10 taken: %w", mgmt.ErrNoPort), 409, "NoPortAvailable"},
		{"other failure", errors.New("boom"), 500, "InternalServerError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.mustGroup("rg")
			e.hooks.portErr = tt.err
			res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "noport1"), testarm.APIRegistry), `{"location":"eastus","sku":{"name":"Basic"}}`)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			assert.Equal(t, tt.wantErr, res.ErrCode(t))
			assert.NotContains(t, string(res.Body), "boom", "internal details stay in the log")
			err := e.store.View(func(tx *store.Tx) error { _, err := tx.Registry("noport1"); return err })
			assert.ErrorIs(t, err, store.ErrNotFound)
			assert.Empty(t, e.hooks.Events())
		})
	}
}

func TestAllocatePortSeesPortsInUse(t *testing.T) {
	e := newEnv(t)
	e.hooks.nextPort = 7000
	e.mustGroup("rg")
	e.mustRegistry("rg", "first1", "Basic", nil)
	e.mustRegistry("rg", "second2", "Basic", nil)
	// Invalid input never reaches AllocatePort.
	res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "third3"), testarm.APIRegistry), `{"location":"eastus","sku":{"name":"Gold"}}`)
	require.Equal(t, http.StatusBadRequest, res.Code)
	assert.Equal(t, [][]int{nil, {7000}}, e.hooks.allocs)
}

func TestCaseInsensitivePaths(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("MyRG")
	create := `{"location":"eastus","sku":{"name":"Basic"},"properties":{"adminUserEnabled":true}}`
	tests := []struct {
		name, method, path string
		body               any
		wantCode           int
	}{
		{"create, lower-case everything", "PUT", "/subscriptions/" + testarm.Subscription + "/resourcegroups/myrg/providers/microsoft.containerregistry/registries/CaseReg1", create, 201},
		{"get, upper-case everything", "GET", "/SUBSCRIPTIONS/" + testarm.Subscription + "/RESOURCEGROUPS/MYRG/PROVIDERS/MICROSOFT.CONTAINERREGISTRY/REGISTRIES/CASEREG1", nil, 200},
		{"get, trailing slash", "GET", testarm.RegistryPath("myrg", "casereg1") + "/", nil, 200},
		{"list credentials", "POST", testarm.RegistryPath("MYRG", "CASEREG1") + "/LISTCREDENTIALS", nil, 200},
		{"regenerate", "POST", testarm.RegistryPath("myrg", "casereg1") + "/RegenerateCredential", `{"name":"PASSWORD2"}`, 200},
		{"usages", "GET", testarm.RegistryPath("myrg", "casereg1") + "/listusages", nil, 200},
		{"list by group", "GET", "/subscriptions/" + testarm.Subscription + "/resourcegroups/MYRG/providers/microsoft.CONTAINERREGISTRY/registries", nil, 200},
		{"check name", "POST", testarm.SubscriptionPath + "/providers/microsoft.containerregistry/checknameavailability", `{"name":"casereg1","type":"microsoft.containerregistry/registries"}`, 200},
		{"patch", "PATCH", testarm.RegistryPath("MyRg", "CaseReg1"), `{"tags":{"a":"b"}}`, 200},
		{"delete", "DELETE", testarm.RegistryPath("MYRG", "caseREG1"), nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(tt.method, testarm.WithAPI(tt.path, testarm.APIRegistry), tt.body)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if strings.HasPrefix(tt.name, "get") {
				m := res.JSON(t)
				assert.Equal(t, "CaseReg1", m["name"], "spelling as created")
				assert.Equal(t, testarm.RegistryPath("MyRG", "CaseReg1"), m["id"], "ARM casing, group's spelling")
			}
		})
	}
}
