package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// driverTapName is the storage middleware that hands a Registry the
// storage driver its distribution application uses.
const driverTapName = "acremu-driver-tap"

// driverTap is a storage middleware that records the driver distribution
// built from the configuration in the *Registry of its options, so that
// ACR's metadata API reads and deletes the very storage distribution
// serves (the same in-memory maps, the same directory). The driver it
// hands on, and records, is wrapped in a quietDriver, so that no error
// that reaches a client names a path on this machine.
func driverTap(_ context.Context, d storagedriver.StorageDriver, opts map[string]any) (storagedriver.StorageDriver, error) {
	r, ok := opts[accessControllerOption].(*Registry)
	if !ok || r == nil {
		return nil, errors.New("acremu driver tap: no registry in options")
	}
	r.driver = &quietDriver{StorageDriver: d, log: r.log.With("registry", r.name)}
	return r.driver, nil
}

// repositoriesRoot is where distribution keeps repositories in its
// storage driver (registry/storage/paths.go; the layout is versioned "v2"
// and has not changed since distribution 2.0).
const repositoriesRoot = "/docker/registry/v2/repositories"

// repoStore answers ACR's metadata API, and the referrer index's scans
// (referrers_scan.go), from distribution's storage: the driver
// distribution uses, read through a second distribution.Namespace without
// a descriptor cache, so every read sees the files as they are.
// Timestamps are the modification times of distribution's link files.
// Nothing is kept here: distribution's storage is the only state.
type repoStore struct {
	driver storagedriver.StorageDriver
	ns     distribution.Namespace
	hidden func(name string) bool // repositories left out of the catalog
}

func newRepoStore(d storagedriver.StorageDriver) (*repoStore, error) {
	if d == nil {
		return nil, errors.New("metadata: distribution built no storage driver")
	}
	ns, err := storage.NewRegistry(context.Background(), d, storage.EnableDelete)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	return &repoStore{driver: d, ns: ns, hidden: func(string) bool { return false }}, nil
}

// tagInfo is one tag: the manifest it names, when it was created (it last
// appeared after not existing) and when it was last pushed.
type tagInfo struct {
	name    string
	digest  digest.Digest
	created time.Time
	updated time.Time
}

// manifestInfo is one manifest revision and when it was stored.
type manifestInfo struct {
	digest digest.Digest
	stored time.Time
}

var errTagUnknown = errors.New("tag unknown")

func repoPath(name string, elems ...string) string {
	return path.Join(append([]string{repositoriesRoot, name}, elems...)...)
}

func isPathNotFound(err error) bool {
	var nf storagedriver.PathNotFoundError
	return errors.As(err, &nf)
}

// exists reports whether name is a repository, by the rule distribution's
// catalog uses: it has a _manifests directory.
func (s *repoStore) exists(ctx context.Context, name string) (bool, error) {
	_, err := s.driver.Stat(ctx, repoPath(name, "_manifests"))
	switch {
	case err == nil:
		return true, nil
	case isPathNotFound(err):
		return false, nil
	default:
		return false, err
	}
}

// repositories lists up to n repository names after last, in the order of
// distribution's catalog, and whether more follow. Repositories without
// a manifest are left out, as ACR leaves them out.
func (s *repoStore) repositories(ctx context.Context, n int, last string) ([]string, bool, error) {
	if n == 0 {
		return []string{}, false, nil
	}
	// Only repositories with a manifest are listed, as in /v2/_catalog.
	buf := make([]string, n)
	k, err := visibleRepositories(ctx, s.ns, s.driver, s.hidden, buf, last)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	return buf[:k], err == nil, nil
}

func (s *repoStore) repository(ctx context.Context, name string) (distribution.Repository, error) {
	named, err := reference.WithName(name)
	if err != nil {
		return nil, err
	}
	return s.ns.Repository(ctx, named)
}

// tags returns every tag of the repository name, ordered by name.
func (s *repoStore) tags(ctx context.Context, name string) ([]tagInfo, error) {
	repo, err := s.repository(ctx, name)
	if err != nil {
		return nil, err
	}
	names, err := repo.Tags(ctx).All(ctx)
	var unknown distribution.ErrRepositoryUnknown
	if errors.As(err, &unknown) {
		return []tagInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]tagInfo, 0, len(names))
	for _, tag := range names {
		ti, err := s.tagOf(ctx, repo, tag)
		if errors.Is(err, errTagUnknown) {
			continue // untagged while listing
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ti)
	}
	return out, nil
}

// tag returns one tag of the repository name, or errTagUnknown.
func (s *repoStore) tag(ctx context.Context, name, tag string) (tagInfo, error) {
	repo, err := s.repository(ctx, name)
	if err != nil {
		return tagInfo{}, err
	}
	return s.tagOf(ctx, repo, tag)
}

