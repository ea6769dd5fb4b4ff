package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// fakeTimer is a flush timer on a settable clock: advance moves the clock
// and fires the timer, in the caller's goroutine, at each deadline it
// passes.
type fakeTimer struct {
	clock *testarm.Clock
	f     func()

	mu       sync.Mutex
	armed    bool
	deadline time.Time
}

// useFakeTimer replaces reg's flush timer (still at rest) with a fakeTimer
// on clock.
func useFakeTimer(reg *Registry, clock *testarm.Clock) *fakeTimer {
	ft := &fakeTimer{clock: clock, f: reg.flushDenials}
	reg.denials.mu.Lock()
	defer reg.denials.mu.Unlock()
	if reg.denials.flusher.armed {
		panic("flush timer already set")
	}
	reg.denials.flusher.timer = ft
	return ft
}

func (ft *fakeTimer) Reset(d time.Duration) bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	was := ft.armed
	ft.armed, ft.deadline = true, ft.clock.Now().Add(d)
	return was
}

func (ft *fakeTimer) Stop() bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	was := ft.armed
	ft.armed = false
	return was
}

// isArmed reports whether the timer is set, and for when.
func (ft *fakeTimer) isArmed() (bool, time.Time) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.armed, ft.deadline
}

// advance moves the clock to t, firing the timer at each deadline up to t.
func (ft *fakeTimer) advance(t time.Time) {
	for range 10000 {
		ft.mu.Lock()
		due, at := ft.armed && !ft.deadline.After(t), ft.deadline
		if due {
			ft.armed = false
		}
		ft.mu.Unlock()
		if !due {
			ft.clock.Set(t)
			return
		}
		if at.After(ft.clock.Now()) {
			ft.clock.Set(at)
		}
		ft.f()
	}
	panic("flush timer keeps firing")
}

// lineLog keeps the registry's firewall warnings as short lines: when
// (on clock, from t0), "denial" or "summary", and the attributes that
// matter here.
type lineLog struct {
	clock *testarm.Clock
	t0    time.Time
	// block, if set, is called before a summary is kept.
	block func()

	mu    sync.Mutex
	lines []string
}

func (l *lineLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *lineLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *lineLog) WithGroup(string) slog.Handler            { return l }

func (l *lineLog) Handle(_ context.Context, r slog.Record) error {
	kind := map[string]string{"firewall denied request": "denial", "firewall denied requests": "summary"}[r.Message]
	if kind == "" {
		return nil
	}
	if kind == "summary" && l.block != nil {
		l.block()
	}
	var b strings.Builder
	now := time.Now()
	if l.clock != nil {
		now = l.clock.Now()
	}
	fmt.Fprintf(&b, "%v %s", now.Sub(l.t0), kind)
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "registry":
			if a.Value.String() != testName {
				fmt.Fprintf(&b, " registry=%v", a.Value)
			}
		case "source", "overflow", "suppressed", "interval":
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		}
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	return nil
}

func (l *lineLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// denyFrom sends one request from addr to reg, which must refuse it.
func denyFrom(t *testing.T, reg *Registry, addr, path string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(addr), 40000).String()
	w := httptest.NewRecorder()
	reg.ServeHTTP(w, req)
	require.Equal(t, http.StatusForbidden, w.Code)
}

