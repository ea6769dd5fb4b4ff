package registry

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const disallowedBody = `{"errors":[{"code":"REGISTRY_DISALLOWED_OPERATION","message":"The operation is disallowed on this registry, repository or image. View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation","detail":{}}]}` + "\n"

// patch sends a PATCH of changeable attributes and requires 200.
func (e *testEnv) patch(path, body string) map[string]any {
	e.t.Helper()
	r := e.do(http.MethodPatch, path, strings.NewReader(body), merge(admin, http.Header{"Content-Type": {"application/json"}}))
	require.Equal(e.t, http.StatusOK, r.status, r.body)
	var out map[string]any
	require.NoError(e.t, json.Unmarshal([]byte(r.body), &out))
	return out
}

// platformImage is a random image whose config names a platform.
func platformImage(t *testing.T, arch, os string) v1.Image {
	t.Helper()
	img, err := random.Image(128, 2)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, os
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

func imageSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	raw, err := img.RawManifest()
	require.NoError(t, err)
	m, err := img.Manifest()
	require.NoError(t, err)
	size := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return size
}

type manifestListBody struct {
	Registry  string                  `json:"registry"`
	ImageName string                  `json:"imageName"`
	Manifests []acrManifestAttributes `json:"manifests"`
}

func manifestDigests(b manifestListBody) []string {
	out := []string{}
	for _, m := range b.Manifests {
		out = append(out, m.Digest)
	}
	return out
}

