package firewall

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// Client is a request's origin as the firewall sees it.
type Client struct {
	Peer   netip.Addr // the TCP peer of the connection, unmapped
	Source netip.Addr // the original client: Peer, or what a trusted proxy reported
	Addr   netip.Addr // the address judged by IP rules: Source after NAT
	// Network is the virtual network Source is in (lower-cased; "" for
	// none). A registry with an approved private endpoint from that
	// network admits the client privately; any other judges Addr.
	Network string
	// TrustedService says Source is where trusted Azure services run: the
	// client passes a registry's rules if it also proves, with a managed
	// identity token, that it is such a service (see Decision.TrustedService).
	TrustedService bool
	// Relayed says a trusted proxy named Source in a PROXY protocol header.
	// The HTTP headers on such a connection are the client's own, so they
	// never change the client again.
	Relayed bool
}

// NAT makes clients whose source is in From appear as To, the way a NAT
// gateway makes a VM appear under one public address.
type NAT struct {
	From netip.Prefix
	To   netip.Addr
}

func (n NAT) String() string { return n.From.String() + "=" + n.To.String() }

// DocumentationNATAddr is what loopback clients look like by default: an
// address from TEST-NET-3 (RFC 5737), public in form but never routed.
var DocumentationNATAddr = netip.MustParseAddr("203.0.113.10")

// DefaultNAT maps loopback to DocumentationNATAddr, so that the documented
// "deny, see your address in the 403, add it as a rule" flow works locally.
var DefaultNAT = []NAT{
	{From: netip.MustParsePrefix("127.0.0.0/8"), To: DocumentationNATAddr},
	{From: netip.MustParsePrefix("::1/128"), To: DocumentationNATAddr},
}

// ParseNAT parses "CIDR=IP" (a bare address on the left means that address).
func ParseNAT(s string) (NAT, error) {
	from, to, ok := strings.Cut(s, "=")
	if !ok {
		return NAT{}, fmt.Errorf("nat %q: want CIDR=IP", s)
	}
	p, err := ParsePrefix(from)
	if err != nil {
		return NAT{}, fmt.Errorf("nat %q: %v", s, err)
	}
	a, err := netip.ParseAddr(strings.TrimSpace(to))
	if err != nil {
		return NAT{}, fmt.Errorf("nat %q: %v", s, err)
	}
	return NAT{From: p, To: a.Unmap()}, nil
}

// ParsePrefix parses a CIDR range or a single address (as a full-length
// prefix), masked and unmapped. It is the one parser for address ranges:
// flags, NAT sources, virtual networks and (restricted to IPv4) IP rules.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ResolverConfig configures address translation. Nil NAT means no NAT (pass
// DefaultNAT explicitly for the default behaviour).
type ResolverConfig struct {
	NAT            []NAT          // first match wins
	TrustedProxies []netip.Prefix // peers allowed to report the client address
	VNets          []VNet         // virtual networks sources may be in
	// TrustedServiceNetworks are the sources that stand for trusted Azure
	// services (Container Instances, ACR Tasks, …).
	TrustedServiceNetworks []netip.Prefix
}

// Resolver turns connection peers and forwarding information into Clients.
// It is immutable and safe for concurrent use.
type Resolver struct {
	nat        []NAT
	trusted    func(netip.Addr) bool
	network    networkTable
	trustedSvc func(netip.Addr) bool
}

// NewResolver validates cfg and returns a Resolver.
func NewResolver(cfg ResolverConfig) (*Resolver, error) {
	for _, n := range cfg.NAT {
		if !n.From.IsValid() || !n.To.IsValid() {
			return nil, fmt.Errorf("nat %v: invalid", n)
		}
	}
	for _, p := range append(append([]netip.Prefix(nil), cfg.TrustedProxies...), cfg.TrustedServiceNetworks...) {
		if !p.IsValid() {
			return nil, fmt.Errorf("invalid prefix %v", p)
		}
	}
	network, err := newNetworkTable(cfg.VNets)
	if err != nil {
		return nil, err
	}
	return &Resolver{
		nat:        append([]NAT(nil), cfg.NAT...),
		trusted:    newContainsFunc(cfg.TrustedProxies),
		network:    network,
		trustedSvc: newContainsFunc(cfg.TrustedServiceNetworks),
	}, nil
}