// A count of left-out denials that no later denial reports gets a summary
// line of its own, driven by the registry's clock and flush timer.
func TestDenialSummaries(t *testing.T) {
	const a, b, c, d = "198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"
	// step: the clock moves to at (the timer firing on the way), then n
	// denials of addr (if any) 1ms apart, or the registry closes.
	type step struct {
		at    time.Duration
		addr  string
		n     int
		close bool
	}
	flood := func(addr string, at time.Duration, n int) step { return step{at: at, addr: addr, n: n} }
	every := func(addr string, from, period time.Duration, n int) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = flood(addr, from+time.Duration(i)*period, 1)
		}
		return out
	}
	tests := []struct {
		name     string
		interval time.Duration
		steps    []step
		want     []string
	}{
		{name: "a flood that stops: one summary with the count",
			steps: []step{flood(a, 0, 1000)},
			want: []string{"0s denial source=" + a,
				"12.5s summary source=" + a + " suppressed=999 interval=10s"}},
		{name: "a flood that goes on: its denial lines carry the counts",
			steps: every(a, 0, 100*time.Millisecond, 251),
			want: []string{"0s denial source=" + a,
				"10s denial source=" + a + " suppressed=99",
				"20s denial source=" + a + " suppressed=99",
				"32.5s summary source=" + a + " suppressed=50 interval=10s"}},
		{name: "the next denial after the interval carries the count, not a summary",
			steps: []step{flood(a, 0, 10), flood(a, 12*time.Second, 1)},
			want: []string{"0s denial source=" + a,
				"12s denial source=" + a + " suppressed=9"}},
		{name: "a summary counts as its address's line",
			steps: every(a, 0, 7*time.Second, 6),
			want: []string{"0s denial source=" + a,
				"12.5s summary source=" + a + " suppressed=1 interval=10s",
				"25s summary source=" + a + " suppressed=2 interval=10s",
				"35s denial source=" + a + " suppressed=1"}},
		{name: "no count held, no summary",
			steps: []step{flood(a, 0, 1), flood(a, 10*time.Second, 1)},
			want:  []string{"0s denial source=" + a, "10s denial source=" + a}},
		{name: "many addresses, each with its own count and time",
			steps: []step{flood(b, 0, 1), flood(a, 0, 1), flood(b, time.Millisecond, 2), flood(a, 3*time.Millisecond, 1),
				flood(d, time.Second, 1), flood(c, 5*time.Second, 4)},
			want: []string{"0s denial source=" + b, "0s denial source=" + a, "1s denial source=" + d, "5s denial source=" + c,
				"12.5s summary source=" + a + " suppressed=1 interval=10s",
				"12.5s summary source=" + b + " suppressed=2 interval=10s",
				"17.5s summary source=" + c + " suppressed=3 interval=10s"}},
		{name: "a count due before the one the timer waits for",
			steps: []step{flood(b, 0, 1), flood(a, 3*time.Second, 2), flood(b, 5*time.Second, 1)},
			want: []string{"0s denial source=" + b, "3s denial source=" + a,
				"12.5s summary source=" + b + " suppressed=1 interval=10s",
				"15.5s summary source=" + a + " suppressed=1 interval=10s"}},
		{name: "closed with counts held: every count at once",
			steps: []step{flood(a, 0, 5), flood(b, 3*time.Second, 2), flood(c, 4*time.Second, 1), {at: 6 * time.Second, close: true}},
			want: []string{"0s denial source=" + a, "3s denial source=" + b, "4s denial source=" + c,
				"6s summary source=" + a + " suppressed=4 interval=10s",
				"6s summary source=" + b + " suppressed=1 interval=10s"}},
		{name: "closed after the summary: nothing more",
			steps: []step{flood(a, 0, 5), {at: 20 * time.Second, close: true}},
			want: []string{"0s denial source=" + a,
				"12.5s summary source=" + a + " suppressed=4 interval=10s"}},
		{name: "custom interval", interval: time.Second,
			steps: []step{flood(a, 0, 100)},
			want: []string{"0s denial source=" + a,
				"1.25s summary source=" + a + " suppressed=99 interval=1s"}},
		{name: "every denial logged: nothing held", interval: -1,
			steps: []step{flood(a, 0, 3)},
			want:  []string{"0s denial source=" + a, "1ms denial source=" + a, "2ms denial source=" + a}},
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := testarm.NewClock(t0)
			logs := &lineLog{clock: clock, t0: t0}
			e := newEnv(t, Config{Name: testName, Rules: denyAll()}, func(o *Options) {
				o.Logger = slog.New(logs)
				o.Now = clock.Now
				o.DenyLogInterval = tt.interval
			})
			ft := useFakeTimer(e.reg, clock)
			denied := 0
			for _, s := range tt.steps {
				ft.advance(t0.Add(s.at))
				if s.close {
					require.NoError(t, e.reg.Close())
				}
				for i := range s.n {
					ft.advance(t0.Add(s.at + time.Duration(i)*time.Millisecond))
					denyFrom(t, e.reg, s.addr, fmt.Sprint("/v2/", denied))
					denied++
				}
			}
			ft.advance(t0.Add(time.Minute))

			assert.Equal(t, tt.want, logs.get())
			armed, _ := ft.isArmed()
			assert.False(t, armed, "the timer rests once no count is held")
			assert.Equal(t, Stats{Denied: uint64(denied)}, e.reg.Stats(), "counters are exact")
			recent := e.reg.RecentDenials()
			assert.Len(t, recent, min(denied, maxDenials))
			assert.Equal(t, fmt.Sprint("/v2/", denied-1), recent[0].Path, "the ring keeps every denial")
		})
	}
}

