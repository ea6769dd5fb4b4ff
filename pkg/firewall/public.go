package firewall

import (
	"fmt"
	"net/netip"
)

// nonPublic lists the IPv4 ranges an ACR IP rule may not name: ACR's rules
// are for public addresses, and these can never be a client's public
// address. The documentation ranges (192.0.2.0/24, 198.51.100.0/24,
// 203.0.113.0/24) are deliberately absent: they are what acremu's NAT makes
// local clients look like.
var nonPublic = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "'this network' range"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private range"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT) range"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback range"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local range"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private range"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments range"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private range"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking range"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast range"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved range"},
}

// CheckPublic reports an error when p overlaps a range that is not public
// (private, loopback, link-local, CGNAT, multicast, reserved). p should come
// from ParseIPRule; anything but a valid IPv4 prefix is an error, since an
// IPv6 prefix overlaps none of the IPv4 ranges below and would pass.
func CheckPublic(p netip.Prefix) error {
	if !p.IsValid() || !p.Addr().Is4() {
		return fmt.Errorf("%s is not an IPv4 address or range: only public IPv4 addresses and ranges are allowed", p)
	}
	for _, np := range nonPublic {
		if np.prefix.Overlaps(p) {
			return fmt.Errorf("%s overlaps the %s %s: only public IPv4 addresses and ranges are allowed", p, np.what, np.prefix)
		}
	}
	return nil
}
