package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/store"
)

// reportedDataPorts are the ports of name's dataEndpointHostNames, by region.
func reportedDataPorts(t *testing.T, c *client, rg, name string) map[string]int {
	t.Helper()
	status, m := c.arm("GET", testarm.RegistryPath(rg, name), nil)
	require.Equal(t, 200, status, m)
	out := map[string]int{}
	for _, h := range m["properties"].(map[string]any)["dataEndpointHostNames"].([]any) {
		rest, ok := strings.CutPrefix(h.(string), name+".")
		require.True(t, ok, h)
		region, hostPort, _ := strings.Cut(rest, ".data.")
		_, port, err := net.SplitHostPort(hostPort)
		require.NoError(t, err, h)
		out[region], err = strconv.Atoi(port)
		require.NoError(t, err, h)
	}
	return out
}

// storedRecord reads name's record from s's store.
func storedRecord(t *testing.T, s *Server, name string) store.Registry {
	t.Helper()
	var rec store.Registry
	require.NoError(t, s.store.View(func(tx *store.Tx) (err error) {
		rec, err = tx.Registry(name)
		return err
	}))
	return rec
}

// servesDataEndpoint asserts that port answers as a data endpoint (a
// request without a link is refused as one).
func servesDataEndpoint(t *testing.T, port int) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 403, resp.StatusCode, string(body))
	assert.Contains(t, string(body), "invalid or has expired")
}

func assertClosed(t *testing.T, port int) {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err == nil {
		conn.Close()
	}
	assert.Error(t, err, "port %d still open", port)
}

func setDataEndpoints(t *testing.T, c *client, rg, name string, on bool) {
	t.Helper()
	status, m := c.arm("PATCH", testarm.RegistryPath(rg, name), map[string]any{"properties": map[string]any{"dataEndpointEnabled": on}})
	require.Equal(t, 200, status, m)
}

// Data-endpoint ports are part of the stored registry: reported as
// stored, kept across a restart whatever happened to other registries,
// freed with the data endpoint.
func TestDataEndpointPortsKeptInState(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistryPorts = freeRange(t, 8)
	first := cfg.RegistryPorts.First
	parent := t
	s := startServer(t, cfg)
	c := newClient(t, s)
	createRegistry(t, c, "rg", "earlier1", false)  // port first
	setDataEndpoints(t, c, "rg", "earlier1", true) // first+1
	createRegistry(t, c, "rg", "dataeps", false)   // first+2
	setDataEndpoints(t, c, "rg", "dataeps", true)  // first+3
	status, m := c.arm("PUT", testarm.RegistryPath("rg", "dataeps")+"/replications/westeurope", map[string]any{"location": "westeurope"})
	require.Equal(t, 201, status, m) // first+4
	want := map[string]int{"eastus": first + 3, "westeurope": first + 4}

	steps := []struct {
		name   string
		change func(t *testing.T)
	}{
		{"ports stored and reported", func(*testing.T) {}},
		{"another registry deleted, acremu restarted", func(t *testing.T) {
			status, _ := c.forTest(t).arm("DELETE", testarm.RegistryPath("rg", "earlier1"), nil)
			require.Equal(t, 200, status)
			assertClosed(t, first+1)
			require.NoError(t, s.Close(context.Background()))
			s = startServer(parent, cfg)
			c = newClient(parent, s)
		}},
		{"other settings changed", func(t *testing.T) {
			status, m := c.forTest(t).arm("PATCH", testarm.RegistryPath("rg", "dataeps"), map[string]any{"tags": map[string]any{"a": "b"}})
			require.Equal(t, 200, status, m)
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.change(t)
			c := c.forTest(t)
			assert.Equal(t, want, storedRecord(t, s, "dataeps").DataEndpointPorts)
			assert.Equal(t, want, reportedDataPorts(t, c, "rg", "dataeps"))
			servesDataEndpoint(t, want["eastus"])
			servesDataEndpoint(t, want["westeurope"])
		})
	}

	t.Run("replication deleted frees its port", func(t *testing.T) {
		c := c.forTest(t)
		status, _ := c.arm("DELETE", testarm.RegistryPath("rg", "dataeps")+"/replications/westeurope", nil)
		require.Equal(t, 200, status)
		assert.Equal(t, map[string]int{"eastus": first + 3}, storedRecord(t, s, "dataeps").DataEndpointPorts)
		assert.Equal(t, map[string]int{"eastus": first + 3}, reportedDataPorts(t, c, "rg", "dataeps"))
		servesDataEndpoint(t, first+3)
		assertClosed(t, first+4)
	})
	t.Run("replication added gets a free port", func(t *testing.T) {
		c := c.forTest(t)
		status, m := c.arm("PUT", testarm.RegistryPath("rg", "dataeps")+"/replications/westus", map[string]any{"location": "westus"})
		require.Equal(t, 201, status, m)
		want := map[string]int{"eastus": first + 3, "westus": first} // the lowest free one: earlier1's
		assert.Equal(t, want, storedRecord(t, s, "dataeps").DataEndpointPorts)
		assert.Equal(t, want, reportedDataPorts(t, c, "rg", "dataeps"))
		servesDataEndpoint(t, first)
	})
	t.Run("data endpoints turned off free their ports", func(t *testing.T) {
		c := c.forTest(t)
		setDataEndpoints(t, c, "rg", "dataeps", false)
		assert.Nil(t, storedRecord(t, s, "dataeps").DataEndpointPorts)
		assertClosed(t, first)
		assertClosed(t, first+3)
		// The freed ports are the first a new registry is given.
		login, _ := createRegistry(t, c, "rg", "later1", false)
		assert.Equal(t, "localhost:"+strconv.Itoa(first), login)
	})
}

