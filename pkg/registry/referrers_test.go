package registry

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
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
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/token"
)

const (
	typeSBOM      = "application/vnd.example.sbom.v1"
	typeSignature = "application/vnd.example.signature.v1"
	typeConfig    = "application/vnd.example.config.v1+json"
)

var (
	admin   = basic(testName, testPW1)
	specsV2 = specs.Versioned{SchemaVersion: 2}
)

// with returns e reporting to t, for use in subtests.
func (e *testEnv) with(t *testing.T) *testEnv {
	c := *e
	c.t = t
	return &c
}

// pushBlob uploads data to repo in one POST and one PUT.
func (e *testEnv) pushBlob(repo string, data []byte) ocispec.Descriptor {
	e.t.Helper()
	r := e.do(http.MethodPost, "/v2/"+repo+"/blobs/uploads/", nil, admin)
	require.Equal(e.t, http.StatusAccepted, r.status, r.body)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(e.t, err)
	d := digest.FromBytes(data)
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	r = e.do(http.MethodPut, loc.RequestURI(), bytes.NewReader(data), admin)
	require.Equal(e.t, http.StatusCreated, r.status, r.body)
	return ocispec.Descriptor{Digest: d, Size: int64(len(data))}
}

// putManifest PUTs m (marshalled) as ref and returns the response and the
// manifest's descriptor.
func (e *testEnv) putManifest(repo, ref, mediaType string, m any) (response, ocispec.Descriptor) {
	e.t.Helper()
	b, err := json.Marshal(m)
	require.NoError(e.t, err)
	r := e.do(http.MethodPut, "/v2/"+repo+"/manifests/"+ref, bytes.NewReader(b), http.Header{
		"Content-Type":  {mediaType},
		"Authorization": admin["Authorization"],
	})
	return r, ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(b), Size: int64(len(b))}
}

// referrersOf GETs the referrers of subject and requires a valid index.
func (e *testEnv) referrersOf(repo string, subject digest.Digest, query string, hdr http.Header) (response, []ocispec.Descriptor) {
	e.t.Helper()
	r := e.do(http.MethodGet, "/v2/"+repo+"/referrers/"+subject.String()+query, nil, hdr)
	require.Equal(e.t, http.StatusOK, r.status, r.body)
	require.Equal(e.t, ocispec.MediaTypeImageIndex, r.header.Get("Content-Type"))
	var idx ocispec.Index
	require.NoError(e.t, json.Unmarshal([]byte(r.body), &idx))
	require.Equal(e.t, 2, idx.SchemaVersion)
	require.Equal(e.t, ocispec.MediaTypeImageIndex, idx.MediaType)
	require.Contains(e.t, r.body, `"manifests":[`, "an empty list is [], never null")
	return r, idx.Manifests
}

// referrerFixture is a subject image with three referrers in repo "app".
type referrerFixture struct {
	subject           ocispec.Descriptor
	sbom, sig, bundle ocispec.Descriptor // image manifest, image manifest without artifactType, index
}

const fixtureRepo = "app"

