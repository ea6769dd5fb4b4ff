package mgmt_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/token"
)

// TestHooksAfterCommit checks, from inside each hook call, that the change
// is already visible to a new read transaction: hooks run after the commit,
// never inside it.
func TestHooksAfterCommit(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var seen []string
	e.hooks.onEvent = func(ev hookEvent) {
		var reg store.Registry
		err := e.store.View(func(tx *store.Tx) (err error) {
			reg, err = tx.Registry(ev.reg.Name)
			return err
		})
		mu.Lock()
		defer mu.Unlock()
		switch ev.kind {
		case "changed":
			if assert.NoError(t, err, "changed %s not committed", ev.reg.Name) {
				assert.Equal(t, ev.reg, reg, "hook sees the committed state")
			}
		case "deleted":
			assert.ErrorIs(t, err, store.ErrNotFound, "deleted %s still stored", ev.reg.Name)
		}
		seen = append(seen, ev.kind+":"+ev.reg.Name)
	}
	e.mustGroup("rg")
	e.mustGroup("rg2")
	steps := []struct {
		name, method, path string
		body               any
		wantCode           int
	}{
		{"create", "PUT", testarm.WithAPI(testarm.RegistryPath("rg", "hooked01"), testarm.APIRegistry), `{"location":"eastus","sku":{"name":"Premium"}}`, 201},
		{"replace", "PUT", testarm.WithAPI(testarm.RegistryPath("rg", "hooked01"), testarm.APIRegistry), `{"location":"eastus","sku":{"name":"Premium"},"properties":{"adminUserEnabled":true}}`, 200},
		{"patch", "PATCH", testarm.WithAPI(testarm.RegistryPath("rg", "hooked01"), testarm.APIRegistry), `{"properties":{"networkRuleSet":{"defaultAction":"Deny"}}}`, 200},
		{"regenerate", "POST", testarm.WithAPI(testarm.RegistryPath("rg", "hooked01")+"/regenerateCredential", testarm.APIRegistry), `{"name":"password"}`, 200},
		{"rejected patch", "PATCH", testarm.WithAPI(testarm.RegistryPath("rg", "hooked01"), testarm.APIRegistry), `{"sku":{"name":"Basic"}}`, 400},
		{"delete", "DELETE", testarm.WithAPI(testarm.RegistryPath("rg", "hooked01"), testarm.APIRegistry), nil, 200},
		{"delete absent", "DELETE", testarm.WithAPI(testarm.RegistryPath("rg", "hooked01"), testarm.APIRegistry), nil, 204},
		{"create in rg2", "PUT", testarm.WithAPI(testarm.RegistryPath("rg2", "hooked02"), testarm.APIRegistry), `{"location":"eastus","sku":{"name":"Basic"}}`, 201},
		{"delete rg2", "DELETE", testarm.WithAPI(testarm.GroupPath("rg2"), testarm.APIGroups), nil, 200},
	}
	for _, s := range steps {
		res := e.arm.Request(s.method, s.path, s.body)
		require.Equal(t, s.wantCode, res.Code, "%s: %s", s.name, res.Body)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{
		"changed:hooked01", "changed:hooked01", "changed:hooked01", "changed:hooked01",
		"deleted:hooked01", "changed:hooked02", "deleted:hooked02",
	}, seen)
}

func TestEnsureRegistry(t *testing.T) {
	e := newEnv(t)
	reg, created, err := e.api.EnsureRegistry("acremu", "Default01")
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, "Premium", reg.SKU)
	assert.True(t, reg.AdminUserEnabled)
	assert.Len(t, reg.Passwords[0], 52)
	assert.Len(t, reg.Passwords[1], 52)
	assert.Equal(t, 0, reg.Port)
	assert.Equal(t, "eastus", reg.Location)
	assert.Equal(t, testarm.ClientID, reg.CreatedBy)
	assert.Empty(t, e.hooks.allocs, "the default registry is served on the front end")
	assert.Equal(t, reg, e.stored("default01"))
	require.Len(t, e.hooks.Events(), 1)

	res := e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.RegistryPath("ACREMU", "default01"), testarm.APIRegistry), nil)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, testarm.RegistryPath("acremu", "Default01"), res.JSON(t)["id"])
	res = e.arm.Request(http.MethodGet, testarm.WithAPI(testarm.GroupPath("acremu"), testarm.APIGroups), nil)
	require.Equal(t, http.StatusOK, res.Code)
	assert.Equal(t, "eastus", res.JSON(t)["location"])

	again, created, err := e.api.EnsureRegistry("other", "default01")
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, reg, again, "an existing registry is returned wherever it is")
	assert.Len(t, e.hooks.Events(), 1)

	t.Run("existing group keeps its location", func(t *testing.T) {
		e := e.forTest(t)
		res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.GroupPath("west"), testarm.APIGroups), `{"location":"westus"}`)
		require.Equal(t, http.StatusCreated, res.Code)
		reg, created, err := e.api.EnsureRegistry("west", "westreg01")
		require.NoError(t, err)
		assert.True(t, created)
		assert.Equal(t, "westus", reg.Location)
	})

	for _, tt := range []struct{ name, rg, reg string }{
		{"invalid registry name", "acremu", "no"},
		{"invalid group name", "bad/group", "validname1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			_, _, err := e.api.EnsureRegistry(tt.rg, tt.reg)
			require.Error(t, err)
		})
	}
}

