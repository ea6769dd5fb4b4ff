//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDataEndpoints turns on dedicated data endpoints for the default
// registry and a replication, checks `az acr show-endpoints`, pulls with
// docker, crane and oras through the 307 redirect, and requires ACR's 403
// from the data endpoint once the firewall denies the client.
func TestDataEndpoints(t *testing.T) {
	tools := clientTools(t)
	in := startAcremu(t)
	const rg, name = "acremu", "myregistry"
	host := in.Host()
	password := in.adminPassword(rg, name)

	status, out := in.arm("PUT", registryPath(rg, name)+"/replications/westeurope", map[string]any{"location": "westeurope"})
	require.Contains(t, []int{200, 201}, status, string(out))
	m := in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"dataEndpointEnabled": true}})
	names := m["properties"].(map[string]any)["dataEndpointHostNames"].([]any)
	require.Len(t, names, 2, m)
	home := names[0].(string)
	require.Regexp(t, `^myregistry\.eastus\.data\.localhost:\d+$`, home)
	require.Regexp(t, `^myregistry\.westeurope\.data\.localhost:\d+$`, names[1])

	t.Run("az acr show-endpoints", func(t *testing.T) {
		az := newAzCLI(t, in)
		ep := az.json(t, "acr", "show-endpoints", "-n", name)
		require.Equal(t, host, ep.Str("loginServer"), ep)
		require.Equal(t, 2, ep.Len("dataEndpoints"), ep)
		require.Equal(t, "eastus", ep.Str("dataEndpoints", 0, "region"))
		require.Equal(t, home, ep.Str("dataEndpoints", 0, "endpoint"))
		require.Equal(t, "westeurope", ep.Str("dataEndpoints", 1, "region"))
		require.Equal(t, names[1], ep.Str("dataEndpoints", 1, "endpoint"))
	})

	clients := []*registryClient{
		newDockerClient(t, host),
		newCraneClient(t, tools, in, false, name, password),
		newOrasClient(t, tools, host),
	}
	in.patchRegistry(rg, name, admittedRules)
	t.Run("pull through the redirect", func(t *testing.T) {
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) { c.requireAdmitted(t, name, password) })
		}
	})

	// The redirect itself, as a client sees it before following it.
	link := blobRedirect(t, in, name, password, "crane/hello", "v1")
	u, err := url.Parse(link)
	require.NoError(t, err)
	_, dataPort, _ := net.SplitHostPort(strings.TrimPrefix(home, "myregistry.eastus.data."))
	require.Equal(t, "localhost:"+dataPort, u.Host, link)
	require.Equal(t, host, u.Query().Get("h"))
	require.Equal(t, "crane/hello", u.Query().Get("r"))
	require.Equal(t, "1", u.Query().Get("v"))
	resp, err := http.Get(link)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	in.patchRegistry(rg, name, deniedRules)
	t.Run("the data endpoint denies", func(t *testing.T) {
		curl := newClientCLI(t, "curl")
		r := curl.run(t, "-sS", "-w", "\n%{http_code}", link).MustSucceed(t)
		require.Equal(t, `{"errors":[{"code":"DENIED","message":"client with IP \u0027`+natAddr+`\u0027 is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}]}`+"\n\n403", r.Stdout)
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				r, _ := c.pull(t, "v1")
				require.Error(t, r.Err, r.Combined)
				assert.Regexp(t, `403|(?i)denied`, r.Combined)
			})
		}
	})

	in.patchRegistry(rg, name, admittedRules)
	in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"dataEndpointEnabled": false}})
	t.Run("without data endpoints blobs are served directly", func(t *testing.T) {
		require.Empty(t, blobRedirect(t, in, name, password, "crane/hello", "v1"))
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				r, data := c.pull(t, "v1")
				r.MustSucceed(t)
				require.Equal(t, clientContent(c.name, "v1"), data)
			})
		}
	})
}

