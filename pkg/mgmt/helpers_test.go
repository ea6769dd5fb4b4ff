package mgmt_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/token"
)

type hookEvent struct {
	kind   string // "changed" or "deleted"
	reg    store.Registry
	tokens []mgmt.ResolvedToken // what PrepareRegistry was given
}

// fakeHooks records hook calls. onEvent, when set, runs inside each
// applied PrepareRegistry change and RegistryDeleted call.
type fakeHooks struct {
	mu       sync.Mutex
	events   []hookEvent
	allocs   [][]int
	nextPort int
	portErr  error
	onEvent  func(hookEvent)
	// allocHook, when set, decides each AllocatePort call: an error is
	// returned, nil lets the call allocate as usual.
	allocHook func() error
}

func (h *fakeHooks) AllocatePort(inUse []int) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allocs = append(h.allocs, append([]int(nil), inUse...))
	if h.portErr != nil {
		return 0, h.portErr
	}
	if h.allocHook != nil {
		if err := h.allocHook(); err != nil {
			return 0, err
		}
	}
	if h.nextPort == 0 {
		return 0, nil
	}
	h.nextPort++
	return h.nextPort - 1, nil
}

func (h *fakeHooks) record(e hookEvent) {
	if h.onEvent != nil {
		h.onEvent(e)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

func (h *fakeHooks) PrepareRegistry(r store.Registry, tokens []mgmt.ResolvedToken) (mgmt.PreparedChange, error) {
	return mgmt.PreparedChange{Apply: func() { h.record(hookEvent{"changed", r, tokens}) }}, nil
}
func (h *fakeHooks) RegistryDeleted(r store.Registry) { h.record(hookEvent{"deleted", r, nil}) }

func (h *fakeHooks) LoginServer(r store.Registry) string {
	if r.Port != 0 {
		return fmt.Sprintf("localhost:%d", r.Port)
	}
	return "localhost:18444"
}

func (h *fakeHooks) Events() []hookEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookEvent(nil), h.events...)
}

// env is one API behind a real HTTP server, with a token from its own
// ADFS endpoint.
type env struct {
	t      *testing.T
	api    *mgmt.API
	srv    *httptest.Server
	store  *store.Store
	hooks  *fakeHooks
	clock  *testarm.Clock
	signer *token.Signer
	arm    *testarm.Client // signed in as the development identity
	token  string          // arm's token
}

func newEnv(t *testing.T, configure ...func(*mgmt.Config)) *env {
	t.Helper()
	st, err := store.OpenEphemeral()
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := testarm.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC))
	key, err := token.GenerateKey()
	require.NoError(t, err)
	signer, err := token.NewSigner(key, clock.Now)
	require.NoError(t, err)
	hooks := &fakeHooks{}
	cfg := mgmt.Config{
		Store: st, Signer: signer, Hooks: hooks,
		Subscription: testarm.Subscription, Tenant: testarm.Tenant, ClientID: testarm.ClientID, ClientSecret: testarm.ClientSecret,
		Now: clock.Now,
	}
	for _, c := range configure {
		c(&cfg)
	}
	api, err := mgmt.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	e := &env{t: t, api: api, srv: srv, store: st, hooks: hooks, clock: clock, signer: signer}
	e.arm = testarm.NewClient(t, srv.URL).SignIn(testarm.ClientID, testarm.ClientSecret)
	e.token = e.arm.BearerToken()
	return e
}

// forTest is e reporting to t: a subtest's failures must end the subtest's
// goroutine, not its parent's.
func (e *env) forTest(t *testing.T) *env {
	cp := *e
	cp.t, cp.arm = t, e.arm.For(t)
	return &cp
}

// mustGroup creates a resource group.
func (e *env) mustGroup(rg string) {
	e.t.Helper()
	res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.GroupPath(rg), testarm.APIGroups), map[string]any{"location": "eastus"})
	require.Contains(e.t, []int{200, 201}, res.Code, "%s", res.Body)
}

// mustRegistry creates a registry with the given PUT body (location
// eastus and the SKU are added when missing).
func (e *env) mustRegistry(rg, name, sku string, props map[string]any) testarm.Response {
	e.t.Helper()
	body := map[string]any{"location": "eastus", "sku": map[string]any{"name": sku}}
	if props != nil {
		body["properties"] = props
	}
	res := e.arm.Request(http.MethodPut, testarm.WithAPI(testarm.RegistryPath(rg, name), testarm.APIRegistry), body)
	require.Equal(e.t, http.StatusCreated, res.Code, "%s", res.Body)
	return res
}

// stored reads a registry straight from the store.
func (e *env) stored(name string) store.Registry {
	e.t.Helper()
	var reg store.Registry
	require.NoError(e.t, e.store.View(func(tx *store.Tx) (err error) {
		reg, err = tx.Registry(name)
		return err
	}))
	return reg
}

// keyOrder returns the keys of the JSON object at path (object keys, or
// decimal indexes into arrays) in document order.
func keyOrder(t *testing.T, body []byte, path ...string) []string {
	t.Helper()
	raw := json.RawMessage(body)
	for _, p := range path {
		if i, err := strconv.Atoi(p); err == nil {
			var a []json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &a))
			require.Greater(t, len(a), i)
			raw = a[i]
			continue
		}
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &m))
		raw = m[p]
		require.NotNil(t, raw, "no key %q", p)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	require.NoError(t, err)
	require.Equal(t, json.Delim('{'), tok)
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		require.NoError(t, err)
		keys = append(keys, k.(string))
		var skip json.RawMessage
		require.NoError(t, dec.Decode(&skip))
	}
	return keys
}
