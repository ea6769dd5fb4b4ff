//go:build e2e

package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAzImport promotes an image between two registries with the real az
// 2.45 and pulls it with the real docker: az acr import by login server
// (az turns it into the source's resource ID) and by --registry <resource
// id>; the NoForce conflict and --force; a source whose firewall denies
// everyone lets the import service through only while it allows trusted
// services. The login servers are 127.0.0.1:<port> because az refuses a
// --source registry without a dot in its name.
func TestAzImport(t *testing.T) {
	in := startAcremu(t, "--public-host", "127.0.0.1")
	az := newAzCLI(t, in)
	d := newDocker(t)
	const rg, src, dst = "rg", "importsrc", "importdst"

	az.ok(t, "group", "create", "-n", rg, "-l", "eastus")
	login := map[string]string{}
	for _, n := range []string{src, dst} {
		r := az.json(t, "acr", "create", "-n", n, "-g", rg, "--sku", "Premium", "--admin-enabled", "true")
		login[n] = r.Str("loginServer")
		require.Regexp(t, `^127\.0\.0\.1:\d+$`, login[n])
		d.run("login", login[n], "-u", n, "-p", in.adminPassword(rg, n)).MustSucceed(t)
	}
	image := login[src] + "/release/app:1.0.0"
	d.importImage(image, "release 1.0.0\n")
	pushed := digestOf(t, d.must("push", image))
	srcID := registryPath(rg, src)

	pull := func(t *testing.T, ref string) string {
		t.Helper()
		return digestOf(t, d.pullFresh(login[dst]+"/"+ref).MustSucceed(t).Combined)
	}

	t.Run("by login server", func(t *testing.T) {
		az.ok(t, "acr", "import", "-n", dst, "--source", image, "--image", "app:1.0.0")
		require.Equal(t, pushed, pull(t, "app:1.0.0"))
	})
	t.Run("by --registry resource id", func(t *testing.T) {
		az.ok(t, "acr", "import", "-n", dst, "--registry", srcID, "--source", "release/app:1.0.0", "--image", "byid/app:1.0.0")
		require.Equal(t, pushed, pull(t, "byid/app:1.0.0"))
	})
	t.Run("with the source's admin credentials", func(t *testing.T) {
		az.ok(t, "acr", "import", "-n", dst, "--source", image, "--image", "creds/app:1.0.0",
			"--username", src, "--password", in.adminPassword(rg, src))
		require.Equal(t, pushed, pull(t, "creds/app:1.0.0"))
	})
	t.Run("NoForce onto an existing tag, then --force", func(t *testing.T) {
		other := login[src] + "/release/app:2.0.0"
		d.importImage(other, "release 2.0.0\n")
		second := digestOf(t, d.must("push", other))
		res := az.fail(t, "acr", "import", "-n", dst, "--source", other, "--image", "app:1.0.0")
		require.Contains(t, res.Stderr, "(Conflict) Tag app:1.0.0 already exists in target registry.", res.String())
		require.Equal(t, pushed, pull(t, "app:1.0.0"), "nothing was copied")
		az.ok(t, "acr", "import", "-n", dst, "--source", other, "--image", "app:1.0.0", "--force")
		require.Equal(t, second, pull(t, "app:1.0.0"))
	})
	t.Run("a source image that does not exist", func(t *testing.T) {
		res := az.fail(t, "acr", "import", "-n", dst, "--registry", srcID, "--source", "release/app:nope", "--image", "x:1")
		require.Contains(t, res.Stderr, "(InvalidParameters) Operation registries-", res.String())
		require.Contains(t, res.Stderr, "Source image "+login[src]+"/release/app:nope not found.", res.String())
	})

	t.Run("source firewall: trusted services allowed, then not", func(t *testing.T) {
		az.ok(t, "acr", "update", "-n", src, "--default-action", "Deny", "--allow-trusted-services", "true")
		az.ok(t, "acr", "import", "-n", dst, "--registry", srcID, "--source", "release/app:1.0.0", "--image", "fw/app:allowed")
		require.Equal(t, pushed, pull(t, "fw/app:allowed"))

		az.ok(t, "acr", "update", "-n", src, "--allow-trusted-services", "false")
		res := az.fail(t, "acr", "import", "-n", dst, "--registry", srcID, "--source", "release/app:1.0.0", "--image", "fw/app:denied")
		require.Contains(t, res.Stderr, "(InvalidParameters) Operation registries-", res.String())
		require.Contains(t, res.Stderr, "Invalid message Forbidden Forbidden", res.String())
		require.Contains(t, res.Stderr, `"code":"DENIED"`, res.String())
		require.Contains(t, res.Stderr, "is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", res.String())
		r := d.pullFresh(login[dst] + "/fw/app:denied")
		require.Error(t, r.Err, r.Combined)
	})
	t.Run("source with public access disabled passes as a trusted service", func(t *testing.T) {
		az.ok(t, "acr", "update", "-n", src, "--public-network-enabled", "false", "--allow-trusted-services", "true")
		az.ok(t, "acr", "import", "-n", dst, "--registry", srcID, "--source", "release/app:1.0.0", "--image", "fw/app:private")
		require.Equal(t, pushed, pull(t, "fw/app:private"))
	})
}

var dockerDigest = regexp.MustCompile(`(?m)^(?:latest: )?[^\n]*digest: (sha256:[0-9a-f]{64})|^Digest: (sha256:[0-9a-f]{64})`)

// digestOf finds the digest docker push or pull printed.
func digestOf(t *testing.T, out string) string {
	t.Helper()
	m := dockerDigest.FindStringSubmatch(out)
	require.NotNil(t, m, "no digest in docker output:\n%s", out)
	return strings.TrimSpace(m[1] + m[2])
}