func TestACRManifests(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	amd := platformImage(t, "amd64", "linux")
	arm := platformImage(t, "arm64", "linux")
	e.pushAs("multi", "amd", amd)
	e.pushAs("multi", "arm", arm)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{Architecture: "amd64", OS: "linux"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{Architecture: "arm64", OS: "linux"}}},
	)
	idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	ref, err := name.NewTag(e.host + "/multi:latest")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, idx, remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1})))
	idxDigest, err := idx.Digest()
	require.NoError(t, err)
	all := []string{digestOf(t, amd), digestOf(t, arm), idxDigest.String()}
	sort.Strings(all)

	t.Run("list", func(t *testing.T) {
		var raw map[string]any
		e.getJSON("/acr/v1/multi/_manifests", admin, http.StatusOK, &raw)
		first := raw["manifests"].([]any)[0].(map[string]any)
		_, hasRefs := first["references"]
		assert.False(t, hasRefs, "the list has no references")

		var b manifestListBody
		e.getJSON("/acr/v1/multi/_manifests", admin, http.StatusOK, &b)
		assert.Equal(t, e.host, b.Registry)
		assert.Equal(t, "multi", b.ImageName)
		assert.Equal(t, all, manifestDigests(b), "ordered by digest")
		for _, m := range b.Manifests {
			assert.Regexp(t, acrTimePattern, m.CreatedTime)
			assert.Equal(t, allEnabled, m.ChangeableAttributes)
			switch m.Digest {
			case digestOf(t, amd):
				assert.Equal(t, []string{"amd"}, m.Tags)
				assert.Equal(t, "amd64", m.Architecture)
				assert.Equal(t, "linux", m.OS)
				assert.Equal(t, imageSize(t, amd), m.ImageSize)
				assert.Equal(t, "application/vnd.docker.distribution.manifest.v2+json", m.MediaType)
				assert.Equal(t, "application/vnd.docker.container.image.v1+json", m.ConfigMediaType)
			case idxDigest.String():
				assert.Equal(t, []string{"latest"}, m.Tags)
				assert.Empty(t, m.Architecture)
				assert.Equal(t, imageSize(t, amd)+imageSize(t, arm), m.ImageSize, "an index counts its images")
				assert.Equal(t, "application/vnd.oci.image.index.v1+json", m.MediaType)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		var b manifestListBody
		r := e.getJSON("/acr/v1/multi/_manifests?n=2", admin, http.StatusOK, &b)
		assert.Equal(t, all[:2], manifestDigests(b))
		assert.Equal(t, `</acr/v1/multi/_manifests?last=`+strings.Replace(all[1], ":", "%3A", 1)+`&n=2&orderby=>; rel="next"`, r.header.Get("Link"))
		r = e.getJSON("/acr/v1/multi/_manifests?n=2&last="+all[1], admin, http.StatusOK, &b)
		assert.Equal(t, all[2:], manifestDigests(b))
		assert.Empty(t, r.header.Get("Link"))

		e.getJSON("/acr/v1/multi/_manifests?orderby=timedesc", admin, http.StatusOK, &b)
		assert.Equal(t, idxDigest.String(), b.Manifests[0].Digest, "the index was stored last")
		e.getJSON("/acr/v1/multi/_manifests?orderby=timeasc&n=1", admin, http.StatusOK, &b)
		assert.Equal(t, digestOf(t, amd), b.Manifests[0].Digest)
	})

	t.Run("one", func(t *testing.T) {
		var b struct {
			Registry  string                `json:"registry"`
			ImageName string                `json:"imageName"`
			Manifest  acrManifestAttributes `json:"manifest"`
		}
		e.getJSON("/acr/v1/multi/_manifests/"+idxDigest.String(), admin, http.StatusOK, &b)
		assert.Equal(t, idxDigest.String(), b.Manifest.Digest)
		assert.Equal(t, []acrManifestReference{
			{Digest: digestOf(t, amd), Architecture: "amd64", OS: "linux"},
			{Digest: digestOf(t, arm), Architecture: "arm64", OS: "linux"},
		}, b.Manifest.References)
	})

	t.Run("patch", func(t *testing.T) {
		out := e.patch("/acr/v1/multi/_manifests/"+digestOf(t, arm), `{"listEnabled":false,"deleteEnabled":false}`)
		m := out["manifest"].(map[string]any)
		assert.Equal(t, map[string]any{"deleteEnabled": false, "writeEnabled": true, "readEnabled": true, "listEnabled": false}, m["changeableAttributes"])
		assert.Equal(t, "arm64", m["architecture"])

		var b manifestListBody
		e.getJSON("/acr/v1/multi/_manifests", admin, http.StatusOK, &b)
		assert.NotContains(t, manifestDigests(b), digestOf(t, arm), "unlisted")
		assert.Len(t, b.Manifests, 2)
		e.getJSON("/acr/v1/multi/_manifests/"+digestOf(t, arm), admin, http.StatusOK, &map[string]any{})
	})

	t.Run("bad bodies", func(t *testing.T) {
		for body, msg := range map[string]string{
			`{"quarantineState":"Passed"}`: `changeable attribute \"quarantineState\" is not supported`,
			`{"readEnabled":"no"}`:         `readEnabled must be a boolean`,
			`[true]`:                       `the request body must be a JSON object of changeable attributes`,
			`{`:                            `the request body must be a JSON object of changeable attributes`,
		} {
			r := e.do(http.MethodPatch, "/acr/v1/multi", strings.NewReader(body), admin)
			assert.Equal(t, http.StatusBadRequest, r.status, body)
			assert.Equal(t, `{"errors":[{"code":"UNSUPPORTED","message":"`+msg+`"}]}`+"\n", r.body, body)
		}
	})
}

func TestLocks(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	v1img := e.pushImage("app", "v1")
	other, err := random.Image(64, 1)
	require.NoError(t, err)
	pushOther := func(tag string) error {
		ref, err := name.NewTag(e.host + "/app:" + tag)
		require.NoError(t, err)
		return remote.Write(ref, other, remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1}))
	}
	manifestPath := "/v2/app/manifests/"

	t.Run("a locked tag is not overwritten nor deleted", func(t *testing.T) {
		out := e.patch("/acr/v1/app/_tags/v1", `{"writeEnabled":false}`)
		assert.Equal(t, map[string]any{"deleteEnabled": true, "writeEnabled": false, "readEnabled": true, "listEnabled": true}, out["tag"].(map[string]any)["changeableAttributes"])

		err := pushOther("v1")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "REGISTRY_DISALLOWED_OPERATION: The operation is disallowed on this registry, repository or image.")
		r := e.do(http.MethodDelete, "/acr/v1/app/_tags/v1", nil, admin)
		assert.Equal(t, http.StatusMethodNotAllowed, r.status)
		assert.Equal(t, disallowedBody, r.body)
		r = e.do(http.MethodDelete, manifestPath+digestOf(t, v1img), nil, admin)
		assert.Equal(t, http.StatusMethodNotAllowed, r.status, "deleting the manifest would delete the tag")
		r = e.do(http.MethodDelete, "/acr/v1/app", nil, admin)
		assert.Equal(t, http.StatusMethodNotAllowed, r.status)

		require.NoError(t, pushOther("v2"), "other tags stay writable")
		e.patch("/acr/v1/app/_tags/v1", `{"writeEnabled":true}`)
		require.NoError(t, pushOther("v1"))
		e.pushAs("app", "v1", v1img)
	})

	t.Run("unreadable manifest", func(t *testing.T) {
		e.patch("/acr/v1/app/_manifests/"+digestOf(t, v1img), `{"readEnabled":false}`)
		accept := http.Header{"Accept": {"application/vnd.docker.distribution.manifest.v2+json"}}
		for _, ref := range []string{"v1", digestOf(t, v1img)} {
			r := e.do(http.MethodGet, manifestPath+ref, nil, merge(admin, accept))
			assert.Equal(t, http.StatusMethodNotAllowed, r.status, ref)
			assert.Equal(t, disallowedBody, r.body)
			r = e.do(http.MethodHead, manifestPath+ref, nil, merge(admin, accept))
			assert.Equal(t, http.StatusMethodNotAllowed, r.status, ref)
		}
		assert.Equal(t, http.StatusOK, e.do(http.MethodGet, manifestPath+"v2", nil, merge(admin, accept)).status)
		r := e.do(http.MethodGet, manifestPath+"v1", nil, accept)
		assert.Equal(t, http.StatusUnauthorized, r.status, "credentials first")
		e.patch("/acr/v1/app/_manifests/"+digestOf(t, v1img), `{"readEnabled":true}`)
		assert.Equal(t, http.StatusOK, e.do(http.MethodGet, manifestPath+"v1", nil, merge(admin, accept)).status)
	})

	t.Run("unlisted tag", func(t *testing.T) {
		e.patch("/acr/v1/app/_tags/v2", `{"listEnabled":false}`)
		var list struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		e.getJSON("/v2/app/tags/list", admin, http.StatusOK, &list)
		assert.Equal(t, []string{"v1"}, list.Tags)
		var tags tagListBody
		e.getJSON("/acr/v1/app/_tags", admin, http.StatusOK, &tags)
		assert.Equal(t, []string{"v1"}, tagNames(tags))
		e.getJSON("/acr/v1/app/_tags/v2", admin, http.StatusOK, &map[string]any{})
		assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/v2/app/tags/list", nil, nil).status)
		e.patch("/acr/v1/app/_tags/v2", `{"listEnabled":true}`)
		e.getJSON("/v2/app/tags/list", admin, http.StatusOK, &list)
		assert.Equal(t, []string{"v1", "v2"}, list.Tags)
	})

	t.Run("locked repository", func(t *testing.T) {
		out := e.patch("/acr/v1/app", `{"writeEnabled":false,"deleteEnabled":false}`)
		assert.Equal(t, false, out["changeableAttributes"].(map[string]any)["writeEnabled"])
		require.Error(t, pushOther("v3"))
		assert.Equal(t, http.StatusMethodNotAllowed, e.do(http.MethodDelete, "/acr/v1/app/_tags/v2", nil, admin).status)
		assert.Equal(t, http.StatusMethodNotAllowed, e.do(http.MethodDelete, "/acr/v1/app", nil, admin).status)
		e.patch("/acr/v1/app", `{"writeEnabled":true}`)
		assert.Equal(t, http.StatusMethodNotAllowed, e.do(http.MethodDelete, "/acr/v1/app", nil, admin).status, "still undeletable")
		require.NoError(t, pushOther("v3"), "individual images can be updated")
		e.patch("/acr/v1/app", `{"deleteEnabled":true}`)
	})

	t.Run("manifest delete lock", func(t *testing.T) {
		d := digestOf(t, other)
		e.patch("/acr/v1/app/_manifests/"+d, `{"deleteEnabled":false}`)
		r := e.do(http.MethodDelete, manifestPath+d, nil, admin)
		assert.Equal(t, http.StatusMethodNotAllowed, r.status)
		assert.Equal(t, disallowedBody, r.body)
		e.patch("/acr/v1/app/_manifests/"+d, `{"deleteEnabled":true,"listEnabled":false}`)
		assert.Equal(t, http.StatusAccepted, e.do(http.MethodDelete, manifestPath+d, nil, admin).status)
		assert.Nil(t, e.reg.attrs.of("app"), "a deleted manifest's attributes go with it")
		require.NoError(t, pushOther("v4"))
		var b manifestListBody
		e.getJSON("/acr/v1/app/_manifests", admin, http.StatusOK, &b)
		assert.Contains(t, manifestDigests(b), d, "pushed again: listed again")
	})

	t.Run("deleted repository forgets its attributes", func(t *testing.T) {
		e.patch("/acr/v1/app/_tags/v1", `{"readEnabled":false}`)
		require.NotNil(t, e.reg.attrs.of("app"))
		assert.Equal(t, http.StatusAccepted, e.do(http.MethodDelete, "/acr/v1/app", nil, admin).status)
		assert.Nil(t, e.reg.attrs.of("app"))
	})
}

