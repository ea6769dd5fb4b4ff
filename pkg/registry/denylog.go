package registry

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/acremu/acremu/pkg/firewall"
)

const (
	// defaultDenyLogInterval is Options.DenyLogInterval's default.
	defaultDenyLogInterval = 10 * time.Second
	// maxDenyLogClients bounds the addresses the limiter tracks. When a
	// new address finds it full of addresses denied within the interval,
	// the newcomers share one budget (the invalid address as key).
	maxDenyLogClients = 4096
)

// denyLogLimiter decides which denials are logged: the first of a client
// address (the original client, Source), then at most one per address per
// interval, which carries the number left out since the previous line
// (for the shared budget of overflow addresses, the number left out of all
// of them).
// A count not yet reported is lost when its address is forgotten to make
// room; the Stats counters stay exact. The zero value uses
// defaultDenyLogInterval. The caller serializes access (denialRing.mu).
type denyLogLimiter struct {
	interval time.Duration // 0 means defaultDenyLogInterval; negative logs everything
	clients  map[netip.Addr]denyLogState
	swept    time.Time // last forget; sweeps are at least a quarter interval apart
}

type denyLogState struct {
	logged     time.Time // when this address's last line was written
	suppressed uint64    // its denials left out since then
}

// admit reports whether a denial of addr at now is logged and, if so, how
// many of addr's denials were left out since its previous line.
func (l *denyLogLimiter) admit(addr netip.Addr, now time.Time) (logIt bool, suppressed uint64) {
	interval := l.interval
	switch {
	case interval < 0:
		return true, 0
	case interval == 0:
		interval = defaultDenyLogInterval
	}
	if l.clients == nil {
		l.clients = make(map[netip.Addr]denyLogState)
	}
	st, known := l.clients[addr]
	if !known && len(l.clients) >= maxDenyLogClients {
		if now.Sub(l.swept) >= interval/4 {
			l.forget(now, interval)
		}
		if len(l.clients) >= maxDenyLogClients {
			addr = netip.Addr{}
			st, known = l.clients[addr]
		}
	}
	if known && now.Sub(st.logged) < interval {
		st.suppressed++
		l.clients[addr] = st
		return false, 0
	}
	l.clients[addr] = denyLogState{logged: now}
	return true, st.suppressed
}

// forget drops the addresses whose interval has passed: their next denial
// is logged anyway. It walks the whole map, so a flood from many addresses
// runs it at most once per quarter interval.
func (l *denyLogLimiter) forget(now time.Time, interval time.Duration) {
	l.swept = now
	for a, st := range l.clients {
		if now.Sub(st.logged) >= interval {
			delete(l.clients, a)
		}
	}
}

// setDenyLogInterval sets the limiter's interval (Options.DenyLogInterval).
func (d *denialRing) setDenyLogInterval(interval time.Duration) {
	d.mu.Lock()
	d.log.interval = interval
	d.mu.Unlock()
}

// logDenial writes the warning for one denial; suppressed is the number of
// the client's denials left out since its previous line.
func (r *Registry) logDenial(req *http.Request, c firewall.Client, reason string, suppressed uint64) {
	attrs := []slog.Attr{
		slog.String("registry", r.name), slog.Any("peer", c.Peer), slog.Any("source", c.Source), slog.Any("addr", c.Addr),
		slog.String("method", req.Method), slog.String("path", req.URL.Path), slog.String("reason", reason),
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Uint64("suppressed", suppressed))
	}
	r.log.LogAttrs(req.Context(), slog.LevelWarn, "firewall denied request", attrs...)
}
