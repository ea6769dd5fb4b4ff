package firewall

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseIPRule(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    netip.Prefix
		wantErr string
	}{
		{name: "address", in: "1.2.3.4", want: netip.MustParsePrefix("1.2.3.4/32")},
		{name: "cidr", in: "1.2.3.0/24", want: netip.MustParsePrefix("1.2.3.0/24")},
		{name: "cidr with host bits is masked", in: "1.2.3.4/24", want: netip.MustParsePrefix("1.2.3.0/24")},
		{name: "explicit /32", in: "52.57.22.38/32", want: netip.MustParsePrefix("52.57.22.38/32")},
		{name: "whole space", in: "0.0.0.0/0", want: netip.MustParsePrefix("0.0.0.0/0")},
		{name: "ipv6 loopback", in: "::1", wantErr: "only IPv4"},
		{name: "ipv6 range", in: "2001:db8::/32", wantErr: "only IPv4"},
		{name: "ipv4-mapped ipv6", in: "::ffff:1.2.3.4", wantErr: "only IPv4"},
		{name: "ipv4-mapped ipv6 range", in: "::ffff:1.2.3.0/120", wantErr: "only IPv4"},
		{name: "three octets", in: "1.2.3", wantErr: "not a valid"},
		{name: "prefix too long", in: "1.2.3.4/33", wantErr: "not a valid"},
		{name: "missing bits", in: "1.2.3.4/", wantErr: "not a valid"},
		{name: "leading zero", in: "01.2.3.4", wantErr: "not a valid"},
		{name: "octet overflow", in: "1.2.3.256", wantErr: "not a valid"},
		{name: "range syntax", in: "1.2.3.4-1.2.3.9", wantErr: "not a valid"},
		{name: "empty", in: "", wantErr: "empty IP rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIPRule(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err, "ParseIPRule(%q) = %v; want error", tt.in, got)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "ParseIPRule(%q) = %v; want %v", tt.in, got, tt.want)
		})
	}
}

func TestCheckPublic(t *testing.T) {
	tests := []struct {
		name    string
		in      string // an IP rule value
		wantErr string // empty: public
	}{
		{name: "public address", in: "52.57.22.38"},
		{name: "public range", in: "16.17.18.0/24"},
		{name: "TEST-NET-3 address", in: "203.0.113.10"},
		{name: "TEST-NET-2 range", in: "198.51.100.0/24"},
		{name: "TEST-NET-1 range", in: "192.0.2.0/24"},
		{name: "just below 172.16/12", in: "172.15.255.255"},
		{name: "just above 172.16/12", in: "172.32.0.0/11"},
		{name: "just above CGNAT", in: "100.128.0.0/9"},
		{name: "last unicast before multicast", in: "223.255.255.255"},
		{name: "10/8", in: "10.0.0.0/8", wantErr: "private range 10.0.0.0/8"},
		{name: "inside 10/8", in: "10.1.2.3", wantErr: "private range 10.0.0.0/8"},
		{name: "172.16/12", in: "172.16.0.0/12", wantErr: "private range 172.16.0.0/12"},
		{name: "192.168/16", in: "192.168.1.0/24", wantErr: "private range 192.168.0.0/16"},
		{name: "loopback", in: "127.0.0.1", wantErr: "loopback range"},
		{name: "link-local", in: "169.254.169.254", wantErr: "link-local range"},
		{name: "CGNAT", in: "100.64.0.0/10", wantErr: "CGNAT"},
		{name: "multicast", in: "224.0.0.0/4", wantErr: "multicast range"},
		{name: "reserved", in: "240.0.0.0/4", wantErr: "reserved range"},
		{name: "broadcast", in: "255.255.255.255", wantErr: "reserved range"},
		{name: "this network", in: "0.0.0.0/8", wantErr: "'this network' range"},
		{name: "everything", in: "0.0.0.0/0", wantErr: "overlaps"},
		{name: "cidr covering 10/8", in: "8.0.0.0/6", wantErr: "private range 10.0.0.0/8"},
		{name: "cidr covering 172.16/12", in: "172.0.0.0/8", wantErr: "private range 172.16.0.0/12"},
		{name: "IETF protocol assignments", in: "192.0.0.8", wantErr: "IETF"},
		{name: "benchmarking", in: "198.18.0.1", wantErr: "benchmarking range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseIPRule(tt.in)
			require.NoError(t, err)
			err = CheckPublic(p)
			if tt.wantErr == "" {
				assert.NoError(t, err, "CheckPublic(%v)", p)
				return
			}
			require.Error(t, err, "CheckPublic(%v) = nil; want error", p)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.Contains(t, err.Error(), "only public IPv4")
		})
	}
}

// TestCheckPublicRejectsNonIPv4 guards callers that skip ParseIPRule: an
// IPv6 prefix overlaps none of the IPv4 ranges yet is not a public IPv4 rule.
func TestCheckPublicRejectsNonIPv4(t *testing.T) {
	for _, p := range []netip.Prefix{
		{},
		netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("2001:db8::/32"),
		netip.MustParsePrefix("::ffff:203.0.113.10/128"),
	} {
		err := CheckPublic(p)
		require.Error(t, err, "CheckPublic(%v) = nil; want error", p)
		assert.Contains(t, err.Error(), "not an IPv4")
	}
}
