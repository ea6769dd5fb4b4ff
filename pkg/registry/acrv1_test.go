package registry

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/token"
)

// acrTimePattern is ACR's timestamp: UTC with seven fractional digits.
var acrTimePattern = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

// pushImage writes a small random image as repo:tag with the admin user
// and returns it.
func (e *testEnv) pushImage(repo, tag string) v1.Image {
	e.t.Helper()
	img, err := random.Image(256, 1)
	require.NoError(e.t, err)
	e.pushAs(repo, tag, img)
	return img
}

func (e *testEnv) pushAs(repo, tag string, img v1.Image) {
	e.t.Helper()
	ref, err := name.NewTag(e.host + "/" + repo + ":" + tag)
	require.NoError(e.t, err)
	require.NoError(e.t, remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1})))
}

func digestOf(t *testing.T, img v1.Image) string {
	t.Helper()
	d, err := img.Digest()
	require.NoError(t, err)
	return d.String()
}

// getJSON GETs path, requires status and decodes the body into v.
func (e *testEnv) getJSON(path string, hdr http.Header, status int, v any) response {
	e.t.Helper()
	r := e.do(http.MethodGet, path, nil, hdr)
	require.Equal(e.t, status, r.status, r.body)
	if strings.HasPrefix(path, "/acr/") {
		require.Equal(e.t, "application/json; charset=utf-8", r.header.Get("Content-Type"))
	}
	require.NoError(e.t, json.Unmarshal([]byte(r.body), v), r.body)
	return r
}

type catalogBody struct {
	Repositories []string `json:"repositories"`
}

type tagListBody struct {
	Registry  string             `json:"registry"`
	ImageName string             `json:"imageName"`
	Tags      []acrTagAttributes `json:"tags"`
}

func tagNames(b tagListBody) []string {
	out := []string{}
	for _, t := range b.Tags {
		out = append(out, t.Name)
	}
	return out
}

func TestParseACRPath(t *testing.T) {
	tests := []struct {
		path      string
		route     acrRoute
		name, tag string
		ok        bool
	}{
		{"/acr/v1/_catalog", acrCatalog, "", "", true},
		{"/acr/v1/hello", acrRepository, "hello", "", true},
		{"/acr/v1/samples/hello", acrRepository, "samples/hello", "", true},
		{"/acr/v1/samples/hello/_tags", acrTagList, "samples/hello", "", true},
		{"/acr/v1/samples/hello/_tags/v1", acrTag, "samples/hello", "v1", true},
		{"/acr/v1/", 0, "", "", false},
		{"/acr/v1/hello/_tags/", 0, "", "", false},
		{"/acr/v1/hello/_tags/a/b", 0, "", "", false},
		{"/acr/v1/hello/_manifests", acrManifestList, "hello", "", true},
		{"/acr/v1/a/b/_manifests/sha256:abc", acrManifest, "a/b", "sha256:abc", true},
		{"/acr/v1/hello/_manifests/", 0, "", "", false},
		{"/acr/v1/hello/_referrers", 0, "", "", false},
		{"/acr/v1/_deleted/_catalog", 0, "", "", false},
		{"/acr/v2/hello", 0, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			route, name, tag, ok := parseACRPath(tt.path)
			require.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.route, route)
			assert.Equal(t, tt.name, name)
			assert.Equal(t, tt.tag, tag)
		})
	}
}

func TestACRCatalog(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)

	var empty catalogBody
	r := e.getJSON("/acr/v1/_catalog", admin, http.StatusOK, &empty)
	assert.Equal(t, `{"repositories":[]}`, r.body, "an empty registry lists [] rather than null")

	for _, repo := range []string{"zeta", "alpha/one", "hello"} {
		e.pushImage(repo, "v1")
	}
	var all catalogBody
	e.getJSON("/acr/v1/_catalog", admin, http.StatusOK, &all)
	assert.Equal(t, []string{"alpha/one", "hello", "zeta"}, all.Repositories)
	var v2 catalogBody
	e.getJSON("/v2/_catalog", admin, http.StatusOK, &v2)
	assert.Equal(t, v2.Repositories, all.Repositories, "the same list as /v2/_catalog")

	// Pages of two, following the Link header as az does.
	var pages [][]string
	path := "/acr/v1/_catalog?n=2"
	for path != "" {
		var page catalogBody
		r := e.getJSON(path, admin, http.StatusOK, &page)
		pages = append(pages, page.Repositories)
		path = nextLink(t, r.header.Get("Link"))
	}
	assert.Equal(t, [][]string{{"alpha/one", "hello"}, {"zeta"}}, pages)

	r = e.getJSON("/acr/v1/_catalog?n=1", admin, http.StatusOK, &all)
	assert.Equal(t, `</acr/v1/_catalog?last=alpha%2Fone&n=1>; rel="next"`, r.header.Get("Link"))
	r = e.getJSON("/acr/v1/_catalog?n=3", admin, http.StatusOK, &all)
	assert.Empty(t, r.header.Get("Link"), "an exact last page has no successor")
	r = e.getJSON("/acr/v1/_catalog?n=0", admin, http.StatusOK, &all)
	assert.Equal(t, `{"repositories":[]}`, r.body)
}