// Attributes are kept in the storage driver: on filesystem storage they
// survive a restart.
func TestLocksPersist(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = dir })
	img := e.pushImage("team/app", "v1")
	e.patch("/acr/v1/team/app/_tags/v1", `{"writeEnabled":false}`)
	e.patch("/acr/v1/team/app", `{"listEnabled":false}`)
	require.NoError(t, e.reg.Close())

	restarted := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = dir })
	var tag struct {
		Tag acrTagAttributes `json:"tag"`
	}
	restarted.getJSON("/acr/v1/team/app/_tags/v1", admin, http.StatusOK, &tag)
	assert.False(t, tag.Tag.ChangeableAttributes.WriteEnabled)
	var repo struct {
		ChangeableAttributes changeableAttributes `json:"changeableAttributes"`
	}
	restarted.getJSON("/acr/v1/team/app", admin, http.StatusOK, &repo)
	assert.False(t, repo.ChangeableAttributes.ListEnabled)
	ref, err := name.NewTag(restarted.host + "/team/app:v1")
	require.NoError(t, err)
	other, err := random.Image(64, 1)
	require.NoError(t, err)
	err = remote.Write(ref, other, remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1}))
	require.Error(t, err)
	_ = img
}

// The firewall is in front of PATCH like every other path.
func TestLocksFirewall(t *testing.T) {
	e := newEnv(t, Config{Name: testName, Rules: denyAll(), AdminUserEnabled: true, Passwords: [2]string{testPW1, testPW2}}, nil)
	for _, p := range []string{"/acr/v1/app", "/acr/v1/app/_tags/v1", "/acr/v1/app/_manifests/sha256:" + strings.Repeat("a", 64)} {
		r := e.do(http.MethodPatch, p, strings.NewReader(`{"writeEnabled":false}`), admin)
		assert.Equal(t, http.StatusForbidden, r.status, p)
		assert.Equal(t, deniedBody(natAddr), r.body)
	}
}

