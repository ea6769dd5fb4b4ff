//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOrasWithScopeMapToken: a second client (oras) logs in with a
// repository-scoped token, as CI pipelines do: pull of the mapped
// repository works, push and other repositories are refused, and the
// firewall answers before the token is looked at.
func TestOrasWithScopeMapToken(t *testing.T) {
	tools := clientTools(t)
	in := startAcremu(t)
	const rg, reg = "acremu", "myregistry"
	admin := in.adminPassword(rg, reg)
	pushRandomImage(t, in, in.Host()+"/ci/app:v1", reg, admin)
	pushRandomImage(t, in, in.Host()+"/other/app:v1", reg, admin)

	status, out := in.arm("PUT", registryPath(rg, reg)+"/scopeMaps/ci-pull", map[string]any{"properties": map[string]any{
		"actions": []string{"repositories/ci/app/content/read", "repositories/ci/app/metadata/read"},
	}})
	require.Contains(t, []int{200, 201}, status, string(out))
	var sm struct{ ID string }
	require.NoError(t, json.Unmarshal(out, &sm))
	status, out = in.arm("PUT", registryPath(rg, reg)+"/tokens/ci-bot", map[string]any{"properties": map[string]any{"scopeMapId": sm.ID, "status": "enabled"}})
	require.Contains(t, []int{200, 201}, status, string(out))
	var tok struct{ ID string }
	require.NoError(t, json.Unmarshal(out, &tok))
	status, out = in.arm("POST", registryPath(rg, reg)+"/generateCredentials", map[string]any{"tokenId": tok.ID, "name": "password1"})
	require.Equal(t, 200, status, string(out))
	var creds struct {
		Passwords []struct{ Name, Value string } `json:"passwords"`
	}
	require.NoError(t, json.Unmarshal(out, &creds))
	require.NotEmpty(t, creds.Passwords)
	password := creds.Passwords[0].Value
	require.NotEmpty(t, password)

	oras := newClientCLI(t, tools["oras"])
	oras.mustRun(t, "login", "--plain-http", "-u", "ci-bot", "-p", password, in.Host())
	file := filepath.Join(oras.home, "artifact.txt")
	require.NoError(t, os.WriteFile(file, []byte("from ci"), 0o600))

	tests := []struct {
		name    string
		args    []string
		wantErr bool
		output  string // in the client's output
	}{
		{"pull the mapped repository", []string{"manifest", "fetch", "--plain-http", in.Host() + "/ci/app:v1"}, false, "schemaVersion"},
		{"push to it", []string{"push", "--plain-http", in.Host() + "/ci/app:v2", "artifact.txt"}, true,
			"unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information.: [map[Action:pull Name:ci/app Type:repository] map[Action:push Name:ci/app Type:repository]]"},
		{"pull another repository", []string{"manifest", "fetch", "--plain-http", in.Host() + "/other/app:v1"}, true,
			"unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information.: [map[Action:pull Name:other/app Type:repository]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := oras.run(t, tt.args...)
			if tt.wantErr {
				require.Error(t, r.Err, r.Combined)
			} else {
				require.NoError(t, r.Err, r.Combined)
			}
			assert.Contains(t, r.Combined, tt.output)
		})
	}

	t.Run("denied by the firewall before the token is looked at", func(t *testing.T) {
		in.patchRegistry(rg, reg, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
		r := oras.run(t, "manifest", "fetch", "--plain-http", in.Host()+"/ci/app:v1")
		require.Error(t, r.Err, r.Combined)
		assert.Contains(t, r.Combined, "client with IP '"+natAddr+"' is not allowed access")
	})
}
