package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
)

// ACR's changeableAttributes (deleteEnabled, writeEnabled, readEnabled,
// listEnabled) of repositories, tags and manifests: set with PATCH on
// /acr/v1/… (acrv1_*.go), enforced on /v2/ (locks.go).
//
// Storage: one small JSON file per repository in distribution's storage
// driver, at /acremu/attributes/<repository>/_attributes.json, outside
// distribution's own tree (which it walks for the catalog). The driver is
// the one distribution uses, so on filesystem storage the file lies under
// the registry's storage root and survives a restart, and on in-memory
// storage it lives and dies with the blobs. The file holds only what
// differs from the default (everything enabled); a repository without
// restrictions has no file. All files are read once when the registry is
// built; afterwards the attributes are an immutable snapshot behind an
// atomic pointer, so the /v2/ request path looks a repository up without
// a lock or an allocation and does no I/O for repositories without
// attributes. Changes are serialised, written to storage, then swapped in.

const (
	attributesRoot = "/acremu/attributes"
	// attributesFile starts with "_", which no repository path component
	// may, so the file of "a" never collides with the repository "a/b".
	attributesFile = "_attributes.json"
)

func attributesPath(name string) string { return path.Join(attributesRoot, name, attributesFile) }

// changeableAttributes are ACR's per-resource locks, in ACR's key order.
type changeableAttributes struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

// allEnabled is every resource's default.
var allEnabled = changeableAttributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}

// undeletable reports whether the resource may not be deleted: ACR's
// writeEnabled=false blocks deletes as well as updates.
func (a changeableAttributes) undeletable() bool { return !a.DeleteEnabled || !a.WriteEnabled }

// attributesPatch is the body of a PATCH: absent fields stay as they are.
type attributesPatch struct {
	DeleteEnabled *bool `json:"deleteEnabled"`
	WriteEnabled  *bool `json:"writeEnabled"`
	ReadEnabled   *bool `json:"readEnabled"`
	ListEnabled   *bool `json:"listEnabled"`
}

func (p attributesPatch) applyTo(a changeableAttributes) changeableAttributes {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.DeleteEnabled, p.DeleteEnabled)
	set(&a.WriteEnabled, p.WriteEnabled)
	set(&a.ReadEnabled, p.ReadEnabled)
	set(&a.ListEnabled, p.ListEnabled)
	return a
}

// repoAttributes are the attributes of one repository and of its tags
// and manifests (keyed by digest) that differ from allEnabled. A nil
// *repoAttributes is a repository with none; its methods answer for it.
type repoAttributes struct {
	Repository *changeableAttributes           `json:"repository,omitempty"`
	Tags       map[string]changeableAttributes `json:"tags,omitempty"`
	Manifests  map[string]changeableAttributes `json:"manifests,omitempty"`
}

func (ra *repoAttributes) repository() changeableAttributes {
	if ra == nil || ra.Repository == nil {
		return allEnabled
	}
	return *ra.Repository
}

func (ra *repoAttributes) tag(tag string) changeableAttributes {
	if ra == nil {
		return allEnabled
	}
	if a, ok := ra.Tags[tag]; ok {
		return a
	}
	return allEnabled
}

func (ra *repoAttributes) manifest(dgst string) changeableAttributes {
	if ra == nil {
		return allEnabled
	}
	if a, ok := ra.Manifests[dgst]; ok {
		return a
	}
	return allEnabled
}

// hidesTags reports whether a tag is unlisted.
func (ra *repoAttributes) hidesTags() bool {
	if ra == nil {
		return false
	}
	for _, a := range ra.Tags {
		if !a.ListEnabled {
			return true
		}
	}
	return false
}

// unreadableManifests reports whether a manifest is unreadable, so that a
// pull by tag must resolve the tag to check its manifest.
func (ra *repoAttributes) unreadableManifests() bool {
	if ra == nil {
		return false
	}
	for _, a := range ra.Manifests {
		if !a.ReadEnabled {
			return true
		}
	}
	return false
}

// anyUndeletable reports whether a tag or manifest may not be deleted,
// which keeps the repository from being deleted.
func (ra *repoAttributes) anyUndeletable() bool {
	if ra == nil {
		return false
	}
	for _, m := range []map[string]changeableAttributes{ra.Tags, ra.Manifests} {
		for _, a := range m {
			if a.undeletable() {
				return true
			}
		}
	}
	return false
}

func (ra *repoAttributes) clone() *repoAttributes {
	out := &repoAttributes{Tags: maps.Clone(ra.Tags), Manifests: maps.Clone(ra.Manifests)}
	if ra.Repository != nil {
		a := *ra.Repository
		out.Repository = &a
	}
	return out
}