// tagOf reads a tag's current manifest and its times: updated is when its
// current link was last written (every push of the tag writes it), created
// when its directory last gained an entry, which happens only when the tag
// is created (its index and current subdirectories); untagging removes the
// directory.
func (s *repoStore) tagOf(ctx context.Context, repo distribution.Repository, tag string) (tagInfo, error) {
	desc, err := repo.Tags(ctx).Get(ctx, tag)
	var unknown distribution.ErrTagUnknown
	if errors.As(err, &unknown) {
		return tagInfo{}, errTagUnknown
	}
	if err != nil {
		return tagInfo{}, err
	}
	dir := repoPath(repo.Named().Name(), "_manifests", "tags", tag)
	current, err := s.driver.Stat(ctx, path.Join(dir, "current", "link"))
	if err == nil {
		var created storagedriver.FileInfo
		if created, err = s.driver.Stat(ctx, dir); err == nil {
			ti := tagInfo{name: tag, digest: desc.Digest, created: created.ModTime(), updated: current.ModTime()}
			if ti.created.After(ti.updated) {
				ti.created = ti.updated
			}
			return ti, nil
		}
	}
	if isPathNotFound(err) {
		return tagInfo{}, errTagUnknown
	}
	return tagInfo{}, err
}

// manifests lists the manifest revisions stored in the repository name.
func (s *repoStore) manifests(ctx context.Context, name string) ([]manifestInfo, error) {
	var out []manifestInfo
	err := s.walkLinks(ctx, repoPath(name, "_manifests", "revisions"), func(d digest.Digest, fi storagedriver.FileInfo) {
		out = append(out, manifestInfo{digest: d, stored: fi.ModTime()})
	})
	return out, err
}

// layers lists the blobs linked into the repository name.
func (s *repoStore) layers(ctx context.Context, name string) ([]digest.Digest, error) {
	var out []digest.Digest
	err := s.walkLinks(ctx, repoPath(name, "_layers"), func(d digest.Digest, _ storagedriver.FileInfo) {
		out = append(out, d)
	})
	return out, err
}

// walkLinks calls fn for each <root>/<algorithm>/<hex>/link file, the
// layout of distribution's revision and layer links. A missing root has
// no links.
func (s *repoStore) walkLinks(ctx context.Context, root string, fn func(digest.Digest, storagedriver.FileInfo)) error {
	err := s.driver.Walk(ctx, root, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() || path.Base(fi.Path()) != "link" {
			return nil
		}
		parts := strings.Split(strings.TrimPrefix(fi.Path(), root+"/"), "/")
		if len(parts) != 3 {
			return nil
		}
		d := digest.NewDigestFromEncoded(digest.Algorithm(parts[0]), parts[1])
		if d.Validate() == nil {
			fn(d, fi)
		}
		return nil
	})
	if isPathNotFound(err) {
		return nil
	}
	return err
}

// repoTimes are a repository's creation and last update: the oldest and
// newest of its manifests and tags, or its directory's time when it has
// neither.
func (s *repoStore) repoTimes(ctx context.Context, name string, manifests []manifestInfo, tags []tagInfo) (created, updated time.Time, err error) {
	var times []time.Time
	for _, m := range manifests {
		times = append(times, m.stored)
	}
	for _, t := range tags {
		times = append(times, t.created, t.updated)
	}
	if len(times) == 0 {
		fi, err := s.driver.Stat(ctx, repoPath(name, "_manifests"))
		if err != nil {
			return time.Time{}, time.Time{}, err
		}
		return fi.ModTime(), fi.ModTime(), nil
	}
	less := func(a, b time.Time) int { return a.Compare(b) }
	return slices.MinFunc(times, less), slices.MaxFunc(times, less), nil
}

// untag removes one tag (its manifest stays), or returns errTagUnknown.
// Tags are read from storage on every use, so distribution keeps no copy
// that could go stale.
func (s *repoStore) untag(ctx context.Context, name, tag string) error {
	repo, err := s.repository(ctx, name)
	if err != nil {
		return err
	}
	err = repo.Tags(ctx).Untag(ctx, tag)
	if isPathNotFound(err) {
		return errTagUnknown
	}
	return err
}

// remove deletes what is left of the repository name in storage.
func (s *repoStore) remove(ctx context.Context, name string) error {
	named, err := reference.WithName(name)
	if err != nil {
		return err
	}
	rm, ok := s.ns.(distribution.RepositoryRemover)
	if !ok {
		return errors.New("metadata: storage cannot remove repositories")
	}
	err = rm.Remove(ctx, named)
	if isPathNotFound(err) {
		return nil
	}
	return err
}

// blobDataPath is where distribution keeps the bytes of a blob.
func blobDataPath(d digest.Digest) string {
	return path.Join(blobsRoot, d.Algorithm().String(), d.Encoded()[:2], d.Encoded(), "data")
}

// readBlob reads a manifest or an image config, at most maxManifestSize
// bytes of it.
func (s *repoStore) readBlob(ctx context.Context, d digest.Digest) ([]byte, error) {
	rc, err := s.driver.Reader(ctx, blobDataPath(d), 0)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, maxManifestSize))
}

// manifestStored returns when the repository name stored the manifest d,
// and false when it does not hold it.
func (s *repoStore) manifestStored(ctx context.Context, name string, d digest.Digest) (time.Time, bool, error) {
	fi, err := s.driver.Stat(ctx, repoPath(name, "_manifests", "revisions", d.Algorithm().String(), d.Encoded(), "link"))
	switch {
	case err == nil:
		return fi.ModTime(), true, nil
	case isPathNotFound(err):
		return time.Time{}, false, nil
	default:
		return time.Time{}, false, err
	}
}
