package testarm_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const importPath = "github.com/acremu/acremu/internal/testarm"

// TestOnlyTestsImportIt keeps the package out of the binary and out of
// pkg/acremutest's public API: only _test.go files may import it.
func TestOnlyTestsImportIt(t *testing.T) {
	fset := token.NewFileSet()
	var fromTests int
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p != importPath {
				continue
			}
			if strings.HasSuffix(path, "_test.go") {
				fromTests++
				continue
			}
			assert.Fail(t, "imported outside tests", "%s imports %s", path, importPath)
		}
		return nil
	})
	require.NoError(t, err)
	assert.NotZero(t, fromTests, "no test imports the package: the walk has lost track of the repository")
}
