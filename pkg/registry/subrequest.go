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
