package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/store"
)

// createRegistry creates a Premium registry with the admin user (and
// optionally anonymous pull) in group rg and returns its login server and
// first password.
func createRegistry(t *testing.T, c *client, rg, name string, anonymous bool) (login, password string) {
	t.Helper()
	status, m := c.arm("PUT", testarm.SubscriptionPath+"/resourcegroups/"+rg, map[string]any{"location": "eastus"})
	require.Contains(t, []int{200, 201}, status, m)
	status, m = c.arm("PUT", testarm.RegistryPath(rg, name), map[string]any{
		"location": "eastus", "sku": map[string]string{"name": "Premium"},
		"properties": map[string]any{"adminUserEnabled": true, "anonymousPullEnabled": anonymous},
	})
	require.Equal(t, 201, status, m)
	login = loginServerOf(t, m)
	status, m = c.arm("POST", testarm.RegistryPath(rg, name)+"/listCredentials", nil)
	require.Equal(t, 200, status, m)
	return login, m["passwords"].([]any)[0].(map[string]any)["value"].(string)
}

// registryToken asks the registry at addr (sent with Host host) for an
// access token; user "" asks anonymously.
func registryToken(t *testing.T, c *client, addr, host, service, user, password, scope string) (int, string) {
	t.Helper()
	q := url.Values{"scope": {scope}}
	if service != "" {
		q.Set("service", service)
	}
	req, err := http.NewRequest("GET", "http://"+addr+"/oauth2/token?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Host = host
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(body, &tok)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, string(body)
	}
	return resp.StatusCode, tok.AccessToken
}

// bearerGet sends GET path with a bearer token to addr, with Host host.
func bearerGet(t *testing.T, c *client, addr, host, path, tok string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	require.NoError(t, err)
	req.Host = host
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// http10 sends a raw HTTP/1.0 request without a Host header.
func http10(t *testing.T, addr, path, tok string) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n", path, tok)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

// TestTokensStayInTheirRegistry is the regression test for tokens that
// crossed registries: minted at A under any Host, they open nothing at B,
// and a deleted registry's tokens open nothing at the registry that takes
// its port or its name.
func TestTokensStayInTheirRegistry(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistryPorts = freeRange(t, 3)
	s := startServer(t, cfg)
	c := newClient(t, s)
	loginA, pwA := createRegistry(t, c, "rg", "registrya", true)
	loginB, _ := createRegistry(t, c, "rg", "registryb", false)
	addrA := "127.0.0.1:" + portOf(t, loginA)
	addrB := "127.0.0.1:" + portOf(t, loginB)
	const catalog = "registry:catalog:*"
	const private = "/v2/private/tags/list" // authorized: 404; not: 401

	mint := func(host, service, user, scope string) string {
		t.Helper()
		status, tok := registryToken(t, c, addrA, host, service, user, pwA, scope)
		require.Equal(t, http.StatusOK, status, tok)
		return tok
	}
	tests := []struct {
		name  string
		token string
		path  string
	}{
		{"admin token minted at A with B's Host", mint(loginB, loginB, "registrya", catalog), "/v2/_catalog"},
		{"admin token minted at A with an invented Host", mint("invented.example:1", "invented.example:1", "registrya", catalog), "/v2/_catalog"},
		{"admin token minted at A with no service", mint(loginA, "", "registrya", catalog), "/v2/_catalog"},
		{"anonymous token from A (anonymous pull on) with B's Host", mint(loginB, loginB, "", "repository:private:pull"), private},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := c.forTest(t)
			// At A the token works, whatever Host it was minted under.
			assert.NotEqual(t, http.StatusUnauthorized, bearerGet(t, c, addrA, loginA, tt.path, tt.token), "at A")
			for _, host := range []string{loginB, "invented.example:1", loginA} {
				assert.Equal(t, http.StatusUnauthorized, bearerGet(t, c, addrB, host, tt.path, tt.token), "at B with Host %s", host)
			}
			assert.Equal(t, http.StatusUnauthorized, http10(t, addrB, tt.path, tt.token), "at B over HTTP/1.0 without Host")
		})
	}

	t.Run("the login server is accepted as service under another name", func(t *testing.T) {
		c := c.forTest(t)
		status, tok := registryToken(t, c, addrA, addrA, loginA, "registrya", pwA, catalog)
		require.Equal(t, http.StatusOK, status, tok)
		assert.Equal(t, http.StatusOK, bearerGet(t, c, addrA, addrA, "/v2/_catalog", tok))
	})
	t.Run("another registry as service is refused, saying why", func(t *testing.T) {
		c := c.forTest(t)
		status, body := registryToken(t, c, addrA, loginA, loginB, "registrya", pwA, catalog)
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Contains(t, body, "is not this registry")
	})

	t.Run("a deleted registry's tokens fail at its successor", func(t *testing.T) {
		c := c.forTest(t)
		tok := mint(loginA, loginA, "registrya", catalog)
		status, _ := c.arm("DELETE", testarm.RegistryPath("rg", "registrya"), nil)
		require.Equal(t, http.StatusOK, status)
		// Same name, and the first free port again: A's old one.
		login, _ := createRegistry(t, c, "rg", "registrya", true)
		require.Equal(t, loginA, login, "the successor reuses the port")
		assert.Equal(t, http.StatusUnauthorized, bearerGet(t, c, addrA, loginA, "/v2/_catalog", tok))
	})
}

