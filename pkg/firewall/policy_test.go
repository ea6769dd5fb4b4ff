package firewall

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pp parses prefixes and aa addresses, for compact tables.
func pp(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func aa(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

// recordPaths replaces pathForTest for the rest of the test and returns the
// paths chosen so far.
func recordPaths(t *testing.T) *[]string {
	t.Helper()
	var got []string
	old := pathForTest
	pathForTest = func(p string) { got = append(got, p) }
	t.Cleanup(func() { pathForTest = old })
	return &got
}

// ruleSet is a named set of IP rules with one address inside and one
// outside it (inside is invalid when nothing can be inside).
type ruleSet struct {
	name    string
	rules   []string
	path    string
	inside  netip.Addr
	outside netip.Addr
}

var ruleSets = []ruleSet{
	{
		name:    "none",
		path:    "empty",
		outside: netip.MustParseAddr("203.0.113.10"),
	},
	{
		name:    "one-ip",
		rules:   []string{"203.0.113.10"},
		path:    "one",
		inside:  netip.MustParseAddr("203.0.113.10"),
		outside: netip.MustParseAddr("203.0.113.11"),
	},
	{
		name:    "one-cidr",
		rules:   []string{"198.51.100.0/24"},
		path:    "one",
		inside:  netip.MustParseAddr("198.51.100.255"),
		outside: netip.MustParseAddr("198.51.101.0"),
	},
	{
		name:    "several",
		rules:   []string{"52.57.22.38", "16.17.18.0/24", "103.233.174.0/27"},
		path:    "linear",
		inside:  netip.MustParseAddr("103.233.174.31"),
		outside: netip.MustParseAddr("103.233.174.32"),
	},
	{
		name: "many",
		rules: []string{
			"52.57.22.38", "16.17.18.0/24", "103.233.174.0/27", "194.127.21.128/29",
			"8.8.8.8", "1.1.1.0/24", "20.0.0.0/12", "40.112.0.0/13", "51.4.0.0/15", "203.0.113.10",
		},
		path:    "bart",
		inside:  netip.MustParseAddr("194.127.21.135"),
		outside: netip.MustParseAddr("194.127.21.136"),
	},
}

// TestDecideExamples spells out ACR's order of evaluation (acr-api §6.1)
// with literal expectations.
func TestDecideExamples(t *testing.T) {
	inside := netip.MustParseAddr("198.51.100.7")
	outside := netip.MustParseAddr("192.0.2.7")
	v6 := netip.MustParseAddr("2001:db8::10")
	rules := []string{"198.51.100.0/24"}
	tests := []struct {
		name   string
		rules  Rules
		client Client
		want   Decision
	}{
		{"zero rules allow everyone", Rules{}, Client{Addr: outside}, Decision{Allowed: true, Reason: ReasonDefaultAllow}},
		{"allow ignores ip rules", Rules{DefaultAction: ActionAllow, IPRules: rules}, Client{Addr: outside}, Decision{Allowed: true, Reason: ReasonDefaultAllow}},
		{"deny admits rule match", Rules{DefaultAction: ActionDeny, IPRules: rules}, Client{Addr: inside}, Decision{Allowed: true, Reason: ReasonIPRule}},
		{"deny rejects others", Rules{DefaultAction: ActionDeny, IPRules: rules}, Client{Addr: outside}, Decision{Allowed: false, Reason: ReasonNotInIPRules}},
		{"deny without rules rejects all", Rules{DefaultAction: ActionDeny}, Client{Addr: inside}, Decision{Allowed: false, Reason: ReasonNotInIPRules}},
		{"disabled overrides allow", Rules{PublicNetworkAccess: PublicAccessDisabled, DefaultAction: ActionAllow}, Client{Addr: outside}, Decision{Allowed: false, Reason: ReasonPublicAccessDisabled}},
		{"disabled overrides rule match", Rules{PublicNetworkAccess: PublicAccessDisabled, DefaultAction: ActionDeny, IPRules: rules}, Client{Addr: inside}, Decision{Allowed: false, Reason: ReasonPublicAccessDisabled}},
		{"private bypasses disabled", Rules{PublicNetworkAccess: PublicAccessDisabled, PrivateEndpointNetworks: []string{"a1"}}, Client{Addr: outside, Network: "a1"}, Decision{Allowed: true, Reason: ReasonPrivateEndpoint}},
		{"private bypasses deny", Rules{DefaultAction: ActionDeny, IPRules: rules, PrivateEndpointNetworks: []string{"b1", "A1"}}, Client{Addr: outside, Network: "a1"}, Decision{Allowed: true, Reason: ReasonPrivateEndpoint}},
		{"another network is public", Rules{PublicNetworkAccess: PublicAccessDisabled, PrivateEndpointNetworks: []string{"a1"}}, Client{Addr: inside, Network: "b1"}, Decision{Allowed: false, Reason: ReasonPublicAccessDisabled}},
		{"another network judged by its address", Rules{DefaultAction: ActionDeny, IPRules: rules, PrivateEndpointNetworks: []string{"a1"}}, Client{Addr: inside, Network: "b1"}, Decision{Allowed: true, Reason: ReasonIPRule}},
		{"network without endpoint is public", Rules{PublicNetworkAccess: PublicAccessDisabled}, Client{Addr: outside, Network: "a1"}, Decision{Allowed: false, Reason: ReasonPublicAccessDisabled}},
		{"trusted service may prove itself", Rules{PublicNetworkAccess: PublicAccessDisabled}, Client{Addr: outside, TrustedService: true}, Decision{Allowed: false, Reason: ReasonPublicAccessDisabled, TrustedService: true}},
		{"trusted service, bypass AzureServices", Rules{DefaultAction: ActionDeny, NetworkRuleBypassOptions: BypassAzureServices}, Client{Addr: outside, TrustedService: true}, Decision{Allowed: false, Reason: ReasonNotInIPRules, TrustedService: true}},
		{"trusted service, bypass None", Rules{DefaultAction: ActionDeny, NetworkRuleBypassOptions: BypassNone}, Client{Addr: outside, TrustedService: true}, Decision{Allowed: false, Reason: ReasonNotInIPRules}},
		{"trusted service allowed anyway", Rules{}, Client{Addr: outside, TrustedService: true}, Decision{Allowed: true, Reason: ReasonDefaultAllow}},
		{"invalid address denied", Rules{DefaultAction: ActionDeny, IPRules: rules}, Client{}, Decision{Allowed: false, Reason: ReasonNotInIPRules}},
		{"ipv6 client of an IPv4 registry", Rules{}, Client{Addr: v6, Source: v6}, Decision{Reason: ReasonIPv6NotEnabled}},
		{"ipv6 client of an explicit IPv4 registry", Rules{EndpointProtocol: EndpointIPv4}, Client{Addr: v6, Source: v6}, Decision{Reason: ReasonIPv6NotEnabled}},
		{"ipv6 source NATed to IPv4 reaches over IPv4", Rules{}, Client{Addr: outside, Source: v6}, Decision{Allowed: true, Reason: ReasonDefaultAllow}},
		{"ipv6 trusted service cannot reach an IPv4 registry", Rules{DefaultAction: ActionDeny}, Client{Addr: v6, TrustedService: true}, Decision{Reason: ReasonIPv6NotEnabled}},
		{"ipv6 private endpoint client", Rules{PrivateEndpointNetworks: []string{"a1"}}, Client{Addr: v6, Network: "a1"}, Decision{Allowed: true, Reason: ReasonPrivateEndpoint}},
		{"dual stack admits ipv6 with Allow", Rules{EndpointProtocol: EndpointIPv4AndIPv6}, Client{Addr: v6}, Decision{Allowed: true, Reason: ReasonDefaultAllow}},
		{"dual stack: IP rules never match ipv6", Rules{EndpointProtocol: EndpointIPv4AndIPv6, DefaultAction: ActionDeny, IPRules: rules}, Client{Addr: v6}, Decision{Reason: ReasonNotInIPRules}},
		{"dual stack: disabled denies ipv6", Rules{EndpointProtocol: EndpointIPv4AndIPv6, PublicNetworkAccess: PublicAccessDisabled}, Client{Addr: v6}, Decision{Reason: ReasonPublicAccessDisabled}},
		{"dual stack: ipv6 trusted service may prove itself", Rules{EndpointProtocol: EndpointIPv4AndIPv6, DefaultAction: ActionDeny}, Client{Addr: v6, TrustedService: true}, Decision{Reason: ReasonNotInIPRules, TrustedService: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.rules)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Decide(tt.client), "Decide(%+v) under %+v", tt.client, tt.rules)
		})
	}
}

