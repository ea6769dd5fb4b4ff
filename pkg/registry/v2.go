package registry

import (
	"net/http"
	"strings"
)

// The /v2/ chain after the firewall: changeableAttributes locks, the data
// endpoint's redirect, the blob fast path, then distribution behind a
// v2Writer, with the referrers API and the referrer index's manifest hooks
// in front of it.

// serveV2 hands the request to distribution with a writer that can replace
// distribution's 401 and routing 404 bodies with ACR's.
func (r *Registry) serveV2(w http.ResponseWriter, req *http.Request) {
	if r.serveLocked(w, req) { // locks.go: changeableAttributes
		return
	}
	if r.redirectBlob(w, req) { // dataendpoint.go
		return
	}
	if r.serveBlobFile(w, req) { // blobserve.go
		return
	}
	vw, req := withV2Writer(w, req)
	r.serveDistribution(vw, req)
}

// serveDistribution serves a /v2/ request that passed the firewall. The
// referrers API is answered here, in front of distribution, which lacks
// it; manifest PUTs and DELETEs go to distribution and, when they succeed,
// update the referrer index (and a PUT with a subject gets OCI-Subject).
func (r *Registry) serveDistribution(w http.ResponseWriter, req *http.Request) {
	if name, ref, ok := splitV2Path(req.URL.Path, "/referrers/"); ok {
		if err := r.serveReferrers(w, req, name, ref); err != nil {
			r.writeError(w, req, err)
		}
		return
	}
	if name, ref, ok := splitV2Path(req.URL.Path, "/manifests/"); ok {
		switch req.Method {
		case http.MethodPut:
			r.putManifest(w, req, name)
			return
		case http.MethodDelete:
			r.deleteManifest(w, req, name, ref)
			return
		}
	}
	r.app.ServeHTTP(w, req)
}

// splitV2Path splits /v2/<name><sep><ref> where ref is one path segment.
// The last occurrence of sep counts, as repository names may contain it.
func splitV2Path(path, sep string) (name, ref string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndex(rest, sep)
	if i <= 0 {
		return "", "", false
	}
	name, ref = rest[:i], rest[i+len(sep):]
	if ref == "" || strings.Contains(ref, "/") {
		return "", "", false
	}
	return name, ref, true
}
