package registry

import (
	"fmt"
	"net/http"
)

// deleteThroughV2 sends DELETE path to distribution on behalf of req, with
// req's host, peer and credentials. Gone already (404) counts as deleted.
func (r *Registry) deleteThroughV2(req *http.Request, path string) error {
	sub, err := http.NewRequestWithContext(req.Context(), http.MethodDelete, path, nil)
	if err != nil {
		return err
	}
	sub.Host, sub.RemoteAddr, sub.TLS, sub.RequestURI = req.Host, req.RemoteAddr, req.TLS, path
	if a := req.Header.Get("Authorization"); a != "" {
		sub.Header.Set("Authorization", a)
	}
	rec := &statusRecorder{header: http.Header{}}
	r.serveDistribution(rec, sub)
	if rec.status != http.StatusAccepted && rec.status != http.StatusNotFound {
		return fmt.Errorf("DELETE %s: status %d", path, rec.status)
	}
	return nil
}

// statusRecorder keeps the status of a response and drops its body.
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
