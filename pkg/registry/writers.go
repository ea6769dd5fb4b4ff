package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
)

// The response writers of this package. v2Writer and hookWriter sit
// between a handler and the connection and keep what the connection's
// writer offers: http.Flusher, io.ReaderFrom (so blobs are copied with
// sendfile) and Unwrap, through which http.ResponseController reaches the
// connection. statusRecorder is the end of a sub-request: it keeps the
// status and drops the rest.

type v2WriterKey struct{}

// v2Writer sits between distribution and the connection. It passes
// everything through, except that it replaces two responses: a 401 for which
// the access controller left a challenge (ACR's body instead of
// distribution's), and the plain-text 404 of distribution's router for
// unknown /v2/ paths (the registry envelope instead).
type v2Writer struct {
	http.ResponseWriter
	challenge *challenge
	replaced  bool // the response was written here; distribution's body is dropped
}

// withV2Writer wraps w in a v2Writer and puts it in the request's context,
// where the access controller's challenge (access.go) finds it.
func withV2Writer(w http.ResponseWriter, req *http.Request) (*v2Writer, *http.Request) {
	vw := &v2Writer{ResponseWriter: w}
	return vw, req.WithContext(context.WithValue(req.Context(), v2WriterKey{}, vw))
}

func (w *v2Writer) WriteHeader(code int) {
	switch {
	case w.replaced:
	case code == http.StatusUnauthorized && w.challenge != nil:
		w.replaced = true
		_ = w.challenge.Write(w.ResponseWriter)
	case code == http.StatusNotFound && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain"):
		w.replaced = true
		_ = errNotFound.Write(w.ResponseWriter)
	default:
		w.ResponseWriter.WriteHeader(code)
	}
}

func (w *v2Writer) Write(p []byte) (int, error) {
	if w.replaced {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *v2Writer) ReadFrom(src io.Reader) (int64, error) {
	if w.replaced {
		return io.Copy(io.Discard, src)
	}
	return readFrom(w.ResponseWriter, src)
}

func (w *v2Writer) Flush() {
	if !w.replaced {
		flush(w.ResponseWriter)
	}
}

func (w *v2Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hookWriter calls hook with the status and headers of the response just
// before they are sent, so the hook can act on a success and add headers
// before the client sees the response.
type hookWriter struct {
	http.ResponseWriter
	hook   func(status int, h http.Header)
	called bool
}

func (w *hookWriter) WriteHeader(code int) {
	if !w.called && code >= 200 {
		w.called = true
		w.hook(code, w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *hookWriter) Write(p []byte) (int, error) {
	if !w.called {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

func (w *hookWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.called {
		w.WriteHeader(http.StatusOK)
	}
	return readFrom(w.ResponseWriter, src)
}

func (w *hookWriter) Flush() { flush(w.ResponseWriter) }

func (w *hookWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// readFrom copies src to w with w's own ReadFrom when it has one.
func readFrom(w http.ResponseWriter, src io.Reader) (int64, error) {
	if rf, ok := w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(w, src)
}

// flush flushes w when it can.
func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// statusRecorder keeps the status of a response and drops its body: the
// writer of a sub-request, whose answer no client sees. (A handler that
// acts on the status of a response it passes on uses hookWriter.)
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