func TestNewValidatesConfig(t *testing.T) {
	st, err := store.OpenEphemeral()
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key, err := token.GenerateKey()
	require.NoError(t, err)
	signer, err := token.NewSigner(key, nil)
	require.NoError(t, err)
	valid := func() mgmt.Config {
		return mgmt.Config{Store: st, Signer: signer, Hooks: &fakeHooks{}, Subscription: testarm.Subscription,
			Tenant: testarm.Tenant, ClientID: testarm.ClientID, ClientSecret: testarm.ClientSecret}
	}
	tests := []struct {
		name   string
		modify func(*mgmt.Config)
		ok     bool
	}{
		{"valid", func(*mgmt.Config) {}, true},
		{"no store", func(c *mgmt.Config) { c.Store = nil }, false},
		{"no signer", func(c *mgmt.Config) { c.Signer = nil }, false},
		{"no hooks", func(c *mgmt.Config) { c.Hooks = nil }, false},
		{"subscription not a GUID", func(c *mgmt.Config) { c.Subscription = "my-sub" }, false},
		{"no tenant", func(c *mgmt.Config) { c.Tenant = "" }, false},
		{"no client id", func(c *mgmt.Config) { c.ClientID = " " }, false},
		{"no secret", func(c *mgmt.Config) { c.ClientSecret = "" }, false},
		{"negative IP rule limit", func(c *mgmt.Config) { c.MaxIPRules = -1 }, false},
		{"negative page size", func(c *mgmt.Config) { c.PageSize = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid()
			tt.modify(&cfg)
			api, err := mgmt.New(cfg)
			if tt.ok {
				require.NoError(t, err)
				require.NotNil(t, api)
				return
			}
			require.Error(t, err)
			assert.Nil(t, api)
		})
	}
}

// TestPrepareRegistryCarriesTokens checks that every change, to the
// registry or to its tokens and scope maps, hands the data plane all of
// the registry's tokens with their scope maps' actions as committed.
func TestPrepareRegistryCarriesTokens(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "tokreg01", "Basic", nil)
	reg := testarm.RegistryPath("rg", "tokreg01")
	sm := testarm.WithAPI(reg+"/scopeMaps/pullhello", apiTokens)
	tok := func(n string) string { return testarm.WithAPI(reg+"/tokens/"+n, apiTokens) }
	withScopeMap := func(name string) map[string]any {
		return map[string]any{"properties": map[string]any{"scopeMapId": reg + "/scopeMaps/" + name}}
	}
	actions := func(a ...string) map[string]any { return map[string]any{"properties": map[string]any{"actions": a}} }

	steps := []struct {
		name, method, path string
		body               any
		wantCode           int
		wantTokens         map[string][]string // name → actions
	}{
		{"scope map created", "PUT", sm, actions("repositories/hello/content/read"), 201, map[string][]string{}},
		{"token created", "PUT", tok("pulltok"), withScopeMap("pullhello"), 201,
			map[string][]string{"pulltok": {"repositories/hello/content/read"}}},
		{"token with a system scope map", "PUT", tok("anytok"), withScopeMap("_repositories_pull"), 201,
			map[string][]string{"pulltok": {"repositories/hello/content/read"}, "anytok": {"repositories/*/content/read"}}},
		{"scope map changed", "PUT", sm, actions("repositories/world/content/read"), 200,
			map[string][]string{"pulltok": {"repositories/world/content/read"}, "anytok": {"repositories/*/content/read"}}},
		{"token deleted", "DELETE", tok("anytok"), nil, 200,
			map[string][]string{"pulltok": {"repositories/world/content/read"}}},
		{"registry patched", "PATCH", testarm.WithAPI(reg, testarm.APIRegistry), `{"properties":{"adminUserEnabled":true}}`, 200,
			map[string][]string{"pulltok": {"repositories/world/content/read"}}},
		{"scope map deleted", "DELETE", sm, nil, 200, map[string][]string{"pulltok": nil}},
	}
	for _, s := range steps {
		res := e.arm.Request(s.method, s.path, s.body)
		require.Equal(t, s.wantCode, res.Code, "%s: %s", s.name, res.Body)
		evs := e.hooks.Events()
		require.NotEmpty(t, evs, s.name)
		last := evs[len(evs)-1]
		require.Equal(t, "changed", last.kind, s.name)
		got := map[string][]string{}
		for _, tk := range last.tokens {
			got[tk.Name] = tk.Actions
		}
		assert.Equal(t, s.wantTokens, got, s.name)
	}
}
