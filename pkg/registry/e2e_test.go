package registry

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
)

// A real client pushes, pulls, lists and deletes through the token flow:
// challenge on /v2/, GET /oauth2/token with Basic credentials, bearer tokens
// scoped per repository.
func TestPushPullWithRegistryClient(t *testing.T) {
	for _, storage := range []string{"inmemory", "filesystem"} {
		t.Run(storage, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.AnonymousPullEnabled = true
			e := newEnv(t, cfg, func(o *Options) {
				if storage == "filesystem" {
					o.StorageDir = t.TempDir()
				}
			})
			admin := remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1})
			ref, err := name.ParseReference(e.host + "/samples/hello:v1")
			require.NoError(t, err)
			img, err := random.Image(1024, 2)
			require.NoError(t, err)

			require.NoError(t, remote.Write(ref, img, admin))

			got, err := remote.Image(ref, admin)
			require.NoError(t, err)
			wantDigest, err := img.Digest()
			require.NoError(t, err)
			gotDigest, err := got.Digest()
			require.NoError(t, err)
			assert.Equal(t, wantDigest, gotDigest)
			layers, err := got.Layers()
			require.NoError(t, err)
			require.Len(t, layers, 2)
			rc, err := layers[1].Compressed()
			require.NoError(t, err)
			require.NoError(t, rc.Close())

			// Anonymous pull: allowed to read, refused to write.
			_, err = remote.Image(ref, remote.WithAuth(authn.Anonymous))
			require.NoError(t, err)
			other, err := name.ParseReference(e.host + "/samples/hello:anon")
			require.NoError(t, err)
			err = remote.Write(other, img, remote.WithAuth(authn.Anonymous))
			var terr *transport.Error
			require.ErrorAs(t, err, &terr)
			assert.Equal(t, http.StatusUnauthorized, terr.StatusCode)

			tags, err := remote.List(ref.Context(), admin)
			require.NoError(t, err)
			assert.Equal(t, []string{"v1"}, tags)

			repos, err := remote.Catalog(t.Context(), ref.Context().Registry, admin)
			require.NoError(t, err)
			assert.Equal(t, []string{"samples/hello"}, repos)

			byDigest := ref.Context().Digest(wantDigest.String())
			require.NoError(t, remote.Delete(byDigest, admin))
			_, err = remote.Image(ref, admin)
			require.ErrorAs(t, err, &terr)
			assert.Equal(t, http.StatusNotFound, terr.StatusCode)
		})
	}
}

// The client sees the firewall's message, as docker users do.
func TestRegistryClientSeesDenial(t *testing.T) {
	e := newEnv(t, Config{Name: testName, Rules: denyAll()}, nil)
	ref, err := name.ParseReference(e.host + "/hello:v1")
	require.NoError(t, err)
	_, err = remote.Head(ref)
	var terr *transport.Error
	require.ErrorAs(t, err, &terr)
	assert.Equal(t, http.StatusForbidden, terr.StatusCode)
	_, err = remote.Image(ref)
	require.ErrorAs(t, err, &terr)
	require.Len(t, terr.Errors, 1)
	assert.Equal(t, transport.DeniedErrorCode, terr.Errors[0].Code)
	assert.Equal(t, "client with IP '"+firewall.DocumentationNATAddr.String()+"' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", terr.Errors[0].Message)
}

// az acr login followed by docker login, request by request.
func TestAzAcrLoginFlow(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)

	// az: GET /v2/ expecting the challenge.
	r := e.do(http.MethodGet, "/v2/", nil, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, `Bearer realm="http://`+e.host+`/oauth2/token",service="`+e.host+`"`, r.header.Get("Www-Authenticate"))

	// az: exchange the ARM token for a refresh token.
	refresh := tokenField(t, exchange(e), "refresh_token")

	// docker login -u 00000000-0000-0000-0000-000000000000 -p <refresh>.
	q := url.Values{"account": {NullGUID}, "client_id": {"docker"}, "offline_token": {"true"}, "service": {e.host}}
	r = e.do(http.MethodGet, "/oauth2/token?"+q.Encode(), nil, basic(NullGUID, refresh))
	access := tokenField(t, r, "access_token")
	identity := tokenField(t, r, "refresh_token")
	require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v2/", nil, bearer(access)).status)

	// docker later: POST grant_type=refresh_token with its identity token.
	body, hdr := form("grant_type", "refresh_token", "client_id", "docker", "refresh_token", identity,
		"scope", "repository:hello:pull,push", "service", e.host)
	access = tokenField(t, e.do(http.MethodPost, "/oauth2/token", body, hdr), "access_token")
	r = e.do(http.MethodPost, "/v2/hello/blobs/uploads/", nil, bearer(access))
	assert.Equal(t, http.StatusAccepted, r.status, r.body)
}

// Registries in one process share nothing: not content, not credentials.
func TestRegistriesAreIsolated(t *testing.T) {
	a := newEnv(t, defaultConfig(), nil)
	cfgB := defaultConfig()
	cfgB.Name = "otherreg"
	b := newEnv(t, cfgB, nil)

	img, err := random.Image(256, 1)
	require.NoError(t, err)
	refA, err := name.ParseReference(a.host + "/hello:v1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(refA, img, remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1})))

	refB, err := name.ParseReference(b.host + "/hello:v1")
	require.NoError(t, err)
	_, err = remote.Head(refB, remote.WithAuth(&authn.Basic{Username: "otherreg", Password: testPW1}))
	var terr *transport.Error
	require.ErrorAs(t, err, &terr)
	assert.Equal(t, http.StatusNotFound, terr.StatusCode)

	r := b.do(http.MethodGet, "/v2/", nil, basic(testName, testPW1))
	assert.Equal(t, http.StatusUnauthorized, r.status, "registry A's admin user on registry B")
	assert.Equal(t, http.StatusOK, a.do(http.MethodGet, "/v2/", nil, basic(testName, testPW1)).status)
}
