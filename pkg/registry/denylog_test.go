package registry

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// denial is one denial for the limiter: a client address at an offset
// from the start of the test.
type denial struct {
	addr string
	at   time.Duration
}

// burst is n denials of addr, step apart, from start on.
func burst(addr string, n int, start, step time.Duration) []denial {
	out := make([]denial, n)
	for i := range out {
		out[i] = denial{addr, start + time.Duration(i)*step}
	}
	return out
}

func seq(parts ...[]denial) []denial {
	var out []denial
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestDenyLogLimiter(t *testing.T) {
	const a, b = "198.51.100.1", "2001:db8::2"
	tests := []struct {
		name     string
		interval time.Duration
		denials  []denial
		want     []string // logged lines: "addr suppressed"
	}{
		{name: "first denial", denials: burst(a, 1, 0, 0), want: []string{a + " 0"}},
		{name: "1000 in one second", denials: burst(a, 1000, 0, time.Millisecond), want: []string{a + " 0"}},
		{name: "after the interval, the count", denials: seq(burst(a, 1000, 0, time.Millisecond), burst(a, 1, 10*time.Second, 0)),
			want: []string{a + " 0", a + " 999"}},
		{name: "just inside the interval", denials: seq(burst(a, 1, 0, 0), burst(a, 1, 10*time.Second-time.Nanosecond, 0)),
			want: []string{a + " 0"}},
		{name: "exactly the interval apart", denials: seq(burst(a, 1, 0, 0), burst(a, 1, 10*time.Second, 0)),
			want: []string{a + " 0", a + " 0"}},
		{name: "one line per interval", denials: burst(a, 31, 0, time.Second),
			want: []string{a + " 0", a + " 9", a + " 9", a + " 9"}},
		{name: "clients are limited separately", denials: seq(
			[]denial{{a, 0}, {b, time.Millisecond}, {a, 2 * time.Millisecond}, {b, 3 * time.Millisecond}, {b, 4 * time.Millisecond}},
			[]denial{{b, 10*time.Second + time.Millisecond}, {a, 11 * time.Second}}),
			want: []string{a + " 0", b + " 0", b + " 2", a + " 1"}},
		{name: "custom interval", interval: time.Second, denials: burst(a, 5, 0, 500*time.Millisecond),
			want: []string{a + " 0", a + " 1", a + " 1"}},
		{name: "negative interval logs every denial", interval: -1, denials: burst(a, 3, 0, 0),
			want: []string{a + " 0", a + " 0", a + " 0"}},
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := denyLogLimiter{interval: tt.interval}
			var got []string
			for _, d := range tt.denials {
				if ok, n := l.admit(netip.MustParseAddr(d.addr), t0.Add(d.at)); ok {
					got = append(got, fmt.Sprint(d.addr, " ", n))
				}
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// The limiter tracks at most maxDenyLogClients addresses (plus one shared
// entry): when full of recent addresses, newcomers share one budget; once
// the interval has passed, old addresses make room.
func TestDenyLogLimiterBound(t *testing.T) {
	var l denyLogLimiter
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range maxDenyLogClients {
		ok, _ := l.admit(addr(i), t0)
		require.True(t, ok)
	}
	ok, _ := l.admit(addr(maxDenyLogClients), t0.Add(time.Second))
	assert.True(t, ok, "the first newcomer is logged")
	ok, _ = l.admit(addr(maxDenyLogClients+1), t0.Add(2*time.Second))
	assert.False(t, ok, "the next shares its budget")
	assert.Len(t, l.clients, maxDenyLogClients+1)

	ok, _ = l.admit(addr(3), t0.Add(3*time.Second))
	assert.False(t, ok, "an address of the first second holds a count")

	ok, n := l.admit(addr(maxDenyLogClients+2), t0.Add(10500*time.Millisecond))
	assert.True(t, ok)
	assert.Zero(t, n)
	assert.Len(t, l.clients, 3, "the addresses of the first second are forgotten, but the one holding a count and the shared entry stay")
	ok, n = l.admit(addr(maxDenyLogClients+1), t0.Add(12*time.Second))
	assert.True(t, ok, "now tracked on its own")
	assert.Zero(t, n)

	sums := l.flush(t0.Add(14*time.Second), false)
	assert.Equal(t, []denySummary{{source: netip.Addr{}, suppressed: 1}, {source: addr(3), suppressed: 1}}, sums,
		"the shared budget's count and the held one are reported")
}

// Through the handler with an injected clock: counters and the ring stay
// exact while the log is limited.
func TestDenialLogRateLimited(t *testing.T) {
	var logs bytes.Buffer
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := testarm.NewClock(t0)
	e := newEnv(t, Config{Name: testName, Rules: denyAll()}, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.Now = clock.Now
	})
	deny := func(remote, path string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = remote
		w := httptest.NewRecorder()
		e.reg.ServeHTTP(w, req)
		require.Equal(t, http.StatusForbidden, w.Code)
	}
	lines := func() []string {
		s := strings.TrimSpace(logs.String())
		if s == "" {
			return nil
		}
		return strings.Split(s, "\n")
	}

	for i := range 1000 {
		clock.Set(t0.Add(time.Duration(i) * time.Millisecond))
		deny("198.51.100.7:40000", fmt.Sprint("/v2/", i))
	}
	require.Len(t, lines(), 1)
	assert.Contains(t, lines()[0], "source=198.51.100.7")
	assert.Contains(t, lines()[0], "path=/v2/0 ")
	assert.NotContains(t, lines()[0], "suppressed")
	assert.Equal(t, Stats{Denied: 1000}, e.reg.Stats(), "every denial is counted")
	recent := e.reg.RecentDenials()
	require.Len(t, recent, maxDenials)
	assert.Equal(t, "/v2/999", recent[0].Path, "and remembered")
	assert.Equal(t, t0.Add(999*time.Millisecond), recent[0].Time)

	deny("198.51.100.8:40000", "/v2/other")
	require.Len(t, lines(), 2, "another client is logged on its own")
	assert.Contains(t, lines()[1], "source=198.51.100.8")

	clock.Set(t0.Add(10 * time.Second))
	deny("198.51.100.7:40000", "/v2/again")
	require.Len(t, lines(), 3)
	assert.Contains(t, lines()[2], "source=198.51.100.7")
	assert.Contains(t, lines()[2], "path=/v2/again ")
	assert.Contains(t, lines()[2], "suppressed=999")
	assert.Equal(t, Stats{Denied: 1002}, e.reg.Stats())
}

func TestDenialLogEveryDenial(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, Config{Name: testName, Rules: denyAll()}, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.DenyLogInterval = -1
	})
	for range 5 {
		r := e.do(http.MethodGet, "/v2/", nil, nil)
		require.Equal(t, http.StatusForbidden, r.status)
	}
	assert.Equal(t, 5, strings.Count(logs.String(), "firewall denied request"))
}

// flush takes the counts due a quarter interval after their interval (or
// all of them), resets their addresses as if a line had been written and
// keeps next at the earliest count still held.
func TestDenyLogLimiterFlush(t *testing.T) {
	const a, b = "198.51.100.1", "2001:db8::2"
	tests := []struct {
		name     string
		interval time.Duration
		denials  []denial
		flushAt  time.Duration
		all      bool
		want     []string      // summaries: "addr suppressed"
		next     time.Duration // 0: no count held
	}{
		{name: "nothing held", denials: burst(a, 1, 0, 0), flushAt: time.Hour},
		{name: "held, not yet due", denials: burst(a, 5, 0, time.Millisecond), flushAt: 12500*time.Millisecond - time.Nanosecond,
			next: 12500 * time.Millisecond},
		{name: "due", denials: burst(a, 5, 0, time.Millisecond), flushAt: 12500 * time.Millisecond,
			want: []string{a + " 4"}},
		{name: "all, due or not", denials: seq(burst(a, 5, 0, time.Millisecond), burst(b, 2, time.Second, 0)), flushAt: 2 * time.Second, all: true,
			want: []string{a + " 4", b + " 1"}},
		{name: "the due ones; next is the earliest left", denials: seq(burst(b, 2, 0, 0), burst(a, 3, time.Second, 0), burst(a+"0", 2, 2*time.Second, 0)),
			flushAt: 13 * time.Second, want: []string{b + " 1"}, next: 13500 * time.Millisecond},
		{name: "carried by a denial line", denials: seq(burst(a, 5, 0, time.Millisecond), burst(a, 1, 10*time.Second, 0)), flushAt: time.Hour},
		{name: "custom interval", interval: 2 * time.Second, denials: burst(a, 3, 0, 0), flushAt: 2500 * time.Millisecond,
			want: []string{a + " 2"}},
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := denyLogLimiter{interval: tt.interval}
			for _, d := range tt.denials {
				l.admit(netip.MustParseAddr(d.addr), t0.Add(d.at))
			}
			var got []string
			for _, s := range l.flush(t0.Add(tt.flushAt), tt.all) {
				got = append(got, fmt.Sprint(s.source, " ", s.suppressed))
			}
			assert.Equal(t, tt.want, got)
			if tt.next == 0 {
				assert.Zero(t, l.next)
			} else {
				assert.Equal(t, t0.Add(tt.next), l.next)
			}
			assert.Empty(t, l.flush(t0.Add(tt.flushAt), tt.all), "a count is taken once")
		})
	}

	t.Run("a summary counts as the address's line", func(t *testing.T) {
		var l denyLogLimiter
		l.admit(netip.MustParseAddr(a), t0)
		l.admit(netip.MustParseAddr(a), t0)
		require.Len(t, l.flush(t0.Add(13*time.Second), false), 1)
		ok, _ := l.admit(netip.MustParseAddr(a), t0.Add(22*time.Second))
		assert.False(t, ok)
		ok, n := l.admit(netip.MustParseAddr(a), t0.Add(23*time.Second))
		assert.True(t, ok)
		assert.Equal(t, uint64(1), n)
	})
}

// TestLazyRegistryHonoursDenyLogInterval: the firewall answers before a
// lazy registry builds its backend, and logs as configured meanwhile.
func TestLazyRegistryHonoursDenyLogInterval(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, Config{Name: testName, Rules: denyAll()}, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.DenyLogInterval = -1 // every denial
		o.Lazy = true
	})
	for i := range 3 {
		req := httptest.NewRequest(http.MethodGet, fmt.Sprint("/v2/", i), nil)
		req.RemoteAddr = "198.51.100.7:40000"
		w := httptest.NewRecorder()
		e.reg.ServeHTTP(w, req)
		require.Equal(t, http.StatusForbidden, w.Code)
	}
	assert.Equal(t, 3, strings.Count(logs.String(), `msg="firewall denied request"`), logs.String())
}
