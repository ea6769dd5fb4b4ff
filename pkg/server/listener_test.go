package server

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/tlsca"
)

// startDual serves a handler that echoes the firewall client on a dual
// listener and returns its address and CA.
func startDual(t *testing.T, cfg firewall.ResolverConfig) (string, *tlsca.CA) {
	t.Helper()
	ca, err := tlsca.New([]string{"localhost", "127.0.0.1"})
	require.NoError(t, err)
	res, err := firewall.NewResolver(cfg)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dl := newDualListener(ln, &tls.Config{GetCertificate: ca.GetCertificate, NextProtos: []string{"http/1.1"}}, res, nil)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := firewall.FromContext(r.Context())
			fmt.Fprintf(w, "tls=%v addr=%s source=%s", r.TLS != nil, c.Addr, c.Source)
		}),
		ConnContext: (&Server{}).connContext,
	}
	go srv.Serve(dl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), ca
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func TestDualListenerServesHTTPAndTLSOnOnePort(t *testing.T) {
	addr, ca := startDual(t, firewall.ResolverConfig{NAT: firewall.DefaultNAT})
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	tests := []struct {
		name   string
		client *http.Client
		url    string
		want   string
	}{
		{"plain http", http.DefaultClient, "http://" + addr + "/", "tls=false addr=203.0.113.10 source=127.0.0.1"},
		{"https by address", tlsClient, "https://" + addr + "/", "tls=true addr=203.0.113.10 source=127.0.0.1"},
		{"https by name", tlsClient, "https://" + strings.Replace(addr, "127.0.0.1", "localhost", 1) + "/", "tls=true addr=203.0.113.10 source=127.0.0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, get(t, tt.client, tt.url))
		})
	}
}

func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	addr, _ := startDual(t, firewall.ResolverConfig{})
	slow, err := net.Dial("tcp", addr) // connects and sends nothing
	require.NoError(t, err)
	defer slow.Close()
	c := &http.Client{Timeout: 5 * time.Second}
	require.Contains(t, get(t, c, "http://"+addr+"/"), "tls=false")
}

func TestProxyProtocolOnlyFromTrustedPeers(t *testing.T) {
	claimed := &net.TCPAddr{IP: net.ParseIP("198.51.100.77"), Port: 4242}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		version byte
		want    string
	}{
		{"v1 from trusted peer", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 1, "addr=198.51.100.77 source=198.51.100.77"},
		{"v2 from trusted peer", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, 2, "addr=198.51.100.77 source=198.51.100.77"},
		// From an untrusted peer the header is not parsed at all: the
		// connection then carries garbage and the request fails.
		{"v1 from untrusted peer", nil, 1, "400 Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := startDual(t, firewall.ResolverConfig{TrustedProxies: tt.trusted})
			conn, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer conn.Close()
			h := proxyproto.HeaderProxyFromAddrs(tt.version, claimed, conn.RemoteAddr())
			_, err = h.WriteTo(conn)
			require.NoError(t, err)
			fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			require.Contains(t, resp.Status+" "+string(body), tt.want)
		})
	}
}

// flakyListener fails Accept with EMFILE as scripted, then accepts for
// real: script[i] is how many times the i-th real Accept is preceded by a
// failure.
type flakyListener struct {
	net.Listener
	mu     sync.Mutex
	script []int
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.script) > 0 && l.script[0] > 0 {
		l.script[0]--
		l.mu.Unlock()
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	if len(l.script) > 0 {
		l.script = l.script[1:]
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestAcceptErrorsAreRetriedWithBackoff(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	res, err := firewall.NewResolver(firewall.ResolverConfig{})
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		delays []time.Duration
		logged logBuffer
	)
	fired := make(chan time.Time)
	close(fired)
	l := &dualListener{
		inner:    &flakyListener{Listener: inner, script: []int{5, 2, 0}},
		resolver: res,
		log:      slog.New(slog.NewTextHandler(&logged, nil)),
		after: func(d time.Duration) <-chan time.Time {
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
			return fired
		},
	}
	l.start()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	// Three connections, one per real Accept; without keep-alives each
	// request needs its own.
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 3 {
		require.Equal(t, "ok", get(t, c, "http://"+inner.Addr().String()+"/"))
	}
	mu.Lock()
	defer mu.Unlock()
	ms := time.Millisecond
	require.Equal(t, []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 5 * ms, 10 * ms}, delays, "backoff doubles from 5ms and restarts after a success")
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	require.Len(t, lines, 2, "one log record per run of failures")
	require.Contains(t, lines[0], "too many open files")
}

func TestBackoffIsCappedAndEndsOnClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	res, err := firewall.NewResolver(firewall.ResolverConfig{})
	require.NoError(t, err)
	waits := make(chan time.Duration)
	stop := make(chan struct{})
	l := &dualListener{
		inner:    &flakyListener{Listener: inner, script: []int{1 << 30}},
		resolver: res,
		after: func(d time.Duration) <-chan time.Time {
			select {
			case waits <- d:
				ch := make(chan time.Time, 1)
				ch <- time.Time{}
				return ch
			case <-stop:
				return nil // never fires: only Close ends the wait
			}
		},
	}
	l.start()
	var last time.Duration
	for range 12 {
		select {
		case last = <-waits:
		case <-time.After(5 * time.Second):
			t.Fatal("accept loop stopped retrying")
		}
	}
	require.Equal(t, time.Second, last, "backoff is capped at 1s")

	// Close ends the loop even mid-backoff, and Accept reports ErrClosed.
	close(stop)
	require.NoError(t, l.Close())
	_, err = l.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}

func TestClosedInnerListenerClosesTheDualListener(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	res, err := firewall.NewResolver(firewall.ResolverConfig{})
	require.NoError(t, err)
	l := newDualListener(inner, nil, res, nil)
	inner.Close()
	_, err = l.Accept()
	require.ErrorIs(t, err, net.ErrClosed)
}
