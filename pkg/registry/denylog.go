package registry

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
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
// of them). A count that no denial comes to carry is taken by flush, which
// the registry's flush timer calls once it is due (next), and reported in
// a summary line of its own.
// An address with a count held is not forgotten to make room, so every
// count is reported; the Stats counters stay exact either way. The zero
// value uses defaultDenyLogInterval. The caller serializes access
// (denialRing.mu).
type denyLogLimiter struct {
	interval time.Duration // 0 means defaultDenyLogInterval; negative logs everything
	clients  map[netip.Addr]denyLogState
	swept    time.Time // last forget; sweeps are at least a quarter interval apart
	// next is when the earliest count held is due for a summary; zero when
	// none is held. admit only moves it earlier, so it may be early; flush
	// sets it exactly.
	next time.Time
}

type denyLogState struct {
	logged     time.Time // when this address's last line was written
	suppressed uint64    // its denials left out since then
}

// denySummary is one summary line: the denials of source left out of the
// log that no later denial reported. An invalid source is the shared
// budget of overflow addresses.
type denySummary struct {
	source     netip.Addr
	suppressed uint64
}

// effectiveInterval is the interval in force; negative logs everything.
func (l *denyLogLimiter) effectiveInterval() time.Duration {
	if l.interval == 0 {
		return defaultDenyLogInterval
	}
	return l.interval
}

// summaryDue is when a count held since logged is reported on its own: a
// quarter interval after its address's interval has passed. Any denial
// after the interval is logged and carries the count, so a count still
// held then belongs to a flood that has stopped for at least that quarter
// interval; a flood that goes on keeps reporting through its denial lines.
func summaryDue(logged time.Time, interval time.Duration) time.Time {
	return logged.Add(interval + interval/4)
}

// admit reports whether a denial of addr at now is logged and, if so, how
// many of addr's denials were left out since its previous line.
func (l *denyLogLimiter) admit(addr netip.Addr, now time.Time) (logIt bool, suppressed uint64) {
	interval := l.effectiveInterval()
	if interval < 0 {
		return true, 0
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
		if st.suppressed == 0 {
			if due := summaryDue(st.logged, interval); l.next.IsZero() || due.Before(l.next) {
				l.next = due
			}
		}
		st.suppressed++
		l.clients[addr] = st
		return false, 0
	}
	l.clients[addr] = denyLogState{logged: now}
	return true, st.suppressed
}

// flush takes the counts that are due at now (every count held, with all)
// for summary lines, ordered by address, and sets next for the counts
// still held. A summary counts as its address's line: the address's next
// line comes an interval later at the earliest.
func (l *denyLogLimiter) flush(now time.Time, all bool) []denySummary {
	interval := l.effectiveInterval()
	var out []denySummary
	l.next = time.Time{}
	for a, st := range l.clients {
		if st.suppressed == 0 {
			continue
		}
		// A negative interval holds no count; one held from before the
		// interval changed is reported now.
		due := summaryDue(st.logged, interval)
		if all || interval < 0 || !now.Before(due) {
			out = append(out, denySummary{source: a, suppressed: st.suppressed})
			l.clients[a] = denyLogState{logged: now}
			continue
		}
		if l.next.IsZero() || due.Before(l.next) {
			l.next = due
		}
	}
	slices.SortFunc(out, func(x, y denySummary) int { return x.source.Compare(y.source) })
	return out
}

// forget drops the addresses whose interval has passed and that hold no
// count: their next denial is logged anyway. It walks the whole map, so a
// flood from many addresses runs it at most once per quarter interval.
func (l *denyLogLimiter) forget(now time.Time, interval time.Duration) {
	l.swept = now
	for a, st := range l.clients {
		if st.suppressed == 0 && now.Sub(st.logged) >= interval {
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

// flushTimer is the part of *time.Timer (made by time.AfterFunc) that the
// summaries need; a test drives its own.
type flushTimer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// newFlushTimer returns a stopped timer that calls f in a goroutine of its
// own each time it fires. A stopped timer holds no goroutine.
func newFlushTimer(f func()) flushTimer {
	t := time.AfterFunc(time.Hour, f)
	t.Stop()
	return t
}

// denyFlusher sets the registry's flush timer while the limiter holds a
// count (denyLogLimiter.next): the timer runs only then, and not after
// Close. Its fields are guarded by denialRing.mu.
type denyFlusher struct {
	timer  flushTimer // nil: counts are only ever reported by denial lines
	armed  bool       // the timer is set, or its callback has not finished
	closed bool
	busy   sync.WaitGroup // one while armed; Close waits for it
}

// schedule makes the timer fire at next (now is the registry's time). A
// timer that has fired already is left to its callback, which sets it
// again from the limiter's next. It neither blocks nor allocates.
func (f *denyFlusher) schedule(next, now time.Time) {
	switch {
	case f.timer == nil || f.closed:
	case !f.armed:
		f.armed = true
		f.busy.Add(1)
		f.timer.Reset(next.Sub(now))
	case f.timer.Stop():
		f.timer.Reset(next.Sub(now))
	}
}

// flushDenials is the flush timer's callback: it writes the summaries that
// are due, then sets the timer for the next count held, or lets it rest
// when none is (or the registry is closed).
func (r *Registry) flushDenials() {
	d := &r.denials
	d.mu.Lock()
	sums := d.log.flush(r.now(), false)
	interval := d.log.effectiveInterval()
	d.mu.Unlock()
	r.logSummaries(sums, interval)

	d.mu.Lock()
	f := &d.flusher
	again := !d.log.next.IsZero() && !f.closed
	if again {
		f.timer.Reset(d.log.next.Sub(r.now()))
	} else {
		f.armed = false
	}
	d.mu.Unlock()
	if !again {
		f.busy.Done()
	}
}

// closeDenyLog stops the flush timer and writes a summary of every count
// held, due or not: a closed registry reports nothing later. It returns
// once no summary is being written. Denials after it are counted and
// remembered, but their counts are reported only by their own lines.
func (r *Registry) closeDenyLog() {
	d := &r.denials
	d.mu.Lock()
	f := &d.flusher
	f.closed = true
	if f.armed && f.timer.Stop() {
		f.armed = false
		f.busy.Done()
	}
	sums := d.log.flush(r.now(), true)
	interval := d.log.effectiveInterval()
	d.mu.Unlock()
	r.logSummaries(sums, interval)
	f.busy.Wait()
}

// logSummaries writes one warning per summary: the denials of an address
// (or, with overflow=true, of the addresses beyond maxDenyLogClients) left
// out of the log, that no later denial reported.
func (r *Registry) logSummaries(sums []denySummary, interval time.Duration) {
	for _, s := range sums {
		from := slog.Any("source", s.source)
		if !s.source.IsValid() {
			from = slog.Bool("overflow", true)
		}
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "firewall denied requests",
			slog.String("registry", r.name), from, slog.Uint64("suppressed", s.suppressed), slog.Duration("interval", interval))
	}
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