// nextLink extracts the target of a rel="next" Link header ("" if none).
func nextLink(t *testing.T, h string) string {
	t.Helper()
	if h == "" {
		return ""
	}
	require.True(t, strings.HasPrefix(h, "<") && strings.HasSuffix(h, `>; rel="next"`), h)
	return h[1:strings.IndexByte(h, '>')]
}

func TestACRTags(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	first := e.pushImage("samples/hello", "v1")
	second := e.pushImage("samples/hello", "v2")
	e.pushAs("samples/hello", "latest", second)

	t.Run("shape", func(t *testing.T) {
		var raw map[string]any
		e.getJSON("/acr/v1/samples/hello/_tags", admin, http.StatusOK, &raw)
		assert.Equal(t, e.host, raw["registry"])
		assert.Equal(t, "samples/hello", raw["imageName"])
		tags := raw["tags"].([]any)
		require.Len(t, tags, 3)
		tag := tags[0].(map[string]any)
		keys := make([]string, 0, len(tag))
		for k := range tag {
			keys = append(keys, k)
		}
		assert.ElementsMatch(t, []string{"name", "digest", "createdTime", "lastUpdateTime", "signed", "changeableAttributes"}, keys)
		assert.Equal(t, false, tag["signed"])
		assert.Equal(t, map[string]any{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true}, tag["changeableAttributes"])

		var b tagListBody
		e.getJSON("/acr/v1/samples/hello/_tags", admin, http.StatusOK, &b)
		assert.Equal(t, []string{"latest", "v1", "v2"}, tagNames(b), "ordered by name")
		digests := map[string]string{}
		for _, tag := range b.Tags {
			digests[tag.Name] = tag.Digest
			assert.Regexp(t, acrTimePattern, tag.CreatedTime)
			assert.Regexp(t, acrTimePattern, tag.LastUpdateTime)
			assert.LessOrEqual(t, tag.CreatedTime, tag.LastUpdateTime)
		}
		assert.Equal(t, map[string]string{"v1": digestOf(t, first), "v2": digestOf(t, second), "latest": digestOf(t, second)}, digests)
	})

	t.Run("order by time", func(t *testing.T) {
		for _, tt := range []struct{ orderby, want string }{
			{"timedesc", "latest v2 v1"},
			{"timeasc", "v1 v2 latest"},
			{"none", "latest v1 v2"},
		} {
			var b tagListBody
			e.getJSON("/acr/v1/samples/hello/_tags?orderby="+tt.orderby, admin, http.StatusOK, &b)
			assert.Equal(t, tt.want, strings.Join(tagNames(b), " "), tt.orderby)
		}
	})

	t.Run("pages", func(t *testing.T) {
		for _, tt := range []struct{ query, want string }{
			{"n=2", "latest v1 | v2"},
			{"n=1&orderby=timedesc", "latest | v2 | v1"},
			{"n=1&digest=" + url.QueryEscape(digestOf(t, second)), "latest | v2"},
			{"n=5&last=m", "v1 v2"},
		} {
			var pages []string
			path := "/acr/v1/samples/hello/_tags?" + tt.query
			for path != "" {
				var b tagListBody
				r := e.getJSON(path, admin, http.StatusOK, &b)
				pages = append(pages, strings.Join(tagNames(b), " "))
				path = nextLink(t, r.header.Get("Link"))
			}
			assert.Equal(t, tt.want, strings.Join(pages, " | "), tt.query)
		}
		r := e.do(http.MethodGet, "/acr/v1/samples/hello/_tags?n=1&orderby=timeasc", nil, admin)
		assert.Equal(t, `</acr/v1/samples/hello/_tags?last=v1&n=1&orderby=timeasc>; rel="next"`, r.header.Get("Link"))
	})

	t.Run("one tag", func(t *testing.T) {
		var b struct {
			Registry  string           `json:"registry"`
			ImageName string           `json:"imageName"`
			Tag       acrTagAttributes `json:"tag"`
		}
		e.getJSON("/acr/v1/samples/hello/_tags/v1", admin, http.StatusOK, &b)
		assert.Equal(t, e.host, b.Registry)
		assert.Equal(t, "samples/hello", b.ImageName)
		assert.Equal(t, "v1", b.Tag.Name)
		assert.Equal(t, digestOf(t, first), b.Tag.Digest)
		assert.Equal(t, allEnabled, b.Tag.ChangeableAttributes)
	})

	t.Run("a retagged tag keeps its creation time", func(t *testing.T) {
		e.pushAs("samples/hello", "v1", second)
		var b struct{ Tag acrTagAttributes }
		e.getJSON("/acr/v1/samples/hello/_tags/v1", admin, http.StatusOK, &b)
		assert.Equal(t, digestOf(t, second), b.Tag.Digest)
		assert.Less(t, b.Tag.CreatedTime, b.Tag.LastUpdateTime)
	})
}