// TestDecideMatrix covers every combination of publicNetworkAccess,
// defaultAction, rule-set shape, client position and private source.
func TestDecideMatrix(t *testing.T) {
	type tc struct {
		name   string
		rules  Rules
		client Client
		want   Decision
	}
	var tests []tc
	for _, pna := range []string{PublicAccessEnabled, PublicAccessDisabled, ""} {
		for _, da := range []string{ActionAllow, ActionDeny, ""} {
			for _, rs := range ruleSets {
				for _, in := range []bool{true, false} {
					if in && !rs.inside.IsValid() {
						continue
					}
					for _, network := range []string{"", "a1", "b1"} {
						for _, trusted := range []bool{false, true} {
							for _, bypass := range []string{"", BypassAzureServices, BypassNone} {
								addr, where := rs.outside, "outside"
								if in {
									addr, where = rs.inside, "inside"
								}
								// The registry has an approved private endpoint from a1 only.
								var want Decision
								switch {
								case network == "a1":
									want = Decision{Allowed: true, Reason: ReasonPrivateEndpoint}
								case pna == PublicAccessDisabled:
									want = Decision{Allowed: false, Reason: ReasonPublicAccessDisabled}
								case da != ActionDeny:
									want = Decision{Allowed: true, Reason: ReasonDefaultAllow}
								case in:
									want = Decision{Allowed: true, Reason: ReasonIPRule}
								default:
									want = Decision{Allowed: false, Reason: ReasonNotInIPRules}
								}
								want.TrustedService = !want.Allowed && trusted && bypass != BypassNone
								tests = append(tests, tc{
									name: fmt.Sprintf("pna=%s/da=%s/rules=%s/%s/network=%s/trusted=%t/bypass=%s",
										orEmpty(pna), orEmpty(da), rs.name, where, orEmpty(network), trusted, orEmpty(bypass)),
									rules: Rules{PublicNetworkAccess: pna, DefaultAction: da, IPRules: rs.rules,
										NetworkRuleBypassOptions: bypass, PrivateEndpointNetworks: []string{"A1"}},
									client: Client{Addr: addr, Network: network, TrustedService: trusted},
									want:   want,
								})
							}
						}
					}
				}
			}
		}
	}
	require.Len(t, tests, 3*3*(1+2*4)*3*2*3)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.rules)
			require.NoError(t, err)
			got := p.Decide(tt.client)
			assert.Equal(t, tt.want, got, "Decide(%v) = %v; want %v", tt.client.Addr, got.Reason, tt.want.Reason)
		})
	}
}

