package registry

import (
	"context"
	"errors"
	"io"
	"path"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// catalogFilterName is the registry middleware that hides repositories
// without manifests, and unlisted ones, from distribution's /v2/_catalog.
const catalogFilterName = "acremu-catalog-filter"

// errStopWalk ends a storage walk early.
var errStopWalk = errors.New("stop walk")

// hasManifest reports whether the repository name holds at least one
// manifest revision. ACR lists only such repositories: one whose
// manifests were all deleted, or into which only blobs were pushed, is
// not in the catalog (distribution lists every repository directory that
// has a _manifests directory, which deleting manifests leaves behind).
func hasManifest(ctx context.Context, d storagedriver.StorageDriver, name string) (bool, error) {
	found := false
	root := repoPath(name, "_manifests", "revisions")
	err := d.Walk(ctx, root, func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() && path.Base(fi.Path()) == "link" {
			found = true
			return errStopWalk
		}
		return nil
	})
	switch {
	case found, err == nil, isPathNotFound(err):
		return found, nil
	default:
		return false, err
	}
}

// visibleRepositories fills repos with the names after last that have a
// manifest and are not hidden (a repository whose listEnabled is false),
// in distribution's order, and returns how many it filled. Like
// distribution.Namespace.Repositories, the error is io.EOF when no
// further such repository exists: it looks one name ahead so that a page
// never promises a next page that would be empty.
func visibleRepositories(ctx context.Context, ns distribution.Namespace, d storagedriver.StorageDriver, hidden func(string) bool, repos []string, last string) (int, error) {
	if len(repos) == 0 {
		return 0, nil
	}
	buf := make([]string, max(len(repos), 100))
	filled := 0
	for {
		k, err := ns.Repositories(ctx, buf, last)
		if err != nil && !errors.Is(err, io.EOF) && !isPathNotFound(err) {
			return filled, err
		}
		for _, name := range buf[:k] {
			if hidden(name) {
				continue
			}
			ok, herr := hasManifest(ctx, d, name)
			if herr != nil {
				return filled, herr
			}
			if !ok {
				continue
			}
			if filled == len(repos) {
				return filled, nil // one more exists
			}
			repos[filled] = name
			filled++
		}
		if err != nil || k == 0 {
			return filled, io.EOF
		}
		last = buf[k-1]
	}
}

// catalogFilter is distribution's Namespace with the catalog filtered.
type catalogFilter struct {
	distribution.Namespace
	driver storagedriver.StorageDriver
	r      *Registry
}

func newCatalogFilter(_ context.Context, ns distribution.Namespace, d storagedriver.StorageDriver, opts map[string]any) (distribution.Namespace, error) {
	r, ok := opts[accessControllerOption].(*Registry)
	if !ok || r == nil {
		return nil, errors.New("acremu catalog filter: no registry in options")
	}
	return &catalogFilter{Namespace: ns, driver: d, r: r}, nil
}

func (c *catalogFilter) Repositories(ctx context.Context, repos []string, last string) (int, error) {
	return visibleRepositories(ctx, c.Namespace, c.driver, c.r.unlisted, repos, last)
}

// unlisted reports whether the repository name's listEnabled is false.
func (r *Registry) unlisted(name string) bool {
	return r.attrs != nil && !r.attrs.of(name).repository().ListEnabled
}
