package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// basicAuth is an Authorization header with Basic credentials.
func basicAuth(user, pass string) http.Header {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, pass)
	return http.Header{"Authorization": {req.Header.Get("Authorization")}}
}

// rawDo sends body as is, with exactly the given headers.
func (c *client) rawDo(method, rawURL string, body []byte, header http.Header) (int, http.Header, []byte) {
	c.t.Helper()
	res := c.Do(method, rawURL, bytes.NewReader(body), header)
	return res.Code, res.Header, res.Body
}

// pushImage pushes a one-layer image with Basic credentials straight on
// /v2/ and returns the manifest's status code.
func (c *client) pushImage(repo, tag string, auth http.Header) int {
	c.t.Helper()
	digestOf := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	layer := []byte("layer of " + repo)
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	for _, blob := range [][]byte{layer, config} {
		status, hdr, _ := c.rawDo("POST", c.Base+"/v2/"+repo+"/blobs/uploads/", nil, auth)
		if status != http.StatusAccepted {
			return status
		}
		loc, err := url.Parse(hdr.Get("Location"))
		require.NoError(c.t, err)
		q := loc.Query()
		q.Set("digest", digestOf(blob))
		loc.RawQuery = q.Encode()
		status, _, _ = c.rawDo("PUT", c.Base+loc.Path+"?"+loc.RawQuery, blob,
			mergeHeader(auth, http.Header{"Content-Type": {"application/octet-stream"}}))
		if status != http.StatusCreated {
			return status
		}
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digestOf(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digestOf(layer), "size": len(layer)}},
	})
	status, _, _ := c.rawDo("PUT", c.Base+"/v2/"+repo+"/manifests/"+tag, manifest,
		mergeHeader(auth, http.Header{"Content-Type": {"application/vnd.oci.image.manifest.v1+json"}}))
	return status
}

func mergeHeader(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = v
		}
	}
	return out
}

// generate makes passwords for the token and returns them by name.
func (c *client) generate(tokenName string, body map[string]any) map[string]string {
	c.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	body["tokenId"] = testarm.RegistryPath("acremu", "myregistry") + "/tokens/" + tokenName
	status, out := c.arm("POST", testarm.RegistryPath("acremu", "myregistry")+"/generateCredentials", body)
	require.Equal(c.t, 200, status, out)
	require.Equal(c.t, tokenName, out["username"])
	pw := map[string]string{}
	for _, p := range out["passwords"].([]any) {
		m := p.(map[string]any)
		pw[m["name"].(string)] = m["value"].(string)
	}
	return pw
}