// blobRedirect fetches tag's manifest from repo with the admin user and
// asks for its first layer without following redirects: it returns the
// Location of a 307, or "" for a 200.
func blobRedirect(t *testing.T, in *instance, user, password, repo, tag string) string {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path, accept string) *http.Response {
		req, err := http.NewRequest("GET", in.URL(path), nil)
		require.NoError(t, err)
		req.SetBasicAuth(user, password)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		return resp
	}
	resp := get("/v2/"+repo+"/manifests/"+tag, "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var manifest struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&manifest))
	require.NotEmpty(t, manifest.Layers)
	blob := get("/v2/"+repo+"/blobs/"+manifest.Layers[0].Digest, "")
	io.Copy(io.Discard, blob.Body)
	blob.Body.Close()
	switch blob.StatusCode {
	case http.StatusTemporaryRedirect:
		return blob.Header.Get("Location")
	case http.StatusOK:
		return ""
	}
	t.Fatalf("blob GET: %d", blob.StatusCode)
	return ""
}

// TestEndpointProtocolOverIPv6 pulls with crane over ::1 from a registry
// with each endpointProtocol: IPv4 has no IPv6 address, so the connection
// closes unanswered; IPv4AndIPv6 admits the IPv6 client by default action
// Allow, and its IP rules (IPv4 only) deny it naming its IPv6 address.
func TestEndpointProtocolOverIPv6(t *testing.T) {
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skip("no IPv6 loopback on this machine")
	} else {
		ln.Close()
	}
	tools := clientTools(t)
	in := startAcremu(t, "--listen", "[::1]:0",
		"--nat", "127.0.0.0/8="+natAddr, "--nat", "::1=2001:db8::10")
	const rg, name = "acremu", "myregistry"
	password := in.adminPassword(rg, name)
	v4Host, v6Host := in.Host(), in.Listeners[1]

	crane := newClientCLI(t, tools["crane"])
	crane.env = append(crane.env, "DOCKER_CONFIG="+filepath.Join(crane.home, ".docker"))
	crane.mustRun(t, "auth", "login", v4Host, "-u", name, "-p", password)
	crane.mustRun(t, "auth", "login", v6Host, "-u", name, "-p", password)
	layer := filepath.Join(t.TempDir(), "layer.tar")
	require.NoError(t, os.WriteFile(layer, tarWithFile(clientContent("crane", "v6")), 0o644))
	crane.mustRun(t, "append", "-f", layer, "-t", v4Host+"/v6/hello:v1")
	pull := func(t *testing.T, h string) (result, string) {
		r := crane.run(t, "export", "--insecure", h+"/v6/hello:v1", "-")
		return withData(r, func() (string, error) { return fileFromTar([]byte(r.Stdout)) })
	}

	const preview = "?api-version=2026-01-01-preview"
	patch := func(props map[string]any) {
		status, out := in.arm("PATCH", registryPath(rg, name)+preview, map[string]any{"properties": props})
		require.Equal(t, 200, status, string(out))
	}
	allow := map[string]any{"defaultAction": "Allow", "ipRules": []any{}}
	deny := map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]any{"action": "Allow", "value": natAddr}}}

	t.Run("IPv4: the IPv6 client cannot reach the registry", func(t *testing.T) {
		patch(map[string]any{"endpointProtocol": "IPv4", "networkRuleSet": allow})
		r, _ := pull(t, v4Host)
		r.MustSucceed(t)
		r, _ = pull(t, v6Host)
		require.Error(t, r.Err, r.Combined)
		assert.Contains(t, r.Combined, "EOF")
	})
	t.Run("IPv4AndIPv6 with Allow: the IPv6 client pulls", func(t *testing.T) {
		patch(map[string]any{"dataEndpointEnabled": true, "endpointProtocol": "IPv4AndIPv6", "networkRuleSet": allow})
		r, data := pull(t, v6Host)
		r.MustSucceed(t)
		require.Equal(t, clientContent("crane", "v6"), data)
	})
	t.Run("IPv4AndIPv6 with IP rules: the IPv6 client is denied by its address", func(t *testing.T) {
		patch(map[string]any{"networkRuleSet": deny})
		r, _ := pull(t, v4Host)
		r.MustSucceed(t)
		r, _ = pull(t, v6Host)
		require.Error(t, r.Err, r.Combined)
		assert.Contains(t, r.Combined, "DENIED: client with IP '2001:db8::10' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.")
	})
}
