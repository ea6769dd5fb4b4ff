package firewall

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/gaissmai/bart"
)

// VNet places the sources in Prefix in the virtual network Name. A
// network may have several ranges (several VNets with one name); the ranges
// of different networks may not overlap, because a source is in one
// network at most, as a VM's NIC is in one Azure virtual network.
type VNet struct {
	Name   string // compared case-insensitively, as ARM resource names are
	Prefix netip.Prefix
}

func (v VNet) String() string { return v.Name + "=" + v.Prefix.String() }

// vnetName is what Azure allows as a virtual network name: 2 to 64
// characters, letters, digits, underscores, periods and hyphens, starting
// with a letter or digit and ending with a letter, digit or underscore.
var vnetName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?$`)

// ValidVNetName reports whether name is a valid virtual network name.
func ValidVNetName(name string) bool { return len(name) >= 2 && vnetName.MatchString(name) }

// ParseVNet parses "NAME=CIDR" (a bare address on the right means that
// address alone).
func ParseVNet(s string) (VNet, error) {
	name, cidr, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok {
		return VNet{}, fmt.Errorf("vnet %q: want NAME=CIDR", s)
	}
	if !ValidVNetName(name) {
		return VNet{}, fmt.Errorf("vnet %q: %q is not a virtual network name (2-64 letters, digits, '_', '.', '-')", s, name)
	}
	p, err := ParsePrefix(cidr)
	if err != nil {
		return VNet{}, fmt.Errorf("vnet %q: %v", s, err)
	}
	return VNet{Name: name, Prefix: p}, nil
}

// networkTable maps source addresses to network names. Names are stored
// lower-cased, once, so a lookup returns a string header into the table
// and allocates nothing.
type networkTable func(netip.Addr) string

// newNetworkTable validates vnets (valid names and prefixes, no overlap
// between different networks) and compiles them, specialised to their
// number like newContainsFunc.
func newNetworkTable(vnets []VNet) (networkTable, error) {
	vs := make([]VNet, len(vnets))
	for i, v := range vnets {
		if !ValidVNetName(v.Name) || !v.Prefix.IsValid() {
			return nil, fmt.Errorf("vnet %v: invalid", v)
		}
		vs[i] = VNet{Name: strings.ToLower(v.Name), Prefix: v.Prefix.Masked()}
		for _, w := range vs[:i] {
			if w.Name != vs[i].Name && w.Prefix.Overlaps(vs[i].Prefix) {
				return nil, fmt.Errorf("vnet %v overlaps vnet %v: a source can be in one virtual network only", v, w)
			}
		}
	}
	switch {
	case len(vs) == 0:
		return func(netip.Addr) string { return "" }, nil
	case len(vs) <= 6:
		return func(a netip.Addr) string {
			for _, v := range vs {
				if v.Prefix.Contains(a) {
					return v.Name
				}
			}
			return ""
		}, nil
	default:
		t := new(bart.Table[string])
		for _, v := range vs {
			t.Insert(v.Prefix, v.Name)
		}
		return func(a netip.Addr) string {
			name, _ := t.Lookup(a)
			return name
		}, nil
	}
}

// networkSet is a compiled set of network names (Rules.PrivateEndpointNetworks).
// Registries have a handful of private endpoints, so it is a slice of
// lower-cased names, scanned without allocation.
type networkSet []string

func newNetworkSet(names []string) (networkSet, error) {
	var s networkSet
	for _, n := range names {
		if !ValidVNetName(n) {
			return nil, fmt.Errorf("private endpoint network %q: not a virtual network name", n)
		}
		if n = strings.ToLower(n); !slices.Contains(s, n) {
			s = append(s, n)
		}
	}
	return s, nil
}

// has reports whether network (lower-cased, from the Resolver) is in s.
func (s networkSet) has(network string) bool {
	if network == "" {
		return false
	}
	for _, n := range s {
		if n == network {
			return true
		}
	}
	return false
}
