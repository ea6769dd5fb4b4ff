package server

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// Registry and data-endpoint ports listen on every host the front end
// listens on, with the same port number on each, so a registry is as
// reachable on its own port as on the front end (IPv4 and IPv6 alike).

// ephemeralTries bounds how often a port the system picked on the first
// host is given back because another host has it taken.
const ephemeralTries = 8

// listenFunc binds a TCP address; net.Listen("tcp", …) outside tests.
type listenFunc func(addr string) (net.Listener, error)

func listenTCP(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// listenHosts are the distinct addresses the front-end listeners are
// bound to, in --listen order. A wildcard (0.0.0.0, ::, or no host) is
// bound dual-stack and covers every address, so when the front end has
// one, it is the only host: binding a specific address as well on the
// same port would fail.
func listenHosts(front []net.Addr) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for _, a := range front {
		ta, ok := a.(*net.TCPAddr)
		if !ok {
			continue
		}
		ip := ta.AddrPort().Addr().Unmap()
		if ip.IsUnspecified() {
			return []netip.Addr{ip}
		}
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	return out
}

// bindHosts listens on port on every host: on all of them or, with an
// error, on none. Port 0 lets the system pick a port on the first host;
// the others bind the same number, and a number taken on one of them is
// given back and another picked, up to ephemeralTries times.
func bindHosts(listen listenFunc, hosts []netip.Addr, port int) ([]net.Listener, error) {
	if len(hosts) == 0 {
		return nil, errors.New("no host to listen on")
	}
	if port != 0 {
		return bindEach(listen, hosts, port)
	}
	var err error
	for range ephemeralTries {
		var first net.Listener
		if first, err = listen(hostPort(hosts[0], 0)); err != nil {
			return nil, err
		}
		var rest []net.Listener
		if rest, err = bindEach(listen, hosts[1:], first.Addr().(*net.TCPAddr).Port); err == nil {
			return append([]net.Listener{first}, rest...), nil
		}
		first.Close()
	}
	return nil, fmt.Errorf("no port the system picked was free on every --listen host: %w", err)
}

// bindEach listens on port on every host, or on none.
func bindEach(listen listenFunc, hosts []netip.Addr, port int) ([]net.Listener, error) {
	lns := make([]net.Listener, 0, len(hosts))
	for _, h := range hosts {
		ln, err := listen(hostPort(h, port))
		if err != nil {
			closeAll(lns)
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func hostPort(h netip.Addr, port int) string {
	return net.JoinHostPort(h.String(), strconv.Itoa(port))
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// listenPort binds port (0: one the system picks) on every front-end
// host.
func (s *Server) listenPort(port int) ([]net.Listener, error) {
	return bindHosts(listenTCP, s.hosts, port)
}

// boundPort is the port of listeners bindHosts returned.
func boundPort(lns []net.Listener) int { return lns[0].Addr().(*net.TCPAddr).Port }
