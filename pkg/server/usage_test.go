package server

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// TestUsageReportsStorageBytes checks that listUsages' Size is what the
// registry's storage directory holds.
func TestUsageReportsStorageBytes(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	c := newClient(t, s)
	dirs, err := os.ReadDir(s.registriesDir())
	require.NoError(t, err)
	require.Len(t, dirs, 1, "the default registry's storage")
	blob := filepath.Join(s.registriesDir(), dirs[0].Name(), "extra", "blob")
	require.NoError(t, os.MkdirAll(filepath.Dir(blob), 0o755))

	size := func() float64 {
		t.Helper()
		status, m := c.arm(http.MethodGet, testarm.RegistryPath(DefaultResourceGroup, cfg.DefaultRegistry)+"/listUsages", nil)
		require.Equal(t, http.StatusOK, status, "%v", m)
		for _, u := range m["value"].([]any) {
			if u := u.(map[string]any); u["name"] == "Size" {
				return u["currentValue"].(float64)
			}
		}
		t.Fatal("no Size usage")
		return 0
	}
	before := size()
	require.NoError(t, os.WriteFile(blob, make([]byte, 12345), 0o644))
	assert.Equal(t, before+12345, size())
}