func orEmpty(s string) string {
	if s == "" {
		return "empty"
	}
	return s
}

func TestMatcherPath(t *testing.T) {
	for _, rs := range ruleSets {
		t.Run(rs.name, func(t *testing.T) {
			paths := recordPaths(t)
			p, err := NewPolicy(Rules{DefaultAction: ActionDeny, IPRules: rs.rules})
			require.NoError(t, err)
			assert.Equal(t, []string{rs.path}, *paths)
			if rs.inside.IsValid() {
				assert.True(t, p.contains(rs.inside), "contains(%v) = false; want true", rs.inside)
			}
			assert.False(t, p.contains(rs.outside), "contains(%v) = true; want false", rs.outside)
		})
	}
}

func TestNewContainsFunc(t *testing.T) {
	tests := []struct {
		name    string
		pfx     []netip.Prefix
		want    string
		wantIn  []netip.Addr
		wantOut []netip.Addr
	}{
		{"empty", nil, "empty", nil, aa("0.0.0.0", "1.2.3.4", "::1")},
		{"one-v4", pp("10.0.0.0/8"), "one", aa("10.0.0.0", "10.255.255.255"), aa("11.0.0.0", "::ffff:10.0.0.1")},
		{"one-unmasked", pp("10.1.2.3/16"), "one", aa("10.1.0.0", "10.1.255.255"), aa("10.2.0.0")},
		{"one-v6", pp("::1/128"), "one", aa("::1"), aa("127.0.0.1", "::2")},
		{"linear-mixed", pp("10.0.0.0/8", "fd00::/8", "192.0.2.1/32"), "linear", aa("10.9.9.9", "fd12::1", "192.0.2.1"), aa("192.0.2.2", "fe80::1")},
		{"linear-six", pp("1.0.0.0/8", "2.0.0.0/8", "3.0.0.0/8", "4.0.0.0/8", "5.0.0.0/8", "6.0.0.0/8"), "linear", aa("6.1.1.1"), aa("7.1.1.1")},
		{
			"bart-seven", pp("1.0.0.0/8", "2.0.0.0/8", "3.0.0.0/8", "4.0.0.0/8", "5.0.0.0/8", "6.0.0.0/8", "2001:db8::/32"), "bart",
			aa("1.2.3.4", "6.255.255.255", "2001:db8::99"), aa("7.0.0.0", "::ffff:1.2.3.4", "2001:db9::"),
		},
		{"bart-unmasked", pp("1.2.3.4/24", "2.0.0.0/8", "3.0.0.0/8", "4.0.0.0/8", "5.0.0.0/8", "6.0.0.0/8", "7.0.0.0/8"), "bart", aa("1.2.3.200"), aa("1.2.4.0")},
		{"bart-default-route", pp("0.0.0.0/0", "2.0.0.0/8", "3.0.0.0/8", "4.0.0.0/8", "5.0.0.0/8", "6.0.0.0/8", "7.0.0.0/8"), "bart", aa("255.255.255.255"), aa("::")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			paths := recordPaths(t)
			contains := newContainsFunc(tt.pfx)
			assert.Equal(t, []string{tt.want}, *paths)
			for _, a := range tt.wantIn {
				assert.True(t, contains(a), "contains(%v) = false; want true", a)
			}
			for _, a := range tt.wantOut {
				assert.False(t, contains(a), "contains(%v) = true; want false", a)
			}
			assert.False(t, contains(netip.Addr{}), "contains(invalid) = true; want false")
		})
	}
}

