package firewall

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// allowedNonStd is the only module the firewall may import besides the
// standard library: it sits on every request and should stay small.
var allowedNonStd = map[string]bool{
	"github.com/gaissmai/bart": true,
}

// TestImports pins the package's imports (non-test files) to the standard
// library plus bart.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	seen := map[string]bool{}
	var checked int
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, parser.ImportsOnly)
		require.NoError(t, err)
		checked++
		for _, imp := range f.Imports {
			path, err := strconv.Unquote(imp.Path.Value)
			require.NoError(t, err)
			seen[path] = true
			assert.True(t, isStd(path) || allowedNonStd[path], "%s imports %q: only the standard library and bart are allowed", name, path)
		}
	}
	require.NotZero(t, checked, "no source files found")
	assert.True(t, seen["github.com/gaissmai/bart"], "bart is not imported: the check has lost track of the package")
}

// isStd reports whether path is a standard library import path: its first
// element has no dot (as cmd/go decides).
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestIsStd(t *testing.T) {
	for path, want := range map[string]bool{
		"net/netip":                      true,
		"context":                        true,
		"github.com/gaissmai/bart":       false,
		"golang.org/x/sys/unix":          false,
		"github.com/stretchr/testify":    false,
		"go.etcd.io/bbolt":               false,
		"internal/bytealg":               true,
		"example.com/nested/std/looking": false,
	} {
		assert.Equal(t, want, isStd(path), "isStd(%q)", path)
	}
}
