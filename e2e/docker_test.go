//go:build e2e

package e2e

import (
	"archive/tar"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dockerEnv runs the docker CLI with a private config directory, so logins
// in tests never touch the user's credentials.
type dockerEnv struct {
	t   *testing.T
	env []string
}

func newDocker(t *testing.T) *dockerEnv {
	t.Helper()
	if _, err := os.Stat("/var/run/docker.sock"); err != nil {
		t.Fatalf("the docker daemon is not running (make test starts it): %v", err)
	}
	return &dockerEnv{t: t, env: []string{"DOCKER_CONFIG=" + t.TempDir()}}
}

// dockerCommandLimit bounds one docker command.
const dockerCommandLimit = 2 * time.Minute

func (d *dockerEnv) run(args ...string) result {
	d.t.Helper()
	return runCommand(d.t, command{name: "docker", args: args, env: d.env, timeout: dockerCommandLimit})
}

// must runs docker, requires success and returns what it printed.
func (d *dockerEnv) must(args ...string) string {
	d.t.Helper()
	return d.run(args...).MustSucceed(d.t).Combined
}

// importImage makes a one-file image with docker import (nothing can be
// pulled here) and tags it ref.
func (d *dockerEnv) importImage(ref, content string) {
	d.t.Helper()
	tarPath := filepath.Join(d.t.TempDir(), "rootfs.tar")
	f, err := os.Create(tarPath)
	require.NoError(d.t, err)
	tw := tar.NewWriter(f)
	require.NoError(d.t, tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content))}))
	_, err = io.WriteString(tw, content)
	require.NoError(d.t, err)
	require.NoError(d.t, tw.Close())
	require.NoError(d.t, f.Close())
	d.must("import", tarPath, ref)
}

// pullFresh removes ref locally and pulls it, so the pull really travels.
func (d *dockerEnv) pullFresh(ref string) result {
	d.t.Helper()
	d.run("rmi", "-f", ref)
	return d.run("pull", ref)
}

const deniedMessage = "denied: client with IP '" + natAddr + "' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."

// TestDockerSeedFlow walks ACR's "restrict access from selected public
// networks" flow with the real docker CLI and daemon.
func TestDockerSeedFlow(t *testing.T) {
	in := startAcremu(t)
	d := newDocker(t)
	const rg, name = "acremu", "myregistry"
	host := in.Host()
	password := in.adminPassword(rg, name)
	image := fmt.Sprintf("%s/samples/hello:v1", host)
	d.importImage(image, "hello from acremu\n")

	login := func() result {
		d.run("logout", host)
		return d.run("login", host, "-u", name, "-p", password)
	}
	requireAdmitted := func(t *testing.T) { d.requireAdmitted(t, login, image) }
	requireDenied := func(t *testing.T) { d.requireDenied(t, login, host, image) }
	// Keep a local copy under another name so the image can be restored
	// after a failed pull removed it.
	d.must("tag", image, localCopy(image))

	t.Run("allow by default", requireAdmitted)

	t.Run("deny without rules", func(t *testing.T) {
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
		requireDenied(t)
	})

	t.Run("rule with the NAT address admits", func(t *testing.T) {
		body := in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": natAddr}},
		}}})
		require.Contains(t, fmt.Sprint(body["properties"]), natAddr)
		requireAdmitted(t)
	})

	t.Run("removing the rule denies again", func(t *testing.T) {
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{}}}})
		requireDenied(t)
	})

	t.Run("public access disabled overrides a matching rule", func(t *testing.T) {
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": natAddr + "/32"}},
		}}})
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}})
		requireDenied(t)
	})

	t.Run("enabled and allow restores access", func(t *testing.T) {
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Enabled", "networkRuleSet": map[string]any{"defaultAction": "Allow"}}})
		requireAdmitted(t)
	})

	t.Run("kill -9 and restart keeps rules, credentials and images", func(t *testing.T) {
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": "203.0.113.0/24"}},
		}}})
		in.kill9()
		in.restart()
		status, out := in.arm("GET", registryPath(rg, name), nil)
		require.Equal(t, 200, status, string(out))
		require.Contains(t, string(out), `"value":"203.0.113.0/24"`)
		require.Contains(t, string(out), `"defaultAction":"Deny"`)
		require.Equal(t, password, in.adminPassword(rg, name))
		d.pullFresh(image).MustSucceed(t) // the daemon still holds the login
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{}}}})
		requireDenied(t)
	})

	t.Run("null-GUID login with a refresh token from /oauth2/exchange", func(t *testing.T) {
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Allow"}}})
		form := url.Values{"grant_type": {"access_token"}, "service": {host}, "tenant": {"22222222-2222-2222-2222-222222222222"}, "access_token": {in.armToken()}}
		resp, err := http.PostForm("http://"+host+"/oauth2/exchange", form)
		require.NoError(t, err)
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		require.NoError(t, decodeJSON(resp, &body))
		require.NotEmpty(t, body.RefreshToken)
		d.run("logout", host)
		d.run("login", host, "-u", "00000000-0000-0000-0000-000000000000", "-p", body.RefreshToken).MustSucceed(t)
		d.pullFresh(image).MustSucceed(t)
	})
}

func localCopy(image string) string {
	return "acremu-e2e-local/" + strings.ReplaceAll(image[strings.Index(image, "/")+1:], ":", "-") + ":keep"
}

// requireAdmitted: login (a fresh docker login) succeeds, and image can be
// pushed and pulled again from the registry.
func (d *dockerEnv) requireAdmitted(t *testing.T, login func() result, image string) {
	t.Helper()
	require.Contains(t, login().MustSucceed(t).Combined, "Login Succeeded")
	d.run("push", image).MustSucceed(t)
	d.pullFresh(image).MustSucceed(t)
}

// requireDenied: login and pull of image from host fail with ACR's
// firewall answer; the local copy of image is restored afterwards.
func (d *dockerEnv) requireDenied(t *testing.T, login func() result, host, image string) {
	t.Helper()
	r := login()
	require.Error(t, r.Err, r.Combined)
	// The daemon tries HTTPS first on "insecure" localhost registries,
	// and acremu speaks TLS on every port, so this is the https form of
	// ACR's message.
	require.Regexp(t, fmt.Sprintf(`login attempt to https?://%s/v2/ failed with status: 403 Forbidden`, regexp.QuoteMeta(host)), r.Combined)
	r = d.pullFresh(image)
	require.Error(t, r.Err, r.Combined)
	require.Contains(t, r.Combined, deniedMessage)
	d.must("tag", localCopy(image), image)
}