// TestDefaultRegistryAcceptsItsLoginServerAsService: docker login with the
// null GUID and a refresh token, addressed as 127.0.0.1 while the login
// server says localhost, must not get a bare 401.
func TestDefaultRegistryAcceptsItsLoginServerAsService(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)
	info := s.Info().Default
	addr := fmt.Sprintf("127.0.0.1:%d", s.FrontPort())
	status, tok := registryToken(t, c, addr, addr, info.LoginServer, info.Username, info.Passwords[0], "registry:catalog:*")
	require.Equal(t, http.StatusOK, status, tok)
	assert.Equal(t, http.StatusOK, bearerGet(t, c, addr, addr, "/v2/_catalog", tok))
	assert.Equal(t, http.StatusOK, bearerGet(t, c, addr, info.LoginServer, "/v2/_catalog", tok))
}

func portOf(t *testing.T, login string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(login)
	require.NoError(t, err)
	return port
}

// TestStateLossFailsClosed: a missing or empty state file next to what an
// earlier run left refuses to start, instead of serving the old images
// with fresh, open rules and new passwords.
func TestStateLossFailsClosed(t *testing.T) {
	tests := []struct {
		name string
		lose func(path string) error
	}{
		{"state file removed", os.Remove},
		{"state file emptied", func(p string) error { return os.Truncate(p, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			s, err := New(cfg)
			require.NoError(t, err)
			require.NoError(t, s.Close(context.Background()))
			require.NoError(t, tt.lose(filepath.Join(cfg.DataDir, stateFile)))

			_, err = New(cfg)
			require.ErrorIs(t, err, ErrStateLost)
			assert.Contains(t, err.Error(), "rm -rf "+cfg.DataDir)
			// Nothing was created in its place.
			fi, statErr := os.Stat(filepath.Join(cfg.DataDir, stateFile))
			assert.True(t, os.IsNotExist(statErr) || fi.Size() == 0)
		})
	}
	t.Run("a fresh directory starts", func(t *testing.T) {
		cfg := testConfig(t)
		s, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, s.Close(context.Background()))
	})
}

