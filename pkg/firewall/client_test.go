package firewall

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	nat1   = netip.MustParseAddr("198.51.100.1")
	nat2   = netip.MustParseAddr("198.51.100.2")
	public = netip.MustParseAddr("198.51.100.7")
)

func mustResolver(t testing.TB, cfg ResolverConfig) *Resolver {
	t.Helper()
	r, err := NewResolver(cfg)
	require.NoError(t, err)
	return r
}

func mustNAT(t testing.TB, s string) NAT {
	t.Helper()
	n, err := ParseNAT(s)
	require.NoError(t, err)
	return n
}

func TestFromPeer(t *testing.T) {
	defaultNAT := mustResolver(t, ResolverConfig{NAT: DefaultNAT})
	noNAT := mustResolver(t, ResolverConfig{})
	custom := mustResolver(t, ResolverConfig{NAT: []NAT{
		mustNAT(t, "10.0.0.0/8=198.51.100.1"),
		mustNAT(t, "10.1.0.0/16=198.51.100.2"), // shadowed: first match wins
		mustNAT(t, "192.0.2.5=198.51.100.2"),
	}})
	tests := []struct {
		name       string
		r          *Resolver
		peer       string
		wantPeer   string
		wantAddr   netip.Addr
		wantPublic bool // Addr is the peer itself
	}{
		{name: "loopback", r: defaultNAT, peer: "127.0.0.1", wantPeer: "127.0.0.1", wantAddr: DocumentationNATAddr},
		{name: "mapped loopback", r: defaultNAT, peer: "::ffff:127.0.0.1", wantPeer: "127.0.0.1", wantAddr: DocumentationNATAddr},
		{name: "other loopback", r: defaultNAT, peer: "127.4.5.6", wantPeer: "127.4.5.6", wantAddr: DocumentationNATAddr},
		{name: "ipv6 loopback", r: defaultNAT, peer: "::1", wantPeer: "::1", wantAddr: DocumentationNATAddr},
		{name: "public unchanged", r: defaultNAT, peer: "198.51.100.7", wantPeer: "198.51.100.7", wantPublic: true},
		{name: "mapped public unmapped", r: defaultNAT, peer: "::ffff:198.51.100.7", wantPeer: "198.51.100.7", wantPublic: true},
		{name: "zone stripped", r: defaultNAT, peer: "fe80::1%eth0", wantPeer: "fe80::1", wantPublic: true},
		{name: "no NAT loopback", r: noNAT, peer: "127.0.0.1", wantPeer: "127.0.0.1", wantPublic: true},
		{name: "no NAT mapped loopback", r: noNAT, peer: "::ffff:127.0.0.1", wantPeer: "127.0.0.1", wantPublic: true},
		{name: "custom NAT", r: custom, peer: "10.9.9.9", wantPeer: "10.9.9.9", wantAddr: nat1},
		{name: "custom NAT first match wins", r: custom, peer: "10.1.2.3", wantPeer: "10.1.2.3", wantAddr: nat1},
		{name: "custom NAT single address", r: custom, peer: "192.0.2.5", wantPeer: "192.0.2.5", wantAddr: nat2},
		{name: "custom NAT no match", r: custom, peer: "192.0.2.6", wantPeer: "192.0.2.6", wantPublic: true},
		{name: "custom NAT leaves loopback", r: custom, peer: "127.0.0.1", wantPeer: "127.0.0.1", wantPublic: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.FromPeer(netip.MustParseAddr(tt.peer))
			want := Client{Peer: netip.MustParseAddr(tt.wantPeer), Source: netip.MustParseAddr(tt.wantPeer), Addr: tt.wantAddr}
			if tt.wantPublic {
				want.Addr = want.Peer
			}
			assert.Equal(t, want, got, "FromPeer(%s)", tt.peer)
		})
	}
}

