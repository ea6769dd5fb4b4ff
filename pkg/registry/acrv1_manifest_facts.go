package registry

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/opencontainers/go-digest"
)

// What a stored manifest says about itself: its size, media types and
// platform, read from the manifest and its config blob.

// manifestDoc is what is read of a stored manifest.
type manifestDoc struct {
	MediaType string `json:"mediaType"`
	Config    *struct {
		MediaType string        `json:"mediaType"`
		Size      int64         `json:"size"`
		Digest    digest.Digest `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Size int64 `json:"size"`
	} `json:"layers"`
	Manifests []struct {
		Digest   digest.Digest `json:"digest"`
		Size     int64         `json:"size"`
		Platform *struct {
			Architecture string `json:"architecture"`
			OS           string `json:"os"`
		} `json:"platform"`
	} `json:"manifests"`
}

// manifestFacts are a manifest's attributes that come from its content.
type manifestFacts struct {
	size            int64
	mediaType       string
	configMediaType string
	arch, os        string
	references      []acrManifestReference
}

// imageConfigTypes are the config media types that carry a platform.
var imageConfigTypes = []string{"application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json"}

// manifestFacts reads the manifest d of the repository name; memo keeps
// what one request has read already (an index's children, shared configs).
func (s *repoStore) manifestFacts(ctx context.Context, name string, d digest.Digest, memo map[digest.Digest]*manifestFacts, depth int) (*manifestFacts, error) {
	if f, ok := memo[d]; ok {
		return f, nil
	}
	b, err := s.readBlob(ctx, d)
	if err != nil {
		return nil, err
	}
	var doc manifestDoc
	f := &manifestFacts{size: int64(len(b))}
	memo[d] = f
	if json.Unmarshal(b, &doc) != nil {
		return f, nil // not JSON: a manifest distribution accepted, reported by size
	}
	f.mediaType = doc.MediaType
	switch {
	case doc.Manifests != nil:
		if f.mediaType == "" {
			f.mediaType = "application/vnd.oci.image.index.v1+json"
		}
		f.size = 0
		for _, m := range doc.Manifests {
			ref := acrManifestReference{Digest: m.Digest.String()}
			if m.Platform != nil {
				ref.Architecture, ref.OS = m.Platform.Architecture, m.Platform.OS
			}
			f.references = append(f.references, ref)
			size := m.Size
			if m.Digest.Validate() == nil && depth < 4 {
				if _, ok, _ := s.manifestStored(ctx, name, m.Digest); ok {
					if child, err := s.manifestFacts(ctx, name, m.Digest, memo, depth+1); err == nil {
						size = child.size
					}
				}
			}
			f.size += size
		}
	case doc.Config != nil:
		if f.mediaType == "" {
			f.mediaType = "application/vnd.oci.image.manifest.v1+json"
		}
		f.configMediaType = doc.Config.MediaType
		f.size += doc.Config.Size
		for _, l := range doc.Layers {
			f.size += l.Size
		}
		if slices.Contains(imageConfigTypes, doc.Config.MediaType) && doc.Config.Digest.Validate() == nil {
			if cb, err := s.readBlob(ctx, doc.Config.Digest); err == nil {
				var cfg struct {
					Architecture string `json:"architecture"`
					OS           string `json:"os"`
				}
				if json.Unmarshal(cb, &cfg) == nil {
					f.arch, f.os = cfg.Architecture, cfg.OS
				}
			}
		}
	}
	return f, nil
}
