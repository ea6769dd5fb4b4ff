//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The addresses of TestAzPrivateEndpoints: the namespace "corp" is in the
// virtual network corp; "svc" stands for trusted Azure services. Each
// leaves through its own NAT address, as VMs leave a virtual network.
const (
	corpSubnet = "10.77.1"
	svcSubnet  = "10.77.2"
	corpNAT    = "198.51.100.21"
	svcNAT     = "198.51.100.22"
)

// newAzNetworkCLI is newAzCLI for `az network` commands: Debian's az 2.45
// needs testdata/aznetcompat on its Python path to load them (see there).
// The network audit still runs: that module chains to it.
func newAzNetworkCLI(t *testing.T, in *instance) *azCLI {
	t.Helper()
	az := newAzCLI(t, in)
	compat, err := filepath.Abs(filepath.Join("testdata", "aznetcompat"))
	require.NoError(t, err)
	for i, kv := range az.env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok {
			az.env[i] = "PYTHONPATH=" + compat + string(os.PathListSeparator) + v
		}
	}
	return az
}

// startNetworkAcremu starts acremu listening on the corp link's root-side
// address first, so the registries' ports listen there (the namespaces
// reach them; nothing else on the machine's other interfaces does), and
// on loopback for az and the harness.
func startNetworkAcremu(t *testing.T, corp, svc *netns) *instance {
	t.Helper()
	in := &instance{t: t, DataDir: t.TempDir(), Port: freePort(t)}
	in.args = []string{"serve",
		"--data-dir", in.DataDir,
		"--listen", fmt.Sprintf("%s:%d", corp.HostAddr, in.Port),
		"--listen", fmt.Sprintf("127.0.0.1:%d", in.Port),
		"--registry-ports", "0",
		"--vnet", "corp=" + corpSubnet + ".0/24",
		"--trusted-service-network", svcSubnet + ".0/24",
		"--nat", "127.0.0.0/8=" + natAddr,
		"--nat", corpSubnet + ".0/24=" + corpNAT,
		"--nat", svcSubnet + ".0/24=" + svcNAT,
	}
	in.start()
	t.Cleanup(in.stop)
	return in
}

// nsRegistry is one registry as seen from the namespaces.
type nsRegistry struct {
	Name, Host, Password string
}

func (r nsRegistry) ref(tag string) string { return r.Host + "/hello:" + tag }