// TestRepositoryScopedTokens drives tokens and scope maps through ARM and
// the data plane of one acremu: every change is visible on the next
// request, and the firewall answers before any credential is read.
func TestRepositoryScopedTokens(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t, s)
	reg := testarm.RegistryPath("acremu", "myregistry")

	// An admin-like token pushes the images the others read.
	status, out := c.arm("PUT", reg+"/tokens/pusher", map[string]any{"properties": map[string]any{"scopeMapId": reg + "/scopeMaps/_repositories_admin"}})
	require.Equal(t, 201, status, out)
	admin := basicAuth("pusher", c.generate("pusher", nil)["password1"])
	require.Equal(t, 201, c.pushImage("hello", "v1", admin))
	require.Equal(t, 201, c.pushImage("team/app", "v1", admin))
	require.Equal(t, 201, c.pushImage("other", "v1", admin))

	status, out = c.arm("PUT", reg+"/scopeMaps/pullhello", map[string]any{"properties": map[string]any{
		"description": "pull hello", "actions": []string{"repositories/hello/content/read", "repositories/team/*/content/read"}}})
	require.Equal(t, 201, status, out)
	status, out = c.arm("PUT", reg+"/tokens/ci-token", map[string]any{"properties": map[string]any{"scopeMapId": reg + "/scopeMaps/pullhello"}})
	require.Equal(t, 201, status, out)
	pw := c.generate("ci-token", nil)
	require.Len(t, pw, 2)
	ci := basicAuth("ci-token", pw["password1"])

	pull := func(repo string, auth http.Header) int {
		status, _, _ := c.rawDo("GET", c.Base+"/v2/"+repo+"/manifests/v1", nil,
			mergeHeader(auth, http.Header{"Accept": {"application/vnd.oci.image.manifest.v1+json"}}))
		return status
	}
	tokenFor := func(auth http.Header, scope string) (int, []byte) {
		status, _, body := c.rawDo("GET", c.Base+"/oauth2/token?"+url.Values{"service": {strings.TrimPrefix(c.Base, "http://")}, "scope": {scope}}.Encode(), nil, auth)
		return status, body
	}

	t.Run("scope map decides", func(t *testing.T) {
		c := c.forTest(t)
		tests := []struct {
			name string
			repo string
			want int
		}{
			{"exact repository", "hello", 200},
			{"wildcard prefix", "team/app", 200},
			{"another repository", "other", 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, pull(tt.repo, ci)) })
		}
		assert.Equal(t, 401, c.pushImage("hello", "v2", ci), "a pull-only scope map does not push")
		status, body := tokenFor(ci, "repository:hello:pull,push")
		require.Equal(t, 200, status, string(body))
		claims := decodeClaims(t, body)
		assert.Contains(t, claims, `"actions":["pull"]`)
		assert.NotContains(t, claims, "push")

		// grant_type=password, as az and the SDKs ask.
		status, _, body = c.rawDo("POST", c.Base+"/oauth2/token", []byte(url.Values{"grant_type": {"password"}, "username": {"ci-token"},
			"password": {pw["password2"]}, "scope": {"repository:hello:pull"}}.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
		assert.Equal(t, 200, status, string(body))

		status, _, _ = c.rawDo("GET", c.Base+"/v2/_catalog", nil, ci)
		assert.Equal(t, 401, status, "tokens never list the catalog")
	})

	t.Run("scope map update applies at once", func(t *testing.T) {
		c := c.forTest(t)
		status, out := c.arm("PATCH", reg+"/scopeMaps/pullhello", map[string]any{"properties": map[string]any{
			"actions": []string{"repositories/hello/content/read", "repositories/hello/content/write", "repositories/team/*/content/read"}}})
		require.Equal(t, 200, status, out)
		assert.Equal(t, 201, c.pushImage("hello", "v2", ci))
	})

	t.Run("disabled token is refused, saying so", func(t *testing.T) {
		c := c.forTest(t)
		status, out := c.arm("PATCH", reg+"/tokens/ci-token", map[string]any{"properties": map[string]any{"status": "disabled"}})
		require.Equal(t, 200, status, out)
		st, body := tokenFor(ci, "repository:hello:pull")
		assert.Equal(t, 401, st)
		assert.Contains(t, string(body), "disabled")
		status, _, body = c.rawDo("GET", c.Base+"/v2/hello/manifests/v1", nil, ci)
		assert.Equal(t, 401, status)
		assert.Contains(t, string(body), "disabled")
		status, out = c.arm("PATCH", reg+"/tokens/ci-token", map[string]any{"properties": map[string]any{"status": "enabled"}})
		require.Equal(t, 200, status, out)
		assert.Equal(t, 200, pull("hello", ci))
	})

	t.Run("regenerating a password invalidates the old one", func(t *testing.T) {
		c := c.forTest(t)
		fresh := c.generate("ci-token", map[string]any{"name": "password1"})
		require.Len(t, fresh, 1)
		assert.Equal(t, 401, pull("hello", ci))
		assert.Equal(t, 200, pull("hello", basicAuth("ci-token", fresh["password1"])))
		assert.Equal(t, 200, pull("hello", basicAuth("ci-token", pw["password2"])), "the other password stays")
	})

	t.Run("expired password is refused, saying so", func(t *testing.T) {
		c := c.forTest(t)
		old := c.generate("ci-token", map[string]any{"name": "password2", "expiry": time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)})
		st, body := tokenFor(basicAuth("ci-token", old["password2"]), "repository:hello:pull")
		assert.Equal(t, 401, st)
		assert.Contains(t, string(body), "expired")
	})

	t.Run("GET shows passwords without values", func(t *testing.T) {
		c := c.forTest(t)
		status, out := c.arm("GET", reg+"/tokens/ci-token", nil)
		require.Equal(t, 200, status, out)
		b, _ := json.Marshal(out)
		assert.NotContains(t, string(b), `"value"`)
		assert.Contains(t, string(b), `"creationTime"`)
		assert.Contains(t, string(b), `"expiry"`)
	})

	t.Run("deleted token stops at once", func(t *testing.T) {
		c := c.forTest(t)
		status, _ := c.arm("DELETE", reg+"/tokens/pusher", nil)
		require.Equal(t, 200, status)
		assert.Equal(t, 401, pull("hello", admin))
	})

	t.Run("firewall answers first", func(t *testing.T) {
		c := c.forTest(t)
		status, out := c.arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny"}}})
		require.Equal(t, 200, status, out)
		st, body := tokenFor(basicAuth("ci-token", "wrong"), "repository:hello:pull")
		assert.Equal(t, 403, st)
		assert.Contains(t, string(body), `"DENIED"`)
		assert.Equal(t, 403, pull("hello", basicAuth("ci-token", pw["password2"])))
	})
}