func pushReferrerFixture(t *testing.T, e *testEnv) referrerFixture {
	t.Helper()
	var f referrerFixture
	cfg := e.pushBlob(fixtureRepo, []byte(`{"architecture":"amd64","os":"linux"}`))
	cfg.MediaType = ocispec.MediaTypeImageConfig
	layer := e.pushBlob(fixtureRepo, []byte("layer"))
	layer.MediaType = ocispec.MediaTypeImageLayer
	emptyCfg := e.pushBlob(fixtureRepo, []byte("{}"))
	emptyCfg.MediaType = ocispec.MediaTypeEmptyJSON
	exampleCfg := e.pushBlob(fixtureRepo, []byte(`{"kind":"example"}`))
	exampleCfg.MediaType = typeConfig

	r, subject := e.putManifest(fixtureRepo, "v1", ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer},
	})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	assert.Empty(t, r.header.Values(headerSubject), "no subject, no OCI-Subject")
	f.subject = subject

	r, f.sbom = e.putManifest(fixtureRepo, "sbom", ocispec.MediaTypeImageManifest, ocispec.Manifest{
		Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: typeSBOM,
		Config: emptyCfg, Layers: []ocispec.Descriptor{layer}, Subject: &subject,
		Annotations: map[string]string{"org.example.kind": "sbom"},
	})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	assert.Equal(t, subject.Digest.String(), r.header.Get(headerSubject))
	f.sbom.ArtifactType = typeSBOM
	f.sbom.Annotations = map[string]string{"org.example.kind": "sbom"}

	// No artifactType: the config's media type stands in. Pushed by digest.
	sig := ocispec.Manifest{
		Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest,
		Config: exampleCfg, Layers: []ocispec.Descriptor{layer}, Subject: &subject,
	}
	b, _ := json.Marshal(sig)
	r, f.sig = e.putManifest(fixtureRepo, digest.FromBytes(b).String(), ocispec.MediaTypeImageManifest, sig)
	require.Equal(t, http.StatusCreated, r.status, r.body)
	assert.Equal(t, subject.Digest.String(), r.header.Get(headerSubject))
	f.sig.ArtifactType = typeConfig

	r, f.bundle = e.putManifest(fixtureRepo, "bundle", ocispec.MediaTypeImageIndex, ocispec.Index{
		Versioned: specsV2, MediaType: ocispec.MediaTypeImageIndex, ArtifactType: typeSignature,
		Manifests: []ocispec.Descriptor{subject}, Subject: &subject,
	})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	assert.Equal(t, subject.Digest.String(), r.header.Get(headerSubject))
	f.bundle.ArtifactType = typeSignature
	return f
}

func TestReferrersAPI(t *testing.T) {
	for _, storage := range []string{"inmemory", "filesystem"} {
		t.Run(storage, func(t *testing.T) {
			dir := ""
			if storage == "filesystem" {
				dir = t.TempDir()
			}
			e := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = dir })
			f := pushReferrerFixture(t, e)
			all := []ocispec.Descriptor{f.sbom, f.sig, f.bundle}

			t.Run("list", func(t *testing.T) {
				e := e.with(t)
				r, got := e.referrersOf(fixtureRepo, f.subject.Digest, "", admin)
				assert.ElementsMatch(t, all, got)
				assert.Empty(t, r.header.Get(headerFiltersApplied))
			})

			filters := []struct {
				name         string
				artifactType string
				want         []ocispec.Descriptor
			}{
				{"artifactType field", typeSBOM, []ocispec.Descriptor{f.sbom}},
				{"config media type", typeConfig, []ocispec.Descriptor{f.sig}},
				{"index", typeSignature, []ocispec.Descriptor{f.bundle}},
				{"no match", "application/vnd.example.none", []ocispec.Descriptor{}},
			}
			for _, tt := range filters {
				t.Run("filter by "+tt.name, func(t *testing.T) {
					e := e.with(t)
					r, got := e.referrersOf(fixtureRepo, f.subject.Digest, "?artifactType="+url.QueryEscape(tt.artifactType), admin)
					assert.Equal(t, tt.want, got)
					assert.Equal(t, "artifactType", r.header.Get(headerFiltersApplied))
				})
			}

			t.Run("subjects without referrers list nothing", func(t *testing.T) {
				e := e.with(t)
				for _, tt := range []struct{ repo, subject string }{
					{fixtureRepo, f.sbom.Digest.String()},                     // a stored manifest
					{fixtureRepo, digest.FromString("never pushed").String()}, // unknown digest
					{"no/such/repo", f.subject.Digest.String()},               // unknown repository
				} {
					_, got := e.referrersOf(tt.repo, digest.Digest(tt.subject), "", admin)
					assert.Empty(t, got, "%s@%s", tt.repo, tt.subject)
				}
			})

			t.Run("HEAD", func(t *testing.T) {
				e := e.with(t)
				r := e.do(http.MethodHead, "/v2/"+fixtureRepo+"/referrers/"+f.subject.Digest.String(), nil, admin)
				assert.Equal(t, http.StatusOK, r.status)
				assert.Equal(t, ocispec.MediaTypeImageIndex, r.header.Get("Content-Type"))
				assert.Empty(t, r.body)
			})

			t.Run("a refused PUT is not indexed", func(t *testing.T) {
				e := e.with(t)
				r, _ := e.putManifest(fixtureRepo, "broken", ocispec.MediaTypeImageManifest, ocispec.Manifest{
					Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: typeSBOM,
					Config:  ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: digest.FromString("missing"), Size: 7},
					Subject: &f.subject,
				})
				require.Equal(t, http.StatusBadRequest, r.status, r.body)
				assert.Empty(t, r.header.Values(headerSubject))
				_, got := e.referrersOf(fixtureRepo, f.subject.Digest, "", admin)
				assert.ElementsMatch(t, all, got)
			})

			t.Run("deleting a tag keeps the referrer, deleting the manifest drops it", func(t *testing.T) {
				e := e.with(t)
				r := e.do(http.MethodDelete, "/v2/"+fixtureRepo+"/manifests/sbom", nil, admin)
				require.Equal(t, http.StatusAccepted, r.status, r.body)
				_, got := e.referrersOf(fixtureRepo, f.subject.Digest, "", admin)
				assert.ElementsMatch(t, all, got)

				r = e.do(http.MethodDelete, "/v2/"+fixtureRepo+"/manifests/"+f.sbom.Digest.String(), nil, admin)
				require.Equal(t, http.StatusAccepted, r.status, r.body)
				_, got = e.referrersOf(fixtureRepo, f.subject.Digest, "", admin)
				assert.ElementsMatch(t, []ocispec.Descriptor{f.sig, f.bundle}, got)
			})

			if storage == "filesystem" {
				t.Run("a new process finds the referrers in storage", func(t *testing.T) {
					again := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = dir })
					_, got := again.referrersOf(fixtureRepo, f.subject.Digest, "", admin)
					assert.ElementsMatch(t, []ocispec.Descriptor{f.sig, f.bundle}, got)
				})
			}
		})
	}
}