// The shared budget of the addresses beyond maxDenyLogClients gets its
// own summary, which names no address.
func TestDenialSummaryOverflow(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := testarm.NewClock(t0)
	logs := &lineLog{clock: clock, t0: t0}
	e := newEnv(t, Config{Name: testName, Rules: denyAll()}, func(o *Options) {
		o.Logger = slog.New(logs)
		o.Now = clock.Now
	})
	ft := useFakeTimer(e.reg, clock)
	for i := range maxDenyLogClients {
		denyFrom(t, e.reg, netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), "/v2/")
	}
	ft.advance(t0.Add(time.Second))
	denyFrom(t, e.reg, "10.1.0.1", "/v2/") // logged, on the shared budget
	ft.advance(t0.Add(2 * time.Second))
	denyFrom(t, e.reg, "10.1.0.2", "/v2/")
	denyFrom(t, e.reg, "10.1.0.3", "/v2/")
	denyFrom(t, e.reg, "10.1.0.2", "/v2/")
	ft.advance(t0.Add(time.Minute))

	lines := logs.get()
	require.Len(t, lines, maxDenyLogClients+2)
	assert.Equal(t, "1s denial source=10.1.0.1", lines[maxDenyLogClients])
	assert.Equal(t, "13.5s summary overflow=true suppressed=3 interval=10s", lines[maxDenyLogClients+1])
	assert.Equal(t, Stats{Denied: maxDenyLogClients + 4}, e.reg.Stats())
}

// Denying allocates nothing in the limiter and the flush timer, also when
// the denial sets the timer; the timer's own Reset and Stop allocate
// nothing either.
func TestDenialLogAllocations(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := testarm.NewClock(t0)
	e := newEnv(t, Config{Name: testName, Rules: denyAll()}, func(o *Options) { o.Now = clock.Now })
	ft := useFakeTimer(e.reg, clock)
	src := netip.MustParseAddr("198.51.100.7")
	deny := func() bool {
		logIt, _ := e.reg.denials.add(Denial{Time: clock.Now(), Method: http.MethodGet, Path: "/v2/", Source: src, Addr: src})
		return logIt
	}
	var logged, held, set int
	allocs := testing.AllocsPerRun(100, func() {
		if deny() {
			logged++
		}
		if !deny() {
			held++
		}
		if armed, _ := ft.isArmed(); armed {
			set++
		}
		ft.advance(clock.Now().Add(10 * time.Second))
		if deny() { // carries the count
			logged++
		}
		// The timer fires, finds no count and rests.
		ft.advance(clock.Now().Add(10 * time.Second))
	})
	assert.Zero(t, allocs)
	assert.Equal(t, 2*101, logged)
	assert.Equal(t, 101, held)
	assert.Equal(t, 101, set, "every round sets the timer")

	tm := newFlushTimer(func() {})
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		tm.Reset(time.Hour)
		tm.Stop()
	}))
}

// With the real timer (in a bubble, whose clock only moves when every
// goroutine waits): the summary comes when due, Close writes the counts
// held and waits for a summary being written, and no timer or goroutine
// is left behind.
func TestDenialSummaryTimerAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		writing, release := make(chan struct{}), make(chan struct{})
		logs := &lineLog{t0: t0}
		reg, err := New(Options{HTTPSecret: "s", Signer: testSigner, Logger: slog.New(logs), Lazy: true},
			Config{ID: "id", LoginServer: "myreg.azurecr.io", Name: testName, Rules: denyAll()})
		require.NoError(t, err)

		denyFrom(t, reg, "198.51.100.1", "/v2/")
		denyFrom(t, reg, "198.51.100.1", "/v2/")
		time.Sleep(20 * time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"0s denial source=198.51.100.1",
			"12.5s summary source=198.51.100.1 suppressed=1 interval=10s"}, logs.get())

		// The next summary blocks in the logger while Close runs.
		logs.block = func() {
			logs.block = nil
			writing <- struct{}{}
			<-release
		}
		for range 3 {
			denyFrom(t, reg, "198.51.100.2", "/v2/")
		}
		time.Sleep(5 * time.Second)
		denyFrom(t, reg, "198.51.100.3", "/v2/")
		denyFrom(t, reg, "198.51.100.3", "/v2/")
		<-writing // 198.51.100.2's summary, at 32.5s
		closed := make(chan error)
		go func() { closed <- reg.Close() }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while a summary was being written")
		default:
		}
		close(release)
		require.NoError(t, <-closed)
		assert.Equal(t, []string{"0s denial source=198.51.100.1",
			"12.5s summary source=198.51.100.1 suppressed=1 interval=10s",
			"20s denial source=198.51.100.2",
			"25s denial source=198.51.100.3",
			"32.5s summary source=198.51.100.3 suppressed=1 interval=10s",
			"32.5s summary source=198.51.100.2 suppressed=2 interval=10s"}, logs.get())

		reg.denials.mu.Lock()
		assert.False(t, reg.denials.flusher.armed, "the timer rests after Close")
		reg.denials.mu.Unlock()
		denyFrom(t, reg, "198.51.100.4", "/v2/")
		denyFrom(t, reg, "198.51.100.4", "/v2/")
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Len(t, logs.get(), 7, "no timer after Close")
		assert.Equal(t, Stats{Denied: 9}, reg.Stats())
	})
}
