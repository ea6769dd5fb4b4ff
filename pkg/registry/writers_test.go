package registry

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connWriter stands for the connection's writer: it flushes (the
// recorder's Flushed), copies with its own ReadFrom, and has a method
// only http.ResponseController finds, through Unwrap.
type connWriter struct {
	*httptest.ResponseRecorder
	readFroms int
	duplex    bool
}

func (c *connWriter) ReadFrom(src io.Reader) (int64, error) {
	c.readFroms++
	return io.Copy(c.ResponseRecorder, src)
}

func (c *connWriter) EnableFullDuplex() error {
	c.duplex = true
	return nil
}

// The wrappers keep the connection's Flush, ReadFrom and Unwrap, so
// http.ResponseController works through them; a response v2Writer
// replaced is neither flushed nor copied to.
func TestWritersKeepTheConnectionsMethods(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
	tests := []struct {
		name          string
		wrap          func(http.ResponseWriter) http.ResponseWriter
		before        func(http.ResponseWriter) // what the handler wrote first
		wantReadFroms int
		wantFlushed   bool
		wantBody      string
	}{
		{
			name:          "v2Writer",
			wrap:          func(w http.ResponseWriter) http.ResponseWriter { vw, _ := withV2Writer(w, req); return vw },
			wantReadFroms: 1,
			wantFlushed:   true,
			wantBody:      "blob",
		},
		{
			name: "v2Writer after replacing distribution's 404",
			wrap: func(w http.ResponseWriter) http.ResponseWriter { vw, _ := withV2Writer(w, req); return vw },
			before: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.WriteHeader(http.StatusNotFound)
			},
			wantReadFroms: 0,
			wantFlushed:   false,
			wantBody:      string(errNotFound.body()),
		},
		{
			name: "hookWriter",
			wrap: func(w http.ResponseWriter) http.ResponseWriter {
				return &hookWriter{ResponseWriter: w, hook: func(_ int, h http.Header) { h.Set("X-Hooked", "yes") }}
			},
			wantReadFroms: 1,
			wantFlushed:   true,
			wantBody:      "blob",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &connWriter{ResponseRecorder: httptest.NewRecorder()}
			w := tt.wrap(conn)
			if tt.before != nil {
				tt.before(w)
			}

			rf, ok := w.(io.ReaderFrom)
			require.True(t, ok, "io.ReaderFrom")
			_, err := rf.ReadFrom(strings.NewReader("blob"))
			require.NoError(t, err)
			assert.Equal(t, tt.wantReadFroms, conn.readFroms, "the connection's ReadFrom")

			rc := http.NewResponseController(w)
			require.NoError(t, rc.Flush())
			assert.Equal(t, tt.wantFlushed, conn.Flushed, "flushed")
			require.NoError(t, rc.EnableFullDuplex())
			assert.True(t, conn.duplex, "ResponseController reaches the connection through Unwrap")

			u, ok := w.(interface{ Unwrap() http.ResponseWriter })
			require.True(t, ok, "Unwrap")
			assert.Same(t, conn, u.Unwrap())
			assert.Equal(t, tt.wantBody, conn.Body.String())
		})
	}
}

// hookWriter calls its hook once, before the status is sent, whether the
// handler writes the header, the body or copies a file first.
func TestHookWriterCallsItsHookBeforeTheStatus(t *testing.T) {
	tests := []struct {
		name       string
		write      func(http.ResponseWriter)
		wantStatus int
	}{
		{"WriteHeader", func(w http.ResponseWriter) { w.WriteHeader(http.StatusCreated); w.WriteHeader(http.StatusAccepted) }, http.StatusCreated},
		{"Write", func(w http.ResponseWriter) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"ReadFrom", func(w http.ResponseWriter) { _, _ = w.(io.ReaderFrom).ReadFrom(strings.NewReader("x")) }, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			var calls []int
			hw := &hookWriter{ResponseWriter: rec, hook: func(status int, h http.Header) {
				calls = append(calls, status)
				h.Set("X-Hooked", "yes")
			}}
			tt.write(hw)
			assert.Equal(t, []int{tt.wantStatus}, calls)
			assert.Equal(t, "yes", rec.Result().Header.Get("X-Hooked"), "set before the header was sent")
		})
	}
}
