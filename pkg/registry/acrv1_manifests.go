package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// ACR's manifest metadata: GET /acr/v1/<name>/_manifests (ManifestAttributes
// of every listed manifest) and GET or PATCH /acr/v1/<name>/_manifests/<digest>.
// The values are read from the manifests distribution stores:
//
//   - imageSize: an image's manifest, config and layers together; an
//     index's, the sum of the image sizes of the manifests it lists (as
//     ACR reports them);
//   - architecture and os: from an image's config blob;
//   - references: the platform of each manifest of an index (single GET
//     only, as in ACR's answers);
//   - createdTime and lastUpdateTime: when the manifest was stored.
//
// The list is ordered by digest, or by time with orderby=timedesc or
// timeasc; the next link carries last (a digest), n and orderby, as ACR's.

var errManifestUnknown = &regError{Status: http.StatusNotFound, Code: codeManifestUnknown, Message: "manifest unknown"}

// acrManifestAttributes is ACR's ManifestAttributesBase, in ACR's key order.
type acrManifestAttributes struct {
	Digest               string                 `json:"digest"`
	ImageSize            int64                  `json:"imageSize"`
	CreatedTime          string                 `json:"createdTime"`
	LastUpdateTime       string                 `json:"lastUpdateTime"`
	Architecture         string                 `json:"architecture,omitempty"`
	OS                   string                 `json:"os,omitempty"`
	MediaType            string                 `json:"mediaType,omitempty"`
	ConfigMediaType      string                 `json:"configMediaType,omitempty"`
	Tags                 []string               `json:"tags,omitempty"`
	ChangeableAttributes changeableAttributes   `json:"changeableAttributes"`
	References           []acrManifestReference `json:"references,omitempty"`
}

// acrManifestReference is one platform of an index.
type acrManifestReference struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

// manifestAttributes renders one manifest.
func (r *Registry) manifestAttributes(ctx context.Context, name string, m manifestInfo, tags []string, ra *repoAttributes, memo map[digest.Digest]*manifestFacts, withRefs bool) (acrManifestAttributes, error) {
	f, err := r.repos.manifestFacts(ctx, name, m.digest, memo, 0)
	if err != nil {
		return acrManifestAttributes{}, err
	}
	a := acrManifestAttributes{
		Digest:               m.digest.String(),
		ImageSize:            f.size,
		CreatedTime:          acrTime(m.stored),
		LastUpdateTime:       acrTime(m.stored),
		Architecture:         f.arch,
		OS:                   f.os,
		MediaType:            f.mediaType,
		ConfigMediaType:      f.configMediaType,
		Tags:                 tags,
		ChangeableAttributes: ra.manifest(m.digest.String()),
	}
	if withRefs {
		a.References = f.references
	}
	return a, nil
}

func manifestDigest(m manifestInfo) string { return m.digest.String() }

// tagsByDigest groups the repository's tags (in name order) by manifest.
func tagsByDigest(tags []tagInfo) map[digest.Digest][]string {
	out := map[digest.Digest][]string{}
	for _, t := range tags {
		out[t.digest] = append(out[t.digest], t.name)
	}
	return out
}

// serveManifestList answers GET /acr/v1/<name>/_manifests[?n=&last=&orderby=].
func (r *Registry) serveManifestList(w http.ResponseWriter, req *http.Request, name string) error {
	q := req.URL.Query()
	n, err := pageSize(q)
	if err != nil {
		return err
	}
	orderBy := q.Get("orderby")
	byDigest := func(a, b manifestInfo) int { return cmp.Compare(a.digest, b.digest) }
	order := byDigest
	switch orderBy {
	case "", "none":
	case "timedesc":
		order = func(a, b manifestInfo) int { return cmp.Or(b.stored.Compare(a.stored), byDigest(a, b)) }
	case "timeasc":
		order = func(a, b manifestInfo) int { return cmp.Or(a.stored.Compare(b.stored), byDigest(a, b)) }
	default:
		return errUnsupported(fmt.Sprintf("orderby %q is not supported", orderBy))
	}
	if err := r.requireRepository(req, name); err != nil {
		return err
	}
	ctx := req.Context()
	all, err := r.repos.manifests(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	tags, err := r.repos.tags(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	ra := r.attrs.of(name)
	listed := slices.DeleteFunc(all, func(m manifestInfo) bool { return !ra.manifest(m.digest.String()).ListEnabled })
	slices.SortFunc(listed, order)
	listed, more := pageAfter(listed, manifestDigest, q.Get("last"), orderBy == "" || orderBy == "none", n)
	if more {
		setNextLink(w, req.URL.Path, url.Values{"last": {listed[len(listed)-1].digest.String()}, "n": {strconv.Itoa(n)}, "orderby": {orderBy}})
	}
	byDgst := tagsByDigest(tags)
	memo := map[digest.Digest]*manifestFacts{}
	list := make([]acrManifestAttributes, 0, len(listed))
	for _, m := range listed {
		a, err := r.manifestAttributes(ctx, name, m, byDgst[m.digest], ra, memo, false)
		if err != nil {
			return errInternal(err)
		}
		list = append(list, a)
	}
	return writeJSONStatus(w, http.StatusOK, struct {
		Registry  string                  `json:"registry"`
		ImageName string                  `json:"imageName"`
		Manifests []acrManifestAttributes `json:"manifests"`
	}{r.loginServer, name, list})
}

// serveManifest answers GET and PATCH /acr/v1/<name>/_manifests/<digest>.
//
// The reference is a digest or, as ACR's API allows, a tag, which is
// resolved to the digest it points at.
func (r *Registry) serveManifest(w http.ResponseWriter, req *http.Request, name, ref string) error {
	d, err := digest.Parse(ref)
	byTag := false
	if err != nil {
		if !anchoredTag.MatchString(ref) {
			return errBadDigest(ref, err)
		}
		byTag = true
	}
	patch, err := readPatch(w, req)
	if err != nil {
		return err
	}
	if err := r.requireRepository(req, name); err != nil {
		return err
	}
	ctx := req.Context()
	if byTag {
		t, err := r.repos.tag(ctx, name, ref)
		switch {
		case errors.Is(err, errTagUnknown):
			return errManifestUnknown
		case err != nil:
			return errInternal(err)
		}
		d = t.digest
	}
	stored, ok, err := r.repos.manifestStored(ctx, name, d)
	switch {
	case err != nil:
		return errInternal(err)
	case !ok:
		return errManifestUnknown
	}
	if req.Method == http.MethodPatch {
		err := r.attrs.change(ctx, name, func(ra *repoAttributes) error {
			if ra.Manifests == nil {
				ra.Manifests = map[string]changeableAttributes{}
			}
			ra.Manifests[d.String()] = patch.applyTo(ra.manifest(d.String()))
			return nil
		})
		if err != nil {
			return errInternal(err)
		}
	}
	tags, err := r.repos.tags(ctx, name)
	if err != nil {
		return errInternal(err)
	}
	a, err := r.manifestAttributes(ctx, name, manifestInfo{digest: d, stored: stored}, tagsByDigest(tags)[d], r.attrs.of(name), map[digest.Digest]*manifestFacts{}, true)
	if err != nil {
		return errInternal(err)
	}
	return writeJSONStatus(w, http.StatusOK, struct {
		Registry  string                `json:"registry"`
		ImageName string                `json:"imageName"`
		Manifest  acrManifestAttributes `json:"manifest"`
	}{r.loginServer, name, a})
}

// anchoredTag matches a whole tag.
var anchoredTag = regexp.MustCompile(`^` + reference.TagRegexp.String() + `$`)
