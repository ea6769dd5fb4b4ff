package mgmt_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

const apiNetwork = "2023-09-01"

// TestNetworkResourcesARM walks virtual networks, subnets, private
// endpoints and the registry's connections through their lifecycle,
// checking the status and ARM error code of each step, and that a
// refused change leaves the registry as it was.
func TestNetworkResourcesARM(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustGroup("netrg")
	e.mustRegistry("rg", "premreg1", "Premium", nil)
	e.mustRegistry("rg", "basicreg1", "Basic", nil)
	net := testarm.SubscriptionPath + "/resourceGroups/netrg/providers/Microsoft.Network"
	vnet := net + "/virtualNetworks/lab"
	at := func(path string) string { return testarm.WithAPI(path, apiNetwork) }
	space := func(prefix string) map[string]any {
		return map[string]any{"location": "eastus", "properties": map[string]any{"addressSpace": map[string]any{"addressPrefixes": []string{prefix}}}}
	}
	prefix := func(p string) map[string]any { return map[string]any{"properties": map[string]any{"addressPrefix": p}} }
	endpoint := func(registry string, manual bool) map[string]any {
		key := "privateLinkServiceConnections"
		if manual {
			key = "manualPrivateLinkServiceConnections"
		}
		return map[string]any{"location": "eastus", "properties": map[string]any{
			"subnet": map[string]any{"id": vnet + "/subnets/default"},
			key: []any{map[string]any{"name": "conn", "properties": map[string]any{
				"privateLinkServiceId": testarm.RegistryPath("rg", registry), "groupIds": []string{"registry"}}}},
		}}
	}
	connState := func(status string) map[string]any {
		return map[string]any{"properties": map[string]any{"privateLinkServiceConnectionState": map[string]any{"status": status}}}
	}
	// The connection's name is the endpoint's name and GUID, known once
	// the endpoint exists: {conn} in a path stands for it.
	var conn string
	connPath := testarm.WithAPI(testarm.RegistryPath("rg", "premreg1")+"/privateEndpointConnections/{conn}", testarm.APIRegistry)

	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		wantCode int
		wantErr  string
	}{
		{"virtual network in a missing group", "PUT", at(testarm.SubscriptionPath + "/resourceGroups/nonet/providers/Microsoft.Network/virtualNetworks/lab"), space("10.50.0.0/16"), 404, "ResourceGroupNotFound"},
		{"virtual network without address space", "PUT", at(vnet), map[string]any{"properties": map[string]any{}}, 400, "InvalidRequestFormat"},
		{"virtual network created", "PUT", at(vnet), space("10.50.0.0/16"), 201, ""},
		{"virtual network replaced", "PUT", at(vnet), space("10.50.0.0/16"), 200, ""},
		{"missing virtual network", "GET", at(net + "/virtualNetworks/nothere"), nil, 404, "ResourceNotFound"},
		{"delete missing virtual network", "DELETE", at(net + "/virtualNetworks/nothere"), nil, 204, ""},
		{"subnet outside the network", "PUT", at(vnet + "/subnets/outside"), prefix("10.60.0.0/24"), 400, "NetcfgSubnetRangeOutsideVnet"},
		{"subnet of a missing network", "PUT", at(net + "/virtualNetworks/nothere/subnets/default"), prefix("10.50.1.0/24"), 404, "ResourceNotFound"},
		{"subnet created", "PUT", at(vnet + "/subnets/default"), prefix("10.50.1.0/24"), 201, ""},
		{"subnet replaced", "PUT", at(vnet + "/subnets/DEFAULT"), prefix("10.50.2.0/24"), 200, ""},
		{"subnet read", "GET", at(vnet + "/subnets/default"), nil, 200, ""},
		{"missing subnet", "GET", at(vnet + "/subnets/nothere"), nil, 404, "ResourceNotFound"},
		{"delete missing subnet", "DELETE", at(vnet + "/subnets/nothere"), nil, 204, ""},
		{"endpoint to a Basic registry", "PUT", at(net + "/privateEndpoints/pe1"), endpoint("basicreg1", false), 400, "PrivateEndpointConnectionNotSupported"},
		{"endpoint to a missing registry", "PUT", at(net + "/privateEndpoints/pe1"), endpoint("nothere99", false), 400, "PrivateLinkServiceNotFound"},
		{"endpoint created", "PUT", at(net + "/privateEndpoints/pe1"), endpoint("premreg1", true), 201, ""},
		{"endpoint replaced", "PUT", at(net + "/privateEndpoints/pe1"), endpoint("premreg1", true), 200, ""},
		{"missing endpoint", "GET", at(net + "/privateEndpoints/nothere"), nil, 404, "ResourceNotFound"},
		{"subnet in use", "DELETE", at(vnet + "/subnets/default"), nil, 400, "InUseSubnetCannotBeDeleted"},
		{"network in use", "DELETE", at(vnet), nil, 400, "InUseSubnetCannotBeDeleted"},
		{"missing connection", "GET", testarm.WithAPI(testarm.RegistryPath("rg", "premreg1")+"/privateEndpointConnections/nothere", testarm.APIRegistry), nil, 404, "ResourceNotFound"},
		{"connection with a bad status", "PUT", connPath, connState("Maybe"), 400, "InvalidPrivateLinkServiceConnectionStatus"},
		{"connection approved", "PUT", connPath, connState("Approved"), 200, ""},
		{"connection rejected", "PUT", connPath, connState("Rejected"), 200, ""},
		{"rejected connection approved", "PUT", connPath, connState("Approved"), 400, "CannotChangeRejectedPrivateEndpointConnection"},
		{"connection deleted", "DELETE", connPath, nil, 200, ""},
		{"connection deleted again", "DELETE", connPath, nil, 204, ""},
		{"missing private link resource", "GET", testarm.WithAPI(testarm.RegistryPath("rg", "premreg1")+"/privateLinkResources/other", testarm.APIRegistry), nil, 404, "ResourceNotFound"},
		{"endpoint deleted", "DELETE", at(net + "/privateEndpoints/pe1"), nil, 200, ""},
		{"endpoint deleted again", "DELETE", at(net + "/privateEndpoints/pe1"), nil, 204, ""},
		{"subnet deleted", "DELETE", at(vnet + "/subnets/default"), nil, 200, ""},
		{"virtual network deleted", "DELETE", at(vnet), nil, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			before := e.stored("premreg1")
			res := e.arm.Request(tt.method, strings.ReplaceAll(tt.path, "{conn}", conn), tt.body)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
				assert.Equal(t, before, e.stored("premreg1"), "a refused request changed the registry")
			}
			if tt.name == "endpoint created" {
				conns := e.stored("premreg1").PrivateEndpointConnections
				require.Len(t, conns, 1)
				assert.Equal(t, "Pending", conns[0].Status, "a manual connection waits for the owner")
				conn = conns[0].Name
			}
		})
	}
	res := e.arm.Request(http.MethodGet, at(net+"/virtualNetworks"), nil)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, []any{}, res.JSON(t)["value"], "every network was deleted")
}
