package firewall

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseVNet(t *testing.T) {
	tests := []struct {
		in      string
		want    VNet
		wantErr bool
	}{
		{in: "lab=10.1.0.0/16", want: VNet{"lab", netip.MustParsePrefix("10.1.0.0/16")}},
		{in: " Vnet_A.1 = 10.1.2.3/16 ", want: VNet{"Vnet_A.1", netip.MustParsePrefix("10.1.0.0/16")}},
		{in: "v6=fd00::/64", want: VNet{"v6", netip.MustParsePrefix("fd00::/64")}},
		{in: "one=10.9.9.9", want: VNet{"one", netip.MustParsePrefix("10.9.9.9/32")}},
		{in: "mapped=::ffff:10.0.0.0/104", want: VNet{"mapped", netip.MustParsePrefix("10.0.0.0/8")}},
		{in: "10.1.0.0/16", wantErr: true},
		{in: "=10.1.0.0/16", wantErr: true},
		{in: "a=10.1.0.0/16", wantErr: true},   // one character
		{in: "-ab=10.1.0.0/16", wantErr: true}, // starts with '-'
		{in: "ab-=10.1.0.0/16", wantErr: true}, // ends with '-'
		{in: "a b=10.1.0.0/16", wantErr: true},
		{in: "ab=10.1.0.0/33", wantErr: true},
		{in: "ab=", wantErr: true},
		{in: "ab=nonsense", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseVNet(tt.in)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want.Name+"="+tt.want.Prefix.String(), got.String())
		})
	}
}

func TestValidVNetName(t *testing.T) {
	long := ""
	for len(long) < 64 {
		long += "a"
	}
	for _, n := range []string{"ab", "a_", "A.b-c_d", "0vnet", long} {
		assert.True(t, ValidVNetName(n), n)
	}
	for _, n := range []string{"", "a", "_a", ".a", "a.", "a-", "a/b", "a b", long + "a", "ä1"} {
		assert.False(t, ValidVNetName(n), n)
	}
}

// TestResolverNetworks checks the network tag on every table path: none,
// linear (up to six ranges) and the trie.
func TestResolverNetworks(t *testing.T) {
	for _, n := range []int{0, 1, 6, 7, 40} {
		t.Run(fmt.Sprintf("vnets=%d", n), func(t *testing.T) {
			var vnets []VNet
			for i := range n {
				// net-i owns 10.i.0.0/16; net-0 also owns fd00:0::/64.
				vnets = append(vnets, VNet{fmt.Sprintf("Net-%d", i), netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16)})
			}
			if n > 0 {
				vnets = append(vnets, VNet{"NET-0", netip.MustParsePrefix("fd00::/64")})
			}
			r := mustResolver(t, ResolverConfig{NAT: []NAT{mustNAT(t, "10.0.0.0/8=198.51.100.1")}, VNets: vnets})
			for i := range n {
				c := r.FromPeer(netip.AddrFrom4([4]byte{10, byte(i), 7, 9}))
				assert.Equal(t, fmt.Sprintf("net-%d", i), c.Network)
				assert.Equal(t, netip.MustParseAddr("198.51.100.1"), c.Addr, "a client in a vnet keeps its NAT address")
			}
			if n > 0 {
				assert.Equal(t, "net-0", r.FromPeer(netip.MustParseAddr("fd00::5")).Network)
				assert.Equal(t, "net-0", r.FromPeer(netip.MustParseAddr("::ffff:10.0.0.1")).Network)
			}
			for _, a := range aa("10.200.0.1", "192.0.2.1", "fd00:1::1", "127.0.0.1") {
				assert.Empty(t, r.FromPeer(a).Network, "%v is in no vnet", a)
			}
			peer := netip.MustParseAddr("10.0.3.4")
			assert.Zero(t, testing.AllocsPerRun(100, func() { r.FromPeer(peer) }), "FromPeer allocates")
		})
	}
}

func TestResolverTrustedServices(t *testing.T) {
	r := mustResolver(t, ResolverConfig{
		NAT:                    DefaultNAT,
		TrustedProxies:         pp("10.0.0.0/24"),
		TrustedServiceNetworks: pp("100.64.0.0/10", "fd00:5::/64"),
	})
	for _, a := range aa("100.64.0.1", "::ffff:100.127.255.255", "fd00:5::9") {
		assert.True(t, r.FromPeer(a).TrustedService, "%v", a)
	}
	for _, a := range aa("100.128.0.1", "127.0.0.1", "10.0.0.1") {
		assert.False(t, r.FromPeer(a).TrustedService, "%v", a)
	}
	// Only the source counts: a trusted proxy may relay a trusted service,
	// an untrusted peer cannot claim to be one.
	proxied := r.FromProxy(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("100.64.0.7"))
	assert.True(t, proxied.TrustedService)
	spoofed := r.FromProxy(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("100.64.0.7"))
	assert.False(t, spoofed.TrustedService)
}

func TestNewPolicyNetworkErrors(t *testing.T) {
	for _, r := range []Rules{
		{NetworkRuleBypassOptions: "azureservices"},
		{NetworkRuleBypassOptions: "All"},
		{PrivateEndpointNetworks: []string{"ok", ""}},
		{PrivateEndpointNetworks: []string{"-x"}},
	} {
		_, err := NewPolicy(r)
		assert.Error(t, err, "%+v", r)
	}
}

func TestNetworkSet(t *testing.T) {
	s, err := newNetworkSet([]string{"A1", "a1", "b1"})
	require.NoError(t, err)
	assert.Equal(t, networkSet{"a1", "b1"}, s)
	assert.True(t, s.has("a1"))
	assert.False(t, s.has("A1"), "the resolver lower-cases; has compares exactly")
	assert.False(t, s.has(""))
	assert.False(t, networkSet(nil).has("a1"))
}
