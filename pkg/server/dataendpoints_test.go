package server

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// pushBlob uploads content monolithically to repo with the token tok and
// returns its digest.
func pushBlob(t *testing.T, c *client, addr, repo, tok string, content []byte) string {
	t.Helper()
	sum := sha256.Sum256(content)
	dgst := "sha256:" + hex.EncodeToString(sum[:])
	req, err := http.NewRequest("POST", "http://"+addr+"/v2/"+repo+"/blobs/uploads/", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.HTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	q := loc.Query()
	q.Set("digest", dgst)
	loc.RawQuery = q.Encode()
	req, err = http.NewRequest("PUT", "http://"+addr+loc.RequestURI(), strings.NewReader(string(content)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err = c.HTTP.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	return dgst
}

// noRedirect is an HTTP client that returns redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func getFrom(t *testing.T, hc *http.Client, rawURL, src, tok string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	require.NoError(t, err)
	if src != "" {
		req.Header.Set("X-Forwarded-For", src)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestDataEndpoints(t *testing.T) {
	tests := []struct {
		name  string
		ports func(t *testing.T) PortRange
	}{
		{"ports from a range", func(t *testing.T) PortRange { return freeRange(t, 8) }},
		{"ports the system picks", func(*testing.T) PortRange { return EphemeralPorts }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testDataEndpoints(t, tt.ports(t)) })
	}
}

func testDataEndpoints(t *testing.T, ports PortRange) {
	cfg := testConfig(t)
	cfg.RegistryPorts = ports
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	s := startServer(t, cfg)
	c := newClient(t, s)
	login, password := createRegistry(t, c, "rg", "dataeps", false)
	_, port, _ := net.SplitHostPort(login)
	addr := "127.0.0.1:" + port
	status, tok := registryToken(t, c, addr, login, login, "dataeps", password, "repository:team/app:pull,push")
	require.Equal(t, 200, status, tok)
	content := []byte("layer bytes through the data endpoint")
	dgst := pushBlob(t, c, addr, "team/app", tok, content)
	blobURL := "http://" + addr + "/v2/team/app/blobs/" + dgst

	// Without data endpoints the login server serves the bytes.
	resp, body := getFrom(t, noRedirect(), blobURL, "", tok)
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, string(content), body)
	status, m := c.arm("GET", testarm.RegistryPath("rg", "dataeps"), nil)
	require.Equal(t, 200, status)
	assert.Equal(t, []any{}, m["properties"].(map[string]any)["dataEndpointHostNames"])

	// Enabled, with a replication: one data endpoint per region.
	status, m = c.arm("PUT", testarm.RegistryPath("rg", "dataeps")+"/replications/westeurope", map[string]any{"location": "westeurope"})
	require.Contains(t, []int{200, 201}, status, m)
	status, m = c.arm("PATCH", testarm.RegistryPath("rg", "dataeps"), map[string]any{"properties": map[string]any{"dataEndpointEnabled": true}})
	require.Equal(t, 200, status, m)
	names := m["properties"].(map[string]any)["dataEndpointHostNames"].([]any)
	require.Len(t, names, 2, m)
	assert.True(t, strings.HasPrefix(names[0].(string), "dataeps.eastus.data.localhost:"), names)
	assert.True(t, strings.HasPrefix(names[1].(string), "dataeps.westeurope.data.localhost:"), names)

	// A blob GET answers 307 to the home region's data endpoint; HEAD does not.
	resp, _ = getFrom(t, noRedirect(), blobURL, "", tok)
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	assert.Equal(t, dgst, resp.Header.Get("Docker-Content-Digest"))
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	_, homePort, _ := net.SplitHostPort(strings.TrimPrefix(names[0].(string), "dataeps.eastus.data."))
	assert.Equal(t, "localhost:"+homePort, loc.Host)
	assert.Equal(t, "/", loc.Path)
	for _, k := range []string{"t", "h", "c", "r", "d", "p", "s", "v"} {
		assert.NotEmpty(t, loc.Query().Get(k), k)
	}
	assert.Equal(t, login, loc.Query().Get("h"))
	assert.Equal(t, "team/app", loc.Query().Get("r"))
	assert.Equal(t, dgst, loc.Query().Get("d"))
	headReq, _ := http.NewRequest("HEAD", blobURL, nil)
	headReq.Header.Set("Authorization", "Bearer "+tok)
	headResp, err := noRedirect().Do(headReq)
	require.NoError(t, err)
	headResp.Body.Close()
	assert.Equal(t, 200, headResp.StatusCode)
	// Unauthenticated: the challenge, no link.
	resp, _ = getFrom(t, noRedirect(), blobURL, "", "")
	assert.Equal(t, 401, resp.StatusCode)

	dataURL := "http://127.0.0.1:" + homePort + loc.RequestURI()
	tests := []struct {
		name   string
		url    string
		src    string
		status int
		body   string
	}{
		{"signed link", dataURL, "", 200, string(content)},
		{"tampered digest", strings.Replace(dataURL, dgst[len(dgst)-4:], "0000", 1), "", 403, "invalid or has expired"},
		{"no link", "http://127.0.0.1:" + homePort + "/", "", 403, "invalid or has expired"},
		{"other path", "http://127.0.0.1:" + homePort + "/v2/", "", 404, "NOT_FOUND"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getFrom(t, http.DefaultClient, tt.url, tt.src, "")
			assert.Equal(t, tt.status, resp.StatusCode, body)
			assert.Contains(t, body, tt.body)
		})
	}
	// Docker-style clients follow the redirect.
	resp, body = getFrom(t, http.DefaultClient, blobURL, "", tok)
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, string(content), body)

	// The data endpoint is judged by the registry's firewall: a client
	// the rules deny gets ACR's 403 there, even with a valid link.
	status, m = c.arm("PATCH", testarm.RegistryPath("rg", "dataeps"), map[string]any{"properties": map[string]any{
		"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]any{"action": "Allow", "value": "198.51.100.7"}}}}})
	require.Equal(t, 200, status, m)
	resp, body = getFrom(t, http.DefaultClient, dataURL, "198.51.100.7", "")
	assert.Equal(t, 200, resp.StatusCode, body)
	resp, body = getFrom(t, http.DefaultClient, dataURL, "198.51.100.8", "")
	assert.Equal(t, 403, resp.StatusCode)
	assert.Equal(t, `{"errors":[{"code":"DENIED","message":"client with IP \u0027198.51.100.8\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`+"\n", body)

	// Disabled again: blobs are served directly and the ports close.
	status, m = c.arm("PATCH", testarm.RegistryPath("rg", "dataeps"), map[string]any{"properties": map[string]any{"dataEndpointEnabled": false}})
	require.Equal(t, 200, status, m)
	resp, body = getFrom(t, noRedirect(), blobURL, "198.51.100.7", tok)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, string(content), body)
	_, err = net.Dial("tcp", "127.0.0.1:"+homePort)
	assert.Error(t, err, fmt.Sprintf("data endpoint port %s still open", homePort))
}

// With --domain the data endpoints are <registry>.<region>.data.<domain> on
// the front-end port, routed by Host.
func TestDataEndpointsByDomain(t *testing.T) {
	cfg := testConfig(t)
	cfg.Domain = "acremu.test"
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	s := startServer(t, cfg)
	c := newClient(t, s)
	login, password := createRegistry(t, c, "rg", "contoso", false)
	front := fmt.Sprintf("127.0.0.1:%d", s.FrontPort())
	status, tok := registryToken(t, c, front, login, login, "contoso", password, "repository:team/app:pull,push")
	require.Equal(t, 200, status, tok)
	content := []byte("bytes by domain")
	// pushBlob sends no Host of its own: push through a client that names the registry.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, front)
	}}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	viaFront := &client{Client: testarm.NewClient(t, c.Base), t: t}
	viaFront.HTTP = hc
	dgst := pushBlob(t, viaFront, login, "team/app", tok, content)

	status, m := c.arm("PATCH", testarm.RegistryPath("rg", "contoso"), map[string]any{"properties": map[string]any{"dataEndpointEnabled": true}})
	require.Equal(t, 200, status, m)
	dataHost := fmt.Sprintf("contoso.eastus.data.acremu.test:%d", s.FrontPort())
	assert.Equal(t, []any{dataHost}, m["properties"].(map[string]any)["dataEndpointHostNames"])

	resp, _ := getFrom(t, hc, "http://"+login+"/v2/team/app/blobs/"+dgst, "", tok)
	require.Equal(t, http.StatusTemporaryRedirect, resp.StatusCode)
	loc := resp.Header.Get("Location")
	require.True(t, strings.HasPrefix(loc, "http://"+dataHost+"/?t="), loc)
	tests := []struct {
		name, url string
		status    int
		body      string
	}{
		{"the data endpoint by Host", loc, 200, string(content)},
		{"an unknown region", strings.Replace(loc, ".eastus.", ".westus.", 1), 404, "NAME_UNKNOWN"},
		{"an unknown registry", strings.Replace(loc, "contoso.", "fabrikam.", 1), 404, "NAME_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := getFrom(t, hc, tt.url, "", "")
			assert.Equal(t, tt.status, resp.StatusCode, body)
			assert.Contains(t, body, tt.body)
		})
	}

	// Over TLS the login server redirects to https, and the data endpoint's
	// name (two labels under the domain) verifies against acremu's CA.
	tlsClient := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: s.CA().Pool()},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, front)
		},
	}}
	resp, body := getFrom(t, tlsClient, "https://"+login+"/v2/team/app/blobs/"+dgst, "", tok)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, string(content), body)
	require.NotNil(t, resp.TLS, "the redirect stayed on https")
	assert.Equal(t, strings.Split(dataHost, ":")[0], resp.Request.URL.Hostname())
}
