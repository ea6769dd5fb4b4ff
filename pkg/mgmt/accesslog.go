package mgmt

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/felixge/httpsnoop"
)

// accessLog logs one line per ARM, token, metadata or Graph request, so a
// user can see what their tool sent: method, path, status, duration and
// correlation id at info; the query, user agent and client request id at
// debug. Bodies are never logged (token requests carry secrets).
func (a *API) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := httpsnoop.CaptureMetrics(next, w, r)
		attrs := []any{"method", r.Method, "path", state(r).path, "status", m.Code,
			"duration", m.Duration.Round(time.Microsecond), "correlationId", w.Header().Get(headerCorrelationID)}
		a.log.Info("arm request", attrs...)
		if a.log.Enabled(r.Context(), slog.LevelDebug) {
			a.log.Debug("arm request details", "correlationId", w.Header().Get(headerCorrelationID),
				"query", r.URL.RawQuery, "userAgent", r.UserAgent(), "clientRequestId", r.Header.Get(headerClientRequestID))
		}
	})
}
