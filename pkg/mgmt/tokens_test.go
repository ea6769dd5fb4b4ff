package mgmt_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

const apiTokens = "2020-11-01-preview" // az 2.45 scope-map and token calls

func TestScopeMapsAndTokensARM(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "basicreg1", "Basic", nil)
	reg := testarm.RegistryPath("rg", "basicreg1")
	sm := func(n string) string { return testarm.WithAPI(reg+"/scopeMaps/"+n, apiTokens) }
	tok := func(n string) string { return testarm.WithAPI(reg+"/tokens/"+n, apiTokens) }
	actions := func(a ...string) map[string]any { return map[string]any{"properties": map[string]any{"actions": a}} }

	tests := []struct {
		name     string
		method   string
		path     string
		body     any
		wantCode int
		wantErr  string
	}{
		{"create scope map (Basic SKU)", "PUT", sm("pullhello"), actions("repositories/hello/content/read", "repositories/team/*/metadata/read"), 201, ""},
		{"replace scope map", "PUT", sm("pullhello"), actions("repositories/hello/content/read"), 200, ""},
		{"root wildcard", "PUT", sm("everything"), actions("repositories/*/content/read"), 201, ""},
		{"gateway action", "PUT", sm("gateway1"), actions("gateway/edge/config/read"), 201, ""},
		{"wildcard in the middle", "PUT", sm("badwild"), actions("repositories/a/*/b/content/read"), 400, "InvalidScopeMapActions"},
		{"wildcard without slash", "PUT", sm("badwild"), actions("repositories/team*/content/read"), 400, "InvalidScopeMapActions"},
		{"unknown action", "PUT", sm("badact"), actions("repositories/hello/content/pull"), 400, "InvalidScopeMapActions"},
		{"no actions", "PUT", sm("noacts"), map[string]any{"properties": map[string]any{}}, 400, "InvalidScopeMapActions"},
		{"short name", "PUT", sm("ab"), actions("repositories/hello/content/read"), 400, "InvalidResourceName"},
		{"system scope map redeployed as is", "PUT", sm("_repositories_pull"), actions("repositories/*/content/read"), 200, ""},
		{"system scope map changed", "PUT", sm("_repositories_pull"), actions("repositories/x/content/read"), 400, "SystemScopeMapCannotBeModified"},
		{"system scope map deleted", "DELETE", sm("_repositories_admin"), nil, 400, "SystemScopeMapCannotBeModified"},
		{"patch missing scope map", "PATCH", sm("missing1"), actions("repositories/hello/content/read"), 404, "ResourceNotFound"},
		{"token with a system scope map", "PUT", tok("admintok"), map[string]any{"properties": map[string]any{"scopeMapId": reg + "/scopeMaps/_repositories_admin"}}, 201, ""},
		{"token with a user scope map", "PUT", tok("pulltok"), map[string]any{"properties": map[string]any{"scopeMapId": reg + "/scopeMaps/pullhello", "status": "disabled"}}, 201, ""},
		{"token with a missing scope map", "PUT", tok("badtok1"), map[string]any{"properties": map[string]any{"scopeMapId": reg + "/scopeMaps/nothere"}}, 400, "ScopeMapNotFound"},
		{"token with another registry's scope map", "PUT", tok("badtok2"), map[string]any{"properties": map[string]any{"scopeMapId": testarm.RegistryPath("rg", "other") + "/scopeMaps/_repositories_pull"}}, 400, "InvalidScopeMapId"},
		{"token with a bad status", "PATCH", tok("pulltok"), map[string]any{"properties": map[string]any{"status": "paused"}}, 400, "InvalidTokenStatus"},
		{"generate for a missing token", "POST", testarm.WithAPI(reg+"/generateCredentials", apiTokens), map[string]any{"tokenId": reg + "/tokens/nothere"}, 404, "ResourceNotFound"},
		{"generate with a bad name", "POST", testarm.WithAPI(reg+"/generateCredentials", apiTokens), map[string]any{"tokenId": reg + "/tokens/pulltok", "name": "password3"}, 400, "InvalidPasswordName"},
		{"generate with a bad expiry", "POST", testarm.WithAPI(reg+"/generateCredentials", apiTokens), map[string]any{"tokenId": reg + "/tokens/pulltok", "expiry": "soon"}, 400, "InvalidExpiry"},
		{"generate", "POST", testarm.WithAPI(reg+"/generateCredentials", apiTokens), map[string]any{"tokenId": reg + "/tokens/pulltok", "expiry": "2099-01-01T00:00:00Z"}, 200, ""},
		{"delete scope map in use", "DELETE", sm("everything"), nil, 200, ""},
		{"delete again", "DELETE", sm("everything"), nil, 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			res := e.arm.Request(tt.method, tt.path, tt.body)
			require.Equal(t, tt.wantCode, res.Code, "%s", res.Body)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, res.ErrCode(t))
			}
		})
	}

	t.Run("list has the system scope maps", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request("GET", testarm.WithAPI(reg+"/scopeMaps", apiTokens), nil)
		require.Equal(t, 200, res.Code, "%s", res.Body)
		var names []string
		for _, v := range res.JSON(t)["value"].([]any) {
			m := v.(map[string]any)
			names = append(names, m["name"].(string))
			props := m["properties"].(map[string]any)
			if m["name"] == "_repositories_push" {
				assert.Equal(t, "SystemDefined", props["type"])
				assert.Equal(t, []any{"repositories/*/content/read", "repositories/*/content/write"}, props["actions"])
			}
		}
		assert.Equal(t, []string{"_repositories_admin", "_repositories_pull", "_repositories_pull_metadata_read",
			"_repositories_push", "_repositories_push_metadata_write", "gateway1", "pullhello"}, names)
	})

	t.Run("token GET shape", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request("GET", tok("pulltok"), nil)
		require.Equal(t, 200, res.Code, "%s", res.Body)
		m := res.JSON(t)
		assert.Equal(t, "Microsoft.ContainerRegistry/registries/tokens", m["type"])
		assert.Contains(t, m, "systemData")
		props := m["properties"].(map[string]any)
		assert.Equal(t, "disabled", props["status"])
		assert.Equal(t, "Succeeded", props["provisioningState"])
		assert.Contains(t, props, "creationDate")
		pws := props["credentials"].(map[string]any)["passwords"].([]any)
		require.Len(t, pws, 2)
		for _, p := range pws {
			pm := p.(map[string]any)
			assert.NotContains(t, pm, "value")
			assert.Equal(t, "2099-01-01T00:00:00.0000000Z", pm["expiry"])
			assert.Contains(t, pm, "creationTime")
		}
	})
}
