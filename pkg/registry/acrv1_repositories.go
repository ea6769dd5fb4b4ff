package registry

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// errNameUnknown refuses a repository that holds nothing.
func errNameUnknown(name string) *regError {
	return &regError{Status: http.StatusNotFound, Code: codeNameUnknown, Message: "repository name not known to registry", Detail: map[string]string{"name": name}}
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

// serveRepository answers GET and PATCH /acr/v1/<name>: ACR's
// RepositoryAttributes.
func (r *Registry) serveRepository(w http.ResponseWriter, req *http.Request, name string) error {
	patch, err := readPatch(w, req)
	if err != nil {
		return err
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