// decodeClaims returns the JSON claims of the access token in body.
func decodeClaims(t *testing.T, body []byte) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(body, &tok))
	parts := strings.Split(tok.AccessToken, ".")
	require.Len(t, parts, 3)
	raw, err := jwtSegment(parts[1])
	require.NoError(t, err)
	return string(raw)
}

func jwtSegment(s string) ([]byte, error) {
	for len(s)%4 != 0 {
		s += "="
	}
	b, err := base64URL.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("jwt segment: %w", err)
	}
	return b, nil
}

var base64URL = base64.URLEncoding

// TestTokensOutliveRegistryChanges checks that a token keeps working
// through every change that prepares the registry's data plane again,
// and through a restart, which serves each stored registry with its
// tokens.
func TestTokensOutliveRegistryChanges(t *testing.T) {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	c := newClient(t, s)
	reg := testarm.RegistryPath("acremu", "myregistry")
	status, out := c.arm("PUT", reg+"/tokens/ci-token", map[string]any{"properties": map[string]any{"scopeMapId": reg + "/scopeMaps/_repositories_pull"}})
	require.Equal(t, 201, status, out)
	ci := basicAuth("ci-token", c.generate("ci-token", nil)["password1"])

	steps := []struct {
		name   string
		change func(t *testing.T, c *client)
	}{
		{"token created", func(*testing.T, *client) {}},
		{"admin password regenerated", func(t *testing.T, c *client) {
			status, out := c.arm("POST", reg+"/regenerateCredential", map[string]any{"name": "password2"})
			require.Equal(t, 200, status, out)
		}},
		{"registry patched", func(t *testing.T, c *client) {
			status, out := c.arm("PATCH", reg, map[string]any{"properties": map[string]any{"adminUserEnabled": false}})
			require.Equal(t, 200, status, out)
		}},
		{"scope map added", func(t *testing.T, c *client) {
			status, out := c.arm("PUT", reg+"/scopeMaps/pullhello", map[string]any{"properties": map[string]any{"actions": []string{"repositories/hello/content/read"}}})
			require.Equal(t, 201, status, out)
		}},
		{"acremu restarted", func(t *testing.T, _ *client) {
			require.NoError(t, s.Close(context.Background()))
			s = startServer(t, cfg) // the last step: closed with this subtest
			c = newClient(t, s)
		}},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			step.change(t, c.forTest(t))
			c := c.forTest(t)
			status, _, body := c.rawDo("GET", c.Base+"/oauth2/token?"+url.Values{"service": {strings.TrimPrefix(c.Base, "http://")}, "scope": {"repository:hello:pull"}}.Encode(), nil, ci)
			assert.Equal(t, 200, status, string(body))
		})
	}
}
