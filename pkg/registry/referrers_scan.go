package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"
)

// scanReferrers lists the referrers among repo's manifests, read with
// distribution's own storage code through the view the metadata API uses,
// so it sees exactly the manifests distribution serves, deleted ones
// excluded. A repository that does not exist has none. A storage failure
// fails the scan (the repository is then scanned again on its next use); a
// manifest that distribution itself cannot read back, and so does not
// serve, is skipped.
func (s *repoStore) scanReferrers(ctx context.Context, repo string) ([]referrer, error) {
	r, err := s.repository(ctx, repo)
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
