package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

func TestListenHosts(t *testing.T) {
	tcp := func(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }
	tests := []struct {
		name  string
		front []net.Addr
		want  []string
	}{
		{"one address", []net.Addr{tcp("127.0.0.1:5000")}, []string{"127.0.0.1"}},
		{"IPv4 and IPv6", []net.Addr{tcp("127.0.0.1:5000"), tcp("[::1]:5000")}, []string{"127.0.0.1", "::1"}},
		{"one host on two ports", []net.Addr{tcp("127.0.0.1:5000"), tcp("127.0.0.1:6000"), tcp("[::1]:5000")}, []string{"127.0.0.1", "::1"}},
		{"IPv4-mapped is the IPv4 host", []net.Addr{tcp("[::ffff:127.0.0.1]:5000"), tcp("127.0.0.1:6000")}, []string{"127.0.0.1"}},
		{"a wildcard covers the others", []net.Addr{tcp("127.0.0.1:5000"), tcp("[::]:6000")}, []string{"::"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, h := range listenHosts(tt.front) {
				got = append(got, h.String())
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// fakeListener is a listener on an address, bound by fakeNet.
type fakeListener struct {
	addr *net.TCPAddr
	n    *fakeNet
}

func (l *fakeListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (l *fakeListener) Addr() net.Addr            { return l.addr }
func (l *fakeListener) Close() error {
	delete(l.n.bound, l.addr.String())
	return nil
}

// fakeNet binds addresses in memory: port 0 picks the next of picks, and
// an address in taken cannot be bound.
type fakeNet struct {
	picks []int
	taken map[string]bool
	bound map[string]bool
}

func (n *fakeNet) listen(addr string) (net.Listener, error) {
	ap := netip.MustParseAddrPort(addr)
	if ap.Port() == 0 {
		if len(n.picks) == 0 {
			return nil, errors.New("no port left")
		}
		ap = netip.AddrPortFrom(ap.Addr(), uint16(n.picks[0]))
		n.picks = n.picks[1:]
	}
	if n.taken[ap.String()] || n.bound[ap.String()] {
		return nil, fmt.Errorf("listen tcp %s: address already in use", ap)
	}
	n.bound[ap.String()] = true
	return &fakeListener{addr: net.TCPAddrFromAddrPort(ap), n: n}, nil
}

func TestBindHosts(t *testing.T) {
	v4, v6 := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")
	tests := []struct {
		name    string
		hosts   []netip.Addr
		port    int
		picks   []int
		taken   []string
		want    []string // bound addresses; nil: an error, and nothing stays bound
		wantErr string
	}{
		{name: "one host", hosts: []netip.Addr{v4}, port: 5001, want: []string{"127.0.0.1:5001"}},
		{name: "every host, same port", hosts: []netip.Addr{v4, v6}, port: 5001, want: []string{"127.0.0.1:5001", "[::1]:5001"}},
		{name: "taken on the second host", hosts: []netip.Addr{v4, v6}, port: 5001, taken: []string{"[::1]:5001"},
			wantErr: "address already in use"},
		{name: "taken on the first host", hosts: []netip.Addr{v4, v6}, port: 5001, taken: []string{"127.0.0.1:5001"},
			wantErr: "address already in use"},
		{name: "system picks, same port on every host", hosts: []netip.Addr{v4, v6}, picks: []int{40001},
			want: []string{"127.0.0.1:40001", "[::1]:40001"}},
		{name: "system picks a port taken on another host: picks again", hosts: []netip.Addr{v4, v6}, picks: []int{40001, 40002},
			taken: []string{"[::1]:40001"}, want: []string{"127.0.0.1:40002", "[::1]:40002"}},
		{name: "system picks only taken ports: gives up", hosts: []netip.Addr{v4, v6},
			picks:   []int{40001, 40002, 40003, 40004, 40005, 40006, 40007, 40008, 40009},
			taken:   []string{"[::1]:40001", "[::1]:40002", "[::1]:40003", "[::1]:40004", "[::1]:40005", "[::1]:40006", "[::1]:40007", "[::1]:40008"},
			wantErr: "no port the system picked was free on every --listen host"},
		{name: "no host", port: 5001, wantErr: "no host to listen on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := &fakeNet{picks: tt.picks, taken: map[string]bool{}, bound: map[string]bool{}}
			for _, a := range tt.taken {
				n.taken[a] = true
			}
			lns, err := bindHosts(n.listen, tt.hosts, tt.port)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				assert.Nil(t, lns)
				assert.Empty(t, n.bound, "a failed bind left listeners open")
				return
			}
			require.NoError(t, err)
			var got []string
			for _, ln := range lns {
				got = append(got, ln.Addr().String())
			}
			assert.Equal(t, tt.want, got)
			assert.Len(t, n.bound, len(tt.want))
		})
	}
}

// TestPortsOnEveryListenHost listens on 127.0.0.1 and ::1: a registry's
// own port and its data endpoint's port answer on both, and deleting the
// registry closes both.
func TestPortsOnEveryListenHost(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback on this machine")
	}
	tests := []struct {
		name  string
		ports func(t *testing.T) PortRange
	}{
		{"ports from a range", func(t *testing.T) PortRange { return freeRange(t, 8) }},
		{"ports the system picks", func(*testing.T) PortRange { return EphemeralPorts }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Listen = []string{"127.0.0.1:0", "[::1]:0"}
			cfg.RegistryPorts = tt.ports(t)
			testPortsOnEveryListenHost(t, startServer(t, cfg))
		})
	}
}

func testPortsOnEveryListenHost(t *testing.T, s *Server) {
	c := newClient(t, s)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	login, password := createRegistry(t, c, "rg", "dualreg", false)
	_, port, err := net.SplitHostPort(login)
	require.NoError(t, err)
	loginAddrs := []string{"127.0.0.1:" + port, "[::1]:" + port}
	for _, addr := range loginAddrs {
		resp, err := hc.Get("http://" + addr + "/v2/")
		require.NoError(t, err, "the registry's port on %s", addr)
		resp.Body.Close()
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, addr)
	}

	// A blob downloaded through the data endpoint on either host.
	status, tok := registryToken(t, c, loginAddrs[0], login, login, "dualreg", password, "repository:team/app:pull,push")
	require.Equal(t, 200, status, tok)
	content := []byte("layer bytes on every host")
	dgst := pushBlob(t, c, loginAddrs[0], "team/app", tok, content)
	status, m := c.arm("PATCH", testarm.RegistryPath("rg", "dualreg"), map[string]any{"properties": map[string]any{"dataEndpointEnabled": true}})
	require.Equal(t, 200, status, m)
	names := m["properties"].(map[string]any)["dataEndpointHostNames"].([]any)
	require.Len(t, names, 1, m)
	_, dataPort, err := net.SplitHostPort(strings.TrimPrefix(names[0].(string), "dualreg.eastus.data."))
	require.NoError(t, err)
	dataAddrs := []string{"127.0.0.1:" + dataPort, "[::1]:" + dataPort}
	for i, addr := range dataAddrs {
		resp, _ := getFrom(t, noRedirect(), "http://"+loginAddrs[i]+"/v2/team/app/blobs/"+dgst, "", tok)
		require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
		link, err := url.Parse(resp.Header.Get("Location"))
		require.NoError(t, err)
		require.Equal(t, "localhost:"+dataPort, link.Host)
		link.Host = addr
		resp, body := getFrom(t, hc, link.String(), "", "")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the data endpoint on %s: %s", addr, body)
		assert.Equal(t, string(content), body, addr)
	}

	status, _ = c.arm("DELETE", testarm.RegistryPath("rg", "dualreg"), nil)
	require.Equal(t, 200, status)
	for _, addr := range append(loginAddrs, dataAddrs...) {
		conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err == nil {
			conn.Close()
		}
		assert.Error(t, err, "%s still listens after the registry was deleted", addr)
	}
}
