package firewall

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomPublicRules returns n distinct-enough random public IPv4 rules,
// /12 to /32, as strings (the form ARM stores) and as prefixes.
func randomPublicRules(rng *rand.Rand, n int) ([]string, []netip.Prefix) {
	rules := make([]string, 0, n)
	prefixes := make([]netip.Prefix, 0, n)
	for len(prefixes) < n {
		a := netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		p := netip.PrefixFrom(a, 12+rng.IntN(21)).Masked()
		if CheckPublic(p) != nil {
			continue
		}
		prefixes = append(prefixes, p)
		if p.IsSingleIP() {
			rules = append(rules, p.Addr().String())
		} else {
			rules = append(rules, p.String())
		}
	}
	return rules, prefixes
}

// decideQueries returns n public clients in a deterministic shuffled order,
// half inside some rule of p and half outside all of them.
func decideQueries(tb testing.TB, rng *rand.Rand, p *Policy, prefixes []netip.Prefix, n int) []Client {
	tb.Helper()
	qs := make([]Client, 0, n)
	for len(qs) < n/2 {
		a := randomInside(rng, prefixes[rng.IntN(len(prefixes))])
		require.True(tb, p.Decide(Client{Addr: a}).Allowed, "hit %v denied", a)
		qs = append(qs, Client{Addr: a})
	}
	for tries := 0; len(qs) < n; tries++ {
		require.Less(tb, tries, 1000*n, "cannot find addresses outside the rules")
		a := netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
		if CheckPublic(netip.PrefixFrom(a, 32)) != nil || p.Decide(Client{Addr: a}).Allowed {
			continue
		}
		qs = append(qs, Client{Addr: a})
	}
	rng.Shuffle(len(qs), func(i, j int) { qs[i], qs[j] = qs[j], qs[i] })
	return qs
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{1, 100, 100_000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(n), 42))
			rules, prefixes := randomPublicRules(rng, n)
			p, err := NewPolicy(Rules{DefaultAction: ActionDeny, IPRules: rules})
			require.NoError(b, err)
			const nq = 1024 // a power of two, for the mask below
			qs := decideQueries(b, rng, p, prefixes, nq)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Decide(qs[i&(nq-1)])
				i++
			}
		})
	}
}

func BenchmarkNewPolicy(b *testing.B) {
	rules, _ := randomPublicRules(rand.New(rand.NewPCG(100, 42)), 100)
	r := Rules{DefaultAction: ActionDeny, IPRules: rules}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewPolicy(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromPeer(b *testing.B) {
	r := mustResolver(b, ResolverConfig{
		NAT:            DefaultNAT,
		TrustedProxies: pp("10.0.0.0/24"),
		VNets: []VNet{
			{"a1", netip.MustParsePrefix("172.16.0.0/12")}, {"a1", netip.MustParsePrefix("fd00:2::/64")},
			{"b1", netip.MustParsePrefix("10.10.0.0/16")}, {"c1", netip.MustParsePrefix("10.20.0.0/16")},
			{"d1", netip.MustParsePrefix("10.30.0.0/16")}, {"e1", netip.MustParsePrefix("10.40.0.0/16")},
			{"f1", netip.MustParsePrefix("10.50.0.0/16")},
		},
		TrustedServiceNetworks: pp("100.64.0.0/10"),
	})
	for _, peer := range []string{"127.0.0.1", "::ffff:127.0.0.1", "198.51.100.7", "172.16.0.5", "2001:db8::1"} {
		b.Run(peer, func(b *testing.B) {
			a := netip.MustParseAddr(peer)
			b.ReportAllocs()
			for b.Loop() {
				r.FromPeer(a)
			}
		})
	}
}

// BenchmarkDecideNetworks measures the private-endpoint and trusted-service
// branches: a client in the last of four endpoint networks, one in a
// network without an endpoint, and a trusted-service source that is denied.
func BenchmarkDecideNetworks(b *testing.B) {
	p, err := NewPolicy(Rules{PublicNetworkAccess: PublicAccessDisabled, PrivateEndpointNetworks: []string{"a1", "b1", "c1", "d1"}})
	require.NoError(b, err)
	addr := netip.MustParseAddr("198.51.100.7")
	for name, c := range map[string]Client{
		"endpoint":    {Addr: addr, Network: "d1"},
		"no-endpoint": {Addr: addr, Network: "e1"},
		"trusted-svc": {Addr: addr, TrustedService: true},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.Decide(c)
			}
		})
	}
}
