package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/distribution/distribution/v3/registry/auth"
	"github.com/opencontainers/go-digest"
)

// Enforcement of changeableAttributes on /v2/, as ACR enforces them:
//
//   - a manifest push by tag is refused when the repository or the tag is
//     not writable, a push by digest when the repository is not;
//   - a delete of a manifest (or of a tag through /v2/) is refused when the
//     repository is not writable, or the manifest, or a tag that the delete
//     would remove, has deleteEnabled or writeEnabled false;
//   - a manifest pull is refused when the repository, the tag pulled or the
//     manifest it names is not readable;
//   - tags with listEnabled false are left out of /v2/<name>/tags/list.
//
// Refusals are ACR's 405 REGISTRY_DISALLOWED_OPERATION; docker prints its
// message after "unknown: ", as it does for ACR. Blobs are not locked. A
// request is judged only after its credentials allow it; one they do not
// allow goes on to distribution, which answers it with the 401 challenge.
// Repositories without attributes cost one map lookup.

// msgDisallowed is ACR's message for an operation a lock refuses.
const msgDisallowed = "The operation is disallowed on this registry, repository or image. View troubleshooting steps at https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation"

var errDisallowed = &regError{Status: http.StatusMethodNotAllowed, Code: codeDisallowed, Message: msgDisallowed, Detail: map[string]any{}}

// serveLocked answers a /v2/ request that changeableAttributes concern and
// reports whether it did; on false nothing was written.
func (r *Registry) serveLocked(w http.ResponseWriter, req *http.Request) bool {
	if name, ok := splitTagsList(req.URL.Path); ok && req.Method == http.MethodGet {
		ra := r.attrs.of(name)
		if !ra.hidesTags() {
			return false
		}
		return r.serveListedTags(w, req, name, ra)
	}
	name, ref, ok := splitV2Path(req.URL.Path, "/manifests/")
	if !ok {
		return false
	}
	ra := r.attrs.of(name)
	if ra == nil {
		return false
	}
	var records []auth.Access
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		records = []auth.Access{repositoryAccess(name, "pull")}
	case http.MethodPut:
		records = []auth.Access{repositoryAccess(name, "pull"), repositoryAccess(name, "push")}
	case http.MethodDelete:
		records = []auth.Access{repositoryAccess(name, "delete")}
	default:
		return false
	}
	if r.authorize(req, records...) != nil {
		return false
	}
	ctx := req.Context()
	isDigest := isDigestRef(ref)
	var allowed bool
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		allowed = r.mayRead(ctx, ra, name, ref, isDigest)
	case http.MethodPut:
		allowed = ra.repository().WriteEnabled && (isDigest || ra.tag(ref).WriteEnabled)
	default:
		var gone []string
		allowed, gone = r.mayDelete(ctx, ra, name, ref, isDigest)
		if allowed {
			r.deleteAndForget(w, req, name, ref, isDigest, gone)
			return true
		}
	}
	if allowed {
		return false
	}
	r.writeError(w, req, errDisallowed)
	return true
}

// splitTagsList matches /v2/<name>/tags/list.
func splitTagsList(p string) (string, bool) {
	name, ref, ok := splitV2Path(p, "/tags/")
	return name, ok && ref == "list"
}

func isDigestRef(ref string) bool {
	_, err := digest.Parse(ref) // not a digest: a tag
	return err == nil
}

// mayRead decides a manifest pull. An unknown tag is left to distribution.
func (r *Registry) mayRead(ctx context.Context, ra *repoAttributes, name, ref string, isDigest bool) bool {
	if !ra.repository().ReadEnabled {
		return false
	}
	if isDigest {
		return ra.manifest(ref).ReadEnabled
	}
	if !ra.tag(ref).ReadEnabled {
		return false
	}
	if !ra.unreadableManifests() {
		return true
	}
	t, err := r.repos.tag(ctx, name, ref)
	if err != nil {
		return true // unknown or unreadable here: distribution answers
	}
	return ra.manifest(t.digest.String()).ReadEnabled
}

// mayDelete decides a delete through /v2/ and returns the tags it would
// remove: the tag itself, or every tag of the manifest.
func (r *Registry) mayDelete(ctx context.Context, ra *repoAttributes, name, ref string, isDigest bool) (bool, []string) {
	if !ra.repository().WriteEnabled {
		return false, nil
	}
	if !isDigest {
		return !ra.tag(ref).undeletable(), []string{ref}
	}
	if ra.manifest(ref).undeletable() {
		return false, nil
	}
	tags, err := r.repos.tags(ctx, name)
	if err != nil {
		return true, nil // distribution answers
	}
	var gone []string
	for _, t := range tags {
		if t.digest.String() != ref {
			continue
		}
		if ra.tag(t.name).undeletable() {
			return false, nil
		}
		gone = append(gone, t.name)
	}
	return true, gone
}

// deleteAndForget lets distribution delete, then drops the attributes of
// what is gone, so that a later push of the same tag or digest starts
// with the defaults, as in ACR.
func (r *Registry) deleteAndForget(w http.ResponseWriter, req *http.Request, name, ref string, isDigest bool, tags []string) {
	status := 0
	hw := &hookWriter{ResponseWriter: w, hook: func(code int, _ http.Header) { status = code }}
	r.serveDistribution(withV2Writer(hw, req))
	if status != http.StatusAccepted {
		return
	}
	var manifests []string
	if isDigest {
		manifests = []string{ref}
	}
	if err := r.attrs.forget(context.WithoutCancel(req.Context()), name, false, tags, manifests); err != nil {
		r.log.Error("registry: dropping attributes of deleted content", "registry", r.name, "repository", name, "err", err)
	}
}

// serveListedTags answers GET /v2/<name>/tags/list[?n=&last=] for a
// repository with unlisted tags, in distribution's format: the listed
// tags by name, after last, at most n with a next link. Anything it does
// not answer itself (no pull access, a bad n, an unknown repository) goes
// to distribution.
func (r *Registry) serveListedTags(w http.ResponseWriter, req *http.Request, name string, ra *repoAttributes) bool {
	if r.authorize(req, repositoryAccess(name, "pull")) != nil {
		return false
	}
	q := req.URL.Query()
	n := -1
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return false
		}
		n = v
	}
	ctx := req.Context()
	if ok, err := r.repos.exists(ctx, name); err != nil || !ok {
		return false
	}
	all, err := r.repos.tags(ctx, name)
	if err != nil {
		return false
	}
	last := q.Get("last")
	tags := []string{}
	for _, t := range all {
		if ra.tag(t.name).ListEnabled && (last == "" || t.name > last) {
			tags = append(tags, t.name)
		}
	}
	h := w.Header()
	if n >= 0 && len(tags) > n {
		tags = tags[:n]
		if n > 0 {
			next := url.Values{"last": {tags[n-1]}, "n": {strconv.Itoa(n)}}
			setNextLink(w, req.URL.Path, next)
		}
	}
	b, err := json.Marshal(struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{name, tags})
	if err != nil {
		return false
	}
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Docker-Distribution-Api-Version", distributionAPIVersion)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return true
}
