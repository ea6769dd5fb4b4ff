//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

const (
	tenant   = "22222222-2222-2222-2222-222222222222"
	nullGUID = "00000000-0000-0000-0000-000000000000"

	alreadyInUseMessage = "The registry DNS name %s.azurecr.io is already in use. You can check if the name is already claimed using following API: https://docs.microsoft.com/en-us/rest/api/containerregistry/registries/checknameavailability"
	basicPNAMessage     = "Disabling public network access is not supported for the SKU Basic. For more information, please visit https://aka.ms/acr/private-link."
	quotaMessage        = "The requested feature IP rule exceeds allowed quota 100 for the SKU Premium."
	firewallWarning     = "Disabling the public endpoint overrides all firewall configurations."
)

var loginServerPattern = regexp.MustCompile(`^localhost:\d+$`)

// TestAzCommands drives acremu's ARM surface with the real Azure CLI: every
// resource-group and registry command of the firewall tutorial except the
// network rules (TestAzSeedFlow covers those together with docker), with
// the JSON az prints and the errors it shows.
func TestAzCommands(t *testing.T) {
	in := startAcremu(t)
	az := newAzCLI(t, in)
	base := fmt.Sprintf("https://127.0.0.1:%d", in.Port)

	t.Run("az-login leaves a private offline profile logged in", func(t *testing.T) {
		require.Contains(t, az.LoginOutput, "az is logged in to acremu at "+base)
		require.Equal(t, "false", az.Getenv("AZURE_CORE_COLLECT_TELEMETRY"))
		require.Equal(t, "off", az.Getenv("AZURE_CORE_ERROR_RECOMMENDATION"))
		seed, err := os.ReadFile(filepath.Join(az.Getenv("AZURE_CONFIG_DIR"), "versionCheck.json"))
		require.NoError(t, err)
		require.Contains(t, string(seed), `"update_time":"2099-01-01`)
		ca, err := os.ReadFile(az.Getenv("REQUESTS_CA_BUNDLE"))
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join(in.DataDir, "ca.crt"))
		require.NoError(t, err)
		require.Equal(t, string(want), string(ca))

		cloud := az.json(t, "cloud", "show")
		require.Equal(t, "acremu", cloud.Str("name"))
		require.True(t, cloud.Bool("isActive"))
		require.Equal(t, base+"/", cloud.Str("endpoints", "resourceManager"))
		require.Equal(t, base+"/adfs", cloud.Str("endpoints", "activeDirectory"))
		require.Equal(t, base+"/", cloud.Str("endpoints", "activeDirectoryResourceId"))
		require.NotEmpty(t, cloud.Str("suffixes", "acrLoginServerEndpoint"))

		acct := az.json(t, "account", "show")
		require.Equal(t, subscription, acct.Str("id"))
		require.Equal(t, tenant, acct.Str("tenantId"))
		require.Equal(t, "AcrEmu Subscription", acct.Str("name"))
		require.Equal(t, "acremu", acct.Str("environmentName"))
		require.Equal(t, "Enabled", acct.Str("state"))
		require.Equal(t, clientID, acct.Str("user", "name"))
		require.Equal(t, "servicePrincipal", acct.Str("user", "type"))
	})

	t.Run("group create, show, list", func(t *testing.T) {
		g := az.json(t, "group", "create", "-n", "rg", "-l", "eastus")
		require.Equal(t, "/subscriptions/"+subscription+"/resourceGroups/rg", g.Str("id"))
		require.Equal(t, "rg", g.Str("name"))
		require.Equal(t, "eastus", g.Str("location"))
		require.Equal(t, "Microsoft.Resources/resourceGroups", g.Str("type"))
		require.Equal(t, "Succeeded", g.Str("properties", "provisioningState"))

		require.Equal(t, g.v, az.json(t, "group", "show", "-n", "rg").v)
		require.ElementsMatch(t, []string{"acremu", "rg"}, az.json(t, "group", "list").Strings("name"))
		az.armError(t, "ResourceGroupNotFound", "Resource group 'nosuchgroup' could not be found.", "group", "show", "-n", "nosuchgroup")
	})

	names := map[string]string{"Premium": "mycontainerregistry", "Standard": "mystandardregistry", "Basic": "mybasicregistry"}
	loginServers := map[string]string{}
	t.Run("acr create Premium, Standard and Basic", func(t *testing.T) {
		for _, sku := range []string{"Premium", "Standard", "Basic"} {
			n := names[sku]
			r := az.json(t, "acr", "create", "-n", n, "-g", "rg", "--sku", sku)
			require.Equal(t, registryPath("rg", n), r.Str("id"), r)
			require.Equal(t, n, r.Str("name"))
			require.Equal(t, "rg", r.Str("resourceGroup"))
			require.Equal(t, "eastus", r.Str("location"))
			require.Equal(t, "Microsoft.ContainerRegistry/registries", r.Str("type"))
			require.Equal(t, sku, r.Str("sku", "name"))
			require.Equal(t, sku, r.Str("sku", "tier"))
			require.Regexp(t, loginServerPattern, r.Str("loginServer"))
			require.Equal(t, "Succeeded", r.Str("provisioningState"), "read after the poll, not the 201's Creating")
			in.requireCreatePolled(t, n)
			require.False(t, r.Bool("adminUserEnabled"))
			require.False(t, r.Bool("anonymousPullEnabled"))
			require.Equal(t, "Allow", r.Str("networkRuleSet", "defaultAction"))
			require.Equal(t, 0, r.Len("networkRuleSet", "ipRules"))
			require.Equal(t, "Enabled", r.Str("publicNetworkAccess"))
			require.Equal(t, "AzureServices", r.Str("networkRuleBypassOptions"))
			require.Equal(t, clientID, r.Str("systemData", "createdBy"))
			loginServers[n] = r.Str("loginServer")
		}
		require.Len(t, loginServers, 3)
		require.NotEqual(t, loginServers[names["Premium"]], loginServers[names["Basic"]])
	})

	t.Run("acr show, list, check-name", func(t *testing.T) {
		r := az.json(t, "acr", "show", "-n", "mycontainerregistry") // no -g: az finds the group
		require.Equal(t, "rg", r.Str("resourceGroup"))
		require.Equal(t, loginServers["mycontainerregistry"], r.Str("loginServer"))

		require.ElementsMatch(t, []string{"myregistry", "mycontainerregistry", "mystandardregistry", "mybasicregistry"},
			az.json(t, "acr", "list").Strings("name"))
		require.ElementsMatch(t, []string{"mycontainerregistry", "mystandardregistry", "mybasicregistry"},
			az.json(t, "acr", "list", "-g", "rg").Strings("name"))

		taken := az.json(t, "acr", "check-name", "-n", "mycontainerregistry")
		require.False(t, taken.Bool("nameAvailable"), taken)
		require.Equal(t, "AlreadyExists", taken.Str("reason"))
		require.Equal(t, "The registry mycontainerregistry is already in use.", taken.Str("message"))
		free := az.json(t, "acr", "check-name", "-n", "myunclaimedregistry")
		require.True(t, free.Bool("nameAvailable"), free)
		require.True(t, free.IsNull("reason"))

		az.armError(t, "ResourceNotFound",
			"The Resource 'Microsoft.ContainerRegistry/registries/nosuchregistry' under resource group 'rg' was not found.",
			"acr", "show", "-n", "nosuchregistry", "-g", "rg")
	})

	t.Run("ARM errors as az shows them", func(t *testing.T) {
		// The name belongs to a registry in another group.
		az.armError(t, "AlreadyInUse", fmt.Sprintf(alreadyInUseMessage, "mycontainerregistry"),
			"acr", "create", "-n", "mycontainerregistry", "-g", "acremu", "--sku", "Basic")
		// az 2.45 sends publicNetworkAccess Disabled on create without a
		// client-side SKU check, so ACR's own error comes back.
		az.armError(t, "DisablingPublicNetworkAccessNotSupported", basicPNAMessage,
			"acr", "create", "-n", "mybasicprivate", "-g", "rg", "--sku", "Basic", "--public-network-enabled", "false")
		// On update az 2.45 also sets defaultAction Deny and stops at its
		// own Premium check before sending anything (as against Azure).
		res := az.fail(t, "acr", "update", "--name", "mybasicregistry", "--public-network-enabled", "false")
		require.Contains(t, res.Stderr, "Network rules are only supported for managed registries in Premium SKU.")
		az.armError(t, "AnonymousPullNotSupported", "Anonymous pull is not supported for the SKU Basic. It requires the Standard or Premium SKU.",
			"acr", "update", "--name", "mybasicregistry", "--anonymous-pull-enabled", "true")
		az.armError(t, "InvalidIpRule",
			"The IP rule value '10.1.2.3' is invalid: 10.1.2.3/32 overlaps the private range 10.0.0.0/8: only public IPv4 addresses and ranges are allowed.",
			"acr", "network-rule", "add", "--name", "mycontainerregistry", "--ip-address", "10.1.2.3")

		// The 101st rule: 100 set through ARM, the last one through az.
		rules := make([]map[string]string, 100)
		for i := range rules {
			rules[i] = map[string]string{"action": "Allow", "value": fmt.Sprintf("198.51.100.%d", i)}
		}
		in.patchRegistry("rg", "mycontainerregistry", map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"ipRules": rules}}})
		az.armError(t, "QuotaExceeded", quotaMessage,
			"acr", "network-rule", "add", "--name", "mycontainerregistry", "--ip-address", "198.51.100.200")
		after := in.patchRegistry("rg", "mycontainerregistry", map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"ipRules": []any{}}}})
		require.Equal(t, "Allow", jsonValue{after}.Str("properties", "networkRuleSet", "defaultAction"))
	})

	t.Run("acr update: public access, trusted services, anonymous pull", func(t *testing.T) {
		res := az.ok(t, "acr", "update", "--name", "mycontainerregistry", "--public-network-enabled", "false", "--output", "json")
		require.Contains(t, res.Stderr, firewallWarning)
		var r map[string]any
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &r))
		require.Equal(t, "Disabled", jsonValue{r}.Str("publicNetworkAccess"))
		require.Equal(t, "Deny", jsonValue{r}.Str("networkRuleSet", "defaultAction"))

		on := az.json(t, "acr", "update", "--name", "mycontainerregistry", "--public-network-enabled", "true")
		require.Equal(t, "Enabled", on.Str("publicNetworkAccess"))
		require.Equal(t, "Deny", on.Str("networkRuleSet", "defaultAction"), "enabling public access leaves the default action alone")

		bypass := az.json(t, "acr", "update", "--name", "mycontainerregistry", "--allow-trusted-services", "false")
		require.Equal(t, "None", bypass.Str("networkRuleBypassOptions"))

		anon := az.json(t, "acr", "update", "--name", "mystandardregistry", "--anonymous-pull-enabled", "true")
		require.True(t, anon.Bool("anonymousPullEnabled"))
		require.Equal(t, "Standard", anon.Str("sku", "name"))
		// The registry now hands pull tokens to clients without credentials.
		host := loginServers["mystandardregistry"]
		resp, err := in.TLSClient().Get("https://" + host + "/oauth2/token?service=" + host + "&scope=repository:samples/hello:pull")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)

		allow := az.json(t, "acr", "update", "--name", "mycontainerregistry", "--default-action", "Allow")
		require.Equal(t, "Allow", allow.Str("networkRuleSet", "defaultAction"))
	})

	var adminPassword string
	t.Run("admin user and credentials", func(t *testing.T) {
		res := az.fail(t, "acr", "credential", "show", "-n", "mycontainerregistry")
		require.Contains(t, res.Stderr, "Run 'az acr update -n mycontainerregistry --admin-enabled true' to enable admin first.")

		r := az.json(t, "acr", "update", "--name", "mycontainerregistry", "--admin-enabled", "true")
		require.True(t, r.Bool("adminUserEnabled"))

		creds := az.json(t, "acr", "credential", "show", "-n", "mycontainerregistry")
		require.Equal(t, "mycontainerregistry", creds.Str("username"))
		require.Equal(t, []string{"password", "password2"}, creds.Strings("name", "passwords"))
		pw := creds.Strings("value", "passwords")
		require.Len(t, pw[0], 52)
		require.NotEqual(t, pw[0], pw[1])

		renewed := az.json(t, "acr", "credential", "renew", "-n", "mycontainerregistry", "--password-name", "password2")
		got := renewed.Strings("value", "passwords")
		require.Equal(t, pw[0], got[0], "password is kept")
		require.NotEqual(t, pw[1], got[1], "password2 is new")

		host := loginServers["mycontainerregistry"]
		require.Equal(t, http.StatusOK, in.v2Status(t, host, "mycontainerregistry", got[1]))
		require.Equal(t, http.StatusUnauthorized, in.v2Status(t, host, "mycontainerregistry", pw[1]), "the old password2 no longer works")
		adminPassword = got[0]
	})

	t.Run("acr login --expose-token", func(t *testing.T) {
		res := az.ok(t, "acr", "login", "-n", "mycontainerregistry", "--expose-token", "--output", "json")
		require.Contains(t, res.Stderr, nullGUID)
		var tok struct{ AccessToken, LoginServer string }
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &tok), res.String())
		require.Equal(t, loginServers["mycontainerregistry"], tok.LoginServer)
		require.NotEmpty(t, tok.AccessToken)
		require.Equal(t, http.StatusOK, in.v2Status(t, tok.LoginServer, nullGUID, tok.AccessToken))

		// The default registry shares the front end's port with ARM.
		res = az.ok(t, "acr", "login", "-n", "myregistry", "--expose-token", "--output", "json")
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &tok), res.String())
		require.Equal(t, in.Host(), tok.LoginServer)
		require.Equal(t, http.StatusOK, in.v2Status(t, tok.LoginServer, nullGUID, tok.AccessToken))
	})

	t.Run("acr delete and group delete remove registries and images", func(t *testing.T) {
		host := loginServers["mycontainerregistry"]
		pushRandomImage(t, in, host+"/samples/deleted-with-its-registry:v1", "mycontainerregistry", adminPassword)
		// Storage is named by the registry's ID: find it by the repository.
		found, err := filepath.Glob(filepath.Join(in.DataDir, "registries", "*", "docker", "registry", "v2", "repositories", "samples", "deleted-with-its-registry"))
		require.NoError(t, err)
		require.Len(t, found, 1, "the pushed repository is in exactly one registry's storage")
		storage := filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(found[0]))))))
		require.DirExists(t, storage)

		res := az.ok(t, "acr", "delete", "-n", "mybasicregistry", "--yes")
		require.Empty(t, strings.TrimSpace(res.Stdout))
		az.armError(t, "ResourceNotFound",
			"The Resource 'Microsoft.ContainerRegistry/registries/mybasicregistry' under resource group 'rg' was not found.",
			"acr", "show", "-n", "mybasicregistry", "-g", "rg")

		res = az.ok(t, "group", "delete", "-n", "rg", "--yes")
		require.Empty(t, strings.TrimSpace(res.Stdout))
		require.Equal(t, []string{"acremu"}, az.json(t, "group", "list").Strings("name"))
		require.Equal(t, []string{"myregistry"}, az.json(t, "acr", "list").Strings("name"))
		require.NoDirExists(t, storage, "the registry's images are deleted with it")
		conn, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			conn.Close()
		}
		require.Error(t, err, "the deleted registry's port is closed")
	})
}

// v2Status sends GET /v2/ with Basic credentials to a registry over TLS.
func (in *instance) v2Status(t *testing.T, host, user, password string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "https://"+host+"/v2/", nil)
	require.NoError(t, err)
	req.SetBasicAuth(user, password)
	resp, err := in.TLSClient().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// pushRandomImage pushes a small random image with admin credentials.
func pushRandomImage(t *testing.T, in *instance, ref, user, password string) {
	t.Helper()
	img, err := random.Image(1024, 1)
	require.NoError(t, err)
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	tr := in.TLSClient().Transport
	require.NoError(t, remote.Write(tag, img, remote.WithAuth(&authn.Basic{Username: user, Password: password}), remote.WithTransport(tr)))
}
