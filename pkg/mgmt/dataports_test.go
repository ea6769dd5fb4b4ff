package mgmt_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/store"
)

// Data-endpoint ports are allocated through AllocatePort in the
// transaction that needs them, stored by region, kept by every other
// change and dropped with the data endpoint.
func TestDataEndpointPortsStored(t *testing.T) {
	e := newEnv(t)
	e.hooks.nextPort = 7000
	e.mustGroup("rg")
	e.mustRegistry("rg", "dataports1", "Premium", nil) // port 7000
	e.mustRegistry("rg", "other1", "Basic", nil)       // port 7001
	reg := testarm.RegistryPath("rg", "dataports1")
	patch := func(props map[string]any) testarm.Response {
		return e.arm.Request(http.MethodPatch, testarm.WithAPI(reg, testarm.APIRegistry), map[string]any{"properties": props})
	}
	steps := []struct {
		name      string
		change    func(t *testing.T) testarm.Response
		wantPorts map[string]int
		wantAsked [][]int // the ports in use each AllocatePort call was told
	}{
		{"data endpoints enabled", func(*testing.T) testarm.Response {
			return patch(map[string]any{"dataEndpointEnabled": true})
		}, map[string]int{"eastus": 7002}, [][]int{{7000, 7001}}},
		{"replication added", func(*testing.T) testarm.Response {
			return e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "dataports1", "westeurope"), apiNewest), map[string]any{"location": "westeurope"})
		}, map[string]int{"eastus": 7002, "westeurope": 7003}, [][]int{{7000, 7001, 7002}}},
		{"other setting patched", func(*testing.T) testarm.Response {
			return patch(map[string]any{"adminUserEnabled": true})
		}, map[string]int{"eastus": 7002, "westeurope": 7003}, nil},
		{"registry replaced by PUT", func(*testing.T) testarm.Response {
			return e.arm.Request(http.MethodPut, testarm.WithAPI(reg, testarm.APIRegistry),
				map[string]any{"location": "eastus", "sku": map[string]any{"name": "Premium"}, "properties": map[string]any{"dataEndpointEnabled": true}})
		}, map[string]int{"eastus": 7002, "westeurope": 7003}, nil},
		{"replication deleted", func(*testing.T) testarm.Response {
			return e.arm.Request(http.MethodDelete, testarm.WithAPI(replPath("rg", "dataports1", "westeurope"), apiNewest), nil)
		}, map[string]int{"eastus": 7002}, nil},
		{"data endpoints disabled", func(*testing.T) testarm.Response {
			return patch(map[string]any{"dataEndpointEnabled": false})
		}, nil, nil},
		{"enabled again: a port the others do not use", func(*testing.T) testarm.Response {
			return patch(map[string]any{"dataEndpointEnabled": true})
		}, map[string]int{"eastus": 7004}, [][]int{{7000, 7001}}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			e := e.forTest(t)
			e.hooks.allocs = nil
			res := step.change(t)
			require.Contains(t, []int{200, 201}, res.Code, "%s", res.Body)
			stored := e.stored("dataports1")
			assert.Equal(t, step.wantPorts, stored.DataEndpointPorts)
			assert.Equal(t, 7000, stored.Port)
			assert.Equal(t, step.wantAsked, e.hooks.allocs)
			events := e.hooks.Events()
			assert.Equal(t, step.wantPorts, events[len(events)-1].reg.DataEndpointPorts, "the data plane is prepared with the stored ports")
		})
	}
	t.Run("a new registry counts every stored data-endpoint port as in use", func(t *testing.T) {
		e := e.forTest(t)
		e.hooks.allocs = nil
		e.mustRegistry("rg", "third3", "Basic", nil)
		assert.Equal(t, [][]int{{7000, 7001, 7004}}, e.hooks.allocs)
	})
}

// A registry created with data endpoints gets its own port and then one
// per region, each told about the ports before it.
func TestDataEndpointPortsAtCreate(t *testing.T) {
	e := newEnv(t)
	e.hooks.nextPort = 7000
	e.mustGroup("rg")
	e.mustRegistry("rg", "dataports1", "Premium", map[string]any{"dataEndpointEnabled": true})
	stored := e.stored("dataports1")
	assert.Equal(t, 7000, stored.Port)
	assert.Equal(t, map[string]int{"eastus": 7001}, stored.DataEndpointPorts)
	assert.Equal(t, [][]int{nil, {7000}}, e.hooks.allocs)
}

// No free port for a data endpoint: 409 NoPortAvailable and nothing
// stored or prepared.
func TestDataEndpointPortsExhausted(t *testing.T) {
	e := newEnv(t)
	e.hooks.nextPort = 7000
	e.mustGroup("rg")
	e.mustRegistry("rg", "dataports1", "Premium", nil)
	tests := []struct {
		name   string
		portOK int // AllocatePort calls that find a port before none is left
		req    func(t *testing.T) testarm.Response
	}{
		{"data endpoints enabled", 0, func(*testing.T) testarm.Response {
			return e.arm.Request(http.MethodPatch, testarm.WithAPI(testarm.RegistryPath("rg", "dataports1"), testarm.APIRegistry),
				map[string]any{"properties": map[string]any{"dataEndpointEnabled": true}})
		}},
		{"created with data endpoints", 1, func(*testing.T) testarm.Response {
			return e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath("rg", "dataports2"), testarm.APIRegistry),
				map[string]any{"location": "eastus", "sku": map[string]any{"name": "Premium"}, "properties": map[string]any{"dataEndpointEnabled": true}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.forTest(t)
			before := e.stored("dataports1")
			events := len(e.hooks.Events())
			e.hooks.allocs = nil
			calls := 0
			e.hooks.allocHook = func() error {
				if calls++; calls <= tt.portOK {
					return nil
				}
				return fmt.Errorf("all taken: %w", mgmt.ErrNoPort)
			}
			defer func() { e.hooks.allocHook = nil }()
			res := tt.req(t)
			require.Equal(t, http.StatusConflict, res.Code, "%s", res.Body)
			assert.Equal(t, "NoPortAvailable", res.ErrCode(t))
			assert.Contains(t, string(res.Body), "the data endpoint of registry")
			assert.Equal(t, before, e.stored("dataports1"))
			assert.False(t, e.stored("dataports1").DataEndpointEnabled)
			assert.Len(t, e.hooks.Events(), events, "nothing prepared")
			assert.Len(t, e.hooks.allocs, tt.portOK+1)
			var n int
			require.NoError(t, e.store.View(func(tx *store.Tx) error {
				regs, err := tx.Registries("", "")
				n = len(regs)
				return err
			}))
			assert.Equal(t, 1, n, "no registry created")
		})
	}
}

// AllocatePort answering 0 (data endpoints on the front end, --domain)
// stores no port.
func TestDataEndpointPortsOnFrontEnd(t *testing.T) {
	e := newEnv(t)
	e.mustGroup("rg")
	e.mustRegistry("rg", "dataports1", "Premium", map[string]any{"dataEndpointEnabled": true})
	res := e.arm.Request(http.MethodPut, testarm.WithAPI(replPath("rg", "dataports1", "westeurope"), apiNewest), map[string]any{"location": "westeurope"})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	stored := e.stored("dataports1")
	assert.True(t, stored.DataEndpointEnabled)
	assert.Nil(t, stored.DataEndpointPorts)
	assert.Equal(t, 0, stored.Port)
}
