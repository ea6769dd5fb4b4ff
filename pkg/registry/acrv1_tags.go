package registry

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/opencontainers/go-digest"
)

var (
	errTagInvalid  = &regError{Status: http.StatusBadRequest, Code: codeTagInvalid, Message: "invalid tag name"}
	errTagNotFound = &regError{Status: http.StatusNotFound, Code: codeTagUnknown, Message: "the specified tag does not exist"}
)

// acrTagAttributes is ACR's TagAttributesBase.
type acrTagAttributes struct {
	Name                 string               `json:"name"`
	Digest               string               `json:"digest"`
	CreatedTime          string               `json:"createdTime"`
	LastUpdateTime       string               `json:"lastUpdateTime"`
	Signed               bool                 `json:"signed"`
	ChangeableAttributes changeableAttributes `json:"changeableAttributes"`
}

func tagName(t tagInfo) string { return t.name }

func tagAttributes(t tagInfo, ra *repoAttributes) acrTagAttributes {
	return acrTagAttributes{
		Name:                 t.name,
		Digest:               t.digest.String(),
		CreatedTime:          acrTime(t.created),
		LastUpdateTime:       acrTime(t.updated),
		ChangeableAttributes: ra.tag(t.name),
	}
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
	tags, more := pageAfter(tags, tagName, q.Get("last"), order == nil, n)
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

// serveTag answers GET and PATCH /acr/v1/<name>/_tags/<tag>.
func (r *Registry) serveTag(w http.ResponseWriter, req *http.Request, name, tag string) error {
	patch, err := readPatch(w, req)
	if err != nil {
		return err
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