// FromPeer resolves a direct connection from peer.
func (r *Resolver) FromPeer(peer netip.Addr) Client {
	peer = peer.Unmap().WithZone("")
	return r.resolve(peer, peer)
}

// IsTrustedProxy reports whether peer may report client addresses.
func (r *Resolver) IsTrustedProxy(peer netip.Addr) bool {
	return r.trusted(peer.Unmap().WithZone(""))
}

// FromProxy resolves a connection whose peer claims (e.g. by PROXY protocol)
// to relay source. The claim is ignored unless peer is a trusted proxy.
func (r *Resolver) FromProxy(peer, source netip.Addr) Client {
	peer = peer.Unmap().WithZone("")
	if !r.trusted(peer) || !source.IsValid() {
		return r.resolve(peer, peer)
	}
	c := r.resolve(peer, source.Unmap().WithZone(""))
	c.Relayed = true
	return c
}

// ClientOf is the one answer to "who is this request's client", for the
// firewall, whoami and the portal alike: the client the front end stored
// in the context when it accepted the connection (falling back to
// RemoteAddr), refined by forwarding headers only when those may be
// believed. It allocates nothing unless a trusted proxy sent headers.
func (r *Resolver) ClientOf(req *http.Request) Client {
	c, ok := FromContext(req.Context())
	if !ok {
		ap, _ := netip.ParseAddrPort(req.RemoteAddr) // unparsable: the zero address, which no rule matches
		c = r.FromPeer(ap.Addr())
	}
	return r.FromHeaders(c, req.Header)
}

// HeadersTrusted reports whether forwarding headers of c's requests come
// from a trusted proxy (and not from the client itself).
func (r *Resolver) HeadersTrusted(c Client) bool { return !c.Relayed && r.trusted(c.Peer) }

// FromHeaders refines c with the Forwarded or X-Forwarded-For header when,
// and only when, c.Peer is a trusted proxy that did not already name the
// client by PROXY protocol. The client is the rightmost address that is
// not itself a trusted proxy; an unparsable header is ignored, leaving c as
// it was.
func (r *Resolver) FromHeaders(c Client, h http.Header) Client {
	if !r.HeadersTrusted(c) {
		return c
	}
	var hops []string
	if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		hops = forwardedFor(fwd)
	} else if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		for _, line := range xff {
			hops = append(hops, strings.Split(line, ",")...)
		}
	}
	if len(hops) == 0 {
		return c
	}
	var client netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return c
		}
		client = a
		if !r.trusted(a) {
			break
		}
	}
	return r.resolve(c.Peer, client)
}

// resolve tags source with its virtual network and trusted-service
// standing, and translates it by NAT: a client in a virtual network still
// has a public address, which registries without a private endpoint from
// that network judge.
func (r *Resolver) resolve(peer, source netip.Addr) Client {
	c := Client{Peer: peer, Source: source, Addr: source,
		Network: r.network(source), TrustedService: r.trustedSvc(source)}
	for _, n := range r.nat {
		if n.From.Contains(source) {
			c.Addr = n.To
			break
		}
	}
	return c
}

// forwardedFor extracts the for= values of RFC 7239 Forwarded headers.
func forwardedFor(lines []string) []string {
	var out []string
	for _, line := range lines {
		for _, elem := range strings.Split(line, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					out = append(out, strings.Trim(v, `"`))
				}
			}
		}
	}
	return out
}

// parseHop parses one hop: "a.b.c.d", "a.b.c.d:port", "[v6]", "[v6]:port" or a bare v6.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

type ctxKey struct{}

// NewContext returns ctx carrying c.
func NewContext(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the Client stored by NewContext.
func FromContext(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(ctxKey{}).(Client)
	return c, ok
}