// TestDeletedRegistryStorageNeverReturns simulates a crash between a
// registry DELETE's commit and the removal of its storage: start-up removes
// the orphaned storage, and a registry created under the same name starts
// empty because its storage is named by its own ID.
func TestDeletedRegistryStorageNeverReturns(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	c := newClient(t, s)
	createRegistry(t, c, "rg", "phoenix", false)
	var old store.Registry
	require.NoError(t, s.store.View(func(tx *store.Tx) (err error) { old, err = tx.Registry("phoenix"); return err }))
	oldDir := s.storageDir(old)
	require.NoError(t, os.MkdirAll(filepath.Join(oldDir, "docker"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(oldDir, "docker", "marker"), []byte("old image"), 0o600))
	// The DELETE committed; the process died before removing the storage
	// (and before anything removed the registry's tokens).
	require.NoError(t, s.store.Update(func(tx *store.Tx) error {
		if err := tx.PutToken(store.Token{RegistryID: old.ID, Name: "ci", ScopeMap: "_repositories_pull", Status: "enabled"}); err != nil {
			return err
		}
		return tx.DeleteRegistry("phoenix")
	}))
	require.NoError(t, s.Close(context.Background()))

	s2 := startServer(t, cfg)
	assert.NoDirExists(t, oldDir, "start-up removes storage of no registry")
	c2 := newClient(t, s2)
	createRegistry(t, c2, "rg", "phoenix", false)
	var reborn store.Registry
	require.NoError(t, s2.store.View(func(tx *store.Tx) (err error) { reborn, err = tx.Registry("phoenix"); return err }))
	assert.NotEqual(t, old.ID, reborn.ID)
	assert.NoFileExists(t, filepath.Join(s2.storageDir(reborn), "docker", "marker"))
	require.NoError(t, s2.store.View(func(tx *store.Tx) error {
		toks, err := tx.Tokens(old.ID)
		assert.Empty(t, toks, "tokens of the deleted registry are purged at start")
		return err
	}))
}

// TestLegacyStorageIsAdopted: a data directory from before registry IDs
// keeps its images: the record gets an ID and its storage moves to it.
func TestLegacyStorageIsAdopted(t *testing.T) {
	cfg := testConfig(t)
	s, err := New(cfg)
	require.NoError(t, err)
	var rec store.Registry
	require.NoError(t, s.store.Update(func(tx *store.Tx) (err error) {
		if rec, err = tx.Registry("myregistry"); err != nil {
			return err
		}
		rec.ID = ""
		return tx.PutRegistry(rec)
	}))
	require.NoError(t, s.Close(context.Background()))
	legacy := filepath.Join(cfg.DataDir, "registries", "myregistry", "docker")
	require.NoError(t, os.RemoveAll(filepath.Join(cfg.DataDir, "registries")))
	require.NoError(t, os.MkdirAll(legacy, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(legacy, "marker"), []byte("image"), 0o600))

	s2, err := New(cfg)
	require.NoError(t, err)
	defer s2.Close(context.Background())
	require.NoError(t, s2.store.View(func(tx *store.Tx) (err error) { rec, err = tx.Registry("myregistry"); return err }))
	require.NotEmpty(t, rec.ID)
	assert.FileExists(t, filepath.Join(s2.storageDir(rec), "docker", "marker"))
	assert.NoDirExists(t, filepath.Join(cfg.DataDir, "registries", "myregistry"))
}

// TestFailedCreateLeavesNothing: when the data plane cannot be prepared
// (here: its storage cannot be created), the create fails whole: nothing
// is stored and its port is not held, so the next create gets it.
func TestFailedCreateLeavesNothing(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistryPorts = freeRange(t, 3) // the next create must get the first port again
	s := startServer(t, cfg)
	c := newClient(t, s)
	status, m := c.arm("PUT", testarm.SubscriptionPath+"/resourcegroups/rg", map[string]any{"location": "eastus"})
	require.Contains(t, []int{200, 201}, status, m)

	regs := filepath.Join(cfg.DataDir, "registries")
	moved := regs + ".away"
	require.NoError(t, os.Rename(regs, moved))
	require.NoError(t, os.WriteFile(regs, nil, 0o600)) // storage cannot be created below a file
	status, m = c.arm("PUT", testarm.RegistryPath("rg", "broken01"), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Premium"}})
	require.GreaterOrEqual(t, status, 400, m)
	status, _ = c.arm("GET", testarm.RegistryPath("rg", "broken01"), nil)
	assert.Equal(t, http.StatusNotFound, status, "nothing stored")
	_, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.RegistryPorts.First))
	assert.Error(t, err, "the port is not left open")

	require.NoError(t, os.Remove(regs))
	require.NoError(t, os.Rename(moved, regs))
	status, m = c.arm("PUT", testarm.RegistryPath("rg", "fixed01"), map[string]any{"location": "eastus", "sku": map[string]string{"name": "Premium"}})
	require.Equal(t, 201, status, m)
	assert.Equal(t, fmt.Sprintf("localhost:%d", cfg.RegistryPorts.First), loginServerOf(t, m))
}

