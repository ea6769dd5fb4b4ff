package mgmt

import (
	"log/slog"
	"net/http"
	"time"
)

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// accessLog logs one line per ARM, token, metadata or Graph request, so a
// user can see what their tool sent: method, path, status, duration and
// correlation id at info; the query, user agent and client request id at
// debug. Bodies are never logged (token requests carry secrets).
func (a *API) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		attrs := []any{"method", r.Method, "path", state(r).path, "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond), "correlationId", w.Header().Get(headerCorrelationID)}
		a.log.Info("arm request", attrs...)
		if a.log.Enabled(r.Context(), slog.LevelDebug) {
			a.log.Debug("arm request details", "correlationId", w.Header().Get(headerCorrelationID),
				"query", r.URL.RawQuery, "userAgent", r.UserAgent(), "clientRequestId", r.Header.Get(headerClientRequestID))
		}
	})
}