// TestFromPeerRealSocket accepts a real loopback connection on both kinds of
// listener: a dual-stack one reports an IPv4 client as ::ffff:127.0.0.1, a
// tcp4 one as 127.0.0.1, and the Resolver must treat both alike.
func TestFromPeerRealSocket(t *testing.T) {
	r := mustResolver(t, ResolverConfig{NAT: DefaultNAT})
	allowNAT, err := NewPolicy(Rules{DefaultAction: ActionDeny, IPRules: []string{DocumentationNATAddr.String()}})
	require.NoError(t, err)
	allowLoopback, err := NewPolicy(Rules{DefaultAction: ActionDeny, IPRules: []string{"127.0.0.0/8"}})
	require.NoError(t, err)

	tests := []struct {
		name       string
		network    string
		address    string
		wantMapped bool
	}{
		{"dual-stack", "tcp", "[::]:0", true},
		{"tcp4", "tcp4", "127.0.0.1:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen(tt.network, tt.address)
			if err != nil && tt.wantMapped {
				t.Skipf("no dual-stack listener on this host: %v", err)
			}
			require.NoError(t, err)
			t.Cleanup(func() { ln.Close() })

			accepted := make(chan net.Conn, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}()
			port := ln.Addr().(*net.TCPAddr).Port
			client, err := net.Dial("tcp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)).String())
			require.NoError(t, err)
			t.Cleanup(func() { client.Close() })

			var conn net.Conn
			select {
			case c, ok := <-accepted:
				require.True(t, ok, "accept failed")
				conn = c
			case <-time.After(10 * time.Second):
				t.Fatal("no connection accepted")
			}
			t.Cleanup(func() { conn.Close() })

			raw := conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr()
			require.Equal(t, tt.wantMapped, raw.Is4In6(), "peer %v from a %s listener", raw, tt.name)

			c := r.FromPeer(raw)
			loopback := netip.MustParseAddr("127.0.0.1")
			assert.Equal(t, loopback, c.Peer)
			assert.Equal(t, loopback, c.Source)
			assert.Equal(t, DocumentationNATAddr, c.Addr)
			assert.Empty(t, c.Network)
			assert.False(t, c.TrustedService)
			assert.Equal(t, Decision{Allowed: true, Reason: ReasonIPRule}, allowNAT.Decide(c))
			// Rules judge the NAT address, never the loopback peer.
			assert.Equal(t, Decision{Allowed: false, Reason: ReasonNotInIPRules}, allowLoopback.Decide(c))
		})
	}
}

func TestParseNAT(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    NAT
		wantErr bool
	}{
		{name: "cidr", in: "127.0.0.0/8=203.0.113.10", want: NAT{netip.MustParsePrefix("127.0.0.0/8"), DocumentationNATAddr}},
		{name: "bare address", in: "10.1.2.3=198.51.100.1", want: NAT{netip.MustParsePrefix("10.1.2.3/32"), nat1}},
		{name: "ipv6 source", in: "::1=198.51.100.1", want: NAT{netip.MustParsePrefix("::1/128"), nat1}},
		{name: "spaces", in: " 10.0.0.0/8 = 198.51.100.1 ", want: NAT{netip.MustParsePrefix("10.0.0.0/8"), nat1}},
		{name: "host bits masked", in: "10.1.2.3/8=198.51.100.1", want: NAT{netip.MustParsePrefix("10.0.0.0/8"), nat1}},
		{name: "mapped source range", in: "::ffff:10.0.0.0/104=198.51.100.1", want: NAT{netip.MustParsePrefix("10.0.0.0/8"), nat1}},
		{name: "mapped source address", in: "::ffff:10.1.2.3=198.51.100.1", want: NAT{netip.MustParsePrefix("10.1.2.3/32"), nat1}},
		{name: "mapped target", in: "10.0.0.0/8=::ffff:198.51.100.1", want: NAT{netip.MustParsePrefix("10.0.0.0/8"), nat1}},
		{name: "no equals", in: "10.0.0.0/8", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "only equals", in: "=", wantErr: true},
		{name: "empty source", in: "=198.51.100.1", wantErr: true},
		{name: "empty target", in: "10.0.0.0/8=", wantErr: true},
		{name: "bad source", in: "10.0.0/8=198.51.100.1", wantErr: true},
		{name: "bad prefix length", in: "10.0.0.0/33=198.51.100.1", wantErr: true},
		{name: "target is a range", in: "10.0.0.0/8=198.51.100.0/24", wantErr: true},
		{name: "two targets", in: "10.0.0.0/8=198.51.100.1=198.51.100.2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseNAT(tt.in)
			if tt.wantErr {
				assert.Error(t, err, "ParseNAT(%q) = %v; want error", tt.in, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "ParseNAT(%q)", tt.in)
		})
	}
}

