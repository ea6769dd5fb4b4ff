package registry

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/registry/auth"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// ACR's metadata API, /acr/v1/…, which az acr repository and the Azure
// SDKs' registry clients use next to /v2/. Every request has passed the
// firewall (ServeHTTP) and is authenticated like a /v2/ request, with the
// actions ACR's tokens carry:
//
//	GET    /acr/v1/_catalog                     registry:catalog:*
//	GET    /acr/v1/<name>                       repository:<name>:metadata_read
//	GET    /acr/v1/<name>/_tags                 repository:<name>:metadata_read
//	GET    /acr/v1/<name>/_tags/<tag>           repository:<name>:metadata_read
//	GET    /acr/v1/<name>/_manifests            repository:<name>:metadata_read
//	GET    /acr/v1/<name>/_manifests/<digest>   repository:<name>:metadata_read
//	PATCH  /acr/v1/<name>                       repository:<name>:metadata_write
//	PATCH  /acr/v1/<name>/_tags/<tag>           repository:<name>:metadata_write
//	PATCH  /acr/v1/<name>/_manifests/<digest>   repository:<name>:metadata_write
//	DELETE /acr/v1/<name>                       repository:<name>:delete
//	DELETE /acr/v1/<name>/_tags/<tag>           repository:<name>:delete
//
// As in ACR, the actions are distinct: pull does not imply metadata_read
// (tags stay listable through /v2/<name>/tags/list with pull), and the
// admin user and refresh-token identities hold all of them. The answers are
// read from distribution's storage on every request (repoStore); the
// changeableAttributes PATCH sets are kept by attributes.go and enforced
// here (deletes, listings) and on /v2/ (locks.go).
const (
	acrPageDefault = 100               // page size when n is absent
	acrPageMax     = catalogMaxEntries // larger n are cut to this
	acrTimeLayout  = "2006-01-02T15:04:05.0000000Z07:00"
)

// acrRoute is one resource of the metadata API.
type acrRoute int

const (
	acrCatalog acrRoute = iota
	acrRepository
	acrTagList
	acrTag
	acrManifestList
	acrManifest
)

// acrMethods are the methods each route serves.
var acrMethods = map[acrRoute][]string{
	acrCatalog:      {http.MethodGet},
	acrRepository:   {http.MethodGet, http.MethodPatch, http.MethodDelete},
	acrTagList:      {http.MethodGet},
	acrTag:          {http.MethodGet, http.MethodPatch, http.MethodDelete},
	acrManifestList: {http.MethodGet},
	acrManifest:     {http.MethodGet, http.MethodPatch},
}

var (
	errPaginationInvalid = &regError{Status: http.StatusBadRequest, Code: "PAGINATION_NUMBER_INVALID", Message: "invalid number of results requested"}
	errTagInvalid        = &regError{Status: http.StatusBadRequest, Code: "TAG_INVALID", Message: "invalid tag name"}
	errTagNotFound       = &regError{Status: http.StatusNotFound, Code: "TAG_UNKNOWN", Message: "the specified tag does not exist"}
)

func errNameUnknown(name string) *regError {
	return &regError{Status: http.StatusNotFound, Code: "NAME_UNKNOWN", Message: "repository name not known to registry", Detail: map[string]string{"name": name}}
}

// parseACRPath splits /acr/v1/… into a route, a repository name and a tag
// or manifest reference.
// Repository path components never start with "_", so a "_" segment is
// always one of ACR's resource names; those not served here are unknown.
func parseACRPath(p string) (route acrRoute, name, tag string, ok bool) {
	rest, ok := strings.CutPrefix(p, "/acr/v1/")
	if !ok || rest == "" {
		return 0, "", "", false
	}
	if rest == "_catalog" {
		return acrCatalog, "", "", true
	}
	route = acrRepository
	if n, found := strings.CutSuffix(rest, "/_tags"); found {
		route, rest = acrTagList, n
	} else if n, found := strings.CutSuffix(rest, "/_manifests"); found {
		route, rest = acrManifestList, n
	} else if i := strings.LastIndex(rest, "/_tags/"); i >= 0 {
		route, rest, tag = acrTag, rest[:i], rest[i+len("/_tags/"):]
	} else if i := strings.LastIndex(rest, "/_manifests/"); i >= 0 {
		route, rest, tag = acrManifest, rest[:i], rest[i+len("/_manifests/"):]
	}
	if (route == acrTag || route == acrManifest) && (tag == "" || strings.Contains(tag, "/")) {
		return 0, "", "", false
	}
	for _, seg := range strings.Split(rest, "/") {
		if strings.HasPrefix(seg, "_") {
			return 0, "", "", false
		}
	}
	return route, rest, tag, true
}