// TestProxyProtocolClientIgnoresItsOwnForwardingHeaders: behind a trusted
// proxy that speaks PROXY protocol, the address in the PROXY header is the
// client. Headers on that connection come from the client itself, so an
// X-Forwarded-For naming an allowed address must not open the firewall.
func TestProxyProtocolClientIgnoresItsOwnForwardingHeaders(t *testing.T) {
	cfg := testConfig(t)
	loopback, err := firewall.ParsePrefix("127.0.0.0/8")
	require.NoError(t, err)
	cfg.TrustedProxies = []netip.Prefix{loopback}
	s := startServer(t, cfg)
	c := newClient(t, s)
	status, m := c.arm("PATCH", testarm.RegistryPath(DefaultResourceGroup, "myregistry"), map[string]any{"properties": map[string]any{
		"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": "52.1.2.3"}}},
	}})
	require.Equal(t, 200, status, m)

	addr := fmt.Sprintf("127.0.0.1:%d", s.FrontPort())
	viaProxy := func(path string, header http.Header) (*http.Response, []byte) {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer conn.Close()
		fmt.Fprintf(conn, "PROXY TCP4 198.51.100.7 127.0.0.1 40000 %d\r\n", s.FrontPort())
		req, err := http.NewRequest("GET", "http://"+addr+path, nil)
		require.NoError(t, err)
		req.Header = header
		require.NoError(t, req.Write(conn))
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	tests := []struct {
		name   string
		header http.Header
	}{
		{"X-Forwarded-For", http.Header{"X-Forwarded-For": {"52.1.2.3"}}},
		{"Forwarded", http.Header{"Forwarded": {"for=52.1.2.3"}}},
		{"no header", http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := viaProxy("/_acremu/whoami", tt.header)
			require.Equal(t, 200, resp.StatusCode)
			var who whoamiResponse
			require.NoError(t, json.Unmarshal(body, &who))
			assert.Equal(t, "198.51.100.7", who.IP)

			resp, body = viaProxy("/v2/", tt.header)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%s", body)
			assert.Contains(t, string(body), "198.51.100.7")
		})
	}
}

// TestPortalHidesWellKnownSecretWhenExposed: the sign-in page shows the
// development secret only while acremu listens on loopback alone.
func TestPortalHidesWellKnownSecretWhenExposed(t *testing.T) {
	tests := []struct {
		name     string
		listen   string
		wantHint bool
	}{
		{"loopback", "127.0.0.1:0", true},
		{"wildcard", "0.0.0.0:0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Listen = []string{tt.listen}
			s := startServer(t, cfg)
			c := newClient(t, s)
			status, body := c.do("GET", c.Base+"/portal/signin", nil, nil)
			require.Equal(t, 200, status)
			assert.Equal(t, tt.wantHint, strings.Contains(string(body), DefaultClientSecret))
		})
	}
}

// TestDomainRoutingTokensStayInTheirRegistry: with --domain every registry
// shares the front-end port and is chosen by Host; a token from registry A
// opens neither B (by its name) nor the default registry (reached without
// Host over HTTP/1.0).
func TestDomainRoutingTokensStayInTheirRegistry(t *testing.T) {
	cfg := testConfig(t)
	cfg.Domain = "acremu.test"
	s := startServer(t, cfg)
	c := newClient(t, s)
	loginA, pwA := createRegistry(t, c, "rg", "domaina", false)
	loginB, _ := createRegistry(t, c, "rg", "domainb", false)
	front := fmt.Sprintf("127.0.0.1:%d", s.FrontPort())

	status, tok := registryToken(t, c, front, loginA, loginA, "domaina", pwA, "registry:catalog:*")
	require.Equal(t, http.StatusOK, status, tok)
	require.Equal(t, http.StatusOK, bearerGet(t, c, front, loginA, "/v2/_catalog", tok), "at A")
	assert.Equal(t, http.StatusUnauthorized, bearerGet(t, c, front, loginB, "/v2/_catalog", tok), "at B")
	assert.Equal(t, http.StatusUnauthorized, bearerGet(t, c, front, "unknown.example", "/v2/_catalog", tok), "at the default registry")
	assert.Equal(t, http.StatusUnauthorized, http10(t, front, "/v2/_catalog", tok), "HTTP/1.0 without Host")

	// Minting at B's name with A's password gives nothing either.
	status, _ = registryToken(t, c, front, loginB, loginB, "domaina", pwA, "registry:catalog:*")
	assert.Equal(t, http.StatusUnauthorized, status)
}
