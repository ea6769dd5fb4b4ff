package server

import (
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/portal"
)

// Limits on the request bodies of unauthenticated endpoints. Anyone who can
// reach a port can open such a request, so a client that sends headers and
// then trickles (or never sends) its body must not hold a connection and a
// goroutine for ever. http.Server's ReadTimeout cannot do this: it would
// also cut off blob uploads, which may take hours.
const (
	unauthBodyTimeout  = 30 * time.Second // from the end of the headers to the end of the body
	unauthBodyMaxBytes = 64 << 10         // token requests are a few hundred bytes
)

// limitBodies bounds the bodies of requests to unauthenticated endpoints
// (see isUnauthenticated): the body must arrive within timeout of the
// handler being called and may be at most maxBytes long. A body read past
// either limit fails, and net/http then closes the connection. Every other
// request, blob uploads above all, passes untouched.
func limitBodies(next http.Handler, timeout time.Duration, maxBytes int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || !isUnauthenticated(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		// The deadline also bounds net/http's read of an unread body after
		// the handler returns. It is lifted once the body is read, so the
		// connection's background read does not time out (which would
		// cancel the request's context) while the handler still works.
		// Without a deadline (a ResponseWriter that cannot set one) the
		// size limit still applies.
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Now().Add(timeout))
		r.Body = http.MaxBytesReader(w, &liftDeadlineAtEOF{ReadCloser: r.Body, rc: rc}, maxBytes)
		next.ServeHTTP(w, r)
	})
}

// liftDeadlineAtEOF clears the connection's read deadline once the body has
// been read completely.
type liftDeadlineAtEOF struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *liftDeadlineAtEOF) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// isUnauthenticated reports whether path is an endpoint that anyone may
// POST to: the registries' token endpoints, the ARM token endpoints
// (ADFS-style /adfs/oauth2/token and Microsoft-style
// /{tenant}/oauth2/token and /{tenant}/oauth2/v2.0/token) and the portal's
// sign-in form. Paths match case-insensitively, as ARM routes do, and
// without a trailing slash.
func isUnauthenticated(path string) bool {
	p := strings.ToLower(strings.TrimSuffix(path, "/"))
	switch p {
	case "/oauth2/token", "/oauth2/exchange", portal.Prefix + "/signin":
		return true
	}
	tenant, rest, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return ok && tenant != "" && (rest == "oauth2/token" || rest == "oauth2/v2.0/token")
}
