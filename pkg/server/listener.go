package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
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
	conns    chan net.Conn
	done     chan struct{}
	once     sync.Once
}

func newDualListener(inner net.Listener, tlsConfig *tls.Config, resolver *firewall.Resolver) *dualListener {
	l := &dualListener{inner: inner, tls: tlsConfig, resolver: resolver, conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

func (l *dualListener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(delay*2, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			// The inner listener failed or was closed: either way this
			// listener is done, and Accept reports net.ErrClosed.
			l.Close()
			return
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

func netipAddrPort(s string) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(s)
	return ap.Addr(), err
}
