package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/acremu/acremu/pkg/firewall"
)

// sniffTimeout bounds how long a new connection may take to send its first
// byte (and PROXY header). Sniffing runs per connection, off the accept loop,
// so a slow client only delays itself.
const sniffTimeout = 10 * time.Second

var proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")

// dualListener serves plain HTTP and TLS on one port: it reads the first
// byte of each connection (0x16 starts a TLS handshake) and returns either
// the plain connection or a *tls.Conn, which net/http handshakes itself.
// Trusted proxies may prefix the connection with a PROXY protocol header.
type dualListener struct {
	inner    net.Listener
	tls      *tls.Config
	resolver *firewall.Resolver
	log      *slog.Logger
	after    func(time.Duration) <-chan time.Time // time.After; tests replace it
	conns    chan net.Conn
	done     chan struct{}
	once     sync.Once
}

// Accept errors are retried after a delay that starts at minAcceptDelay
// and doubles up to maxAcceptDelay, as net/http's Server.Serve does.
const (
	minAcceptDelay = 5 * time.Millisecond
	maxAcceptDelay = time.Second
)

// newDualListener serves inner; a nil log discards accept errors.
func newDualListener(inner net.Listener, tlsConfig *tls.Config, resolver *firewall.Resolver, log *slog.Logger) *dualListener {
	l := &dualListener{inner: inner, tls: tlsConfig, resolver: resolver, log: log, after: time.After}
	l.start()
	return l
}

// start runs the accept loop of a listener whose fields are set.
func (l *dualListener) start() {
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.conns = make(chan net.Conn)
	l.done = make(chan struct{})
	go l.acceptLoop()
}

// acceptLoop accepts until the inner listener is closed. Any other accept
// error (EMFILE when the process is out of file descriptors, ECONNABORTED,
// a timeout) is retried with backoff, logged once per run of failures: a
// port must outlive a transient failure, not stay closed while the process
// lives on.
func (l *dualListener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				// Closed by Close, or by whoever owns inner: this
				// listener is done, and Accept reports net.ErrClosed.
				l.Close()
				return
			}
			if delay == 0 {
				l.log.Error("accept failed; retrying with backoff", "addr", l.inner.Addr().String(), "err", err)
			}
			delay = min(max(delay*2, minAcceptDelay), maxAcceptDelay)
			select {
			case <-l.after(delay):
			case <-l.done:
				return
			}
			continue
		}
		delay = 0
		go l.sniff(c)
	}
}

func (l *dualListener) sniff(c net.Conn) {
	peer := peerAddr(c)
	c.SetReadDeadline(time.Now().Add(sniffTimeout))
	br := bufio.NewReader(c)
	client := l.resolver.FromPeer(peer)
	if l.resolver.IsTrustedProxy(peer) {
		if head, err := br.Peek(5); err == nil && (string(head) == "PROXY" || bytes.HasPrefix(proxyV2Sig, head)) {
			h, err := proxyproto.Read(br)
			if err != nil {
				c.Close()
				return
			}
			if src, ok := h.SourceAddr.(*net.TCPAddr); ok {
				client = l.resolver.FromProxy(peer, src.AddrPort().Addr())
			}
		}
	}
	first, err := br.Peek(1)
	if err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	var out net.Conn = &clientConn{Conn: c, r: br, client: client}
	if first[0] == 0x16 {
		out = tls.Server(out, l.tls)
	}
	select {
	case l.conns <- out:
	case <-l.done:
		c.Close()
	}
}

func (l *dualListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *dualListener) Close() error {
	var err error
	l.once.Do(func() {
		close(l.done)
		err = l.inner.Close()
	})
	return err
}

func (l *dualListener) Addr() net.Addr { return l.inner.Addr() }

// clientConn is an accepted connection with the bytes already peeked and
// the firewall's view of its client, computed once at accept time.
type clientConn struct {
	net.Conn
	r      *bufio.Reader
	client firewall.Client
}

func (c *clientConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// ReadFrom keeps the kernel's sendfile/splice path for response bodies.
func (c *clientConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}

// peerAddr returns the unmapped address of c's remote end.
func peerAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// clientOf returns the firewall client of an accepted connection.
func clientOf(c net.Conn) (firewall.Client, bool) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	cc, ok := c.(*clientConn)
	if !ok {
		return firewall.Client{}, false
	}
	return cc.client, true
}

// serve runs p's HTTP server on each of its listeners in the background
// until it is closed, and logs why one stopped if that was anything else.
func (p *portServer) serve() {
	for _, ln := range p.lns {
		go func() {
			if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				ln.log.Error("serve stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
}

// close stops p: its listeners and every connection, keep-alive ones too.
func (p *portServer) close() {
	p.srv.Close()
	p.closeListeners()
}

// closeListeners closes p's listeners (also those not served yet).
func (p *portServer) closeListeners() {
	for _, ln := range p.lns {
		ln.Close()
	}
}

// port is the port p listens on (the same on each of its listeners).
func (p *portServer) port() int { return p.lns[0].Addr().(*net.TCPAddr).Port }
