package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuietError(t *testing.T) {
	const secret = "/srv/data/registries/0123/docker/registry/v2/blobs/data"
	notFound := storagedriver.PathNotFoundError{Path: "/docker/registry/v2/x", DriverName: "filesystem"}
	tests := []struct {
		name  string
		err   error
		want  string // the message clients see
		same  bool   // passed unchanged
		errno syscall.Errno
	}{
		{name: "nil", err: nil, same: true},
		{name: "end of file", err: io.EOF, want: "EOF", same: true},
		{name: "not found names a storage path", err: notFound, want: notFound.Error(), same: true},
		{name: "invalid offset", err: storagedriver.InvalidOffsetError{Path: "/p", Offset: 3, DriverName: "filesystem"}, want: "filesystem: invalid offset: 3 for path: /p", same: true},
		{name: "disk full", err: storagedriver.Error{DriverName: "filesystem", Detail: &fs.PathError{Op: "write", Path: secret, Err: syscall.ENOSPC}},
			want: "filesystem: write: no space left on device", errno: syscall.ENOSPC},
		{name: "permission", err: storagedriver.Error{DriverName: "filesystem", Detail: &fs.PathError{Op: "mkdir", Path: secret, Err: syscall.EACCES}},
			want: "filesystem: mkdir: permission denied", errno: syscall.EACCES},
		{name: "rename", err: storagedriver.Error{DriverName: "filesystem", Detail: &os.LinkError{Op: "rename", Old: secret, New: secret + "2", Err: syscall.EXDEV}},
			want: "filesystem: rename: invalid cross-device link", errno: syscall.EXDEV},
		{name: "raw write error", err: &fs.PathError{Op: "write", Path: secret, Err: syscall.EIO},
			want: "write: input/output error", errno: syscall.EIO},
		{name: "wrapped", err: fmt.Errorf("flush: %w", &fs.PathError{Op: "write", Path: secret, Err: syscall.ENOSPC}),
			want: "write: no space left on device", errno: syscall.ENOSPC},
		{name: "canceled", err: storagedriver.Error{DriverName: "filesystem", Detail: context.Canceled},
			want: "filesystem: context canceled"},
		{name: "closed file", err: &fs.PathError{Op: "read", Path: secret, Err: fs.ErrClosed},
			want: "read: file already closed"},
		{name: "unknown text", err: errors.New("cannot use " + secret), want: "storage error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := quietError(tt.err)
			if tt.same {
				require.Equal(t, tt.err, got)
			} else {
				require.ErrorIs(t, got, tt.err, "unwraps to the original")
			}
			if got == nil {
				return
			}
			assert.Equal(t, tt.want, got.Error())
			assert.NotContains(t, got.Error(), "/srv")
			if tt.errno != 0 {
				assert.ErrorIs(t, got, tt.errno)
			}
			assert.Equal(t, got, quietError(got), "idempotent")
		})
	}
}

// A storage failure is a 500 whose body names no path on this machine,
// while the log keeps the whole error. The storage root is a directory
// in which distribution's tree cannot be created (a regular file is in
// its place), which fails even for root, where permissions do not.
func TestStorageFailureHidesPaths(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir()
	e := newEnv(t, defaultConfig(), func(o *Options) {
		o.StorageDir = dir
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.UploadPurgeAge = -1
	})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docker"), []byte("in the way"), 0o600))

	const blob = "hello"
	const blobDigest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	const acrBody = `{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":null}]}` + "\n"
	tests := []struct {
		name, method, path string
		body               string
		want               string // exact body; "" checks only that no path leaks
	}{
		{name: "start upload", method: http.MethodPost, path: "/v2/hello/blobs/uploads/"},
		{name: "monolithic upload", method: http.MethodPost, path: "/v2/hello/blobs/uploads/?digest=" + blobDigest, body: blob},
		{name: "catalog", method: http.MethodGet, path: "/v2/_catalog"},
		{name: "tags", method: http.MethodGet, path: "/v2/hello/tags/list"},
		{name: "manifest", method: http.MethodGet, path: "/v2/hello/manifests/latest"},
		{name: "blob", method: http.MethodGet, path: "/v2/hello/blobs/" + blobDigest},
		{name: "ACR catalog", method: http.MethodGet, path: "/acr/v1/_catalog", want: acrBody},
		{name: "ACR repository", method: http.MethodGet, path: "/acr/v1/hello", want: acrBody},
		{name: "ACR tags", method: http.MethodGet, path: "/acr/v1/hello/_tags", want: acrBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs.Reset()
			r := e.do(tt.method, tt.path, strings.NewReader(tt.body), admin)
			require.Equal(t, http.StatusInternalServerError, r.status, r.body)
			assertNoServerPath(t, dir, r.body)
			if tt.want != "" {
				assert.Equal(t, tt.want, r.body)
			} else {
				assert.Contains(t, r.body, `"code":"UNKNOWN"`)
			}
			assert.Contains(t, logs.String(), dir, "the log keeps the whole error")
		})
	}
}

// A write that fails in the middle of an upload (here: its data file has
// become a directory) is answered without the file's path.
func TestUploadWriteFailureHidesPaths(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, defaultConfig(), func(o *Options) {
		o.StorageDir = dir
		o.UploadPurgeAge = -1
	})
	r := e.do(http.MethodPost, "/v2/hello/blobs/uploads/", nil, admin)
	require.Equal(t, http.StatusAccepted, r.status, r.body)
	loc, err := url.Parse(r.header.Get("Location"))
	require.NoError(t, err)
	data := filepath.Join(dir, "docker/registry/v2/repositories/hello/_uploads", path.Base(loc.Path), "data")
	require.NoError(t, os.RemoveAll(data))
	require.NoError(t, os.MkdirAll(filepath.Join(data, "in-the-way"), 0o700))

	r = e.do(http.MethodPatch, loc.RequestURI(), strings.NewReader("some bytes"),
		merge(admin, http.Header{"Content-Type": {"application/octet-stream"}}))
	require.GreaterOrEqual(t, r.status, 500, r.body)
	assertNoServerPath(t, dir, r.body)
}

// assertNoServerPath checks that body names neither dir nor any part of
// the machine's temporary directory.
func assertNoServerPath(t *testing.T, dir, body string) {
	t.Helper()
	for _, s := range []string{dir, filepath.Dir(dir), os.TempDir(), "/docker/registry/v2/repositories/hello/_uploads"} {
		assert.NotContains(t, body, s)
	}
}
