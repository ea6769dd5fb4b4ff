//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAzRepository runs az acr repository list, show-tags, show, untag and
// delete against the default registry, with the real Azure CLI under the
// network audit hook: az exchanges its ARM token at /oauth2/exchange, asks
// /oauth2/token for the scope of each command (registry:catalog:*,
// repository:<name>:metadata_read, repository:<name>:delete,metadata_read)
// and calls /v2/_catalog and ACR's metadata API /acr/v1/…. With the
// firewall closed, az is refused at its first request and shows ACR's
// firewall hint.
func TestAzRepository(t *testing.T) {
	in := startAcremu(t)
	az := newAzCLI(t, in)
	const reg = "myregistry"
	host := in.Host()
	password := in.adminPassword("acremu", reg)
	pushRandomImage(t, in, host+"/samples/hello:v1", reg, password)
	pushRandomImage(t, in, host+"/samples/hello:v2", reg, password)
	pushRandomImage(t, in, host+"/tools/curl:latest", reg, password)

	cmd := func(verb string, args ...string) []string {
		return append([]string{"acr", "repository", verb}, args...)
	}
	// hello names the repository; with extra flags it is a fresh slice.
	hello := func(extra ...string) []string {
		return append([]string{"-n", reg, "--repository", "samples/hello"}, extra...)
	}

	t.Run("list", func(t *testing.T) {
		require.Equal(t, []string{"samples/hello", "tools/curl"}, az.json(t, cmd("list", "-n", reg)...).Strings(""))
	})

	t.Run("show-tags", func(t *testing.T) {
		require.Equal(t, []string{"v1", "v2"}, az.json(t, cmd("show-tags", hello()...)...).Strings(""))
		require.Equal(t, []string{"v2", "v1"}, az.json(t, cmd("show-tags", hello("--orderby", "time_desc")...)...).Strings(""))
		require.Equal(t, []string{"v1"}, az.json(t, cmd("show-tags", hello("--top", "1")...)...).Strings(""))

		detail := az.json(t, cmd("show-tags", hello("--detail")...)...)
		require.Equal(t, []string{"v1", "v2"}, detail.Strings("name"), detail)
		require.Regexp(t, `^sha256:[0-9a-f]{64}$`, detail.Str(0, "digest"))
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`, detail.Str(0, "lastUpdateTime"))
		require.False(t, detail.Bool(0, "signed"))
		require.True(t, detail.Bool(0, "changeableAttributes", "deleteEnabled"))
	})

	t.Run("show", func(t *testing.T) {
		r := az.json(t, cmd("show", hello()...)...)
		require.Equal(t, host, r.Str("registry"), r)
		require.Equal(t, "samples/hello", r.Str("imageName"))
		require.Equal(t, float64(2), r.Get("tagCount").v)
		require.Equal(t, float64(2), r.Get("manifestCount").v)
		require.True(t, r.Bool("changeableAttributes", "listEnabled"))

		tag := az.json(t, cmd("show", "-n", reg, "--image", "samples/hello:v1")...)
		require.Equal(t, "v1", tag.Str("name"), tag)
		require.Regexp(t, `^sha256:`, tag.Str("digest"))
	})

	t.Run("untag", func(t *testing.T) {
		res := az.ok(t, cmd("untag", "-n", reg, "--image", "samples/hello:v2")...)
		require.Empty(t, res.Stdout)
		require.Equal(t, []string{"v1"}, az.json(t, cmd("show-tags", hello()...)...).Strings(""))
	})

	t.Run("delete", func(t *testing.T) {
		r := az.json(t, cmd("delete", hello("--yes")...)...)
		require.Equal(t, []string{"v1"}, r.Strings("", "tagsDeleted"), r)
		require.Equal(t, 2, r.Len("manifestsDeleted"), "the untagged manifest goes too")
		require.Equal(t, []string{"tools/curl"}, az.json(t, cmd("list", "-n", reg)...).Strings(""))

		res := az.fail(t, cmd("show-tags", hello()...)...)
		require.Contains(t, res.Stderr, "repository name not known to registry", res.String())
	})

	t.Run("denied by the firewall", func(t *testing.T) {
		az.json(t, "acr", "update", "--name", reg, "--default-action", "Deny")
		res := az.fail(t, cmd("list", "-n", reg)...)
		require.Contains(t, res.Stderr, fmt.Sprintf("Looks like you don't have access to registry '%s'. To see configured firewall rules, run 'az acr show --query networkRuleSet --name %s'.", host, reg), res.String())

		// What az was refused with, and what any metadata request gets.
		resp, err := in.TLSClient().Get("https://" + host + "/acr/v1/_catalog")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.JSONEq(t, `{"errors":[{"code":"DENIED","message":"client with IP '`+natAddr+`' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`, string(body))
	})
}
