package registry

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
)

// The blob fast path. With filesystem storage, a blob GET or HEAD that the
// firewall admitted and the access controller allows is answered here with
// http.ServeContent of the blob's data file, so that the kernel's sendfile
// copies the bytes, instead of through distribution's storage-driver
// reader. The answer is distribution's, header for header
// (registry/handlers/blob.go GetBlob, registry/storage/linkedblobstore.go
// and blobserver.go ServeBlob): the same digest, ETag, cache lifetime,
// media type and length, and http.ServeContent for ranges and
// If-None-Match in both. As in distribution, a blob is served only if the
// named repository links it (_layers/<algorithm>/<hex>/link).
//
// Everything else is left to distribution, which answers it as always: an
// in-memory registry, another method, a malformed or unknown digest, a
// blob the repository does not link, an invalid repository name, and any
// request the access controller refuses (distribution asks again and
// writes the challenge).

// Distribution's storage layout (registry/storage/paths.go, layout "v2").
const (
	blobsRoot              = "/docker/registry/v2/blobs"
	blobCacheControl       = "max-age=31536000" // blobserver.go: 365 days
	blobMediaType          = "application/octet-stream"
	distributionAPIVersion = "registry/2.0" // Docker-Distribution-API-Version of every /v2/ answer
)

// serveBlobFile answers req and reports true if it is a blob GET or HEAD
// the fast path serves; on false nothing was written.
func (r *Registry) serveBlobFile(w http.ResponseWriter, req *http.Request) bool {
	if r.storageDir == "" || (req.Method != http.MethodGet && req.Method != http.MethodHead) || req.URL.RawPath != "" {
		return false
	}
	name, dgst, ok := splitV2Path(req.URL.Path, "/blobs/")
	if !ok || !isSHA256Digest(dgst) {
		return false
	}
	if _, err := reference.WithName(name); err != nil {
		return false
	}
	// The record distribution's dispatcher asks for on a blob GET or HEAD
	// (handlers/app.go appendAccessRecords).
	if r.authorize(req, repositoryAccess(name, "pull")) != nil {
		return false
	}
	f, size, ok := r.openLinkedBlob(name, dgst)
	if !ok {
		return false
	}
	defer f.Close()

	h := w.Header()
	h.Add("Docker-Distribution-API-Version", distributionAPIVersion)
	h.Set("Content-Type", blobMediaType)
	h.Set("ETag", `"`+dgst+`"`)
	h.Set("Cache-Control", blobCacheControl)
	h.Set("Docker-Content-Digest", dgst)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	http.ServeContent(w, req, dgst, time.Time{}, f)
	return true
}

// openLinkedBlob opens the data file of the blob dgst if the repository
// name links it, as distribution's linkedBlobStatter requires.
func (r *Registry) openLinkedBlob(name, dgst string) (*os.File, int64, bool) {
	hex := dgst[len("sha256:"):]
	link, err := os.ReadFile(filepath.Join(r.storageDir, repositoriesRoot, name, "_layers", "sha256", hex, "link"))
	if err != nil || string(link) != dgst {
		return nil, 0, false
	}
	f, err := os.Open(filepath.Join(r.storageDir, blobsRoot, "sha256", hex[:2], hex, "data"))
	if err != nil {
		return nil, 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, false
	}
	return f, fi.Size(), true
}

// isSHA256Digest reports whether s is a canonical sha256 digest: the
// algorithm, a colon and 64 lower-case hex digits.
func isSHA256Digest(s string) bool {
	hex, ok := strings.CutPrefix(s, "sha256:")
	if !ok || len(hex) != 64 {
		return false
	}
	for i := range len(hex) {
		if c := hex[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
