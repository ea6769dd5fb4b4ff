//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// clientFile is the one file in every image and artifact of the client
// matrix.
const clientFile = "hello.txt"

// tarWithFile is a tar archive holding clientFile with text.
func tarWithFile(text string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	// Writes to a bytes.Buffer cannot fail.
	_ = tw.WriteHeader(&tar.Header{Name: clientFile, Mode: 0o644, Size: int64(len(text)), Typeflag: tar.TypeReg})
	_, _ = io.WriteString(tw, text)
	_ = tw.Close()
	return b.Bytes()
}

// fileFromTar returns clientFile from a tar archive, gzip-compressed or
// not.
func fileFromTar(archive []byte) (string, error) {
	var r io.Reader = bytes.NewReader(archive)
	if len(archive) > 2 && archive[0] == 0x1f && archive[1] == 0x8b {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return "", err
		}
		r = zr
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return "", fmt.Errorf("%s not in the archive: %w", clientFile, err)
		}
		if filepath.Clean(h.Name) == clientFile {
			b, err := io.ReadAll(tr)
			return string(b), err
		}
	}
}

// writeOCILayout writes an OCI image layout in dir holding one image, tagged
// tag, whose single uncompressed layer has clientFile with text.
func writeOCILayout(dir, tag, text string) error {
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	type descriptor struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Size        int               `json:"size"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}
	blob := func(mediaType string, b []byte) (descriptor, error) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		return descriptor{MediaType: mediaType, Digest: "sha256:" + h, Size: len(b)}, os.WriteFile(filepath.Join(blobs, h), b, 0o644)
	}
	layer, err := blob("application/vnd.oci.image.layer.v1.tar", tarWithFile(text))
	if err != nil {
		return err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.Digest}},
	})
	if err != nil {
		return err
	}
	configDesc, err := blob("application/vnd.oci.image.config.v1+json", config)
	if err != nil {
		return err
	}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        configDesc,
		"layers":        []descriptor{layer},
	})
	if err != nil {
		return err
	}
	manifestDesc, err := blob("application/vnd.oci.image.manifest.v1+json", manifest)
	if err != nil {
		return err
	}
	manifestDesc.Annotations = map[string]string{"org.opencontainers.image.ref.name": tag}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []descriptor{manifestDesc},
	})
	if err != nil {
		return err
	}
	return errors.Join(
		os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644),
		os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644),
	)
}

// fileFromDirImage reads clientFile from an image that skopeo copied to a
// dir: directory (manifest.json plus one file per blob, named by hex digest).
func fileFromDirImage(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return "", err
	}
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	if len(m.Layers) != 1 {
		return "", fmt.Errorf("want one layer, manifest has %d", len(m.Layers))
	}
	_, h, _ := strings.Cut(m.Layers[0].Digest, ":")
	layer, err := os.ReadFile(filepath.Join(dir, h))
	if err != nil {
		return "", err
	}
	return fileFromTar(layer)
}