func linearContains(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// randomPrefix returns a random prefix (host bits left as drawn, v4 /8../32
// or v6 /16../128) from rng.
func randomPrefix(rng *rand.Rand, v6 bool) netip.Prefix {
	if v6 {
		var b [16]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return netip.PrefixFrom(netip.AddrFrom16(b), 16+rng.IntN(113))
	}
	var b [4]byte
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return netip.PrefixFrom(netip.AddrFrom4(b), 8+rng.IntN(25))
}

// randomInside returns a random address inside p.
func randomInside(rng *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := range b {
		r := byte(rng.Uint32())
		hostBits := len(b)*8 - p.Bits() - (len(b)-1-i)*8 // host bits in this byte
		switch {
		case hostBits >= 8:
			b[i] |= r
		case hostBits > 0:
			b[i] |= r & (1<<hostBits - 1)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// TestContainsAgreesWithLinearScan checks every matcher path against a
// linear scan on deterministic random prefixes and addresses.
func TestContainsAgreesWithLinearScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 5, 6, 7, 8, 50, 1000} {
		for _, family := range []string{"v4", "mixed"} {
			t.Run(fmt.Sprintf("%s/n=%d", family, n), func(t *testing.T) {
				ps := make([]netip.Prefix, n)
				for i := range ps {
					ps[i] = randomPrefix(rng, family == "mixed" && i%2 == 1)
				}
				contains := newContainsFunc(ps)
				var hits int
				for i := range 4000 {
					var a netip.Addr
					switch {
					case n > 0 && i%2 == 0:
						a = randomInside(rng, ps[rng.IntN(n)])
					default:
						a = randomInside(rng, randomPrefix(rng, family == "mixed" && i%4 == 1))
					}
					want := linearContains(ps, a)
					if want {
						hits++
					}
					require.Equal(t, want, contains(a), "contains(%v) with %d prefixes", a, n)
				}
				if n > 0 {
					assert.GreaterOrEqual(t, hits, 2000, "the random addresses hit too rarely to test anything")
				}
			})
		}
	}
}

func TestRandomInside(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		p := randomPrefix(rng, rng.IntN(2) == 0)
		a := randomInside(rng, p)
		require.True(t, p.Contains(a), "randomInside(%v) = %v, outside", p, a)
	}
}

func TestNewPolicyRejects(t *testing.T) {
	tests := []struct {
		name    string
		rules   Rules
		wantErr string
	}{
		{"publicNetworkAccess unknown", Rules{PublicNetworkAccess: "Off"}, `publicNetworkAccess "Off"`},
		{"publicNetworkAccess wrong case", Rules{PublicNetworkAccess: "enabled"}, `publicNetworkAccess "enabled"`},
		{"defaultAction unknown", Rules{DefaultAction: "Block"}, `defaultAction "Block"`},
		{"defaultAction wrong case", Rules{DefaultAction: "deny"}, `defaultAction "deny"`},
		{"endpointProtocol unknown", Rules{EndpointProtocol: "IPv6"}, `endpointProtocol "IPv6"`},
		{"ipv6 address", Rules{IPRules: []string{"::1"}}, "only IPv4"},
		{"ipv6 range", Rules{IPRules: []string{"2001:db8::/32"}}, "only IPv4"},
		{"ipv4-mapped ipv6", Rules{IPRules: []string{"::ffff:1.2.3.4"}}, "only IPv4"},
		{"truncated address", Rules{IPRules: []string{"1.2.3"}}, "not a valid"},
		{"prefix too long", Rules{IPRules: []string{"1.2.3.4/33"}}, "not a valid"},
		{"hostname", Rules{IPRules: []string{"example.com"}}, "not a valid"},
		{"empty rule", Rules{IPRules: []string{""}}, "empty IP rule"},
		{"blank rule", Rules{IPRules: []string{"  "}}, "empty IP rule"},
		{"bad rule after good ones", Rules{IPRules: []string{"1.2.3.4", "5.6.7.0/24", "5.6.7.8/"}}, `"5.6.7.8/"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPolicy(tt.rules)
			require.Error(t, err)
			assert.Nil(t, p)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestRulesVerbatim(t *testing.T) {
	tests := []struct {
		name  string
		rules Rules
	}{
		{"zero", Rules{}},
		{"empty list", Rules{PublicNetworkAccess: PublicAccessEnabled, DefaultAction: ActionDeny, IPRules: []string{}}},
		{"unnormalised values", Rules{
			PublicNetworkAccess: PublicAccessDisabled,
			DefaultAction:       ActionAllow,
			IPRules:             []string{"1.2.3.4", "1.2.3.4/24", "16.17.18.0/24", "1.2.3.4"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.rules
			in.IPRules = slices.Clone(tt.rules.IPRules)
			p, err := NewPolicy(in)
			require.NoError(t, err)
			got := p.Rules()
			assert.Equal(t, tt.rules, got)

			// Neither the caller's slice nor the returned one aliases the policy's.
			for i := range in.IPRules {
				in.IPRules[i] = "9.9.9.9"
			}
			for i := range got.IPRules {
				got.IPRules[i] = "8.8.8.8"
			}
			assert.Equal(t, tt.rules, p.Rules())
		})
	}
}

func TestReasonString(t *testing.T) {
	tests := []struct {
		r    Reason
		want string
	}{
		{ReasonDefaultAllow, "default action Allow"},
		{ReasonIPRule, "matched an IP rule"},
		{ReasonPrivateEndpoint, "private endpoint"},
		{ReasonPublicAccessDisabled, "public network access disabled"},
		{ReasonNotInIPRules, "default action Deny and no IP rule matches"},
		{ReasonTrustedService, "trusted service"},
		{ReasonIPv6NotEnabled, "arrived over IPv6 but endpointProtocol is IPv4 (the registry has no IPv6 address)"},
		{Reason(200), "Reason(200)"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.r.String(), "Reason(%d).String()", uint8(tt.r))
	}
}

// TestDecideDoesNotAllocate pins the hot path's zero allocations on every
// matcher path (the benchmarks show the same, but are not run by go test).
func TestDecideDoesNotAllocate(t *testing.T) {
	for _, rs := range ruleSets {
		t.Run(rs.name, func(t *testing.T) {
			p, err := NewPolicy(Rules{DefaultAction: ActionDeny, IPRules: rs.rules, PrivateEndpointNetworks: []string{"a1", "b1", "c1"}})
			require.NoError(t, err)
			for _, c := range []Client{{Addr: rs.outside}, {Addr: rs.outside, Network: "c1"}, {Addr: rs.outside, Network: "d1", TrustedService: true}} {
				allocs := testing.AllocsPerRun(100, func() { p.Decide(c) })
				assert.Zero(t, allocs, "Decide(%+v) allocates", c)
			}
		})
	}
}