func TestACRRepositoryAttributes(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	before := time.Now().UTC()
	img := e.pushImage("hello", "v1")
	e.pushAs("hello", "v2", img)
	e.pushImage("hello", "v3")

	var raw map[string]any
	e.getJSON("/acr/v1/hello", admin, http.StatusOK, &raw)
	created, updated := raw["createdTime"].(string), raw["lastUpdateTime"].(string)
	assert.Regexp(t, acrTimePattern, created)
	assert.Regexp(t, acrTimePattern, updated)
	assert.Less(t, created, updated)
	assert.GreaterOrEqual(t, created, before.Format(acrTimeLayout))
	delete(raw, "createdTime")
	delete(raw, "lastUpdateTime")
	assert.Equal(t, map[string]any{
		"registry":             e.host,
		"imageName":            "hello",
		"manifestCount":        float64(2),
		"tagCount":             float64(3),
		"changeableAttributes": map[string]any{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true},
	}, raw)
}

func TestACRErrors(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	e.pushImage("hello", "v1")
	tests := []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"unknown repository", http.MethodGet, "/acr/v1/nosuch", http.StatusNotFound,
			`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"nosuch"}}]}`},
		{"tags of an unknown repository", http.MethodGet, "/acr/v1/nosuch/_tags", http.StatusNotFound,
			`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"nosuch"}}]}`},
		{"delete an unknown repository", http.MethodDelete, "/acr/v1/nosuch", http.StatusNotFound,
			`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"nosuch"}}]}`},
		{"unknown tag", http.MethodGet, "/acr/v1/hello/_tags/nosuch", http.StatusNotFound,
			`{"errors":[{"code":"TAG_UNKNOWN","message":"the specified tag does not exist"}]}`},
		{"untag an unknown tag", http.MethodDelete, "/acr/v1/hello/_tags/nosuch", http.StatusNotFound,
			`{"errors":[{"code":"TAG_UNKNOWN","message":"the specified tag does not exist"}]}`},
		{"invalid name", http.MethodGet, "/acr/v1/Hello", http.StatusBadRequest,
			`{"errors":[{"code":"NAME_INVALID","message":"invalid repository name"}]}`},
		{"invalid tag", http.MethodGet, "/acr/v1/hello/_tags/-x", http.StatusBadRequest,
			`{"errors":[{"code":"TAG_INVALID","message":"invalid tag name"}]}`},
		{"invalid n", http.MethodGet, "/acr/v1/_catalog?n=many", http.StatusBadRequest,
			`{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]}`},
		{"negative n", http.MethodGet, "/acr/v1/hello/_tags?n=-1", http.StatusBadRequest,
			`{"errors":[{"code":"PAGINATION_NUMBER_INVALID","message":"invalid number of results requested"}]}`},
		{"invalid orderby", http.MethodGet, "/acr/v1/hello/_tags?orderby=size", http.StatusBadRequest,
			`{"errors":[{"code":"UNSUPPORTED","message":"orderby \"size\" is not supported"}]}`},
		{"patch the catalog", http.MethodPatch, "/acr/v1/_catalog", http.StatusMethodNotAllowed,
			`{"errors":[{"code":"UNSUPPORTED","message":"the method is not supported on this endpoint"}]}`},
		{"unknown path", http.MethodGet, "/acr/v1/hello/_referrers", http.StatusNotFound,
			`{"errors":[{"code":"NOT_FOUND","message":"the requested resource was not found"}]}`},
		{"unknown manifest", http.MethodGet, "/acr/v1/hello/_manifests/sha256:" + strings.Repeat("0", 64), http.StatusNotFound,
			`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`},
		{"neither digest nor tag", http.MethodGet, "/acr/v1/hello/_manifests/bad:ref", http.StatusBadRequest,
			`{"errors":[{"code":"DIGEST_INVALID","message":"\u0027bad:ref\u0027 is not a valid digest (want \u003calgorithm\u003e:\u003chex\u003e, e.g. sha256:…): unsupported digest algorithm"}]}`},
		{"unknown tag as manifest reference", http.MethodGet, "/acr/v1/hello/_manifests/nosuch", http.StatusNotFound,
			`{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`},
		{"manifests of an unknown repository", http.MethodGet, "/acr/v1/nosuch/_manifests", http.StatusNotFound,
			`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry","detail":{"name":"nosuch"}}]}`},
		{"invalid manifest orderby", http.MethodGet, "/acr/v1/hello/_manifests?orderby=size", http.StatusBadRequest,
			`{"errors":[{"code":"UNSUPPORTED","message":"orderby \"size\" is not supported"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, nil, admin)
			assert.Equal(t, tt.status, r.status)
			assert.Equal(t, tt.body+"\n", r.body)
		})
	}
	r := e.do(http.MethodPut, "/acr/v1/hello/_tags/v1", nil, admin)
	assert.Equal(t, "GET, PATCH, DELETE", r.header.Get("Allow"))
	r = e.do(http.MethodDelete, "/acr/v1/hello/_manifests", nil, admin)
	assert.Equal(t, "GET", r.header.Get("Allow"))
}

// Each route needs its own action; a token for another one, or for
// another repository, gets ACR's 401 with the scope to ask for.
func TestACRAccess(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	e.pushImage("hello", "v1")
	repo := func(name string, actions ...string) token.Access {
		return token.Access{Type: "repository", Name: name, Actions: actions}
	}
	catalog := token.Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}
	tests := []struct {
		name, method, path string
		access             []token.Access // nil: no credentials
		status             int
		scope              string // of the challenge, when 401
	}{
		{"catalog without credentials", http.MethodGet, "/acr/v1/_catalog", nil, http.StatusUnauthorized, "registry:catalog:*"},
		{"catalog with a pull token", http.MethodGet, "/acr/v1/_catalog", []token.Access{repo("hello", "pull")}, http.StatusUnauthorized, "registry:catalog:*"},
		{"catalog", http.MethodGet, "/acr/v1/_catalog", []token.Access{catalog}, http.StatusOK, ""},
		{"tags without credentials", http.MethodGet, "/acr/v1/hello/_tags", nil, http.StatusUnauthorized, "repository:hello:metadata_read"},
		{"tags with pull", http.MethodGet, "/acr/v1/hello/_tags", []token.Access{repo("hello", "pull", "push")}, http.StatusUnauthorized, "repository:hello:metadata_read"},
		{"tags of another repository", http.MethodGet, "/acr/v1/hello/_tags", []token.Access{repo("other", "metadata_read")}, http.StatusUnauthorized, "repository:hello:metadata_read"},
		{"tags", http.MethodGet, "/acr/v1/hello/_tags", []token.Access{repo("hello", "metadata_read")}, http.StatusOK, ""},
		{"one tag", http.MethodGet, "/acr/v1/hello/_tags/v1", []token.Access{repo("hello", "metadata_read")}, http.StatusOK, ""},
		{"repository", http.MethodGet, "/acr/v1/hello", []token.Access{repo("hello", "metadata_read")}, http.StatusOK, ""},
		{"unknown repository needs the scope first", http.MethodGet, "/acr/v1/nosuch", nil, http.StatusUnauthorized, "repository:nosuch:metadata_read"},
		{"untag with metadata_read", http.MethodDelete, "/acr/v1/hello/_tags/v1", []token.Access{repo("hello", "metadata_read")}, http.StatusUnauthorized, "repository:hello:delete"},
		{"delete with metadata_write", http.MethodDelete, "/acr/v1/hello", []token.Access{repo("hello", "metadata_read", "metadata_write")}, http.StatusUnauthorized, "repository:hello:delete"},
		{"metadata_read with a wildcard", http.MethodGet, "/acr/v1/hello", []token.Access{repo("hello", "*")}, http.StatusOK, ""},
		{"manifests", http.MethodGet, "/acr/v1/hello/_manifests", []token.Access{repo("hello", "metadata_read")}, http.StatusOK, ""},
		{"manifests with pull", http.MethodGet, "/acr/v1/hello/_manifests", []token.Access{repo("hello", "pull")}, http.StatusUnauthorized, "repository:hello:metadata_read"},
		{"patch with metadata_read", http.MethodPatch, "/acr/v1/hello", []token.Access{repo("hello", "metadata_read")}, http.StatusUnauthorized, "repository:hello:metadata_write"},
		{"patch a tag with push", http.MethodPatch, "/acr/v1/hello/_tags/v1", []token.Access{repo("hello", "pull", "push", "delete")}, http.StatusUnauthorized, "repository:hello:metadata_write"},
		{"patch", http.MethodPatch, "/acr/v1/hello/_tags/v1", []token.Access{repo("hello", "metadata_write")}, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr http.Header
			if tt.access != nil {
				hdr = bearer(accessToken(t, e.host, tt.access...))
			}
			r := e.do(tt.method, tt.path, nil, hdr)
			require.Equal(t, tt.status, r.status, r.body)
			if tt.status == http.StatusUnauthorized {
				assert.Contains(t, r.header.Get("Www-Authenticate"), `,scope="`+tt.scope+`"`)
				assert.Contains(t, r.body, `"code":"UNAUTHORIZED"`)
			}
		})
	}

	t.Run("anonymous pull covers metadata, as ACR grants it", func(t *testing.T) {
		cfg := defaultConfig()
		cfg.AnonymousPullEnabled = true
		a := newEnv(t, cfg, nil)
		a.pushImage("hello", "v1")
		q := url.Values{"service": {a.host}, "scope": {"repository:hello:metadata_read,pull"}}
		tok := tokenField(t, a.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, nil), "access_token")
		assert.Equal(t, http.StatusOK, a.do(http.MethodGet, "/acr/v1/hello/_tags", nil, bearer(tok)).status)
		assert.Equal(t, http.StatusOK, a.do(http.MethodGet, "/v2/hello/tags/list", nil, bearer(tok)).status)
		assert.Equal(t, http.StatusUnauthorized, a.do(http.MethodDelete, "/acr/v1/hello/_tags/v1", nil, bearer(tok)).status)
	})
}

// az acr repository show-tags / list / delete, request by request: the
// challenge, the ARM token exchange, an access token for the scope az
// asks for, then the metadata request with it.
func TestACRAzFlow(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	img := e.pushImage("samples/hello", "v1")

	r := e.do(http.MethodGet, "/v2/", nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	refresh := tokenField(t, exchange(e), "refresh_token")
	accessFor := func(scope string) http.Header {
		body, hdr := form("grant_type", "refresh_token", "service", e.host, "scope", scope, "refresh_token", refresh)
		return bearer(tokenField(t, e.do(http.MethodPost, "/oauth2/token", body, hdr), "access_token"))
	}

	var tags tagListBody
	e.getJSON("/acr/v1/samples/hello/_tags?n=100", accessFor("repository:samples/hello:metadata_read"), http.StatusOK, &tags)
	assert.Equal(t, []string{"v1"}, tagNames(tags))

	var repos catalogBody
	e.getJSON("/v2/_catalog?n=100", accessFor("registry:catalog:*"), http.StatusOK, &repos)
	assert.Equal(t, []string{"samples/hello"}, repos.Repositories)

	r = e.do(http.MethodDelete, "/acr/v1/samples/hello", nil, accessFor("repository:samples/hello:delete,metadata_read"))
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	assert.JSONEq(t, `{"manifestsDeleted":["`+digestOf(t, img)+`"],"tagsDeleted":["v1"]}`, r.body)
}

func TestACRFirewall(t *testing.T) {
	e := newEnv(t, Config{Name: testName, Rules: denyAll(), AdminUserEnabled: true, Passwords: [2]string{testPW1, testPW2}}, nil)
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/acr/v1/_catalog"},
		{http.MethodGet, "/acr/v1/hello"},
		{http.MethodGet, "/acr/v1/hello/_tags?n=100"},
		{http.MethodGet, "/acr/v1/hello/_tags/v1"},
		{http.MethodDelete, "/acr/v1/hello"},
		{http.MethodPatch, "/acr/v1/hello"},
		{http.MethodGet, "/acr/v1/hello/_manifests"},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(tt.method, tt.path, nil, admin)
			assert.Equal(t, http.StatusForbidden, r.status)
			assert.Equal(t, deniedBody(natAddr), r.body)
			assert.Empty(t, r.header.Values("Www-Authenticate"))
		})
	}
	assert.Equal(t, uint64(7), e.reg.Stats().Denied)
}

func TestACRUntag(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	img := e.pushImage("hello", "v1")
	e.pushAs("hello", "v2", img)

	r := e.do(http.MethodDelete, "/acr/v1/hello/_tags/v2", nil, admin)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	assert.Empty(t, r.body)

	var tags tagListBody
	e.getJSON("/acr/v1/hello/_tags", admin, http.StatusOK, &tags)
	assert.Equal(t, []string{"v1"}, tagNames(tags))
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, "/v2/hello/manifests/v2", nil, admin).status)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v2/hello/manifests/"+digestOf(t, img), nil, admin).status, "the manifest stays")
}

// Deleting a repository removes its manifests, tags and layer links the
// way distribution would, so nothing of it is served afterwards (not even
// from distribution's descriptor cache), and the same image can be pushed
// again and survives a restart.
func TestACRDeleteRepository(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = dir })
	img := e.pushImage("samples/hello", "v1")
	e.pushAs("samples/hello", "latest", img)
	other := e.pushImage("samples/hello", "v2")
	kept := e.pushImage("samples/kept", "v1")
	layers, err := img.Layers()
	require.NoError(t, err)
	layer, err := layers[0].Digest()
	require.NoError(t, err)
	// Read everything once, so distribution's cache knows it.
	require.Equal(t, http.StatusOK, e.do(http.MethodHead, "/v2/samples/hello/blobs/"+layer.String(), nil, admin).status)
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v2/samples/hello/manifests/"+digestOf(t, img), nil, admin).status)

	r := e.do(http.MethodDelete, "/acr/v1/samples/hello", nil, admin)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	var deleted struct {
		Manifests []string `json:"manifestsDeleted"`
		Tags      []string `json:"tagsDeleted"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.body), &deleted))
	assert.ElementsMatch(t, []string{digestOf(t, img), digestOf(t, other)}, deleted.Manifests)
	assert.Equal(t, []string{"latest", "v1", "v2"}, deleted.Tags)

	var repos catalogBody
	e.getJSON("/acr/v1/_catalog", admin, http.StatusOK, &repos)
	assert.Equal(t, []string{"samples/kept"}, repos.Repositories)
	e.getJSON("/v2/_catalog", admin, http.StatusOK, &repos)
	assert.Equal(t, []string{"samples/kept"}, repos.Repositories)
	for _, path := range []string{
		"/acr/v1/samples/hello",
		"/v2/samples/hello/manifests/v1",
		"/v2/samples/hello/manifests/" + digestOf(t, img),
		"/v2/samples/hello/blobs/" + layer.String(),
	} {
		assert.Equal(t, http.StatusNotFound, e.do(http.MethodGet, path, nil, admin).status, path)
	}
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v2/samples/kept/manifests/"+digestOf(t, kept), nil, admin).status)

	// Pushed again, the image is complete in storage: a fresh registry on
	// the same directory (a restart, with empty caches) serves it.
	e.pushAs("samples/hello", "v1", img)
	restarted := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = dir })
	ref, err := name.NewTag(restarted.host + "/samples/hello:v1")
	require.NoError(t, err)
	got, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1}))
	require.NoError(t, err)
	gotLayers, err := got.Layers()
	require.NoError(t, err)
	for _, l := range gotLayers {
		rc, err := l.Compressed()
		require.NoError(t, err)
		_, err = io.Copy(io.Discard, rc) // the digest is verified at the end
		require.NoError(t, err)
		require.NoError(t, rc.Close())
	}
	var tags tagListBody
	restarted.getJSON("/acr/v1/samples/hello/_tags", admin, http.StatusOK, &tags)
	assert.Equal(t, []string{"v1"}, tagNames(tags))
}
