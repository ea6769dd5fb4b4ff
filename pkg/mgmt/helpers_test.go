package mgmt_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/token"
)

const (
	testSub    = "11111111-1111-1111-1111-111111111111"
	testTenant = "22222222-2222-2222-2222-222222222222"
	testClient = "33333333-3333-3333-3333-333333333333"
	testSecret = "acremu-dev-secret"

	apiReg    = "2022-02-01-preview" // az 2.45 registry calls
	apiNR     = "2021-08-01-preview" // az 2.45 network-rule calls
	apiGroups = "2021-04-01"         // az 2.45 resource calls

	subPath = "/subscriptions/" + testSub
)

func groupPath(rg string) string { return subPath + "/resourceGroups/" + rg }

func regPath(rg, name string) string {
	return groupPath(rg) + "/providers/Microsoft.ContainerRegistry/registries/" + name
}

// withAPI appends an api-version to path.
func withAPI(path, version string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "api-version=" + url.QueryEscape(version)
}

// fakeClock is a settable clock shared by the signer and the API.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

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
}

func (h *fakeHooks) AllocatePort(inUse []int) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.allocs = append(h.allocs, append([]int(nil), inUse...))
	if h.portErr != nil {
		return 0, h.portErr
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
	clock  *fakeClock
	signer *token.Signer
	token  string
}

func newEnv(t *testing.T, configure ...func(*mgmt.Config)) *env {
	t.Helper()
	st, err := store.OpenEphemeral()
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.UTC)}
	key, err := token.GenerateKey()
	require.NoError(t, err)
	signer, err := token.NewSigner(key, clock.Now)
	require.NoError(t, err)
	hooks := &fakeHooks{}
	cfg := mgmt.Config{
		Store: st, Signer: signer, Hooks: hooks,
		Subscription: testSub, Tenant: testTenant, ClientID: testClient, ClientSecret: testSecret,
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
	e.token = e.adfsToken(testClient, testSecret)
	return e
}

// adfsToken signs in like az: client credentials against /adfs/oauth2/token.
func (e *env) adfsToken(id, secret string) string {
	e.t.Helper()
	form := url.Values{
		"client_id": {id}, "client_secret": {secret}, "grant_type": {"client_credentials"},
		"client_info": {"1"}, "scope": {e.srv.URL + "//.default"},
	}
	res, err := http.PostForm(e.srv.URL+"/adfs/oauth2/token", form)
	require.NoError(e.t, err)
	defer res.Body.Close()
	require.Equal(e.t, http.StatusOK, res.StatusCode)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(e.t, json.NewDecoder(res.Body).Decode(&body))
	return body.AccessToken
}

type response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic value.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), "body: %s", r.Body)
	return m
}

// ErrCode returns error.code of an ARM error body.
func (r response) ErrCode(t *testing.T) string {
	t.Helper()
	m := r.JSON(t)
	e, ok := m["error"].(map[string]any)
	require.True(t, ok, "no ARM error in %s", r.Body)
	return e["code"].(string)
}

func (r response) ErrMessage(t *testing.T) string {
	t.Helper()
	return r.JSON(t)["error"].(map[string]any)["message"].(string)
}

// request sends an authenticated ARM request. body may be nil, a string
// (sent verbatim) or a value to encode.
func (e *env) request(method, path string, body any) response {
	e.t.Helper()
	return e.requestWith(method, path, body, http.Header{"Authorization": {"Bearer " + e.token}})
}

func (e *env) requestWith(method, path string, body any, hdr http.Header) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(data)
	}
	target := path
	if !strings.HasPrefix(path, "http") {
		target = e.srv.URL + path
	}
	req, err := http.NewRequest(method, target, rd)
	require.NoError(e.t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return response{res.StatusCode, res.Header, data}
}

// mustGroup creates a resource group.
func (e *env) mustGroup(rg string) {
	e.t.Helper()
	res := e.request(http.MethodPut, withAPI(groupPath(rg), apiGroups), map[string]any{"location": "eastus"})
	require.Contains(e.t, []int{200, 201}, res.Code, "%s", res.Body)
}

// mustRegistry creates a registry with the given PUT body (location
// eastus and the SKU are added when missing).
func (e *env) mustRegistry(rg, name, sku string, props map[string]any) response {
	e.t.Helper()
	body := map[string]any{"location": "eastus", "sku": map[string]any{"name": sku}}
	if props != nil {
		body["properties"] = props
	}
	res := e.request(http.MethodPut, withAPI(regPath(rg, name), apiReg), body)
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
