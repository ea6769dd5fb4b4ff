//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAzSeedFlow walks ACR's "Restrict access to an Azure container
// registry from selected public networks" with the real Azure CLI changing
// the rules and the real docker daemon being admitted or denied: az acr
// login runs docker login itself, and shows ACR's firewall message when
// acremu answers GET /v2/ with 403.
func TestAzSeedFlow(t *testing.T) {
	in := startAcremu(t)
	d := newDocker(t)
	az := newAzCLI(t, in, d.env...) // az acr login and the docker CLI share one config
	const reg = "mycontainerregistry"

	az.json(t, "group", "create", "-n", "rg", "-l", "eastus")
	created := az.json(t, "acr", "create", "-n", reg, "-g", "rg", "--sku", "Premium")
	host := created.Str("loginServer")
	require.Regexp(t, loginServerPattern, host)
	image := host + "/samples/hello:v1"
	d.importImage(image, "hello from az\n")
	d.must("tag", image, localCopy(image))
	t.Cleanup(func() { d.run("rmi", "-f", image, localCopy(image)) })

	firewallMessage := fmt.Sprintf("Looks like you don't have access to registry '%s'. To see configured firewall rules, run 'az acr show --query networkRuleSet --name %s'.", host, reg)
	var token string // an ACR refresh token from az acr login --expose-token

	requireAdmitted := func(t *testing.T) {
		t.Helper()
		d.run("logout", host)
		res := az.ok(t, "acr", "login", "-n", reg)
		require.Contains(t, res.Stdout+res.Stderr, "Login Succeeded", res.String())
		d.run("push", image).MustSucceed(t)
		d.pullFresh(image).MustSucceed(t)
	}
	requireDenied := func(t *testing.T) {
		t.Helper()
		d.run("logout", host)
		res := az.fail(t, "acr", "login", "-n", reg)
		require.Contains(t, res.Stderr, firewallMessage, res.String())
		// The daemon itself is refused, with credentials that were valid.
		r := d.run("login", host, "-u", nullGUID, "-p", token)
		require.Error(t, r.Err, r.Combined)
		require.Regexp(t, fmt.Sprintf(`login attempt to https?://%s/v2/ failed with status: 403 Forbidden`, regexp.QuoteMeta(host)), r.Combined)
		r = d.pullFresh(image)
		require.Error(t, r.Err, r.Combined)
		require.Contains(t, r.Combined, deniedMessage)
		d.must("tag", localCopy(image), image)
	}
	networkRuleSet := func(t *testing.T, v jsonValue) (string, []string) {
		t.Helper()
		for _, r := range v.Get("networkRuleSet", "ipRules").v.([]any) {
			require.Equal(t, "Allow", jsonValue{r}.Str("action"))
		}
		return v.Str("networkRuleSet", "defaultAction"), v.Strings("ipAddressOrRange", "networkRuleSet", "ipRules")
	}

	t.Run("public access by default", func(t *testing.T) {
		requireAdmitted(t)
		res := az.ok(t, "acr", "login", "-n", reg, "--expose-token", "--output", "json")
		var tok struct{ AccessToken, LoginServer string }
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &tok), res.String())
		require.Equal(t, host, tok.LoginServer)
		token = tok.AccessToken
		require.NotEmpty(t, token)
	})

	t.Run("default action Deny denies everyone", func(t *testing.T) {
		action, rules := networkRuleSet(t, az.json(t, "acr", "update", "--name", reg, "--default-action", "Deny"))
		require.Equal(t, "Deny", action)
		require.Empty(t, rules)
		requireDenied(t)
		res := az.fail(t, "acr", "login", "-n", reg, "--expose-token")
		require.Contains(t, res.Stderr, firewallMessage, res.String())
	})

	// The tutorial's "your public IP" is the address acremu's firewall sees.
	var myIP string
	t.Run("a rule for my address admits me", func(t *testing.T) {
		resp, err := http.Get(in.URL("/_acremu/whoami"))
		require.NoError(t, err)
		var who struct{ IP string }
		require.NoError(t, decodeJSON(resp, &who))
		myIP = who.IP
		require.Equal(t, natAddr, myIP)

		action, rules := networkRuleSet(t, az.json(t, "acr", "network-rule", "add", "--name", reg, "--ip-address", myIP))
		require.Equal(t, "Deny", action)
		require.Equal(t, []string{myIP}, rules)
		requireAdmitted(t)
	})

	t.Run("a CIDR range admits too", func(t *testing.T) {
		_, rules := networkRuleSet(t, az.json(t, "acr", "network-rule", "add", "--name", reg, "--ip-address", "203.0.113.0/24"))
		require.Equal(t, []string{myIP, "203.0.113.0/24"}, rules)

		list := az.json(t, "acr", "network-rule", "list", "--name", reg)
		require.Equal(t, []string{myIP, "203.0.113.0/24"}, list.Strings("ipAddressOrRange", "ipRules"))
		require.Equal(t, 0, list.Len("virtualNetworkRules"))

		_, rules = networkRuleSet(t, az.json(t, "acr", "network-rule", "remove", "--name", reg, "--ip-address", myIP))
		require.Equal(t, []string{"203.0.113.0/24"}, rules)
		requireAdmitted(t)
	})

	t.Run("removing the last rule denies again", func(t *testing.T) {
		action, rules := networkRuleSet(t, az.json(t, "acr", "network-rule", "remove", "--name", reg, "--ip-address", "203.0.113.0/24"))
		require.Equal(t, "Deny", action)
		require.Empty(t, rules)
		requireDenied(t)
	})

	t.Run("disabling public access overrides a matching rule", func(t *testing.T) {
		az.json(t, "acr", "network-rule", "add", "--name", reg, "--ip-address", myIP)
		res := az.ok(t, "acr", "update", "--name", reg, "--public-network-enabled", "false", "--output", "json")
		require.Contains(t, res.Stderr, firewallWarning)
		var v any
		require.NoError(t, json.Unmarshal([]byte(res.Stdout), &v))
		require.Equal(t, "Disabled", jsonValue{v}.Str("publicNetworkAccess"))
		_, rules := networkRuleSet(t, jsonValue{v})
		require.Equal(t, []string{myIP}, rules, "the rules are kept, only overridden")
		requireDenied(t)
	})

	t.Run("enabling public access restores the rules", func(t *testing.T) {
		r := az.json(t, "acr", "update", "--name", reg, "--public-network-enabled", "true")
		require.Equal(t, "Enabled", r.Str("publicNetworkAccess"))
		requireAdmitted(t)
	})

	t.Run("default action Allow without rules admits everyone", func(t *testing.T) {
		az.json(t, "acr", "network-rule", "remove", "--name", reg, "--ip-address", myIP)
		action, rules := networkRuleSet(t, az.json(t, "acr", "update", "--name", reg, "--default-action", "Allow"))
		require.Equal(t, "Allow", action)
		require.Empty(t, rules)
		requireAdmitted(t)
	})
}