// TestAzPrivateEndpoints runs ACR's private endpoint and trusted service
// flows in network namespaces: every ARM call through the real az, every
// data-plane request by crane (or plain HTTP) from inside a namespace.
func TestAzPrivateEndpoints(t *testing.T) {
	requireNetnsPrivileges(t)
	pid := os.Getpid() % 100000
	corp := newNetns(t, fmt.Sprintf("acrcorp%d", pid), "corp", corpSubnet)
	// svc reaches the registries' ports on corp's root-side address
	// through its own link (the root namespace owns that address).
	svc := newNetns(t, fmt.Sprintf("acrsvc%d", pid), "svc", svcSubnet, corp.HostAddr+"/32")
	in := startNetworkAcremu(t, corp, svc)
	az := newAzNetworkCLI(t, in)

	const rg = "net"
	az.ok(t, "group", "create", "-n", rg, "-l", "eastus")
	registry := func(name string) nsRegistry {
		r := az.json(t, "acr", "create", "-n", name, "-g", rg, "--sku", "Premium", "--admin-enabled", "true")
		_, port, ok := strings.Cut(r.Str("loginServer"), ":")
		require.True(t, ok, r)
		pw := strings.TrimSpace(az.ok(t, "acr", "credential", "show", "-n", name, "--query", "passwords[0].value", "-o", "tsv").Stdout)
		return nsRegistry{Name: name, Host: corp.HostAddr + ":" + port, Password: pw}
	}
	regA, regB := registry("corpregistrya"), registry("corpregistryb")
	idA := strings.TrimSpace(az.ok(t, "acr", "show", "-n", regA.Name, "--query", "id", "-o", "tsv").Stdout)

	// The client in corp, logged in to both registries as their admin.
	client := craneIn(t, corp)
	for _, r := range []nsRegistry{regA, regB} {
		client.mustRun(t, "auth", "login", r.Host, "-u", r.Name, "-p", r.Password)
	}
	pull := func(t *testing.T, r nsRegistry) (result, string) {
		res := client.run(t, "export", r.ref("v1"), "-")
		return withData(res, func() (string, error) { return fileFromTar([]byte(res.Stdout)) })
	}
	admitted := func(t *testing.T, r nsRegistry, why string) {
		t.Helper()
		res, data := pull(t, r)
		require.NoError(t, res.Err, "%s: %s", why, res.Combined)
		require.Equal(t, clientContent(r.Name, "v1"), data)
	}
	denied := func(t *testing.T, r nsRegistry, ip, why string) {
		t.Helper()
		res, _ := pull(t, r)
		require.Error(t, res.Err, "%s: crane pulled:\n%s", why, res.Combined)
		require.Contains(t, res.Combined, fmt.Sprintf("DENIED: client with IP '%s' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", ip), why)
	}

	t.Run("seed both registries from corp while they are public", func(t *testing.T) {
		for _, r := range []nsRegistry{regA, regB} {
			layer := filepath.Join(t.TempDir(), "layer.tar")
			require.NoError(t, os.WriteFile(layer, tarWithFile(clientContent(r.Name, "v1")), 0o644))
			client.mustRun(t, "append", "-f", layer, "-t", r.ref("v1"))
			admitted(t, r, "public registry")
		}
	})

	t.Run("whoami from corp", func(t *testing.T) {
		resp, err := corp.HTTPClient(t).Get(fmt.Sprintf("http://%s:%d/_acremu/whoami", corp.HostAddr, in.Port))
		require.NoError(t, err)
		var who struct{ IP, Source, Network string }
		require.NoError(t, decodeJSON(resp, &who))
		require.Equal(t, corpNAT, who.IP)
		require.Equal(t, corp.Addr, who.Source)
		require.Equal(t, "corp", who.Network)
	})

	t.Run("public access disabled on A, B denies by default", func(t *testing.T) {
		res := az.ok(t, "acr", "update", "-n", regA.Name, "--public-network-enabled", "false", "--query", "publicNetworkAccess", "-o", "tsv")
		require.Equal(t, "Disabled", strings.TrimSpace(res.Stdout))
		res = az.ok(t, "acr", "update", "-n", regB.Name, "--default-action", "Deny", "--query", "networkRuleSet.defaultAction", "-o", "tsv")
		require.Equal(t, "Deny", strings.TrimSpace(res.Stdout))
		denied(t, regA, corpNAT, "no private endpoint yet: corp is public to A")
		denied(t, regB, corpNAT, "B has no rule for corp's NAT address")
	})

	t.Run("virtual network and subnet", func(t *testing.T) {
		v := az.json(t, "network", "vnet", "create", "-g", rg, "-n", "corp", "--address-prefix", "10.77.0.0/16")
		require.Equal(t, []string{"10.77.0.0/16"}, v.Strings("", "newVNet", "addressSpace", "addressPrefixes"), v)
		s := az.json(t, "network", "vnet", "subnet", "create", "-g", rg, "--vnet-name", "corp", "-n", "endpoints", "--address-prefixes", corpSubnet+".0/24")
		require.Equal(t, corpSubnet+".0/24", s.Str("addressPrefix"), s)
		require.Equal(t, "Succeeded", s.Str("provisioningState"), s)
	})

	createEndpoint := func(t *testing.T, name string, extra ...string) jsonValue {
		t.Helper()
		args := append([]string{"network", "private-endpoint", "create", "-g", rg, "-n", name,
			"--vnet-name", "corp", "--subnet", "endpoints",
			"--private-connection-resource-id", idA, "--group-id", "registry", "--connection-name", name}, extra...)
		return az.json(t, args...)
	}
	connections := func(t *testing.T) jsonValue {
		t.Helper()
		return az.json(t, "acr", "private-endpoint-connection", "list", "-r", regA.Name)
	}

	var first string
	t.Run("approved private endpoint: corp reaches A privately, B still judges its NAT address", func(t *testing.T) {
		pe := createEndpoint(t, "corp-to-a")
		require.Equal(t, "Approved", pe.Str("privateLinkServiceConnections", 0, "privateLinkServiceConnectionState", "status"), pe)
		require.Equal(t, idA, pe.Str("privateLinkServiceConnections", 0, "privateLinkServiceId"))
		list := connections(t)
		require.Equal(t, 1, list.Len(), list)
		first = list.Str(0, "name")
		require.True(t, strings.HasPrefix(first, "corp-to-a."), list)
		show := az.json(t, "acr", "private-endpoint-connection", "show", "-r", regA.Name, "-n", first)
		require.Equal(t, "Approved", show.Str("privateLinkServiceConnectionState", "status"), show)
		require.True(t, strings.HasSuffix(show.Str("privateEndpoint", "id"), "/privateEndpoints/corp-to-a"), show)

		admitted(t, regA, "approved endpoint, public access Disabled")
		denied(t, regB, corpNAT, "B has no endpoint from corp")
	})

	t.Run("reject: the next request is denied", func(t *testing.T) {
		c := az.json(t, "acr", "private-endpoint-connection", "reject", "-r", regA.Name, "-n", first, "--description", "not this one")
		require.Equal(t, "Rejected", c.Str("privateLinkServiceConnectionState", "status"), c)
		denied(t, regA, corpNAT, "rejected connection")
		az.fail(t, "acr", "private-endpoint-connection", "approve", "-r", regA.Name, "-n", first)
		denied(t, regA, corpNAT, "a rejected connection stays rejected")
	})

	var second string
	t.Run("manual request: pending admits nothing, approval admits", func(t *testing.T) {
		pe := createEndpoint(t, "corp-to-a-2", "--manual-request", "true", "--request-message", "please")
		require.Equal(t, "Pending", pe.Str("manualPrivateLinkServiceConnections", 0, "privateLinkServiceConnectionState", "status"), pe)
		for _, c := range connections(t).v.([]any) {
			if n := (jsonValue{c}).Str("name"); n != first {
				second = n
			}
		}
		require.True(t, strings.HasPrefix(second, "corp-to-a-2."), second)
		denied(t, regA, corpNAT, "pending connection")
		c := az.json(t, "acr", "private-endpoint-connection", "approve", "-r", regA.Name, "-n", second, "--description", "ok")
		require.Equal(t, "Approved", c.Str("privateLinkServiceConnectionState", "status"), c)
		admitted(t, regA, "newly approved endpoint")
		denied(t, regB, corpNAT, "B still has no endpoint from corp")
	})

	t.Run("delete the rejected connection, then the approved endpoint", func(t *testing.T) {
		az.ok(t, "acr", "private-endpoint-connection", "delete", "-r", regA.Name, "-n", first)
		require.Equal(t, []string{second}, connections(t).Strings("name"))
		admitted(t, regA, "the other endpoint is still approved")

		az.ok(t, "network", "private-endpoint", "delete", "-g", rg, "-n", "corp-to-a-2")
		require.Equal(t, 0, connections(t).Len())
		denied(t, regA, corpNAT, "endpoint deleted")
		az.ok(t, "network", "private-endpoint", "delete", "-g", rg, "-n", "corp-to-a")
		require.Equal(t, 0, az.json(t, "network", "private-endpoint", "list", "-g", rg).Len())
	})

	t.Run("trusted service: managed identity vs admin credentials", func(t *testing.T) {
		svcHTTP := svc.HTTPClient(t)
		front := fmt.Sprintf("http://%s:%d", corp.HostAddr, in.Port)
		imds := func(c *http.Client) (int, string) {
			req, err := http.NewRequest(http.MethodGet, front+"/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/", nil)
			require.NoError(t, err)
			req.Header.Set("Metadata", "true")
			resp, err := c.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			json.Unmarshal(b, &tok)
			return resp.StatusCode, tok.AccessToken
		}
		status, _ := imds(corp.HTTPClient(t))
		require.Equal(t, http.StatusForbidden, status, "the identity endpoint answers trusted-service sources only")
		status, miToken := imds(svcHTTP)
		require.Equal(t, http.StatusOK, status)
		require.NotEmpty(t, miToken)

		// The managed identity's ARM token becomes an ACR refresh token,
		// which crane then uses as the password of the null GUID.
		resp, err := svcHTTP.PostForm("http://"+regA.Host+"/oauth2/exchange", url.Values{
			"grant_type": {"access_token"}, "service": {regA.Host}, "access_token": {miToken}})
		require.NoError(t, err)
		var ex struct {
			RefreshToken string `json:"refresh_token"`
		}
		require.NoError(t, decodeJSON(resp, &ex))
		require.NotEmpty(t, ex.RefreshToken)

		withMI := craneIn(t, svc)
		withMI.mustRun(t, "auth", "login", regA.Host, "-u", nullGUID, "-p", ex.RefreshToken)
		withAdmin := craneIn(t, svc)
		withAdmin.mustRun(t, "auth", "login", regA.Host, "-u", regA.Name, "-p", regA.Password)
		pullAs := func(t *testing.T, c *clientCLI) (result, string) {
			res := c.run(t, "export", regA.ref("v1"), "-")
			return withData(res, func() (string, error) { return fileFromTar([]byte(res.Stdout)) })
		}
		requirePulled := func(t *testing.T, c *clientCLI, why string) {
			t.Helper()
			res, data := pullAs(t, c)
			require.NoError(t, res.Err, "%s: %s", why, res.Combined)
			require.Equal(t, clientContent(regA.Name, "v1"), data)
		}
		requireDenied := func(t *testing.T, c *clientCLI, why string) {
			t.Helper()
			res, _ := pullAs(t, c)
			require.Error(t, res.Err, "%s: crane pulled:\n%s", why, res.Combined)
			assert.Contains(t, res.Combined, fmt.Sprintf("client with IP '%s' is not allowed access", svcNAT), why)
		}

		// A has public access Disabled and the default AzureServices.
		bypass := func(allow string) {
			res := az.ok(t, "acr", "update", "-n", regA.Name, "--allow-trusted-services", allow, "--query", "networkRuleBypassOptions", "-o", "tsv")
			want := map[string]string{"true": "AzureServices", "false": "None"}[allow]
			require.Equal(t, want, strings.TrimSpace(res.Stdout))
		}
		require.Equal(t, "AzureServices", az.json(t, "acr", "show", "-n", regA.Name).Str("networkRuleBypassOptions"))
		requirePulled(t, withMI, "AzureServices admits the trusted service's managed identity")
		requireDenied(t, withAdmin, "admin credentials are no trusted service")
		denied(t, regA, corpNAT, "corp is no trusted service")

		bypass("false")
		requireDenied(t, withMI, "None: the trusted service is judged like anyone")
		requireDenied(t, withAdmin, "None, admin credentials")

		bypass("true")
		requirePulled(t, withMI, "AzureServices again")
		requireDenied(t, withAdmin, "admin credentials are still no trusted service")
	})
}
