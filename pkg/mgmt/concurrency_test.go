package mgmt_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// TestConcurrentPatches sends many PATCHes of different fields at once. A
// read-modify-write outside the store transaction would let one PATCH
// write back a stale copy and undo another's field; every field must
// survive. The hooks must also end on the stored state, since they run in
// commit order.
func TestConcurrentPatches(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "busy0001", "Premium", map[string]any{"adminUserEnabled": true})
	path := testarm.WithAPI(testarm.RegistryPath("rg", "busy0001"), testarm.APIRegistry)
	original := e.stored("busy0001")
	auth := http.Header{"Authorization": {"Bearer " + e.token}}

	rules := make([]any, 50)
	for i := range rules {
		rules[i] = map[string]any{"action": "Allow", "value": fmt.Sprintf("52.1.%d.0/24", i)}
	}
	patches := []any{
		map[string]any{"properties": map[string]any{"anonymousPullEnabled": true}},
		map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "None"}},
		map[string]any{"properties": map[string]any{"dataEndpointEnabled": true}},
		map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}},
		map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}},
		map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"ipRules": rules}}},
		map[string]any{"tags": map[string]any{"team": "a"}},
	}
	const rounds = 8
	// The goroutines only send; the test goroutine asserts.
	type outcome struct {
		res testarm.Response
		err error
	}
	var wg sync.WaitGroup
	outcomes := make(chan outcome, rounds*(len(patches)+2))
	send := func(method, path string, body any) {
		wg.Go(func() {
			res, err := e.arm.Send(method, path, body, auth)
			outcomes <- outcome{res, err}
		})
	}
	for range rounds {
		for _, p := range patches {
			send(http.MethodPatch, path, p)
		}
	}
	// Password regeneration is a read-modify-write of the pair.
	regenerate := testarm.WithAPI(testarm.RegistryPath("rg", "busy0001")+"/regenerateCredential", testarm.APIRegistry)
	send(http.MethodPost, regenerate, `{"name":"password"}`)
	send(http.MethodPost, regenerate, `{"name":"password2"}`)
	wg.Wait()
	close(outcomes)
	for o := range outcomes {
		require.NoError(t, o.err)
		require.Equal(t, http.StatusOK, o.res.Code, "%s", o.res.Body)
	}

	got := e.stored("busy0001")
	assert.True(t, got.AnonymousPullEnabled)
	assert.Equal(t, "None", got.NetworkRuleBypassOptions)
	assert.True(t, got.DataEndpointEnabled)
	assert.Equal(t, "Disabled", got.PublicNetworkAccess)
	assert.Equal(t, "Deny", got.NetworkRuleSet.DefaultAction)
	assert.Len(t, got.NetworkRuleSet.IPRules, 50)
	assert.Equal(t, map[string]string{"team": "a"}, got.Tags)
	assert.NotEqual(t, original.Passwords[0], got.Passwords[0])
	assert.NotEqual(t, original.Passwords[1], got.Passwords[1])

	evs := e.hooks.Events()
	require.NotEmpty(t, evs)
	assert.Equal(t, got, evs[len(evs)-1].reg, "the last hook call carries the stored state")
}

// TestConcurrentCreates races creates of one name in two groups: exactly
// one wins, the other gets AlreadyInUse.
func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg1")
	e.mustGroup("rg2")
	auth := http.Header{"Authorization": {"Bearer " + e.token}}
	var wg sync.WaitGroup
	codes := make([]int, 10)
	errs := make([]error, len(codes))
	for i := range codes {
		wg.Go(func() {
			rg := []string{"rg1", "rg2"}[i%2]
			var res testarm.Response
			res, errs[i] = e.arm.Send(http.MethodPut, testarm.WithAPI(testarm.RegistryPath(rg, "contested"), testarm.APIRegistry), `{"location":"eastus","sku":{"name":"Basic"}}`, auth)
			codes[i] = res.Code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for i, c := range codes {
		require.NoError(t, errs[i])
		count[c]++
	}
	assert.Equal(t, 1, count[http.StatusCreated], "%v", codes)
	assert.Equal(t, 5, count[http.StatusConflict], "%v", codes)
	assert.Equal(t, 4, count[http.StatusOK], "%v", codes)
}