// The referrers API sits behind the same firewall and authentication as
// the rest of /v2/ and needs pull access to the repository.
func TestReferrersAccess(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	f := pushReferrerFixture(t, e)
	path := "/v2/" + fixtureRepo + "/referrers/" + f.subject.Digest.String()
	pull := func(repo string) http.Header {
		return bearer(accessToken(t, e.host, token.Access{Type: "repository", Name: repo, Actions: []string{"pull"}}))
	}
	challenge := `Bearer realm="http://` + e.host + `/oauth2/token",service="` + e.host + `",scope="repository:` + fixtureRepo + `:pull"`
	detail := `[{"Type":"repository","Name":"` + fixtureRepo + `","Action":"pull"}]`

	tests := []struct {
		name      string
		method    string
		path      string
		hdr       http.Header
		status    int
		code      string
		challenge string
	}{
		{name: "admin", method: http.MethodGet, path: path, hdr: admin, status: http.StatusOK},
		{name: "pull token", method: http.MethodGet, path: path, hdr: pull(fixtureRepo), status: http.StatusOK},
		{name: "no credentials", method: http.MethodGet, path: path, status: http.StatusUnauthorized, code: "UNAUTHORIZED", challenge: challenge},
		{name: "wrong password", method: http.MethodGet, path: path, hdr: basic(testName, "nope"), status: http.StatusUnauthorized, code: "UNAUTHORIZED", challenge: challenge},
		{name: "token for another repository", method: http.MethodGet, path: path, hdr: pull("other"), status: http.StatusUnauthorized, code: "UNAUTHORIZED", challenge: challenge + `,error="insufficient_scope"`},
		{name: "POST", method: http.MethodPost, path: path, hdr: admin, status: http.StatusMethodNotAllowed, code: "UNSUPPORTED"},
		{name: "bad digest", method: http.MethodGet, path: "/v2/app/referrers/sha256:nothex", hdr: admin, status: http.StatusBadRequest, code: "DIGEST_INVALID"},
		{name: "bad name", method: http.MethodGet, path: "/v2/App/referrers/" + f.subject.Digest.String(), hdr: admin, status: http.StatusBadRequest, code: "NAME_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(tt.method, tt.path, nil, tt.hdr)
			require.Equal(t, tt.status, r.status, r.body)
			assert.Equal(t, tt.challenge, r.header.Get("Www-Authenticate"))
			if tt.code != "" {
				assert.Contains(t, r.body, `"code":"`+tt.code+`"`)
			}
			if tt.code == "UNAUTHORIZED" {
				assert.Contains(t, r.body, `"detail":`+detail)
			}
		})
	}

	t.Run("anonymous pull", func(t *testing.T) {
		e := e.with(t)
		cfg := defaultConfig()
		cfg.AnonymousPullEnabled = true
		require.NoError(t, e.update(cfg))
		q := url.Values{"service": {e.host}, "scope": {"repository:" + fixtureRepo + ":pull"}}
		tok := tokenField(t, e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, nil), "access_token")
		_, got := e.referrersOf(fixtureRepo, f.subject.Digest, "", bearer(tok))
		assert.Len(t, got, 3)
	})

	t.Run("firewall", func(t *testing.T) {
		e := e.with(t)
		cfg := defaultConfig()
		cfg.Rules = denyAll()
		require.NoError(t, e.update(cfg))
		r := e.do(http.MethodGet, path, nil, admin)
		assert.Equal(t, http.StatusForbidden, r.status)
		assert.Equal(t, deniedBody(natAddr), r.body)
	})
}

