package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	headerSubject        = "OCI-Subject"
	headerFiltersApplied = "OCI-Filters-Applied"
	// maxManifestSize is distribution's limit on a manifest body
	// (handlers/manifests.go maxManifestBodySize): a larger PUT is refused
	// by distribution, so its body need not be kept here, and no stored
	// manifest is larger.
	maxManifestSize = 4 << 20
)

// serveReferrers answers GET /v2/<name>/referrers/<digest>[?artifactType=]
// (distribution spec v1.1): an image index of the manifests whose subject
// is digest, 200 with an empty list when there are none. It needs pull
// access to the repository, checked by the access controller distribution
// uses (authorize), so the credentials and the 401 are those of every
// other /v2/ read.
func (r *Registry) serveReferrers(w http.ResponseWriter, req *http.Request, name, ref string) error {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return methodNotAllowed(http.MethodGet, http.MethodHead)
	}
	if _, err := reference.WithName(name); err != nil {
		return errNameInvalid
	}
	if err := r.authorize(req, repositoryAccess(name, "pull")); err != nil {
		return err
	}
	subject, err := digest.Parse(ref)
	if err != nil {
		return errBadDigest(ref, err)
	}
	artifactType := req.URL.Query().Get("artifactType")
	descs, err := r.referrers.list(req.Context(), name, subject, artifactType)
	if err != nil {
		return errInternal(err)
	}
	body, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: descs,
	})
	if err != nil {
		return errInternal(err)
	}
	h := w.Header()
	h.Set("Content-Type", ocispec.MediaTypeImageIndex)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Docker-Distribution-Api-Version", "registry/2.0")
	if artifactType != "" {
		h.Set(headerFiltersApplied, "artifactType")
	}
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
	return nil
}

// putManifest passes a manifest PUT to distribution, keeping a copy of the
// body as distribution reads it (distribution authorizes first, so nothing
// is held for a request it refuses). On 201 the manifest is stored: if it
// names a subject, it is indexed and the response says OCI-Subject.
func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, name string) {
	body := &captureReader{ReadCloser: req.Body}
	req.Body = body
	hw := &hookWriter{ResponseWriter: w, hook: func(status int, h http.Header) {
		if status != http.StatusCreated || body.over {
			return
		}
		payload := body.buf.Bytes()
		d, err := digest.Parse(h.Get("Docker-Content-Digest"))
		if err != nil || d.Algorithm().FromBytes(payload) != d {
			r.log.Debug("manifest body not indexed for referrers", "registry", r.name, "repository", name, "digest", h.Get("Docker-Content-Digest"))
			return
		}
		ref, ok := parseReferrer(payload, req.Header.Get("Content-Type"), d)
		if !ok {
			return
		}
		if err := r.referrers.add(req.Context(), name, ref); err != nil {
			// The repository stays unindexed and is scanned on its next
			// use, which finds this manifest in storage.
			r.log.Error("referrer index update failed", "registry", r.name, "repository", name, "digest", d, "err", err)
		}
		h.Set(headerSubject, ref.subject.String())
	}}
	r.app.ServeHTTP(hw, req)
}

// deleteManifest passes a manifest DELETE to distribution and, when a
// manifest was deleted by digest (202), removes it from the index. Deleting
// a tag leaves the manifest, and so its referrer entry, in place.
func (r *Registry) deleteManifest(w http.ResponseWriter, req *http.Request, name, ref string) {
	hw := &hookWriter{ResponseWriter: w, hook: func(status int, _ http.Header) {
		d, err := digest.Parse(ref)
		if status != http.StatusAccepted || err != nil {
			return
		}
		if err := r.referrers.remove(req.Context(), name, d); err != nil {
			r.log.Error("referrer index update failed", "registry", r.name, "repository", name, "digest", d, "err", err)
		}
	}}
	r.app.ServeHTTP(hw, req)
}

// captureReader keeps what is read through it, up to maxManifestSize.
type captureReader struct {
	io.ReadCloser
	buf  bytes.Buffer
	over bool // more than maxManifestSize was read; buf is dropped
}

func (c *captureReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 && !c.over {
		if c.buf.Len()+n > maxManifestSize {
			c.over = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(p[:n])
		}
	}
	return n, err
}