// serveACR serves a request under /acr/v1/.
func (r *Registry) serveACR(w http.ResponseWriter, req *http.Request) error {
	route, name, tag, ok := parseACRPath(req.URL.Path)
	if !ok {
		return errNotFound
	}
	if methods := acrMethods[route]; !slices.Contains(methods, req.Method) {
		w.Header().Set("Allow", strings.Join(methods, ", "))
		return errMethodNotAllowed
	}
	var need auth.Access
	if route == acrCatalog {
		need = auth.Access{Resource: auth.Resource{Type: "registry", Name: "catalog"}, Action: "*"}
	} else {
		named, err := reference.WithName(name)
		if err != nil {
			return errNameInvalid
		}
		if route == acrTag {
			if _, err := reference.WithTag(named, tag); err != nil {
				return errTagInvalid
			}
		}
		action := "metadata_read"
		switch req.Method {
		case http.MethodDelete:
			action = "delete"
		case http.MethodPatch:
			action = "metadata_write"
		}
		need = auth.Access{Resource: auth.Resource{Type: "repository", Name: name}, Action: action}
	}
	if err := r.authorize(w, req, need); err != nil {
		return err
	}

	switch {
	case route == acrCatalog:
		return r.serveCatalog(w, req)
	case route == acrTagList:
		return r.serveTagList(w, req, name)
	case route == acrManifestList:
		return r.serveManifestList(w, req, name)
	case route == acrManifest:
		return r.serveManifest(w, req, name, tag)
	case route == acrTag && req.Method == http.MethodDelete:
		return r.serveUntag(w, req, name, tag)
	case route == acrTag:
		return r.serveTag(w, req, name, tag)
	case req.Method != http.MethodDelete:
		return r.serveRepository(w, req, name)
	default:
		return r.serveDeleteRepository(w, req, name)
	}
}

// authorize checks the request's credentials for records with the access
// controller distribution uses, so the credentials and the 401 challenge
// are those of every /v2/ request.
func (r *Registry) authorize(w http.ResponseWriter, req *http.Request, records ...auth.Access) error {
	if _, err := (accessController{r}).Authorized(req, records...); err != nil {
		var ch *challenge
		if errors.As(err, &ch) {
			w.Header().Set("WWW-Authenticate", ch.header)
			return ch.err
		}
		return err
	}
	return nil
}

// acrTagAttributes is ACR's TagAttributesBase.
type acrTagAttributes struct {
	Name                 string               `json:"name"`
	Digest               string               `json:"digest"`
	CreatedTime          string               `json:"createdTime"`
	LastUpdateTime       string               `json:"lastUpdateTime"`
	Signed               bool                 `json:"signed"`
	ChangeableAttributes changeableAttributes `json:"changeableAttributes"`
}

func tagAttributes(t tagInfo, ra *repoAttributes) acrTagAttributes {
	return acrTagAttributes{
		Name:                 t.name,
		Digest:               t.digest.String(),
		CreatedTime:          acrTime(t.created),
		LastUpdateTime:       acrTime(t.updated),
		ChangeableAttributes: ra.tag(t.name),
	}
}

func acrTime(t time.Time) string { return t.UTC().Format(acrTimeLayout) }