// A real client pushes an artifact with a subject: seeing OCI-Subject and a
// working referrers API, it leaves the referrers to the registry instead
// of maintaining the "sha256-<hex>" fallback tag, and reads them back.
func TestReferrersWithRegistryClient(t *testing.T) {
	e := newEnv(t, defaultConfig(), func(o *Options) { o.StorageDir = t.TempDir() })
	auth := remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1})
	ref, err := name.ParseReference(e.host + "/samples/hello:v1")
	require.NoError(t, err)
	img, err := random.Image(512, 1)
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img, auth))
	subject, err := partialDescriptor(img)
	require.NoError(t, err)

	sig := mutate.Annotations(mutate.MediaType(mutate.ConfigMediaType(empty.Image, typeConfig), types.OCIManifestSchema1),
		map[string]string{"org.example.signed": "yes"}).(v1.Image)
	sig = mutate.Subject(sig, subject).(v1.Image)
	sigRef, err := name.ParseReference(e.host + "/samples/hello:sig")
	require.NoError(t, err)
	require.NoError(t, remote.Write(sigRef, sig, auth))
	sigDigest, err := sig.Digest()
	require.NoError(t, err)

	idx, err := remote.Referrers(ref.Context().Digest(subject.Digest.String()), auth)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 1)
	assert.Equal(t, sigDigest, im.Manifests[0].Digest)
	assert.Equal(t, typeConfig, im.Manifests[0].ArtifactType)
	assert.Equal(t, "yes", im.Manifests[0].Annotations["org.example.signed"])

	tags, err := remote.List(ref.Context(), auth)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"v1", "sig"}, tags, "no referrers fallback tag")
}

func partialDescriptor(img v1.Image) (v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	size, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: size}, nil
}

func TestParseReferrer(t *testing.T) {
	subject := digest.FromString("subject")
	self := digest.FromString("self")
	tests := []struct {
		name      string
		payload   string
		mediaType string // as stored or sent
		ok        bool
		wantType  string // desc.MediaType
		wantArt   string // desc.ArtifactType
	}{
		{
			name:      "artifactType field",
			payload:   `{"mediaType":"` + ocispec.MediaTypeImageManifest + `","artifactType":"a/b","config":{"mediaType":"c/d"},"subject":{"digest":"` + subject.String() + `"}}`,
			mediaType: ocispec.MediaTypeImageManifest, ok: true, wantType: ocispec.MediaTypeImageManifest, wantArt: "a/b",
		},
		{
			name:      "config media type stands in",
			payload:   `{"mediaType":"` + ocispec.MediaTypeImageManifest + `","config":{"mediaType":"c/d"},"subject":{"digest":"` + subject.String() + `"}}`,
			mediaType: ocispec.MediaTypeImageManifest, ok: true, wantType: ocispec.MediaTypeImageManifest, wantArt: "c/d",
		},
		{
			name:      "index without artifactType has none",
			payload:   `{"mediaType":"` + ocispec.MediaTypeImageIndex + `","manifests":[],"subject":{"digest":"` + subject.String() + `"}}`,
			mediaType: ocispec.MediaTypeImageIndex, ok: true, wantType: ocispec.MediaTypeImageIndex,
		},
		{
			name:      "media type from the request when the body has none",
			payload:   `{"config":{"mediaType":"c/d"},"subject":{"digest":"` + subject.String() + `"}}`,
			mediaType: ocispec.MediaTypeImageManifest, ok: true, wantType: ocispec.MediaTypeImageManifest, wantArt: "c/d",
		},
		{name: "no subject", payload: `{"mediaType":"` + ocispec.MediaTypeImageManifest + `","config":{"mediaType":"c/d"}}`, mediaType: ocispec.MediaTypeImageManifest},
		{name: "invalid subject digest", payload: `{"subject":{"digest":"sha256:xyz"}}`, mediaType: ocispec.MediaTypeImageManifest},
		{name: "not JSON", payload: `{`, mediaType: ocispec.MediaTypeImageManifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, ok := parseReferrer([]byte(tt.payload), tt.mediaType, self)
			require.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			assert.Equal(t, subject, ref.subject)
			assert.Equal(t, self, ref.desc.Digest)
			assert.Equal(t, int64(len(tt.payload)), ref.desc.Size)
			assert.Equal(t, tt.wantType, ref.desc.MediaType)
			assert.Equal(t, tt.wantArt, ref.desc.ArtifactType)
		})
	}
}

