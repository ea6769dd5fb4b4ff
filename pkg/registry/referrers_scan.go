package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// newStorageScan returns the scan of the filesystem storage at dir: it
// reads the storage with distribution's own storage code (a second,
// read-only view of the files the application writes), so it sees exactly
// the manifests distribution serves, deleted ones excluded.
func newStorageScan(dir string) (scanFunc, error) {
	driver, err := filesystem.FromParameters(map[string]any{"rootdirectory": dir})
	if err != nil {
		return nil, fmt.Errorf("referrers: %w", err)
	}
	ns, err := storage.NewRegistry(context.Background(), driver)
	if err != nil {
		return nil, fmt.Errorf("referrers: %w", err)
	}
	return func(ctx context.Context, repo string) ([]referrer, error) {
		return scanRepository(ctx, ns, repo)
	}, nil
}

// scanRepository lists the referrers among repo's manifests. A repository
// that does not exist has none. A storage failure fails the scan (the
// repository is then scanned again on its next use); a manifest that
// distribution itself cannot read back, and so does not serve, is skipped.
func scanRepository(ctx context.Context, ns distribution.Namespace, repo string) ([]referrer, error) {
	named, err := reference.WithName(repo)
	if err != nil {
		return nil, err
	}
	r, err := ns.Repository(ctx, named)
	if err != nil {
		return nil, err
	}
	ms, err := r.Manifests(ctx)
	if err != nil {
		return nil, err
	}
	en, ok := ms.(distribution.ManifestEnumerator)
	if !ok {
		return nil, errors.New("referrers: storage cannot enumerate manifests")
	}
	var out []referrer
	err = en.Enumerate(ctx, func(d digest.Digest) error {
		m, err := ms.Get(ctx, d)
		if err != nil {
			var ioErr storagedriver.Error
			if ctx.Err() != nil || errors.As(err, &ioErr) {
				return err
			}
			return nil
		}
		mediaType, payload, err := m.Payload()
		if err != nil {
			return nil
		}
		if ref, ok := parseReferrer(payload, mediaType, d); ok {
			out = append(out, ref)
		}
		return nil
	})
	var notFound storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &notFound) {
		return nil, fmt.Errorf("referrers: scan %s: %w", repo, err)
	}
	return out, nil
}

// newReferrersFor builds the referrer index of a registry whose storage is
// at storageDir ("" is distribution's inmemory driver, which nothing
// outlives, so there is nothing to scan).
func newReferrersFor(storageDir string) (*referrerIndex, error) {
	if storageDir == "" {
		return newReferrerIndex(nil), nil
	}
	scan, err := newStorageScan(storageDir)
	if err != nil {
		return nil, err
	}
	return newReferrerIndex(scan), nil
}
