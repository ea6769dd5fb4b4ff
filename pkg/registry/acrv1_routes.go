package registry

import (
	"net/http"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/auth"
	"github.com/distribution/reference"
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
//
// This file routes a request to its handler with the access it needs.

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
		return methodNotAllowed(methods...)
	}
	if route != acrCatalog {
		named, err := reference.WithName(name)
		if err != nil {
			return errNameInvalid
		}
		if route == acrTag {
			if _, err := reference.WithTag(named, tag); err != nil {
				return errTagInvalid
			}
		}
	}
	if err := r.authorize(req, acrAccess(route, req.Method, name)); err != nil {
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

// acrAccess is the record a route needs: registry:catalog:* for the
// catalog; for a repository, delete to delete, metadata_write to PATCH,
// metadata_read to read.
func acrAccess(route acrRoute, method, name string) auth.Access {
	if route == acrCatalog {
		return catalogAccess
	}
	switch method {
	case http.MethodDelete:
		return repositoryAccess(name, "delete")
	case http.MethodPatch:
		return repositoryAccess(name, "metadata_write")
	default:
		return repositoryAccess(name, "metadata_read")
	}
}