func TestSplitV2Path(t *testing.T) {
	tests := []struct {
		path, sep string
		name, ref string
		ok        bool
	}{
		{path: "/v2/app/referrers/sha256:abc", sep: "/referrers/", name: "app", ref: "sha256:abc", ok: true},
		{path: "/v2/a/b/c/manifests/v1", sep: "/manifests/", name: "a/b/c", ref: "v1", ok: true},
		{path: "/v2/x/manifests/manifests/v1", sep: "/manifests/", name: "x/manifests", ref: "v1", ok: true},
		{path: "/v2/a/referrers/tags/list", sep: "/referrers/"},        // tags of repository "a/referrers"
		{path: "/v2/referrers/manifests/v1", sep: "/referrers/"},       // repository "referrers"
		{path: "/v2/app/referrers/", sep: "/referrers/"},               // no digest
		{path: "/v2//referrers/sha256:abc", sep: "/referrers/"},        // no name
		{path: "/oauth2/app/referrers/sha256:abc", sep: "/referrers/"}, // not /v2/
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			name, ref, ok := splitV2Path(tt.path, tt.sep)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.name, name)
			assert.Equal(t, tt.ref, ref)
		})
	}
}

// The index survives concurrent pushes and listings (run with -race).
func TestReferrersConcurrent(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	f := pushReferrerFixture(t, e)
	layer := e.pushBlob(fixtureRepo, []byte("layer"))
	layer.MediaType = ocispec.MediaTypeImageLayer
	emptyCfg := e.pushBlob(fixtureRepo, []byte("{}"))
	emptyCfg.MediaType = ocispec.MediaTypeEmptyJSON

	const n = 8
	statuses := make(chan int, 2*n)
	send := func(method, path, contentType string, body []byte) {
		req, err := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			statuses <- 0
			return
		}
		req.Header.Set("Authorization", admin.Get("Authorization"))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			statuses <- 0
			return
		}
		resp.Body.Close()
		statuses <- resp.StatusCode
	}
	for i := range n {
		b, err := json.Marshal(ocispec.Manifest{
			Versioned: specsV2, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: typeSBOM,
			Config: emptyCfg, Layers: []ocispec.Descriptor{layer}, Subject: &f.subject,
			Annotations: map[string]string{"i": strings.Repeat("x", i+1)},
		})
		require.NoError(t, err)
		go send(http.MethodPut, "/v2/"+fixtureRepo+"/manifests/c"+strings.Repeat("x", i+1), ocispec.MediaTypeImageManifest, b)
		go send(http.MethodGet, "/v2/"+fixtureRepo+"/referrers/"+f.subject.Digest.String(), "", nil)
	}
	for range 2 * n {
		assert.Contains(t, []int{http.StatusOK, http.StatusCreated}, <-statuses)
	}
	_, got := e.referrersOf(fixtureRepo, f.subject.Digest, "?artifactType="+url.QueryEscape(typeSBOM), admin)
	assert.Len(t, got, n+1)
}
