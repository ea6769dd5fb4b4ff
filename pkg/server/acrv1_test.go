package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// TestACRMetadataPathsReachTheRegistry: /acr/v1/… (az acr repository) is
// the registry's, behind its firewall and ACR authentication, not ARM's.
func TestACRMetadataPathsReachTheRegistry(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)
	status, out := c.do("GET", c.Base+"/acr/v1/_catalog", nil, nil)
	require.Equal(t, 401, status, string(out))
	require.Contains(t, string(out), "https://aka.ms/acr/authorization")

	status, resp := c.arm("PATCH", testarm.RegistryPath("acremu", "myregistry"), map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
	require.Equal(t, 200, status, resp)
	status, body := c.do("GET", c.Base+"/acr/v1/hello/_tags", nil, nil)
	require.Equal(t, 403, status, string(body))
	require.Contains(t, string(body), `"DENIED"`)
}
