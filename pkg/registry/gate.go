package registry

import (
	"net/http"
	"strings"
	"sync"

	"github.com/acremu/acremu/pkg/firewall"
)

// admit resolves the request's client and judges it with the current
// policy. It takes no lock and allocates nothing.
func (r *Registry) admit(req *http.Request) (firewall.Client, firewall.Decision) {
	client := r.resolver.ClientOf(req)
	return client, r.policy.Load().Decide(client)
}

// deny answers a refused request the way ACR does: 403 DENIED naming the
// client's (translated) address, and no challenge, so a blocked client
// learns nothing about authentication. Every denial is counted and
// remembered; the warning is rate-limited per client (denialRing.add).
func (r *Registry) deny(w http.ResponseWriter, req *http.Request, c firewall.Client, d firewall.Decision) {
	r.denied.Add(1)
	reason := d.Reason.String()
	logIt, suppressed := r.denials.add(Denial{
		Time:   r.now(),
		Method: req.Method,
		Path:   req.URL.Path,
		Peer:   c.Peer,
		Source: c.Source,
		Addr:   c.Addr,
		Reason: reason,
	})
	if logIt {
		r.logDenial(req, c, reason, suppressed)
	}
	if d.Reason == firewall.ReasonIPv6NotEnabled && dropConnection(w) {
		return
	}
	_ = errDenied(c.Addr.String()).Write(w)
}

// dropConnection closes the request's connection without an answer and
// reports whether it could. A registry whose endpointProtocol is IPv4 has
// no IPv6 address in Azure (no AAAA record), so a client on IPv6 never
// reaches it; here it meets a connection that closes before any response.
func dropConnection(w http.ResponseWriter) bool {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// stripForwarded removes forwarding headers a client may not set: only a
// trusted proxy may say where a request came from, and distribution builds
// Location URLs from X-Forwarded-Proto, X-Forwarded-Host and Forwarded.
func stripForwarded(h http.Header) {
	for k := range h {
		if k == "Forwarded" || strings.HasPrefix(k, "X-Forwarded-") {
			delete(h, k)
		}
	}
}

// maxDenials is how many denials RecentDenials remembers.
const maxDenials = 50

// denialRing keeps the last maxDenials denials, and decides which are
// logged (denylog.go). Its mutex is on the deny path only.
type denialRing struct {
	mu      sync.Mutex
	buf     [maxDenials]Denial
	n       uint64 // denials ever added
	log     denyLogLimiter
	flusher denyFlusher // reports the counts no denial line carries
}

// add remembers x and reports whether to log it and how many denials of
// the same client were left out of the log since its previous line.
func (d *denialRing) add(x Denial) (logIt bool, suppressed uint64) {
	d.mu.Lock()
	d.buf[d.n%maxDenials] = x
	d.n++
	next := d.log.next
	logIt, suppressed = d.log.admit(x.Source, x.Time)
	if !d.log.next.Equal(next) {
		d.flusher.schedule(d.log.next, x.Time)
	}
	d.mu.Unlock()
	return logIt, suppressed
}

// list returns the remembered denials, newest first.
func (d *denialRing) list() []Denial {
	d.mu.Lock()
	defer d.mu.Unlock()
	count := min(d.n, maxDenials)
	out := make([]Denial, 0, count)
	for i := uint64(1); i <= count; i++ {
		out = append(out, d.buf[(d.n-i)%maxDenials])
	}
	return out
}