// pageSize reads n: absent gives acrPageDefault, more than acrPageMax
// gives acrPageMax, 0 an empty page; a negative or non-numeric n is
// PAGINATION_NUMBER_INVALID.
func pageSize(q url.Values) (int, error) {
	s := q.Get("n")
	if s == "" {
		return acrPageDefault, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errPaginationInvalid
	}
	return min(n, acrPageMax), nil
}

// setNextLink sets the Link header of a page that has a successor, in the
// format of distribution's /v2/_catalog, which az follows.
func setNextLink(w http.ResponseWriter, path string, q url.Values) {
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode()))
}

// serveCatalog answers GET /acr/v1/_catalog[?n=&last=]:
// {"repositories":[…]} in the order of /v2/_catalog.
func (r *Registry) serveCatalog(w http.ResponseWriter, req *http.Request) error {
	q := req.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		return err
	}
	repos, more, err := r.repos.repositories(req.Context(), n, q.Get("last"))
	if err != nil {
		return errInternal(err)
	}
	if more {
		setNextLink(w, req.URL.Path, url.Values{"last": {repos[len(repos)-1]}, "n": {strconv.Itoa(n)}})
	}
	return writeJSONStatus(w, http.StatusOK, struct {
		Repositories []string `json:"repositories"`
	}{repos})
}

// requireRepository returns NAME_UNKNOWN unless name is a repository.
func (r *Registry) requireRepository(req *http.Request, name string) error {
	ok, err := r.repos.exists(req.Context(), name)
	switch {
	case err != nil:
		return errInternal(err)
	case !ok:
		return errNameUnknown(name)
	}
	return nil
}

// serveTagList answers GET /acr/v1/<name>/_tags[?n=&last=&orderby=&digest=]:
// the tags ordered by name, or by last update with orderby=timedesc or
// timeasc; digest keeps the tags of one manifest. A page starts after the
// tag named last. Tags with listEnabled false are left out.
func (r *Registry) serveTagList(w http.ResponseWriter, req *http.Request, name string) error {
	q := req.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		return err
	}
	orderBy := q.Get("orderby")
	var order func(a, b tagInfo) int
	switch orderBy {
	case "", "none":
	case "timedesc":
		order = func(a, b tagInfo) int { return cmp.Or(b.updated.Compare(a.updated), cmp.Compare(a.name, b.name)) }
	case "timeasc":
		order = func(a, b tagInfo) int { return cmp.Or(a.updated.Compare(b.updated), cmp.Compare(a.name, b.name)) }
	default:
		return errUnsupported(fmt.Sprintf("orderby %q is not supported", orderBy))
	}
	var onlyDigest digest.Digest
	if s := q.Get("digest"); s != "" {
		if onlyDigest, err = digest.Parse(s); err != nil {
			return errBadDigest(s, err)
		}
	}
	if err := r.requireRepository(req, name); err != nil {
		return err
	}
	tags, err := r.repos.tags(req.Context(), name)
	if err != nil {
		return errInternal(err)
	}
	ra := r.attrs.of(name)
	tags = slices.DeleteFunc(tags, func(t tagInfo) bool {
		return onlyDigest != "" && t.digest != onlyDigest || !ra.tag(t.name).ListEnabled
	})
	if order != nil {
		slices.SortFunc(tags, order)
	}
	tags = tagsAfter(tags, q.Get("last"), order == nil)

	// n=0 asks for an empty page, which has no successor: a next link
	// would repeat the same request forever.
	more := n > 0 && len(tags) > n
	tags = tags[:min(n, len(tags))]
	if more {
		next := url.Values{"last": {tags[len(tags)-1].name}, "n": {strconv.Itoa(n)}}
		if orderBy != "" {
			next.Set("orderby", orderBy)
		}
		if onlyDigest != "" {
			next.Set("digest", onlyDigest.String())
		}
		setNextLink(w, req.URL.Path, next)
	}
	list := make([]acrTagAttributes, len(tags))
	for i, t := range tags {
		list[i] = tagAttributes(t, ra)
	}
	return writeJSONStatus(w, http.StatusOK, struct {
		Registry  string             `json:"registry"`
		ImageName string             `json:"imageName"`
		Tags      []acrTagAttributes `json:"tags"`
	}{r.loginServer, name, list})
}

