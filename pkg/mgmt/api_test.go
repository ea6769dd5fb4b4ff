package mgmt_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// TestMountedAsFallback serves the API as the fallback of a parent chi
// router, as the front end does: it must route on the full path, not on
// the parent's routing state.
func TestMountedAsFallback(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "mounted1", "Basic", nil)
	// A token for ARM's public audience: e.token's audience is e.srv's own
	// URL, which the parent servers below do not have.
	tok, _, err := e.api.Token(testarm.ClientID, testarm.ClientSecret)
	require.NoError(t, err)
	mounts := []struct {
		name  string
		mount func(r chi.Router)
	}{
		{"NotFound handler", func(r chi.Router) { r.NotFound(e.api.ServeHTTP) }},
		{"catch-all route", func(r chi.Router) { r.Handle("/*", e.api) }},
	}
	for _, m := range mounts {
		t.Run(m.name, func(t *testing.T) {
			parent := chi.NewRouter()
			parent.Get("/v2/*", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "registry") })
			m.mount(parent)
			srv := httptest.NewServer(parent)
			defer srv.Close()

			req, err := http.NewRequest(http.MethodGet, srv.URL+testarm.WithAPI(testarm.RegistryPath("RG", "MOUNTED1"), testarm.APIRegistry), nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
			assert.Contains(t, string(body), `"name":"mounted1"`)

			res, err = http.Get(srv.URL + "/adfs/.well-known/openid-configuration")
			require.NoError(t, err)
			res.Body.Close()
			assert.Equal(t, http.StatusOK, res.StatusCode)
		})
	}
}