// No free port for a data endpoint: 409, nothing stored, nothing served.
func TestDataEndpointPortsExhausted(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistryPorts = freeRange(t, 3)
	s := startServer(t, cfg)
	c := newClient(t, s)
	createRegistry(t, c, "rg", "dataeps", false)  // First
	setDataEndpoints(t, c, "rg", "dataeps", true) // First+1
	createRegistry(t, c, "rg", "other1", false)   // Last: none is left for a data endpoint
	before := storedRecord(t, s, "other1")
	status, m := c.arm("PATCH", testarm.RegistryPath("rg", "other1"), map[string]any{"properties": map[string]any{"dataEndpointEnabled": true}})
	require.Equal(t, 409, status, m)
	assert.Equal(t, "NoPortAvailable", m["error"].(map[string]any)["code"])
	assert.Equal(t, before, storedRecord(t, s, "other1"))
	status, m = c.arm("GET", testarm.RegistryPath("rg", "other1"), nil)
	require.Equal(t, 200, status, m)
	assert.Equal(t, false, m["properties"].(map[string]any)["dataEndpointEnabled"])
	assert.Equal(t, []any{}, m["properties"].(map[string]any)["dataEndpointHostNames"])
}

// A record stored before data-endpoint ports were (data endpoints on, no
// ports) is still served: its ports are chosen at start from the top of
// the range, and stored by its next change.
func TestDataEndpointPortsOfOlderRecords(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistryPorts = freeRange(t, 4)
	s := startServer(t, cfg)
	c := newClient(t, s)
	createRegistry(t, c, "rg", "dataeps", false) // First
	require.NoError(t, s.store.Update(func(tx *store.Tx) error {
		rec, err := tx.Registry("dataeps")
		if err != nil {
			return err
		}
		rec.DataEndpointEnabled = true
		return tx.PutRegistry(rec)
	}))
	require.NoError(t, s.Close(context.Background()))
	s = startServer(t, cfg)
	c = newClient(t, s)
	last := cfg.RegistryPorts.Last
	assert.Nil(t, storedRecord(t, s, "dataeps").DataEndpointPorts)
	assert.Equal(t, map[string]int{"eastus": last}, reportedDataPorts(t, c, "rg", "dataeps"))
	servesDataEndpoint(t, last)

	status, m := c.arm("PATCH", testarm.RegistryPath("rg", "dataeps"), map[string]any{"tags": map[string]any{"a": "b"}})
	require.Equal(t, 200, status, m)
	stored := storedRecord(t, s, "dataeps").DataEndpointPorts
	require.Len(t, stored, 1)
	assert.Equal(t, stored, reportedDataPorts(t, c, "rg", "dataeps"))
	servesDataEndpoint(t, stored["eastus"])
	if stored["eastus"] != last {
		assertClosed(t, last)
	}
}
