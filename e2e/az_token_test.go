//go:build e2e

package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAzTokens runs az acr scope-map and az acr token with the real Azure
// CLI 2.45 and logs the real docker in with the token it made: the scope
// map decides what docker may do, and each change made through az (a
// wider scope map, a new password, a disabled token, a closed firewall)
// takes effect on docker's next command.
func TestAzTokens(t *testing.T) {
	start := time.Now()
	in := startAcremu(t)
	az := newAzCLI(t, in)
	d := newDocker(t)
	const rg, reg = "acremu", "myregistry"
	host := in.Host()
	hello := host + "/samples/hello:v1"
	hello2 := host + "/samples/hello:v2"
	other := host + "/samples/other:v1"

	// Seed images with the admin user.
	d.run("logout", host)
	d.must("login", host, "-u", reg, "-p", in.adminPassword(rg, reg))
	d.importImage(hello, "hello from a token test\n")
	d.must("push", hello)
	d.must("tag", hello, other)
	d.must("push", other)
	d.must("tag", hello, hello2)
	d.must("logout", host)

	t.Run("scope-map create, show, list", func(t *testing.T) {
		m := az.json(t, "acr", "scope-map", "create", "-n", "pullhello", "-r", reg,
			"--repository", "samples/hello", "content/read", "--description", "pull samples/hello")
		require.Equal(t, []string{"repositories/samples/hello/content/read"}, m.Strings("", "actions"), m)
		require.Equal(t, "Succeeded", m.Str("provisioningState"))

		show := az.json(t, "acr", "scope-map", "show", "-n", "pullhello", "-r", reg)
		require.Equal(t, "pull samples/hello", show.Str("description"), show)

		names := az.json(t, "acr", "scope-map", "list", "-r", reg).Strings("name")
		for _, n := range []string{"_repositories_admin", "_repositories_pull", "_repositories_pull_metadata_read",
			"_repositories_push", "_repositories_push_metadata_write", "pullhello"} {
			require.Contains(t, names, n)
		}
	})

	var password, password2 string
	t.Run("token create, show, list", func(t *testing.T) {
		tok := az.json(t, "acr", "token", "create", "-n", "citoken", "-r", reg, "--scope-map", "pullhello")
		require.Equal(t, "citoken", tok.Str("credentials", "username"), tok)
		require.Equal(t, 2, tok.Len("credentials", "passwords"))
		password = tok.Str("credentials", "passwords", 0, "value")
		password2 = tok.Str("credentials", "passwords", 1, "value")
		require.NotEmpty(t, password)
		require.Regexp(t, `/scopeMaps/pullhello$`, tok.Str("scopeMapId"))
		require.Equal(t, "enabled", tok.Str("status"))

		show := az.json(t, "acr", "token", "show", "-n", "citoken", "-r", reg)
		require.Equal(t, 2, show.Len("credentials", "passwords"), show)
		require.True(t, show.IsNull("credentials", "passwords", 0, "value"), "GET never shows a password")
		require.Equal(t, []string{"citoken"}, az.json(t, "acr", "token", "list", "-r", reg).Strings("name"))
	})

	login := func(pw string) result {
		d.run("logout", host)
		return d.run("login", host, "-u", "citoken", "-p", pw)
	}

	t.Run("docker login with the token: pull allowed, push refused", func(t *testing.T) {
		require.Contains(t, login(password).MustSucceed(t).Combined, "Login Succeeded")
		d.pullFresh(hello).MustSucceed(t)
		r := d.run("push", hello2)
		require.Error(t, r.Err, "push with a pull-only scope map: %s", r.Combined)
		require.Regexp(t, `denied|unauthorized|authentication required`, r.Combined)
		r = d.pullFresh(other)
		require.Error(t, r.Err, "pull of a repository outside the scope map: %s", r.Combined)
		d.must("tag", hello, other)
	})

	t.Run("scope-map update adds content/write: push allowed", func(t *testing.T) {
		m := az.json(t, "acr", "scope-map", "update", "-n", "pullhello", "-r", reg, "--add-repository", "samples/hello", "content/write")
		actions := m.Strings("", "actions")
		slices.Sort(actions)
		require.Equal(t, []string{"repositories/samples/hello/content/read", "repositories/samples/hello/content/write"}, actions, m)
		d.run("push", hello2).MustSucceed(t)
	})

	t.Run("token credential generate replaces password1 at once", func(t *testing.T) {
		cred := az.json(t, "acr", "token", "credential", "generate", "-n", "citoken", "-r", reg, "--password1")
		require.Equal(t, "citoken", cred.Str("username"), cred)
		require.Equal(t, 1, cred.Len("passwords"))
		fresh := cred.Str("passwords", 0, "value")
		require.NotEqual(t, password, fresh)
		r := login(password)
		require.Error(t, r.Err, "the old password1: %s", r.Combined)
		login(fresh).MustSucceed(t)
		r = login(password2)
		require.NoError(t, r.Err, "password2 is untouched: %s", r.Combined)
		password = fresh
	})

	t.Run("disabled token is refused", func(t *testing.T) {
		tok := az.json(t, "acr", "token", "update", "-n", "citoken", "-r", reg, "--status", "disabled")
		require.Equal(t, "disabled", tok.Str("status"), tok)
		r := login(password)
		require.Error(t, r.Err, r.Combined)
		require.Contains(t, r.Combined, "disabled")
		az.json(t, "acr", "token", "update", "-n", "citoken", "-r", reg, "--status", "enabled")
		login(password).MustSucceed(t)
	})

	t.Run("firewall denies before the token is looked at", func(t *testing.T) {
		in.patchRegistry(rg, reg, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
		r := login(password)
		require.Error(t, r.Err, r.Combined)
		require.Regexp(t, fmt.Sprintf(`login attempt to https?://%s/v2/ failed with status: 403 Forbidden`, regexp.QuoteMeta(host)), r.Combined)
		in.patchRegistry(rg, reg, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Allow"}}})
	})

	t.Run("token delete, scope-map delete", func(t *testing.T) {
		az.ok(t, "acr", "token", "delete", "-n", "citoken", "-r", reg, "--yes")
		require.Equal(t, 0, az.json(t, "acr", "token", "list", "-r", reg).Len())
		r := login(password)
		require.Error(t, r.Err, "a deleted token: %s", r.Combined)
		az.ok(t, "acr", "scope-map", "delete", "-n", "pullhello", "-r", reg, "--yes")
		require.NotContains(t, az.json(t, "acr", "scope-map", "list", "-r", reg).Strings("name"), "pullhello")
	})
	t.Logf("az token e2e took %v", time.Since(start).Round(time.Second))
}
