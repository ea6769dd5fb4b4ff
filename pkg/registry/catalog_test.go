package registry

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCatalogHidesRepositoriesWithoutManifests: as in ACR, a repository
// into which only blobs were pushed, or whose manifests were all deleted,
// is not in /v2/_catalog nor /acr/v1/_catalog.
func TestCatalogHidesRepositoriesWithoutManifests(t *testing.T) {
	e := newEnv(t, defaultConfig(), nil)
	admin := basic(testName, testPW1)
	e.pushImage("a/visible", "v1")
	gone := e.pushImage("b/emptied", "v1")
	e.pushImage("c/visible", "v1")

	// Only a blob in blobs/only.
	layer, err := gone.Layers()
	require.NoError(t, err)
	ref, err := name.NewRepository(e.host + "/blobs/only")
	require.NoError(t, err)
	require.NoError(t, remote.WriteLayer(ref, layer[0], remote.WithAuth(&authn.Basic{Username: testName, Password: testPW1})))
	// b/emptied loses its only manifest.
	r := e.do(http.MethodDelete, "/v2/b/emptied/manifests/"+digestOf(t, gone), nil, admin)
	require.Equal(t, http.StatusAccepted, r.status, r.body)

	want := `{"repositories":["a/visible","c/visible"]}`
	tests := []struct {
		name, path, want, link string
	}{
		{"v2", "/v2/_catalog", want, ""},
		{"acr v1", "/acr/v1/_catalog", want, ""},
		{"v2 first page", "/v2/_catalog?n=1", `{"repositories":["a/visible"]}`, "last=a%2Fvisible"},
		{"v2 last page has no next", "/v2/_catalog?n=1&last=a/visible", `{"repositories":["c/visible"]}`, ""},
		{"acr v1 first page", "/acr/v1/_catalog?n=1", `{"repositories":["a/visible"]}`, "last=a%2Fvisible"},
		{"acr v1 last page has no next", "/acr/v1/_catalog?n=1&last=a/visible", `{"repositories":["c/visible"]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(http.MethodGet, tt.path, nil, admin)
			require.Equal(t, http.StatusOK, r.status, r.body)
			assert.JSONEq(t, tt.want, string(bytes.TrimSpace([]byte(r.body))))
			if tt.link == "" {
				assert.Empty(t, r.header.Get("Link"))
			} else {
				assert.Contains(t, r.header.Get("Link"), tt.link)
			}
		})
	}
}