func TestNATString(t *testing.T) {
	n := mustNAT(t, "127.0.0.0/8=203.0.113.10")
	assert.Equal(t, "127.0.0.0/8=203.0.113.10", n.String())
	back, err := ParseNAT(n.String())
	require.NoError(t, err)
	assert.Equal(t, n, back)
}

// TestParsePrefix holds ParsePrefix and ParseIPRule, which is ParsePrefix
// restricted to ranges written as IPv4, to each other.
func TestParsePrefix(t *testing.T) {
	onlyIPv4 := func(in string) string {
		return fmt.Sprintf("%q is not an IPv4 address or range: only IPv4 is allowed", in)
	}
	notValid := func(in string) string { return fmt.Sprintf("%q is not a valid IPv4 address or CIDR range", in) }
	tests := []struct {
		name        string
		in          string
		want        string // ParsePrefix's prefix; "" when it refuses in
		wantRule    string // ParseIPRule's prefix, when wantRuleErr is ""
		wantRuleErr string
	}{
		{name: "ipv4 range", in: "10.0.0.0/8", want: "10.0.0.0/8", wantRule: "10.0.0.0/8"},
		{name: "host bits masked", in: "10.1.2.3/8", want: "10.0.0.0/8", wantRule: "10.0.0.0/8"},
		{name: "ipv4 address", in: "10.1.2.3", want: "10.1.2.3/32", wantRule: "10.1.2.3/32"},
		{name: "spaces trimmed", in: " 8.8.8.8 ", want: "8.8.8.8/32", wantRule: "8.8.8.8/32"},
		{name: "everything", in: "0.0.0.0/0", want: "0.0.0.0/0", wantRule: "0.0.0.0/0"},
		{name: "ipv6 address", in: "fd00::1", want: "fd00::1/128", wantRuleErr: onlyIPv4("fd00::1")},
		{name: "ipv6 range", in: "fd00::1/8", want: "fd00::/8", wantRuleErr: onlyIPv4("fd00::1/8")},
		{name: "ipv6 address with a zone", in: "fe80::1%eth0", want: "fe80::1/128", wantRuleErr: onlyIPv4("fe80::1%eth0")},
		{name: "mapped range unmapped", in: "::ffff:172.16.0.0/108", want: "172.16.0.0/12", wantRuleErr: onlyIPv4("::ffff:172.16.0.0/108")},
		{name: "mapped address unmapped", in: "::ffff:10.1.2.3", want: "10.1.2.3/32", wantRuleErr: onlyIPv4("::ffff:10.1.2.3")},
		{name: "mapped address with a zone", in: "::ffff:10.1.2.3%eth0", want: "10.1.2.3/32", wantRuleErr: onlyIPv4("::ffff:10.1.2.3%eth0")},
		{name: "mapped range shorter than the mapping", in: "::ffff:0:0/95", want: "::fffe:0:0/95", wantRuleErr: onlyIPv4("::ffff:0:0/95")},
		{name: "empty", in: "", wantRuleErr: "empty IP rule"},
		{name: "blank", in: " \t", wantRuleErr: "empty IP rule"},
		{name: "missing length", in: "10.0.0.0/", wantRuleErr: notValid("10.0.0.0/")},
		{name: "length too long", in: "1.2.3.4/33", wantRuleErr: notValid("1.2.3.4/33")},
		{name: "truncated address", in: "1.2.3", wantRuleErr: notValid("1.2.3")},
		{name: "zone in a range", in: "fe80::1%eth0/64", wantRuleErr: notValid("fe80::1%eth0/64")},
		{name: "word, quoted as given", in: " nope ", wantRuleErr: notValid(" nope ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePrefix(tt.in)
			if tt.want == "" {
				assert.Error(t, err, "ParsePrefix(%q) = %v; want error", tt.in, got)
			} else if assert.NoError(t, err) {
				assert.Equal(t, netip.MustParsePrefix(tt.want), got, "ParsePrefix(%q)", tt.in)
			}
			rule, err := ParseIPRule(tt.in)
			if tt.wantRuleErr != "" {
				assert.EqualError(t, err, tt.wantRuleErr, "ParseIPRule(%q) = %v", tt.in, rule)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, netip.MustParsePrefix(tt.wantRule), rule, "ParseIPRule(%q)", tt.in)
			assert.Equal(t, got, rule, "an IP rule is the prefix ParsePrefix reads")
		})
	}
}

func TestNewResolverRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  ResolverConfig
	}{
		{"zero NAT", ResolverConfig{NAT: []NAT{{}}}},
		{"NAT without target", ResolverConfig{NAT: []NAT{{From: netip.MustParsePrefix("10.0.0.0/8")}}}},
		{"NAT without source", ResolverConfig{NAT: []NAT{{To: nat1}}}},
		{"invalid trusted proxy", ResolverConfig{TrustedProxies: []netip.Prefix{{}}}},
		{"invalid vnet prefix", ResolverConfig{VNets: []VNet{{"a1", netip.MustParsePrefix("10.0.0.0/8")}, {"b1", netip.Prefix{}}}}},
		{"invalid vnet name", ResolverConfig{VNets: []VNet{{"-a", netip.MustParsePrefix("10.0.0.0/8")}}}},
		{"empty vnet name", ResolverConfig{VNets: []VNet{{"", netip.MustParsePrefix("10.0.0.0/8")}}}},
		{"overlapping vnets", ResolverConfig{VNets: []VNet{{"a1", netip.MustParsePrefix("10.0.0.0/8")}, {"b1", netip.MustParsePrefix("10.1.0.0/16")}}}},
		{"overlapping vnets differing in case only are one", ResolverConfig{VNets: []VNet{{"a1", netip.MustParsePrefix("10.0.0.0/8")}, {"b1", netip.MustParsePrefix("10.1.0.0/16")}, {"A1", netip.MustParsePrefix("10.0.0.0/9")}}}},
		{"invalid trusted-service network", ResolverConfig{TrustedServiceNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), {}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewResolver(tt.cfg)
			assert.Error(t, err)
			assert.Nil(t, r)
		})
	}
}

func TestResolverCopiesConfig(t *testing.T) {
	nats := []NAT{mustNAT(t, "127.0.0.0/8=198.51.100.1")}
	r := mustResolver(t, ResolverConfig{NAT: nats})
	nats[0].To = nat2
	assert.Equal(t, nat1, r.FromPeer(netip.MustParseAddr("127.0.0.1")).Addr)
}

// proxyResolver trusts 10.0.0.0/24, fd00:1::/64 and 172.31.0.0/24; the last
// also lies inside the virtual network vnet-a (172.16.0.0/12 and
// fd00:2::/64), to tell the proxy from its source.
func proxyResolver(t testing.TB) *Resolver {
	return mustResolver(t, ResolverConfig{
		NAT:            DefaultNAT,
		TrustedProxies: pp("10.0.0.0/24", "fd00:1::/64", "172.31.0.0/24"),
		VNets:          []VNet{{"vnet-a", netip.MustParsePrefix("172.16.0.0/12")}, {"VNET-A", netip.MustParsePrefix("fd00:2::/64")}},
	})
}