// prune drops the entries that are the default and reports whether
// anything is left.
func (ra *repoAttributes) prune() bool {
	if ra.Repository != nil && *ra.Repository == allEnabled {
		ra.Repository = nil
	}
	maps.DeleteFunc(ra.Tags, func(_ string, a changeableAttributes) bool { return a == allEnabled })
	maps.DeleteFunc(ra.Manifests, func(_ string, a changeableAttributes) bool { return a == allEnabled })
	if len(ra.Tags) == 0 {
		ra.Tags = nil
	}
	if len(ra.Manifests) == 0 {
		ra.Manifests = nil
	}
	return ra.Repository != nil || ra.Tags != nil || ra.Manifests != nil
}

// attributeStore holds every repository's attributes.
type attributeStore struct {
	driver storagedriver.StorageDriver
	mu     sync.Mutex // serialises changes; readers use snap only
	snap   atomic.Pointer[map[string]*repoAttributes]
}

// loadAttributes reads every attributes file from d.
func loadAttributes(ctx context.Context, d storagedriver.StorageDriver) (*attributeStore, error) {
	s := &attributeStore{driver: d}
	all := map[string]*repoAttributes{}
	err := d.Walk(ctx, attributesRoot, func(fi storagedriver.FileInfo) error {
		if fi.IsDir() || path.Base(fi.Path()) != attributesFile {
			return nil
		}
		name := strings.TrimPrefix(path.Dir(fi.Path()), attributesRoot+"/")
		if _, err := reference.WithName(name); err != nil {
			return nil // not a repository's file
		}
		b, err := d.GetContent(ctx, fi.Path())
		if err != nil {
			return err
		}
		var ra repoAttributes
		if err := json.Unmarshal(b, &ra); err != nil {
			return fmt.Errorf("attributes of repository %s: %w", name, err)
		}
		if ra.prune() {
			all[name] = &ra
		}
		return nil
	})
	if err != nil && !isPathNotFound(err) {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	s.snap.Store(&all)
	return s, nil
}

// of returns the attributes of the repository name, nil when it has none.
func (s *attributeStore) of(name string) *repoAttributes { return (*s.snap.Load())[name] }

// change applies fn to a copy of the attributes of the repository name,
// stores the result and makes it current. Nothing changes if fn or the
// write fails.
func (s *attributeStore) change(ctx context.Context, name string, fn func(*repoAttributes) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := &repoAttributes{}
	if cur := s.of(name); cur != nil {
		next = cur.clone()
	}
	if err := fn(next); err != nil {
		return err
	}
	keep := next.prune()
	if keep {
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if err := s.driver.PutContent(ctx, attributesPath(name), append(b, '\n')); err != nil {
			return err
		}
	} else if err := s.driver.Delete(ctx, attributesPath(name)); err != nil && !isPathNotFound(err) {
		return err
	}
	all := maps.Clone(*s.snap.Load())
	if keep {
		all[name] = next
	} else {
		delete(all, name)
	}
	s.snap.Store(&all)
	return nil
}

// forget drops the attributes of tags and manifests that are gone; with
// repository set, of the whole repository.
func (s *attributeStore) forget(ctx context.Context, name string, repository bool, tags []string, manifests []string) error {
	if s.of(name) == nil {
		return nil
	}
	return s.change(ctx, name, func(ra *repoAttributes) error {
		if repository {
			*ra = repoAttributes{}
			return nil
		}
		for _, t := range tags {
			delete(ra.Tags, t)
		}
		for _, m := range manifests {
			delete(ra.Manifests, m)
		}
		return nil
	})
}

// decodePatch reads a PATCH body: a JSON object with any of the four
// booleans. An empty body changes nothing; any other key is refused, as
// acremu never accepts a setting it would drop.
func decodePatch(body []byte) (attributesPatch, error) {
	var p attributesPatch
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typ) && typ.Field != "":
			return p, errUnsupported(fmt.Sprintf("%s must be a boolean", typ.Field))
		case errors.As(err, &syntax):
			return p, errUnsupported("the request body is not valid JSON")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return p, errUnsupported("changeable attribute " + strings.TrimPrefix(err.Error(), "json: unknown field ") + " is not supported")
		default:
			return p, errUnsupported("the request body must be a JSON object of changeable attributes")
		}
	}
	if dec.More() {
		return p, errUnsupported("the request body must be one JSON object")
	}
	return p, nil
}

// readPatch reads and decodes the body of a PATCH of changeableAttributes;
// any other method has no patch (the zero value).
func readPatch(w http.ResponseWriter, req *http.Request) (attributesPatch, error) {
	if req.Method != http.MethodPatch {
		return attributesPatch{}, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 64<<10))
	if err != nil {
		return attributesPatch{}, errUnsupported("the request body is too large or could not be read")
	}
	return decodePatch(b)
}
