package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// TestV1PathsReachTheRegistry: skopeo probes /v1/_ping after a failed /v2/
// ping and reports "can't talk to a V1 container registry" on a 200 or 401.
// The registry answers instead of ARM: 404 when admitted, 403 when denied.
func TestV1PathsReachTheRegistry(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)
	status, out := c.do("GET", c.Base+"/v1/_ping", nil, nil)
	require.Equal(t, 404, status, string(out))
	require.Contains(t, string(out), `"errors"`)

	status, resp := c.arm("PATCH", testarm.RegistryPath("acremu", "myregistry"), map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
	require.Equal(t, 200, status, resp)
	status, body := c.do("GET", c.Base+"/v1/_ping", nil, nil)
	require.Equal(t, 403, status, string(body))
	require.Contains(t, string(body), `"DENIED"`)
}
