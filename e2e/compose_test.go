//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Public addresses docker-compose.yml gives the lab's clients.
const (
	vmAllowedAddr = "198.51.100.11"
	vmDeniedAddr  = "198.51.100.12"
)

// TestComposeLab runs the lab of docs/lab.md with the real docker engine:
// two client containers that acremu sees as two public addresses, an IP
// rule that admits one of them, and a rule change through ARM that swaps
// their roles while everything keeps running.
func TestComposeLab(t *testing.T) {
	l := startLab(t)
	arm := l.host()
	const rg, name = "acremu", "myregistry"
	const image = "acremu:5000/samples/hello:v1"
	const content = "hello from the lab"

	t.Run("each machine has its own public address", func(t *testing.T) {
		resp, err := http.Get(arm.URL("/_acremu/whoami"))
		require.NoError(t, err)
		var me whoamiBody
		require.NoError(t, decodeJSON(resp, &me))
		assert.Equal(t, natAddr, me.IP, "the host, through the published port")
		for _, tc := range []struct{ service, want string }{
			{"vm-allowed", vmAllowedAddr},
			{"vm-denied", vmDeniedAddr},
		} {
			var who whoamiBody
			out := l.mustSh(tc.service, "wget -q -O - http://acremu:5000/_acremu/whoami")
			require.NoError(t, json.Unmarshal([]byte(out), &who), out)
			assert.Equal(t, tc.want, who.IP, tc.service)
		}
	})

	password := arm.adminPassword(rg, name)
	for _, s := range []string{"vm-allowed", "vm-denied"} {
		l.mustSh(s, fmt.Sprintf("crane auth login acremu:5000 -u %s -p '%s'", name, password))
	}
	l.mustSh("vm-allowed", fmt.Sprintf("echo '%s' > /tmp/hello.txt && tar -cf /tmp/layer.tar -C /tmp hello.txt && crane append -f /tmp/layer.tar -t %s", content, image))

	pull := func(service string) result {
		return l.sh(service, "crane export "+image+" - | tar -xOf - hello.txt")
	}
	// ping is the raw status of GET /v2/ over plain HTTP: 401 asks for
	// credentials (the firewall let the request through), 403 is the firewall.
	ping := func(service string) string {
		return l.sh(service, "wget -q -O /dev/null http://acremu:5000/v2/ 2>&1; true").Combined
	}
	requireAdmitted := func(t *testing.T, service string) {
		t.Helper()
		r := pull(service)
		require.NoError(t, r.Err, "%s should pull:\n%s", service, r.Combined)
		assert.Contains(t, r.Combined, content)
		assert.Contains(t, ping(service), "401 Unauthorized")
	}
	requireDenied := func(t *testing.T, service, addr string) {
		t.Helper()
		r := pull(service)
		require.Error(t, r.Err, "%s should be denied:\n%s", service, r.Combined)
		assert.Contains(t, r.Combined, "DENIED: client with IP '"+addr+"' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.")
		assert.Contains(t, ping(service), "403 Forbidden")
	}
	allowOnly := func(t *testing.T, addr string) {
		t.Helper()
		arm.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": addr}},
		}}})
	}

	started := map[string]string{}
	for _, s := range labServices {
		started[s] = l.inspect(s, "{{.State.StartedAt}}")
	}

	t.Run("both pull while the default action is Allow", func(t *testing.T) {
		requireAdmitted(t, "vm-allowed")
		requireAdmitted(t, "vm-denied")
	})

	t.Run("a rule for vm-allowed denies vm-denied", func(t *testing.T) {
		allowOnly(t, vmAllowedAddr)
		requireAdmitted(t, "vm-allowed")
		requireDenied(t, "vm-denied", vmDeniedAddr)
	})

	t.Run("changing the rule swaps the roles", func(t *testing.T) {
		allowOnly(t, vmDeniedAddr)
		requireAdmitted(t, "vm-denied")
		requireDenied(t, "vm-allowed", vmAllowedAddr)
	})

	// docs/lab.md step 6: vm-allowed is in the virtual network "corp"
	// (--vnet in docker-compose.yml); a private endpoint from it lets it
	// in with public access disabled, and only it.
	t.Run("a private endpoint admits vm-allowed with public access disabled", func(t *testing.T) {
		arm.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
		requireDenied(t, "vm-allowed", vmAllowedAddr)
		requireDenied(t, "vm-denied", vmDeniedAddr)

		network := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Network", subscription, rg)
		status, out := arm.arm("PUT", network+"/virtualNetworks/corp", map[string]any{"location": "eastus", "properties": map[string]any{
			"addressSpace": map[string]any{"addressPrefixes": []string{"10.0.0.0/16"}}}})
		require.Contains(t, []int{200, 201}, status, string(out))
		status, out = arm.arm("PUT", network+"/virtualNetworks/corp/subnets/default", map[string]any{"properties": map[string]any{"addressPrefix": "10.0.0.0/24"}})
		require.Contains(t, []int{200, 201}, status, string(out))
		status, out = arm.arm("PUT", network+"/privateEndpoints/lab-pe", map[string]any{"location": "eastus", "properties": map[string]any{
			"subnet": map[string]any{"id": network + "/virtualNetworks/corp/subnets/default"},
			"privateLinkServiceConnections": []any{map[string]any{"name": "lab-pe-conn", "properties": map[string]any{
				"privateLinkServiceId": registryPath(rg, name), "groupIds": []string{"registry"}}}},
		}})
		require.Contains(t, []int{200, 201}, status, string(out))
		requireAdmitted(t, "vm-allowed")
		requireDenied(t, "vm-denied", vmDeniedAddr)

		status, out = arm.arm("DELETE", network+"/privateEndpoints/lab-pe", nil)
		require.Equal(t, 200, status, string(out))
		requireDenied(t, "vm-allowed", vmAllowedAddr)
	})

	t.Run("nothing was restarted", func(t *testing.T) {
		for _, s := range labServices {
			assert.Equal(t, "running 0", l.inspect(s, "{{.State.Status}} {{.RestartCount}}"), s)
			assert.Equal(t, started[s], l.inspect(s, "{{.State.StartedAt}}"), s)
		}
	})
}

type whoamiBody struct {
	IP, Source string
}
