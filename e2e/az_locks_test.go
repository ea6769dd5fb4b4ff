//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// disallowedMessage is ACR's message for an operation a lock refuses.
const disallowedMessage = "The operation is disallowed on this registry, repository or image. View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation"

// TestAzLocks locks an image the way release pipelines do, with the real
// az 2.45 and the real docker: az acr repository update --write-enabled
// false, then a docker push over the tag is refused with ACR's message;
// az acr repository show-manifests and az acr manifest list-metadata,
// show-metadata and update-metadata read and set the attributes through
// /acr/v1/…/_manifests; a manifest locked with --delete-enabled false is
// not deleted; unlocked, everything works again. With the firewall
// closed, the metadata API answers 403 before any credential is read.
func TestAzLocks(t *testing.T) {
	in := startAcremu(t)
	az := newAzCLI(t, in)
	d := newDocker(t)
	const rg, reg, repo = "acremu", "myregistry", "release/app"
	host := in.Host()
	password := in.adminPassword(rg, reg)
	image := host + "/" + repo + ":1.0.0"

	d.run("login", host, "-u", reg, "-p", password).MustSucceed(t)
	d.importImage(image, "release 1.0.0\n")
	d.must("push", image)

	t.Run("lock the tag", func(t *testing.T) {
		tag := az.json(t, "acr", "repository", "update", "-n", reg, "--image", repo+":1.0.0", "--write-enabled", "false")
		require.Equal(t, "1.0.0", tag.Str("name"), tag)
		require.False(t, tag.Bool("changeableAttributes", "writeEnabled"), tag)
		require.True(t, tag.Bool("changeableAttributes", "deleteEnabled"), tag)

		d.importImage(image, "a different build\n")
		r := d.run("push", image)
		require.Error(t, r.Err, r.Combined)
		require.Contains(t, r.Combined, "unknown: "+disallowedMessage)
		d.must("pull", image) // the locked tag still names the release
	})

	var dgst string
	t.Run("show-manifests", func(t *testing.T) {
		list := az.json(t, "acr", "repository", "show-manifests", "-n", reg, "--repository", repo)
		require.Equal(t, 1, list.Len(), list)
		require.Equal(t, []string{"1.0.0"}, list.Strings("", 0, "tags"), list)
		require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`, list.Str(0, "timestamp"))
		dgst = list.Str(0, "digest")
		require.Regexp(t, `^sha256:[0-9a-f]{64}$`, dgst)

		detail := az.json(t, "acr", "repository", "show-manifests", "-n", reg, "--repository", repo, "--detail", "--orderby", "time_desc")
		require.Equal(t, dgst, detail.Str(0, "digest"), detail)
		require.Equal(t, "amd64", detail.Str(0, "architecture"), detail)
		require.Equal(t, "linux", detail.Str(0, "os"), detail)
	})

	t.Run("manifest metadata", func(t *testing.T) {
		list := az.json(t, "acr", "manifest", "list-metadata", "-r", reg, "-n", repo)
		require.Equal(t, []string{dgst}, list.Strings("digest"), list)
		require.Equal(t, "application/vnd.docker.distribution.manifest.v2+json", list.Str(0, "mediaType"), list)
		require.Equal(t, "application/vnd.docker.container.image.v1+json", list.Str(0, "configMediaType"), list)
		size, _ := list.Get(0, "imageSize").v.(float64)
		require.Greater(t, size, float64(0), list)
		require.True(t, list.Bool(0, "changeableAttributes", "writeEnabled"), "the manifest is not locked, its tag is")

		m := az.json(t, "acr", "manifest", "show-metadata", "-r", reg, "-n", repo+"@"+dgst)
		require.Equal(t, dgst, m.Str("digest"), m)
		require.Equal(t, []string{"1.0.0"}, m.Strings("", "tags"), m)

		tag := az.json(t, "acr", "manifest", "show-metadata", "-r", reg, "-n", repo+":1.0.0")
		require.Equal(t, dgst, tag.Str("digest"), tag)
		require.False(t, tag.Bool("changeableAttributes", "writeEnabled"), tag)

		m = az.json(t, "acr", "manifest", "update-metadata", "-r", reg, "-n", repo+"@"+dgst, "--delete-enabled", "false")
		require.False(t, m.Bool("changeableAttributes", "deleteEnabled"), m)
		require.True(t, m.Bool("changeableAttributes", "writeEnabled"), m)
	})

	t.Run("unlock the tag: push works, the manifest stays undeletable", func(t *testing.T) {
		az.json(t, "acr", "repository", "update", "-n", reg, "--image", repo+":1.0.0", "--write-enabled", "true")
		d.importImage(image, "release 1.0.0, rebuilt\n") // the pull above brought the release back
		d.must("push", image)
		rebuilt := az.json(t, "acr", "manifest", "show-metadata", "-r", reg, "-n", repo+":1.0.0")
		require.NotEqual(t, dgst, rebuilt.Str("digest"), "the tag moved")

		res := az.fail(t, "acr", "manifest", "delete", "-r", reg, "-n", repo+"@"+dgst, "--yes")
		require.Contains(t, res.Stderr, "Error: "+disallowedMessage, res.String())
		res = az.fail(t, "acr", "repository", "delete", "-n", reg, "--repository", repo, "--yes")
		require.Contains(t, res.Stderr, "Error: "+disallowedMessage, res.String())

		az.json(t, "acr", "manifest", "update-metadata", "-r", reg, "-n", repo+"@"+dgst, "--delete-enabled", "true")
		az.ok(t, "acr", "manifest", "delete", "-r", reg, "-n", repo+"@"+dgst, "--yes")
		list := az.json(t, "acr", "manifest", "list-metadata", "-r", reg, "-n", repo)
		require.Equal(t, []string{rebuilt.Str("digest")}, list.Strings("digest"), list)
	})

	t.Run("lock the repository", func(t *testing.T) {
		r := az.json(t, "acr", "repository", "update", "-n", reg, "--repository", repo, "--write-enabled", "false")
		require.Equal(t, repo, r.Str("imageName"), r)
		require.False(t, r.Bool("changeableAttributes", "writeEnabled"), r)
		d.importImage(host+"/"+repo+":1.0.1", "release 1.0.1\n")
		push := d.run("push", host+"/"+repo+":1.0.1")
		require.Error(t, push.Err, push.Combined)
		require.Contains(t, push.Combined, "unknown: "+disallowedMessage)
		az.json(t, "acr", "repository", "update", "-n", reg, "--repository", repo, "--write-enabled", "true")
		d.must("push", host+"/"+repo+":1.0.1")
	})

	t.Run("denied by the firewall", func(t *testing.T) {
		az.json(t, "acr", "update", "--name", reg, "--default-action", "Deny")
		res := az.fail(t, "acr", "repository", "update", "-n", reg, "--image", repo+":1.0.0", "--write-enabled", "false")
		require.Contains(t, res.Stderr, fmt.Sprintf("Looks like you don't have access to registry '%s'.", host), res.String())

		req, err := http.NewRequest(http.MethodPatch, "https://"+host+"/acr/v1/"+repo+"/_tags/1.0.0", strings.NewReader(`{"writeEnabled":false}`))
		require.NoError(t, err)
		req.SetBasicAuth(reg, password)
		resp, err := in.TLSClient().Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.JSONEq(t, `{"errors":[{"code":"DENIED","message":"client with IP '`+natAddr+`' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`, string(body))

		r := d.run("push", image)
		require.Error(t, r.Err, r.Combined)
		require.Contains(t, r.Combined, deniedMessage)
	})
}
