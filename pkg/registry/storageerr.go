package registry

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"syscall"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// Storage errors reach clients: distribution answers a failure of its
// storage driver with 500 UNKNOWN and the error's text as the detail, and
// the filesystem driver's errors are *fs.PathError values that name the
// absolute path of the file on this machine. quietDriver, which driverTap
// puts between distribution and its driver, replaces every error that may
// carry such a path with one that names only the operation and its cause
// ("filesystem: mkdir: no space left on device"), and logs the original.

// storageError is a storage failure with a message fit for clients. It
// unwraps to the original error and to its cause inside the base driver's
// storagedriver.Error (which does not unwrap), so errors.Is(err,
// syscall.ENOSPC) and the like hold.
type storageError struct {
	msg   string
	err   error
	cause error
}

var _ error = (*storageError)(nil)

func (e *storageError) Error() string   { return e.msg }
func (e *storageError) Unwrap() []error { return []error{e.err, e.cause} }

// quietError returns err, or in its place a *storageError without server
// paths. The driver's typed errors (not found, invalid path or offset,
// unsupported) name storage paths, which clients may see, and distribution
// tells them apart by type, so they pass unchanged, as does io.EOF.
func quietError(err error) error {
	switch err.(type) {
	case nil, *storageError,
		storagedriver.PathNotFoundError, storagedriver.InvalidPathError,
		storagedriver.InvalidOffsetError, storagedriver.ErrUnsupportedMethod:
		return err
	}
	if err == io.EOF || !strings.ContainsRune(err.Error(), '/') {
		return err // names no path (e.g. a writer closed twice): nothing to hide
	}
	cause, prefix := err, ""
	var de storagedriver.Error // the base driver's wrapper of everything else; it does not unwrap
	if errors.As(err, &de) && de.Detail != nil {
		cause, prefix = de.Detail, de.DriverName+": "
	}
	var (
		pe    *fs.PathError
		le    *os.LinkError
		se    *os.SyscallError
		errno syscall.Errno
		op    string
	)
	switch {
	case errors.As(cause, &pe):
		op = pe.Op
	case errors.As(cause, &le):
		op = le.Op
	case errors.As(cause, &se):
		op = se.Syscall
	}
	if op != "" {
		prefix += op + ": "
	}
	var msg string
	switch {
	case errors.As(cause, &errno):
		msg = errno.Error()
	case errors.Is(cause, context.Canceled), errors.Is(cause, context.DeadlineExceeded),
		errors.Is(cause, io.ErrUnexpectedEOF), errors.Is(cause, fs.ErrClosed):
		msg = cause.Error()
		if pe != nil {
			msg = pe.Err.Error()
		}
	default:
		msg = "storage error"
	}
	return &storageError{msg: prefix + msg, err: err, cause: cause}
}

// quietDriver is a storage driver whose errors carry no server paths; see
// quietError. It logs every error it replaces.
type quietDriver struct {
	storagedriver.StorageDriver
	log *slog.Logger
}

var _ storagedriver.StorageDriver = (*quietDriver)(nil)

// quiet replaces err (from operation op on the storage path p) and logs
// the original when it did.
func (d *quietDriver) quiet(op, p string, err error) error {
	q := quietError(err)
	if q != err {
		d.log.Error("storage failed", "op", op, "path", p, "err", err)
	}
	return q
}

func (d *quietDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	b, err := d.StorageDriver.GetContent(ctx, p)
	return b, d.quiet("get", p, err)
}

func (d *quietDriver) PutContent(ctx context.Context, p string, content []byte) error {
	return d.quiet("put", p, d.StorageDriver.PutContent(ctx, p, content))
}

func (d *quietDriver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	rc, err := d.StorageDriver.Reader(ctx, p, offset)
	if err != nil {
		return nil, d.quiet("read", p, err)
	}
	return &quietReader{rc: rc, d: d, path: p}, nil
}

func (d *quietDriver) Writer(ctx context.Context, p string, append bool) (storagedriver.FileWriter, error) {
	fw, err := d.StorageDriver.Writer(ctx, p, append)
	if err != nil {
		return nil, d.quiet("write", p, err)
	}
	return &quietWriter{fw: fw, d: d, path: p}, nil
}

func (d *quietDriver) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	fi, err := d.StorageDriver.Stat(ctx, p)
	return fi, d.quiet("stat", p, err)
}

func (d *quietDriver) List(ctx context.Context, p string) ([]string, error) {
	l, err := d.StorageDriver.List(ctx, p)
	return l, d.quiet("list", p, err)
}

func (d *quietDriver) Move(ctx context.Context, from, to string) error {
	return d.quiet("move", from, d.StorageDriver.Move(ctx, from, to))
}

func (d *quietDriver) Delete(ctx context.Context, p string) error {
	return d.quiet("delete", p, d.StorageDriver.Delete(ctx, p))
}

func (d *quietDriver) RedirectURL(r *http.Request, p string) (string, error) {
	u, err := d.StorageDriver.RedirectURL(r, p)
	return u, d.quiet("redirect", p, err)
}

func (d *quietDriver) Walk(ctx context.Context, p string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	return d.quiet("walk", p, d.StorageDriver.Walk(ctx, p, f, options...))
}

// quietReader and quietWriter pass data through unchanged; only their
// errors are replaced.
type quietReader struct {
	rc   io.ReadCloser
	d    *quietDriver
	path string
}

func (r *quietReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && err != io.EOF {
		err = r.d.quiet("read", r.path, err)
	}
	return n, err
}

func (r *quietReader) Close() error { return r.d.quiet("close", r.path, r.rc.Close()) }

type quietWriter struct {
	fw   storagedriver.FileWriter
	d    *quietDriver
	path string
}

var _ storagedriver.FileWriter = (*quietWriter)(nil)

func (w *quietWriter) Write(p []byte) (int, error) {
	n, err := w.fw.Write(p)
	if err != nil {
		err = w.d.quiet("write", w.path, err)
	}
	return n, err
}

func (w *quietWriter) Size() int64  { return w.fw.Size() }
func (w *quietWriter) Close() error { return w.d.quiet("close", w.path, w.fw.Close()) }

func (w *quietWriter) Cancel(ctx context.Context) error {
	return w.d.quiet("cancel", w.path, w.fw.Cancel(ctx))
}

func (w *quietWriter) Commit(ctx context.Context) error {
	return w.d.quiet("commit", w.path, w.fw.Commit(ctx))
}