func TestIsTrustedProxy(t *testing.T) {
	r := proxyResolver(t)
	for _, a := range aa("10.0.0.1", "::ffff:10.0.0.255", "fd00:1::5", "fd00:1::5%eth0", "172.31.0.9") {
		assert.True(t, r.IsTrustedProxy(a), "IsTrustedProxy(%v) = false; want true", a)
	}
	for _, a := range aa("10.0.1.1", "127.0.0.1", "::1", "fd00:2::5", "172.16.0.1") {
		assert.False(t, r.IsTrustedProxy(a), "IsTrustedProxy(%v) = true; want false", a)
	}
	assert.False(t, mustResolver(t, ResolverConfig{}).IsTrustedProxy(netip.MustParseAddr("127.0.0.1")))
}

func TestFromHeaders(t *testing.T) {
	r := proxyResolver(t)
	tests := []struct {
		name        string
		peer        string
		header      http.Header
		wantSource  string // empty: unchanged (the peer)
		wantAddr    string // empty: same as the source
		wantPrivate bool
	}{
		{
			name:   "xff from untrusted peer is spoofing",
			peer:   "192.0.2.1",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7"}},
		},
		{
			name:   "forwarded from untrusted peer is spoofing",
			peer:   "192.0.2.1",
			header: http.Header{"Forwarded": {"for=198.51.100.7"}},
		},
		{
			name:     "loopback cannot spoof either",
			peer:     "127.0.0.1",
			header:   http.Header{"X-Forwarded-For": {"198.51.100.7"}},
			wantAddr: DocumentationNATAddr.String(),
		},
		{
			name:       "xff single hop",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"198.51.100.7"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "xff from mapped trusted peer",
			peer:       "::ffff:10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"198.51.100.7"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "xff client-supplied left part ignored",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"203.0.113.99, 198.51.100.7"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "xff trusted hops skipped",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"203.0.113.99,198.51.100.7, 10.0.0.2 ,fd00:1::9"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "xff all hops trusted takes the leftmost",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"10.0.0.3, 10.0.0.2"}},
			wantSource: "10.0.0.3",
		},
		{
			name:       "xff several header lines",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"203.0.113.99", "198.51.100.7, 10.0.0.2"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "xff with ports and brackets",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"[2001:db8::1]:443, 198.51.100.7:8443"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "xff bare ipv6",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"2001:db8::1"}},
			wantSource: "2001:db8::1",
		},
		{
			name:       "xff mapped hop unmapped",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"::ffff:198.51.100.7"}},
			wantSource: "198.51.100.7",
		},
		{
			name:   "xff malformed",
			peer:   "10.0.0.1",
			header: http.Header{"X-Forwarded-For": {"not-an-ip"}},
		},
		{
			name:   "xff malformed rightmost hop",
			peer:   "10.0.0.1",
			header: http.Header{"X-Forwarded-For": {"198.51.100.7, bogus"}},
		},
		{
			name:   "xff empty",
			peer:   "10.0.0.1",
			header: http.Header{"X-Forwarded-For": {""}},
		},
		{
			name:       "xff malformed beyond the client is never read",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"bogus, 198.51.100.7"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "forwarded with parameters and a trusted hop",
			peer:       "10.0.0.1",
			header:     http.Header{"Forwarded": {"for=198.51.100.7;proto=https;by=10.0.0.2, for=10.0.0.2"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "forwarded quoted ipv6 with port",
			peer:       "10.0.0.1",
			header:     http.Header{"Forwarded": {`for="[2001:db8:cafe::17]:4711"`}},
			wantSource: "2001:db8:cafe::17",
		},
		{
			name:       "forwarded quoted ipv6 without port",
			peer:       "10.0.0.1",
			header:     http.Header{"Forwarded": {`for="[2001:db8:cafe::17]"`}},
			wantSource: "2001:db8:cafe::17",
		},
		{
			name:       "forwarded quoted ipv4 with port and odd case",
			peer:       "10.0.0.1",
			header:     http.Header{"Forwarded": {`For="198.51.100.7:8443"`}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "forwarded several header lines",
			peer:       "10.0.0.1",
			header:     http.Header{"Forwarded": {"for=203.0.113.99", "for=198.51.100.7;proto=https"}},
			wantSource: "198.51.100.7",
		},
		{
			name:       "forwarded wins over xff",
			peer:       "10.0.0.1",
			header:     http.Header{"Forwarded": {"for=198.51.100.7"}, "X-Forwarded-For": {"203.0.113.99"}},
			wantSource: "198.51.100.7",
		},
		{
			name:   "forwarded obfuscated identifier",
			peer:   "10.0.0.1",
			header: http.Header{"Forwarded": {"for=_hidden"}},
		},
		{
			name:   "forwarded unknown",
			peer:   "10.0.0.1",
			header: http.Header{"Forwarded": {"for=unknown"}},
		},
		{
			name:   "forwarded without for",
			peer:   "10.0.0.1",
			header: http.Header{"Forwarded": {"proto=https;by=10.0.0.1"}},
		},
		{
			name:   "no headers",
			peer:   "10.0.0.1",
			header: http.Header{},
		},
		{
			name:       "proxied loopback is NATed",
			peer:       "10.0.0.1",
			header:     http.Header{"X-Forwarded-For": {"127.0.0.1"}},
			wantSource: "127.0.0.1",
			wantAddr:   DocumentationNATAddr.String(),
		},
		{
			name:        "proxied private source",
			peer:        "10.0.0.1",
			header:      http.Header{"X-Forwarded-For": {"172.16.5.5"}},
			wantSource:  "172.16.5.5",
			wantPrivate: true,
		},
		{
			name:        "proxied private ipv6 source",
			peer:        "fd00:1::1",
			header:      http.Header{"Forwarded": {`for="[fd00:2::7]:1234"`}},
			wantSource:  "fd00:2::7",
			wantPrivate: true,
		},
		{
			name:       "private proxy, public source",
			peer:       "172.31.0.1",
			header:     http.Header{"X-Forwarded-For": {"198.51.100.7"}},
			wantSource: "198.51.100.7",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := r.FromPeer(netip.MustParseAddr(tt.peer))
			got := r.FromHeaders(before, tt.header)
			if tt.wantSource == "" {
				assert.Equal(t, before, got, "FromHeaders changed the client")
				if tt.wantAddr != "" {
					assert.Equal(t, netip.MustParseAddr(tt.wantAddr), got.Addr)
				}
				return
			}
			want := Client{Peer: before.Peer, Source: netip.MustParseAddr(tt.wantSource)}
			if tt.wantPrivate {
				want.Network = "vnet-a"
			}
			want.Addr = want.Source
			if tt.wantAddr != "" {
				want.Addr = netip.MustParseAddr(tt.wantAddr)
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestFromProxy(t *testing.T) {
	r := proxyResolver(t)
	tests := []struct {
		name   string
		peer   string
		source netip.Addr
		want   Client
	}{
		{
			name:   "untrusted peer claim ignored",
			peer:   "192.0.2.1",
			source: public,
			want:   Client{Peer: aa("192.0.2.1")[0], Source: aa("192.0.2.1")[0], Addr: aa("192.0.2.1")[0]},
		},
		{
			name:   "untrusted loopback claim ignored, loopback NATed",
			peer:   "127.0.0.1",
			source: public,
			want:   Client{Peer: aa("127.0.0.1")[0], Source: aa("127.0.0.1")[0], Addr: DocumentationNATAddr},
		},
		{
			name:   "trusted peer claim used",
			peer:   "10.0.0.1",
			source: public,
			want:   Client{Peer: aa("10.0.0.1")[0], Source: public, Addr: public, Relayed: true},
		},
		{
			name:   "mapped peer and source",
			peer:   "::ffff:10.0.0.1",
			source: netip.MustParseAddr("::ffff:198.51.100.7"),
			want:   Client{Peer: aa("10.0.0.1")[0], Source: public, Addr: public, Relayed: true},
		},
		{
			name:   "trusted peer without a claim",
			peer:   "10.0.0.1",
			source: netip.Addr{},
			want:   Client{Peer: aa("10.0.0.1")[0], Source: aa("10.0.0.1")[0], Addr: aa("10.0.0.1")[0]},
		},
		{
			name:   "claimed loopback NATed",
			peer:   "10.0.0.1",
			source: netip.MustParseAddr("127.0.0.1"),
			want:   Client{Peer: aa("10.0.0.1")[0], Source: aa("127.0.0.1")[0], Addr: DocumentationNATAddr, Relayed: true},
		},
		{
			name:   "claimed private source",
			peer:   "10.0.0.1",
			source: netip.MustParseAddr("172.20.1.1"),
			want:   Client{Peer: aa("10.0.0.1")[0], Source: aa("172.20.1.1")[0], Addr: aa("172.20.1.1")[0], Network: "vnet-a", Relayed: true},
		},
		{
			name:   "private proxy, public claim",
			peer:   "172.31.0.1",
			source: public,
			want:   Client{Peer: aa("172.31.0.1")[0], Source: public, Addr: public, Relayed: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.FromProxy(netip.MustParseAddr(tt.peer), tt.source)
			assert.Equal(t, tt.want, got, "FromProxy(%s, %v)", tt.peer, tt.source)
		})
	}
}

// TestPrivateNetworks checks that a source in a virtual network with an
// approved private endpoint is admitted even when public access is
// disabled, and that only the source counts.
func TestPrivateNetworks(t *testing.T) {
	r := proxyResolver(t)
	disabled, err := NewPolicy(Rules{PublicNetworkAccess: PublicAccessDisabled, DefaultAction: ActionDeny, PrivateEndpointNetworks: []string{"Vnet-A"}})
	require.NoError(t, err)
	tests := []struct {
		name string
		c    Client
		want Decision
	}{
		{"direct private source", r.FromPeer(netip.MustParseAddr("172.16.0.5")), Decision{Allowed: true, Reason: ReasonPrivateEndpoint}},
		{"direct mapped private source", r.FromPeer(netip.MustParseAddr("::ffff:172.16.0.5")), Decision{Allowed: true, Reason: ReasonPrivateEndpoint}},
		{"direct private ipv6 source", r.FromPeer(netip.MustParseAddr("fd00:2::1")), Decision{Allowed: true, Reason: ReasonPrivateEndpoint}},
		{"private proxy peer itself", r.FromPeer(netip.MustParseAddr("172.31.0.1")), Decision{Allowed: true, Reason: ReasonPrivateEndpoint}},
		{"direct public source", r.FromPeer(public), Decision{Allowed: false, Reason: ReasonPublicAccessDisabled}},
		{"loopback is not private", r.FromPeer(netip.MustParseAddr("127.0.0.1")), Decision{Allowed: false, Reason: ReasonPublicAccessDisabled}},
		{
			"proxied private source",
			r.FromHeaders(r.FromPeer(netip.MustParseAddr("10.0.0.1")), http.Header{"X-Forwarded-For": {"172.16.0.5"}}),
			Decision{Allowed: true, Reason: ReasonPrivateEndpoint},
		},
		{
			"public source behind private proxy",
			r.FromHeaders(r.FromPeer(netip.MustParseAddr("172.31.0.1")), http.Header{"X-Forwarded-For": {"198.51.100.7"}}),
			Decision{Allowed: false, Reason: ReasonPublicAccessDisabled},
		},
		{
			"private source claimed by untrusted peer",
			r.FromHeaders(r.FromPeer(public), http.Header{"X-Forwarded-For": {"172.16.0.5"}}),
			Decision{Allowed: false, Reason: ReasonPublicAccessDisabled},
		},
		{
			"private source claimed by untrusted PROXY peer",
			r.FromProxy(public, netip.MustParseAddr("172.16.0.5")),
			Decision{Allowed: false, Reason: ReasonPublicAccessDisabled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want.Reason == ReasonPrivateEndpoint, tt.c.Network == "vnet-a", "Network for %+v", tt.c)
			assert.Equal(t, tt.want, disabled.Decide(tt.c), "Decide(%+v)", tt.c)
		})
	}
}

func TestContext(t *testing.T) {
	_, ok := FromContext(context.Background())
	assert.False(t, ok, "FromContext on an empty context")

	c := Client{Peer: public, Source: public, Addr: public}
	got, ok := FromContext(NewContext(context.Background(), c))
	require.True(t, ok)
	assert.Equal(t, c, got)
}

func TestFromPeerDoesNotAllocate(t *testing.T) {
	r := proxyResolver(t)
	peer := netip.MustParseAddr("::ffff:127.0.0.1")
	assert.Zero(t, testing.AllocsPerRun(100, func() { r.FromPeer(peer) }))
}

// TestProxyProtocolClientIsFinal: once a trusted proxy named the client by
// PROXY protocol, the client's own forwarding headers change nothing.
func TestProxyProtocolClientIsFinal(t *testing.T) {
	r := proxyResolver(t)
	relayed := r.FromProxy(netip.MustParseAddr("10.0.0.1"), public)
	tests := []struct {
		name string
		h    http.Header
	}{
		{"X-Forwarded-For", http.Header{"X-Forwarded-For": {"52.1.2.3"}}},
		{"Forwarded", http.Header{"Forwarded": {"for=52.1.2.3"}}},
		{"trusted-looking chain", http.Header{"X-Forwarded-For": {"52.1.2.3, 10.0.0.2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, relayed, r.FromHeaders(relayed, tt.h))
			req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
			req.Header = tt.h
			req = req.WithContext(NewContext(req.Context(), relayed))
			assert.Equal(t, relayed, r.ClientOf(req))
			assert.False(t, r.HeadersTrusted(relayed))
		})
	}
}

// TestClientOf covers the fallback to RemoteAddr and that the decision
// path allocates nothing for a direct client.
func TestClientOf(t *testing.T) {
	r := proxyResolver(t)
	tests := []struct {
		name   string
		remote string
		ctx    *Client
		h      http.Header
		want   netip.Addr // Source
	}{
		{name: "context client wins over RemoteAddr", remote: "192.0.2.9:1", ctx: ptr(r.FromPeer(aa("192.0.2.1")[0])), want: aa("192.0.2.1")[0]},
		{name: "RemoteAddr fallback", remote: "192.0.2.9:1", want: aa("192.0.2.9")[0]},
		{name: "mapped RemoteAddr unmapped", remote: "[::ffff:192.0.2.9]:1", want: aa("192.0.2.9")[0]},
		{name: "unparsable RemoteAddr", remote: "pipe", want: netip.Addr{}},
		{name: "untrusted peer's header ignored", remote: "192.0.2.9:1", h: http.Header{"X-Forwarded-For": {"52.1.2.3"}}, want: aa("192.0.2.9")[0]},
		{name: "trusted peer's header used", remote: "10.0.0.1:1", h: http.Header{"X-Forwarded-For": {"52.1.2.3"}}, want: aa("52.1.2.3")[0]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
			req.RemoteAddr = tt.remote
			if tt.h != nil {
				req.Header = tt.h
			}
			if tt.ctx != nil {
				req = req.WithContext(NewContext(req.Context(), *tt.ctx))
			}
			assert.Equal(t, tt.want, r.ClientOf(req).Source)
		})
	}
	req := httptest.NewRequest(http.MethodGet, "/v2/", nil)
	req = req.WithContext(NewContext(req.Context(), r.FromPeer(aa("192.0.2.1")[0])))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = r.ClientOf(req) }))
}

func ptr[T any](v T) *T { return &v }
