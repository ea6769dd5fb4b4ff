package firewall

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzFromHeaders checks that no forwarding header can change the client of
// an untrusted peer, and that a trusted proxy's headers never yield an
// invalid or mapped address.
func FuzzFromHeaders(f *testing.F) {
	for _, seed := range []struct{ xff, fwd string }{
		{"198.51.100.9", ""},
		{"1.2.3.4, 10.0.0.1", ""},
		{"", `for="[2001:db8::1]:4711";proto=https`},
		{"::ffff:192.0.2.1", "for=unknown"},
		{"garbage,,,", "for="},
	} {
		f.Add(seed.xff, seed.fwd)
	}
	r, err := NewResolver(ResolverConfig{
		NAT:            DefaultNAT,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		f.Fatal(err)
	}
	untrusted := r.FromPeer(netip.MustParseAddr("127.0.0.1"))
	trusted := r.FromPeer(netip.MustParseAddr("10.1.2.3"))
	f.Fuzz(func(t *testing.T, xff, fwd string) {
		h := http.Header{}
		if xff != "" {
			h.Set("X-Forwarded-For", xff)
		}
		if fwd != "" {
			h.Set("Forwarded", fwd)
		}
		if got := r.FromHeaders(untrusted, h); got != untrusted {
			t.Fatalf("FromHeaders(untrusted, %v) = %+v; want %+v", h, got, untrusted)
		}
		got := r.FromHeaders(trusted, h)
		if !got.Addr.IsValid() || got.Addr.Is4In6() || got.Source.Is4In6() {
			t.Fatalf("FromHeaders(trusted, %v) = %+v: invalid or mapped address", h, got)
		}
		if got.Peer != trusted.Peer {
			t.Fatalf("FromHeaders changed the peer: %+v", got)
		}
	})
}

// FuzzParseIPRule checks that every accepted rule is a masked IPv4 prefix,
// and holds ParseIPRule to ParsePrefix: a rule is exactly the prefix
// ParsePrefix reads from a value written as IPv4, and every other value is
// refused with one of ParseIPRule's three messages.
func FuzzParseIPRule(f *testing.F) {
	for _, seed := range []string{"1.2.3.4", "1.2.3.4/24", "::1", "::ffff:1.2.3.4", "1.2.3.4/33", " 8.8.8.8 ", "0.0.0.0/0",
		"::ffff:1.2.3.4%eth0", "::ffff:1.2.3.0/120", "", " "} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p, err := ParseIPRule(v)
		prefix, prefixErr := ParsePrefix(v)
		writtenAsIPv4 := prefixErr == nil && prefix.Addr().Is4() && !strings.Contains(v, ":")
		if err != nil {
			msg := err.Error()
			switch {
			case writtenAsIPv4:
				t.Fatalf("ParseIPRule(%q) = %v; ParsePrefix reads %v", v, err, prefix)
			case strings.TrimSpace(v) == "":
				if msg != "empty IP rule" {
					t.Fatalf("ParseIPRule(%q) = %v; want empty IP rule", v, err)
				}
			case prefixErr != nil:
				if msg != fmt.Sprintf("%q is not a valid IPv4 address or CIDR range", v) {
					t.Fatalf("ParseIPRule(%q) = %v; ParsePrefix refused it too: %v", v, err, prefixErr)
				}
			case msg != fmt.Sprintf("%q is not an IPv4 address or range: only IPv4 is allowed", v):
				t.Fatalf("ParseIPRule(%q) = %v; want only IPv4 (ParsePrefix reads %v)", v, err, prefix)
			}
			return
		}
		if !writtenAsIPv4 || p != prefix {
			t.Fatalf("ParseIPRule(%q) = %v; ParsePrefix reads %v, %v", v, p, prefix, prefixErr)
		}
		if !p.Addr().Is4() || p != p.Masked() {
			t.Fatalf("ParseIPRule(%q) = %v: want a masked IPv4 prefix", v, p)
		}
	})
}

// FuzzParseVNet checks that every accepted vnet has a valid name and a
// masked, unmapped prefix, and that it survives a round trip.
func FuzzParseVNet(f *testing.F) {
	for _, seed := range []string{"lab=10.0.0.0/16", "a=1.2.3.4", "ab=::ffff:1.2.3.4/120", "ab=fd00::/8", "=", "ab==1.2.3.4"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVNet(s)
		if err != nil {
			return
		}
		if !ValidVNetName(v.Name) || v.Prefix != v.Prefix.Masked() || v.Prefix.Addr().Is4In6() {
			t.Fatalf("ParseVNet(%q) = %+v", s, v)
		}
		if w, err := ParseVNet(v.String()); err != nil || w != v {
			t.Fatalf("ParseVNet(%q) = %+v, %v; want %+v", v.String(), w, err, v)
		}
	})
}