// tagsAfter drops the tags up to and including last. A last that is not a
// tag continues after its place in name order, or from the start in time
// order, where it has no place.
func tagsAfter(tags []tagInfo, last string, byName bool) []tagInfo {
	if last == "" {
		return tags
	}
	if i := slices.IndexFunc(tags, func(t tagInfo) bool { return t.name == last }); i >= 0 {
		return tags[i+1:]
	}
	if byName {
		i, _ := slices.BinarySearchFunc(tags, last, func(t tagInfo, s string) int { return cmp.Compare(t.name, s) })
		return tags[i:]
	}
	return tags
}

// serveTag answers GET and PATCH /acr/v1/<name>/_tags/<tag>.
func (r *Registry) serveTag(w http.ResponseWriter, req *http.Request, name, tag string) error {
	var patch attributesPatch
	if req.Method == http.MethodPatch {
		var err error
		if patch, err = readPatch(w, req); err != nil {
			return err
		}
	}
	if err := r.requireRepository(req, name); err != nil {
		return err
	}
	ctx := req.Context()
	t, err := r.repos.tag(ctx, name, tag)
	switch {
	case errors.Is(err, errTagUnknown):
		return errTagNotFound
	case err != nil:
		return errInternal(err)
	}
	if req.Method == http.MethodPatch {
		err := r.attrs.change(ctx, name, func(ra *repoAttributes) error {
			if ra.Tags == nil {
				ra.Tags = map[string]changeableAttributes{}
			}
			ra.Tags[tag] = patch.applyTo(ra.tag(tag))
			return nil
		})
		if err != nil {
			return errInternal(err)
		}
	}
	return writeJSONStatus(w, http.StatusOK, struct {
		Registry  string           `json:"registry"`
		ImageName string           `json:"imageName"`
		Tag       acrTagAttributes `json:"tag"`
	}{r.loginServer, name, tagAttributes(t, r.attrs.of(name))})
}

