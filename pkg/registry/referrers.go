package registry

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// referrer is one manifest that names a subject: the descriptor the
// referrers API lists for it.
type referrer struct {
	subject digest.Digest
	desc    ocispec.Descriptor
}

// scanFunc lists the referrers stored in one repository. It is how the
// index learns what an earlier process stored.
type scanFunc func(ctx context.Context, repo string) ([]referrer, error)

// referrerIndex answers the OCI referrers API: per repository, the manifests
// whose subject field names a digest. Distribution v3.1.2 keeps no such
// index. Distribution's storage stays the only source of truth: a
// repository's entries are built by scanning its manifests the first time
// the repository is touched in this process, and then kept current by
// every successful manifest PUT and delete-by-digest. So a restart, or a
// failed update (the repository is then scanned again), cannot leave the
// index out of step with the content.
type referrerIndex struct {
	scan scanFunc // nil: storage does not outlive the process, nothing to scan

	mu    sync.Mutex
	repos map[string]*repoReferrers
}

// repoReferrers are the referrers of one repository.
type repoReferrers struct {
	bySubject map[digest.Digest]map[digest.Digest]ocispec.Descriptor
	subjectOf map[digest.Digest]digest.Digest // referrer → its subject (a manifest has one)
}

func newReferrerIndex(scan scanFunc) *referrerIndex {
	return &referrerIndex{scan: scan, repos: make(map[string]*repoReferrers)}
}

// load returns repo's entries, scanning storage the first time. The caller
// holds x.mu; a failed scan leaves the repository unloaded, to be scanned
// again on its next use.
func (x *referrerIndex) load(ctx context.Context, repo string) (*repoReferrers, error) {
	if rr, ok := x.repos[repo]; ok {
		return rr, nil
	}
	rr := &repoReferrers{
		bySubject: make(map[digest.Digest]map[digest.Digest]ocispec.Descriptor),
		subjectOf: make(map[digest.Digest]digest.Digest),
	}
	if x.scan != nil {
		found, err := x.scan(ctx, repo)
		if err != nil {
			return nil, err
		}
		for _, ref := range found {
			rr.add(ref)
		}
	}
	x.repos[repo] = rr
	return rr, nil
}

func (rr *repoReferrers) add(ref referrer) {
	d := ref.desc.Digest
	if old, ok := rr.subjectOf[d]; ok && old != ref.subject {
		rr.remove(d)
	}
	m := rr.bySubject[ref.subject]
	if m == nil {
		m = make(map[digest.Digest]ocispec.Descriptor)
		rr.bySubject[ref.subject] = m
	}
	m[d] = ref.desc
	rr.subjectOf[d] = ref.subject
}

func (rr *repoReferrers) remove(d digest.Digest) {
	subject, ok := rr.subjectOf[d]
	if !ok {
		return
	}
	delete(rr.subjectOf, d)
	delete(rr.bySubject[subject], d)
	if len(rr.bySubject[subject]) == 0 {
		delete(rr.bySubject, subject)
	}
}

// add records a manifest that was just stored in repo.
func (x *referrerIndex) add(ctx context.Context, repo string, ref referrer) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	rr, err := x.load(ctx, repo)
	if err != nil {
		return err
	}
	rr.add(ref)
	return nil
}

// remove forgets the manifest d, just deleted from repo.
func (x *referrerIndex) remove(ctx context.Context, repo string, d digest.Digest) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	rr, err := x.load(ctx, repo)
	if err != nil {
		return err
	}
	rr.remove(d)
	return nil
}

// list returns the referrers of subject in repo, ordered by digest, only
// those of artifactType unless it is empty. It never returns nil, so the
// index's "manifests" is [] rather than null.
func (x *referrerIndex) list(ctx context.Context, repo string, subject digest.Digest, artifactType string) ([]ocispec.Descriptor, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	rr, err := x.load(ctx, repo)
	if err != nil {
		return nil, err
	}
	out := make([]ocispec.Descriptor, 0, len(rr.bySubject[subject]))
	for _, desc := range rr.bySubject[subject] {
		if artifactType == "" || desc.ArtifactType == artifactType {
			out = append(out, desc)
		}
	}
	slices.SortFunc(out, func(a, b ocispec.Descriptor) int { return cmp.Compare(a.Digest, b.Digest) })
	return out, nil
}

// parseReferrer reads a stored manifest. It returns ok only for a manifest
// with a valid subject; desc is then what the referrers API lists for it:
// the manifest's media type (the field, else mediaType as stored or sent),
// its digest and size, its annotations, and its artifact type, which for
// an image manifest without one is the config's media type (distribution
// spec v1.1, "Listing Referrers").
func parseReferrer(payload []byte, mediaType string, d digest.Digest) (ref referrer, ok bool) {
	var m struct {
		MediaType    string              `json:"mediaType"`
		ArtifactType string              `json:"artifactType"`
		Config       *ocispec.Descriptor `json:"config"`
		Subject      *ocispec.Descriptor `json:"subject"`
		Annotations  map[string]string   `json:"annotations"`
	}
	if json.Unmarshal(payload, &m) != nil || m.Subject == nil || m.Subject.Digest.Validate() != nil {
		return referrer{}, false
	}
	if m.MediaType != "" {
		mediaType = m.MediaType
	}
	artifactType := m.ArtifactType
	if artifactType == "" && m.Config != nil && mediaType == ocispec.MediaTypeImageManifest {
		artifactType = m.Config.MediaType
	}
	return referrer{
		subject: m.Subject.Digest,
		desc: ocispec.Descriptor{
			MediaType:    mediaType,
			ArtifactType: artifactType,
			Digest:       d,
			Size:         int64(len(payload)),
			Annotations:  m.Annotations,
		},
	}, true
}
