package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/firewall"
)

// hasIPv6Loopback reports whether the machine can listen on ::1.
func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// armPatch sends a PATCH of the registry with the preview api-version
// that has endpointProtocol.
func armPatch(t *testing.T, c *client, path string, body any) (int, map[string]any) {
	t.Helper()
	res := c.For(t).Request(http.MethodPatch, testarm.WithAPI(path, "2026-01-01-preview"), body)
	return res.Code, res.JSON(t)
}

// TestEndpointProtocol reaches the default registry over 127.0.0.1 and ::1
// with each endpointProtocol: an IPv4 registry has no IPv6 address, so an
// IPv6 client's connection closes without an answer; a dual-stack one
// judges it by its rules, and IP rules (IPv4 only) never admit it.
func TestEndpointProtocol(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback on this machine")
	}
	cfg := testConfig(t)
	cfg.Listen = []string{"127.0.0.1:0", "[::1]:0"}
	v6Public := netip.MustParseAddr("2001:db8::10")
	cfg.NAT = []firewall.NAT{
		{From: netip.MustParsePrefix("127.0.0.0/8"), To: firewall.DocumentationNATAddr},
		{From: netip.MustParsePrefix("::1/128"), To: v6Public},
	}
	s := startServer(t, cfg)
	c := newClient(t, s)
	v4 := fmt.Sprintf("http://127.0.0.1:%d/v2/", s.front[0].port())
	v6 := fmt.Sprintf("http://[::1]:%d/v2/", s.front[1].port())
	reg := testarm.RegistryPath(DefaultResourceGroup, "myregistry")

	status, m := armPatch(t, c, reg, map[string]any{"sku": map[string]any{"name": "Premium"}})
	require.Equal(t, 200, status, m)
	assert.Equal(t, "IPv4", m["properties"].(map[string]any)["endpointProtocol"])
	// Dual stack needs dedicated data endpoints, as in ACR.
	status, m = armPatch(t, c, reg, map[string]any{"properties": map[string]any{"endpointProtocol": "IPv4AndIPv6"}})
	require.Equal(t, 400, status, m)

	deny := map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]any{"action": "Allow", "value": firewall.DocumentationNATAddr.String()}}}
	allow := map[string]any{"defaultAction": "Allow", "ipRules": []any{}}
	tests := []struct {
		name     string
		protocol string
		rules    map[string]any
		url      string
		status   int // 0: the connection closes without an answer
		body     string
	}{
		{"IPv4 registry, IPv4 client", "IPv4", allow, v4, 401, ""},
		{"IPv4 registry, IPv6 client", "IPv4", allow, v6, 0, ""},
		{"IPv4 registry, IPv6 client, rules deny", "IPv4", deny, v6, 0, ""},
		{"dual stack, IPv4 client", "IPv4AndIPv6", allow, v4, 401, ""},
		{"dual stack, IPv6 client, default Allow", "IPv4AndIPv6", allow, v6, 401, ""},
		{"dual stack, IPv4 client in an IP rule", "IPv4AndIPv6", deny, v4, 401, ""},
		{"dual stack, IPv6 client, IP rules deny", "IPv4AndIPv6", deny, v6, 403, `client with IP \u00272001:db8::10\u0027 is not allowed access`},
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.forTest(t)
			status, m := armPatch(t, c, reg, map[string]any{"properties": map[string]any{
				"dataEndpointEnabled": true, "endpointProtocol": tt.protocol, "networkRuleSet": tt.rules}})
			require.Equal(t, 200, status, m)
			resp, err := hc.Get(tt.url)
			if tt.status == 0 {
				require.Error(t, err, "want the connection closed")
				assert.True(t, strings.Contains(err.Error(), "EOF") || strings.Contains(err.Error(), "reset"), err.Error())
				return
			}
			require.NoError(t, err)
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			assert.Equal(t, tt.status, resp.StatusCode, string(body))
			assert.Contains(t, string(body), tt.body)
		})
	}
	// The portal and ARM stay reachable over IPv6 whatever the registry says.
	resp, err := hc.Get(strings.TrimSuffix(v6, "/v2/") + "/_acremu/health")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}

// TestEndpointProtocolOnWildcardListener listens on [::] (one dual-stack
// socket): IPv4 clients arrive IPv4-mapped and are unmapped, so only the
// IPv6 client meets the IPv4 registry's closed connection.
func TestEndpointProtocolOnWildcardListener(t *testing.T) {
	if !hasIPv6Loopback() {
		t.Skip("no IPv6 loopback on this machine")
	}
	cfg := testConfig(t)
	cfg.Listen = []string{"[::]:0"}
	cfg.NAT = []firewall.NAT{
		{From: netip.MustParsePrefix("127.0.0.0/8"), To: firewall.DocumentationNATAddr},
		{From: netip.MustParsePrefix("::1/128"), To: netip.MustParseAddr("2001:db8::10")},
	}
	s, err := New(cfg)
	if err != nil && strings.Contains(err.Error(), "listen") {
		t.Skip("cannot listen on [::]: ", err)
	}
	require.NoError(t, err)
	s.Start()
	t.Cleanup(func() { s.Close(context.Background()) })
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/v2/", s.FrontPort()))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 401, resp.StatusCode)
	_, err = hc.Get(fmt.Sprintf("http://[::1]:%d/v2/", s.FrontPort()))
	require.Error(t, err, "an IPv6 client reached an IPv4 registry")
}