// serveUntag answers DELETE /acr/v1/<name>/_tags/<tag>: the tag goes, its
// manifest stays (az acr repository untag). A tag that is locked, or in a
// locked repository, is not deleted.
func (r *Registry) serveUntag(w http.ResponseWriter, req *http.Request, name, tag string) error {
	if err := r.requireRepository(req, name); err != nil {
		return err
	}
	ra := r.attrs.of(name)
	if _, err := r.repos.tag(req.Context(), name, tag); err == nil && (!ra.repository().WriteEnabled || ra.tag(tag).undeletable()) {
		return errDisallowed
	}
	err := r.repos.untag(req.Context(), name, tag)
	switch {
	case errors.Is(err, errTagUnknown):
		return errTagNotFound
	case err != nil:
		return errInternal(err)
	}
	if err := r.attrs.forget(req.Context(), name, false, []string{tag}, nil); err != nil {
		return errInternal(err)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// serveRepository answers GET and PATCH /acr/v1/<name>: ACR's
// RepositoryAttributes.
func (r *Registry) serveRepository(w http.ResponseWriter, req *http.Request, name string) error {
	var patch attributesPatch
	if req.Method == http.MethodPatch {
		var err error
		if patch, err = readPatch(w, req); err != nil {
			return err
		}
	}
	if err := r.requireRepository(req, name); err != nil {
		return err
	}
	ctx := req.Context()
	if req.Method == http.MethodPatch {
		err := r.attrs.change(ctx, name, func(ra *repoAttributes) error {
			a := patch.applyTo(ra.repository())
			ra.Repository = &a
			return nil
		})
		if err != nil {
			return errInternal(err)
		}
	}
	manifests, err := r.repos.manifests(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	tags, err := r.repos.tags(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	created, updated, err := r.repos.repoTimes(ctx, name, manifests, tags)
	if err != nil {
		return errInternal(err)
	}
	return writeJSONStatus(w, http.StatusOK, struct {
		Registry             string               `json:"registry"`
		ImageName            string               `json:"imageName"`
		CreatedTime          string               `json:"createdTime"`
		LastUpdateTime       string               `json:"lastUpdateTime"`
		ManifestCount        int                  `json:"manifestCount"`
		TagCount             int                  `json:"tagCount"`
		ChangeableAttributes changeableAttributes `json:"changeableAttributes"`
	}{r.loginServer, name, acrTime(created), acrTime(updated), len(manifests), len(tags), r.attrs.of(name).repository()})
}

// serveDeleteRepository answers DELETE /acr/v1/<name>: every manifest and
// tag of the repository is deleted and the repository disappears from the
// catalog; the answer is 202 {"manifestsDeleted":[…],"tagsDeleted":[…]}.
//
// Manifests and layer links are deleted through distribution's own /v2/
// handlers, with the caller's credentials (the same repository:<name>:delete
// they were just granted): that clears distribution's descriptor cache for
// the repository, which would otherwise keep serving the deleted content,
// and keeps the referrers index current. What is left (tags, upload
// directories) is then removed from storage, and with it the repository's
// changeableAttributes. A repository that is locked, or holds a locked tag
// or manifest, is not deleted.
func (r *Registry) serveDeleteRepository(w http.ResponseWriter, req *http.Request, name string) error {
	if err := r.requireRepository(req, name); err != nil {
		return err
	}
	if ra := r.attrs.of(name); ra.repository().undeletable() || ra.anyUndeletable() {
		return errDisallowed
	}
	ctx := req.Context()
	tags, err := r.repos.tags(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	manifests, err := r.repos.manifests(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	layers, err := r.repos.layers(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	deleted := struct {
		Manifests []string `json:"manifestsDeleted"`
		Tags      []string `json:"tagsDeleted"`
	}{make([]string, 0, len(manifests)), make([]string, 0, len(tags))}
	for _, m := range manifests {
		if err := r.deleteThroughV2(req, "/v2/"+name+"/manifests/"+m.digest.String()); err != nil {
			return errInternal(err)
		}
		deleted.Manifests = append(deleted.Manifests, m.digest.String())
	}
	for _, d := range layers {
		if err := r.deleteThroughV2(req, "/v2/"+name+"/blobs/"+d.String()); err != nil {
			return errInternal(err)
		}
	}
	if err := r.repos.remove(ctx, name); err != nil {
		return errInternal(err)
	}
	if err := r.attrs.forget(ctx, name, true, nil, nil); err != nil {
		return errInternal(err)
	}
	for _, t := range tags {
		deleted.Tags = append(deleted.Tags, t.name)
	}
	slices.Sort(deleted.Manifests)
	return writeJSONStatus(w, http.StatusAccepted, deleted)
}

// deleteThroughV2 sends DELETE path to distribution on behalf of req, with
// req's host, peer and credentials. Gone already (404) counts as deleted.
func (r *Registry) deleteThroughV2(req *http.Request, path string) error {
	sub, err := http.NewRequestWithContext(req.Context(), http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	sub.Host, sub.RemoteAddr, sub.TLS, sub.RequestURI = req.Host, req.RemoteAddr, req.TLS, path
	if a := req.Header.Get("Authorization"); a != "" {
		sub.Header.Set("Authorization", a)
	}
	rec := &statusRecorder{header: http.Header{}}
	r.serveDistribution(rec, sub)
	if rec.status != http.StatusAccepted && rec.status != http.StatusNotFound {
		return fmt.Errorf("DELETE %s: status %d", path, rec.status)
	}
	return nil
}

// statusRecorder keeps the status of a response and drops its body.
type statusRecorder struct {
	header http.Header
	status int
}

func (s *statusRecorder) Header() http.Header { return s.header }

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	s.WriteHeader(http.StatusOK)
	return len(p), nil
}

// writeJSONStatus writes v as a JSON response with status.
func writeJSONStatus(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errInternal(err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // too late for an error response
	return nil
}