// TestUnlistedRepositoryLeavesTheCatalog: a repository whose listEnabled
// is false is left out of /v2/_catalog and /acr/v1/_catalog, and comes
// back when it is listed again.
func TestUnlistedRepositoryLeavesTheCatalog(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	e.pushImage("hidden", "v1")
	e.pushImage("shown", "v1")
	catalogs := func() (v2, acr []string) {
		t.Helper()
		var body struct {
			Repositories []string `json:"repositories"`
		}
		r := e.do(http.MethodGet, "/v2/_catalog", nil, admin)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.NoError(t, json.Unmarshal([]byte(r.body), &body))
		v2 = body.Repositories
		r = e.do(http.MethodGet, "/acr/v1/_catalog", nil, admin)
		require.Equal(t, http.StatusOK, r.status, r.body)
		body.Repositories = nil
		require.NoError(t, json.Unmarshal([]byte(r.body), &body))
		return v2, body.Repositories
	}
	tests := []struct {
		name  string
		patch string
		want  []string
	}{
		{"listed by default", "", []string{"hidden", "shown"}},
		{"unlisted", `{"listEnabled":false}`, []string{"shown"}},
		{"listed again", `{"listEnabled":true}`, []string{"hidden", "shown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.patch != "" {
				e.patch("/acr/v1/hidden", tt.patch)
			}
			v2, acr := catalogs()
			assert.Equal(t, tt.want, v2, "/v2/_catalog")
			assert.Equal(t, tt.want, acr, "/acr/v1/_catalog")
		})
	}
}

// TestManifestByTag: ACR's API takes a tag wherever it takes a manifest
// digest; reading and patching by tag reach the manifest the tag points at.
func TestManifestByTag(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	img := e.pushImage("app", "v1")
	d, err := img.Digest()
	require.NoError(t, err)
	get := func(ref string) map[string]any {
		t.Helper()
		r := e.do(http.MethodGet, "/acr/v1/app/_manifests/"+ref, nil, admin)
		require.Equal(t, http.StatusOK, r.status, r.body)
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.body), &out))
		return out["manifest"].(map[string]any)
	}
	byTag, byDigest := get("v1"), get(d.String())
	assert.Equal(t, d.String(), byTag["digest"])
	assert.Equal(t, byDigest, byTag)

	e.patch("/acr/v1/app/_manifests/v1", `{"deleteEnabled":false}`)
	assert.Equal(t, false, get(d.String())["changeableAttributes"].(map[string]any)["deleteEnabled"], "the patch by tag reached the manifest")
}
