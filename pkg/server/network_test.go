package server

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/firewall"
)

// networkServer trusts loopback as a proxy, so a test can place its
// requests at any source with X-Forwarded-For: vnet "lab" is 10.50.0.0/16,
// trusted services run in 100.70.0.0/16.
func networkServer(t *testing.T) (*Server, *client) {
	cfg := testConfig(t)
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	cfg.VNets = []firewall.VNet{{Name: "lab", Prefix: netip.MustParsePrefix("10.50.0.0/16")}}
	cfg.TrustedServiceNetworks = []netip.Prefix{netip.MustParsePrefix("100.70.0.0/16")}
	s := startServer(t, cfg)
	return s, newClient(t, s)
}

// from sends method path to the registry at login from source src and
// returns the status and body.
func from(t *testing.T, c *client, login, src, method, path string, header http.Header, form url.Values) (int, string) {
	t.Helper()
	_, port, err := net.SplitHostPort(login)
	require.NoError(t, err)
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, "http://127.0.0.1:"+port+path, body)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("X-Forwarded-For", src)
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const (
	inLab      = "10.50.0.5"
	outside    = "198.51.100.77"
	trustedSvc = "100.70.0.9"
)

func TestPrivateEndpointLifecycle(t *testing.T) {
	_, c := networkServer(t)
	loginA, _ := createRegistry(t, c, "rg", "registrya", false)
	loginB, _ := createRegistry(t, c, "rg", "registryb", false)
	for _, name := range []string{"registrya", "registryb"} {
		status, m := c.arm("PATCH", testarm.RegistryPath("rg", name), map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
		require.Equal(t, 200, status, m)
	}
	v2 := func(login, src string) int {
		status, _ := from(t, c, login, src, "GET", "/v2/", nil, nil)
		return status
	}
	require.Equal(t, 403, v2(loginA, inLab), "no private endpoint yet")

	vnet := testarm.SubscriptionPath + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/lab"
	status, m := c.arm("PUT", vnet, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.50.0.0/16"}}}})
	require.Equal(t, 201, status, m)
	status, m = c.arm("PUT", vnet+"/subnets/outside", map[string]any{"properties": map[string]any{"addressPrefix": "10.60.0.0/24"}})
	require.Equal(t, 400, status, m)
	assert.Equal(t, "NetcfgSubnetRangeOutsideVnet", m["error"].(map[string]any)["code"])
	status, m = c.arm("PUT", vnet+"/subnets/default", map[string]any{"properties": map[string]any{"addressPrefix": "10.50.1.0/24"}})
	require.Equal(t, 201, status, m)

	pe := func(name, registry string, manual bool) (int, map[string]any) {
		key := "privateLinkServiceConnections"
		if manual {
			key = "manualPrivateLinkServiceConnections"
		}
		return c.arm("PUT", testarm.SubscriptionPath+"/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/"+name, map[string]any{
			"location": "eastus", "properties": map[string]any{
				"subnet": map[string]any{"id": vnet + "/subnets/default"},
				key: []any{map[string]any{"name": name + "-conn", "properties": map[string]any{
					"privateLinkServiceId": testarm.RegistryPath("rg", registry), "groupIds": []string{"registry"}, "requestMessage": "please"}}},
			}})
	}
	status, m = pe("pe1", "registrya", false)
	require.Equal(t, 201, status, m)
	state := m["properties"].(map[string]any)["privateLinkServiceConnections"].([]any)[0].(map[string]any)["properties"].(map[string]any)["privateLinkServiceConnectionState"].(map[string]any)
	assert.Equal(t, "Approved", state["status"])

	assert.Equal(t, 401, v2(loginA, inLab), "approved endpoint: private access, then the challenge")
	assert.Equal(t, 403, v2(loginB, inLab), "another registry judges the client as public")
	assert.Equal(t, 403, v2(loginA, outside), "outside the vnet")

	status, m = c.arm("GET", testarm.RegistryPath("rg", "registrya"), nil)
	require.Equal(t, 200, status)
	conns := m["properties"].(map[string]any)["privateEndpointConnections"].([]any)
	require.Len(t, conns, 1)
	connName := conns[0].(map[string]any)["name"].(string)
	connPath := testarm.RegistryPath("rg", "registrya") + "/privateEndpointConnections/" + connName

	status, m = c.arm("GET", testarm.RegistryPath("rg", "registrya")+"/privateEndpointConnections", nil)
	require.Equal(t, 200, status)
	require.Len(t, m["value"], 1)
	status, m = c.arm("GET", testarm.RegistryPath("rg", "registrya")+"/privateLinkResources", nil)
	require.Equal(t, 200, status)
	plr := m["value"].([]any)[0].(map[string]any)["properties"].(map[string]any)
	assert.Equal(t, "registry", plr["groupId"])
	assert.Equal(t, []any{"privatelink.azurecr.io"}, plr["requiredZoneNames"])

	setState := func(path, s string) (int, map[string]any) {
		return c.arm("PUT", path, map[string]any{"properties": map[string]any{
			"privateLinkServiceConnectionState": map[string]any{"status": s, "description": "by test"}}})
	}
	status, m = setState(connPath, "Rejected")
	require.Equal(t, 200, status, m)
	assert.Equal(t, 403, v2(loginA, inLab), "rejected: access ends with the next request")
	status, m = setState(connPath, "Approved")
	assert.Equal(t, 400, status, "a rejected connection cannot be approved again: %v", m)

	status, _ = c.arm("DELETE", testarm.SubscriptionPath+"/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/lab/subnets/default", nil)
	assert.Equal(t, 400, status, "the subnet holds an endpoint")
	status, _ = c.arm("DELETE", testarm.SubscriptionPath+"/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe1", nil)
	require.Equal(t, 200, status)
	status, m = c.arm("GET", testarm.RegistryPath("rg", "registrya")+"/privateEndpointConnections", nil)
	require.Equal(t, 200, status)
	assert.Empty(t, m["value"])

	// A manual connection waits for the registry owner.
	status, m = pe("pe2", "registrya", true)
	require.Equal(t, 201, status, m)
	assert.Equal(t, 403, v2(loginA, inLab), "pending admits nothing")
	_, m = c.arm("GET", testarm.RegistryPath("rg", "registrya")+"/privateEndpointConnections", nil)
	connPath = testarm.RegistryPath("rg", "registrya") + "/privateEndpointConnections/" + m["value"].([]any)[0].(map[string]any)["name"].(string)
	status, m = setState(connPath, "Approved")
	require.Equal(t, 200, status, m)
	assert.Equal(t, 401, v2(loginA, inLab), "approved by the owner")
	status, _ = c.arm("DELETE", testarm.SubscriptionPath+"/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe2", nil)
	require.Equal(t, 200, status)
	assert.Equal(t, 403, v2(loginA, inLab), "endpoint deleted: access ends with the next request")

	// A registry PUT keeps its connections; a Basic registry takes none.
	status, m = pe("pe3", "registrya", false)
	require.Equal(t, 201, status, m)
	status, m = c.arm("PUT", testarm.RegistryPath("rg", "registrya"), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Premium"},
		"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
	require.Equal(t, 200, status, m)
	assert.Len(t, m["properties"].(map[string]any)["privateEndpointConnections"], 1)
	assert.Equal(t, 401, v2(loginA, inLab))
	status, m = c.arm("PUT", testarm.RegistryPath("rg", "basicreg"), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Basic"}})
	require.Equal(t, 201, status, m)
	status, m = pe("pe4", "basicreg", false)
	assert.Equal(t, 400, status, m)
}

func TestTrustedServices(t *testing.T) {
	_, c := networkServer(t)
	login, password := createRegistry(t, c, "rg", "trusting", false)
	status, m := c.arm("PATCH", testarm.RegistryPath("rg", "trusting"), map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
	require.Equal(t, 200, status, m)
	basic := func(user, pass string) http.Header {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header
	}

	// The managed identity endpoint answers trusted-service sources only.
	imds := func(src string) (int, string) {
		req, err := http.NewRequest("GET", c.Base+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/", nil)
		require.NoError(t, err)
		req.Header.Set("Metadata", "true")
		req.Header.Set("X-Forwarded-For", src)
		resp, err := c.HTTP.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &tok)
		return resp.StatusCode, tok.AccessToken
	}
	status, _ = imds(outside)
	require.Equal(t, 403, status)
	status, miToken := imds(trustedSvc)
	require.Equal(t, 200, status)

	pullWithMI := func(src string) int {
		status, body := from(t, c, login, src, "POST", "/oauth2/exchange", nil, url.Values{
			"grant_type": {"access_token"}, "service": {login}, "access_token": {miToken}})
		if status != 200 {
			return status
		}
		var ex struct {
			RefreshToken string `json:"refresh_token"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &ex))
		status, body = from(t, c, login, src, "GET", "/oauth2/token?service="+login+"&scope=registry:catalog:*", basic("00000000-0000-0000-0000-000000000000", ex.RefreshToken), nil)
		if status != 200 {
			return status
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &tok))
		status, _ = from(t, c, login, src, "GET", "/v2/_catalog", http.Header{"Authorization": {"Bearer " + tok.AccessToken}}, nil)
		return status
	}
	admin := func(src string) int {
		status, _ := from(t, c, login, src, "GET", "/v2/_catalog", basic("trusting", password), nil)
		return status
	}

	// AzureServices (the default): the managed identity passes, admin
	// credentials and the same token from elsewhere do not.
	assert.Equal(t, 200, pullWithMI(trustedSvc))
	assert.Equal(t, 403, admin(trustedSvc), "admin credentials are no trusted service")
	assert.Equal(t, 403, pullWithMI(outside), "a managed identity token from elsewhere is no trusted service")
	status, _ = from(t, c, login, trustedSvc, "GET", "/v2/", nil, nil)
	assert.Equal(t, 401, status, "the credential-less ping gets the challenge")
	status, _ = from(t, c, login, trustedSvc, "GET", "/v2/_catalog", nil, nil)
	assert.Equal(t, 403, status, "nothing else without credentials")

	// An ARM token of the service principal is no managed identity.
	status, _ = from(t, c, login, trustedSvc, "POST", "/oauth2/exchange", nil, url.Values{
		"grant_type": {"access_token"}, "service": {login}, "access_token": {c.BearerToken()}})
	assert.Equal(t, 403, status)

	// None: the trusted service is judged like anyone.
	status, m = c.arm("PATCH", testarm.RegistryPath("rg", "trusting"), map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "None"}})
	require.Equal(t, 200, status, m)
	assert.Equal(t, 403, pullWithMI(trustedSvc))
	status, m = c.arm("PATCH", testarm.RegistryPath("rg", "trusting"), map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "AzureServices"}})
	require.Equal(t, 200, status, m)
	assert.Equal(t, 200, pullWithMI(trustedSvc))
}

// TestDeletingAGroupEndsItsPrivateEndpoints: the group that holds a
// private endpoint goes, and with it the endpoint, its virtual network and
// the private access it gave to a registry in another group.
func TestDeletingAGroupEndsItsPrivateEndpoints(t *testing.T) {
	_, c := networkServer(t)
	login, _ := createRegistry(t, c, "rg", "registrya", false)
	status, m := c.arm("PATCH", testarm.RegistryPath("rg", "registrya"), map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
	require.Equal(t, 200, status, m)
	status, m = c.arm("PUT", testarm.SubscriptionPath+"/resourcegroups/netrg", map[string]any{"location": "eastus"})
	require.Contains(t, []int{200, 201}, status, m)
	vnet := testarm.SubscriptionPath + "/resourceGroups/netrg/providers/Microsoft.Network/virtualNetworks/lab"
	status, m = c.arm("PUT", vnet, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.50.0.0/16"}}}})
	require.Equal(t, 201, status, m)
	status, m = c.arm("PUT", vnet+"/subnets/default", map[string]any{"properties": map[string]any{"addressPrefix": "10.50.1.0/24"}})
	require.Equal(t, 201, status, m)
	status, m = c.arm("PUT", testarm.SubscriptionPath+"/resourceGroups/netrg/providers/Microsoft.Network/privateEndpoints/pe1", map[string]any{
		"location": "eastus", "properties": map[string]any{
			"subnet": map[string]any{"id": vnet + "/subnets/default"},
			"privateLinkServiceConnections": []any{map[string]any{"name": "pe1-conn", "properties": map[string]any{
				"privateLinkServiceId": testarm.RegistryPath("rg", "registrya"), "groupIds": []string{"registry"}}}},
		}})
	require.Equal(t, 201, status, m)
	v2 := func() int {
		status, _ := from(t, c, login, inLab, "GET", "/v2/", nil, nil)
		return status
	}
	require.Equal(t, 401, v2(), "private access through the endpoint")

	status, _ = c.arm("DELETE", testarm.SubscriptionPath+"/resourcegroups/netrg", nil)
	require.Equal(t, 200, status)
	assert.Equal(t, 403, v2(), "the endpoint went with its group")
	status, m = c.arm("GET", testarm.RegistryPath("rg", "registrya")+"/privateEndpointConnections", nil)
	require.Equal(t, 200, status)
	assert.Empty(t, m["value"])
	status, _ = c.arm("GET", vnet, nil)
	assert.Equal(t, 404, status, "the virtual network went too")
}
