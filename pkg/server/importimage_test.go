package server

import (
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// importEnv is two Premium registries with the admin user: src holds
// app:v1 (an image) and multi:v1 (an index of two images).
type importEnv struct {
	c                  *client
	srcLogin, dstLogin string
	srcPW, dstPW       string
	image, index       v1.Hash
}

func newImportEnv(t *testing.T) *importEnv {
	cfg := testConfig(t)
	s := startServer(t, cfg)
	e := &importEnv{c: newClient(t, s)}
	e.srcLogin, e.srcPW = createRegistry(t, e.c, "rg", "importsrc", false)
	e.dstLogin, e.dstPW = createRegistry(t, e.c, "rg", "importdst", false)

	img, err := random.Image(512, 2)
	require.NoError(t, err)
	require.NoError(t, remote.Write(e.ref(t, e.srcLogin, "app:v1"), img, e.auth("importsrc", e.srcPW)...))
	e.image, _ = img.Digest()
	idx, err := random.Index(256, 1, 2)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(e.ref(t, e.srcLogin, "multi:v1"), idx, e.auth("importsrc", e.srcPW)...))
	e.index, _ = idx.Digest()
	return e
}

func (e *importEnv) ref(t *testing.T, login, image string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference("127.0.0.1:"+portOf(t, login)+"/"+image, name.Insecure)
	require.NoError(t, err)
	return ref
}

// auth authenticates as user over plain HTTP (the registry ports of the
// test server speak both; asking with TLS first only adds noise).
func (e *importEnv) auth(user, pw string) []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: user, Password: pw}), remote.WithTransport(plainHTTP{})}
}

type plainHTTP struct{}

func (plainHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme = "http"
	return http.DefaultTransport.RoundTrip(req)
}

// digestAt returns the digest of image in the target ("" when absent).
func (e *importEnv) digestAt(t *testing.T, image string) string {
	t.Helper()
	d, err := remote.Head(e.ref(t, e.dstLogin, image), e.auth("importdst", e.dstPW)...)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

func (e *importEnv) importImage(t *testing.T, body map[string]any) (int, map[string]any) {
	t.Helper()
	return e.c.forTest(t).arm("POST", testarm.RegistryPath("rg", "importdst")+"/importImage", body)
}

func (e *importEnv) restrictSource(t *testing.T, props map[string]any) {
	t.Helper()
	status, m := e.c.forTest(t).arm("PATCH", testarm.RegistryPath("rg", "importsrc"), map[string]any{"properties": props})
	require.Equal(t, http.StatusOK, status, m)
}

func errorOf(m map[string]any) (code, message string) {
	e, _ := m["error"].(map[string]any)
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	return code, message
}

func byID(image string) map[string]any {
	return map[string]any{"resourceId": testarm.RegistryPath("rg", "importsrc"), "sourceImage": image}
}

// TestImportImage drives importImage through ARM and checks the result
// through the target's data plane.
func TestImportImage(t *testing.T) {
	e := newImportEnv(t)
	tests := []struct {
		name    string
		body    map[string]any
		status  int
		code    string
		message string // contained in the error message
		check   func(t *testing.T)
	}{
		{"by resource ID", map[string]any{"source": byID("app:v1"), "targetTags": []string{"copy/app:v1"}}, 200, "", "",
			func(t *testing.T) { assert.Equal(t, e.image.String(), e.digestAt(t, "copy/app:v1")) }},
		{"by login server with admin credentials", map[string]any{"source": map[string]any{
			"registryUri": e.srcLogin, "sourceImage": "app:v1",
			"credentials": map[string]any{"username": "importsrc", "password": e.srcPW}},
			"targetTags": []string{"cred/app:v1"}}, 200, "", "",
			func(t *testing.T) { assert.Equal(t, e.image.String(), e.digestAt(t, "cred/app:v1")) }},
		{"an index with its children", map[string]any{"source": byID("multi:v1"), "targetTags": []string{"multi:v1"}}, 200, "", "",
			func(t *testing.T) {
				require.Equal(t, e.index.String(), e.digestAt(t, "multi:v1"))
				idx, err := remote.Index(e.ref(t, e.dstLogin, "multi:v1"), e.auth("importdst", e.dstPW)...)
				require.NoError(t, err)
				m, err := idx.IndexManifest()
				require.NoError(t, err)
				require.Len(t, m.Manifests, 2)
				for _, child := range m.Manifests {
					assert.Equal(t, child.Digest.String(), e.digestAt(t, "multi@"+child.Digest.String()))
				}
			}},
		{"a target tag without a tag takes the source's", map[string]any{"source": byID("app:v1"), "targetTags": []string{"notag"}}, 200, "", "",
			func(t *testing.T) { assert.Equal(t, e.image.String(), e.digestAt(t, "notag:v1")) }},
		{"by digest into an untagged repository", map[string]any{"source": byID("app@" + e.image.String()),
			"untaggedTargetRepositories": []string{"untagged"}}, 200, "", "",
			func(t *testing.T) {
				assert.Equal(t, e.image.String(), e.digestAt(t, "untagged@"+e.image.String()))
				assert.Empty(t, e.digestAt(t, "untagged:latest"))
			}},
		{"NoForce onto an existing tag", map[string]any{"source": byID("multi:v1"), "targetTags": []string{"copy/app:v1"}, "mode": "NoForce"},
			409, "Conflict", "Tag copy/app:v1 already exists in target registry.",
			func(t *testing.T) { assert.Equal(t, e.image.String(), e.digestAt(t, "copy/app:v1"), "nothing copied") }},
		{"Force replaces the tag", map[string]any{"source": byID("multi:v1"), "targetTags": []string{"copy/app:v1"}, "mode": "Force"}, 200, "", "",
			func(t *testing.T) { assert.Equal(t, e.index.String(), e.digestAt(t, "copy/app:v1")) }},
		{"source image not found", map[string]any{"source": byID("app:nope"), "targetTags": []string{"x:1"}},
			400, "InvalidParameters", "failed. Resource " + testarm.RegistryPath("rg", "importdst") + " Source image", nil},
		{"wrong credentials", map[string]any{"source": map[string]any{"registryUri": e.srcLogin, "sourceImage": "app:v1",
			"credentials": map[string]any{"username": "importsrc", "password": "wrong"}}, "targetTags": []string{"x:1"}},
			400, "InvalidParameters", "Invalid message Unauthorized", nil},
		{"no credentials for a registry URI is anonymous", map[string]any{"source": map[string]any{"registryUri": e.srcLogin, "sourceImage": "app:v1"},
			"targetTags": []string{"x:1"}}, 400, "InvalidParameters", "Invalid message Unauthorized", nil},
		{"a registry URI that is not ours", map[string]any{"source": map[string]any{"registryUri": "docker.io", "sourceImage": "library/hello-world"}},
			400, "InvalidParameters", "not a registry of this emulator", nil},
		{"a source in another subscription", map[string]any{"source": map[string]any{
			"resourceId": "/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/importsrc", "sourceImage": "app:v1"}},
			400, "InvalidParameters", "could not be found", nil},
		{"no source", map[string]any{"targetTags": []string{"x:1"}}, 400, "InvalidParameters", "source", nil},
		{"both resourceId and registryUri", map[string]any{"source": map[string]any{"resourceId": testarm.RegistryPath("rg", "importsrc"), "registryUri": e.srcLogin, "sourceImage": "app:v1"}},
			400, "InvalidParameters", "Exactly one", nil},
		{"a bad mode", map[string]any{"source": byID("app:v1"), "mode": "Sometimes"}, 400, "InvalidParameters", "Sometimes", nil},
		{"an invalid target", map[string]any{"source": byID("app:v1"), "targetTags": []string{"UPPER:v1"}}, 400, "InvalidParameters", "UPPER:v1", nil},
		{"an unknown property", map[string]any{"source": byID("app:v1"), "targetTag": "x"}, 400, "", "targetTag", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, m := e.importImage(t, tt.body)
			require.Equal(t, tt.status, status, m)
			if tt.status >= 400 {
				code, msg := errorOf(m)
				if tt.code != "" {
					assert.Equal(t, tt.code, code)
				}
				assert.Contains(t, msg, tt.message)
			}
			if tt.check != nil {
				tt.check(t)
			}
		})
	}
}

// TestImportImageSourceFirewall: the source's own firewall judges the
// import service as a trusted service. networkRuleBypassOptions
// AzureServices lets an import by resource ID (the service's managed
// identity) pass IP rules and disabled public access; None refuses it with
// the data plane's DENIED quoted; credentials never use the bypass.
func TestImportImageSourceFirewall(t *testing.T) {
	e := newImportEnv(t)
	deny := map[string]any{"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": "198.51.100.7"}}}
	creds := map[string]any{"registryUri": e.srcLogin, "sourceImage": "app:v1",
		"credentials": map[string]any{"username": "importsrc", "password": e.srcPW}}
	tests := []struct {
		name   string
		props  map[string]any
		source map[string]any
		denied bool
	}{
		{"IP rules, AzureServices", map[string]any{"networkRuleSet": deny, "networkRuleBypassOptions": "AzureServices"}, byID("app:v1"), false},
		{"public access Disabled, AzureServices", map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "AzureServices"}, byID("app:v1"), false},
		{"IP rules, None", map[string]any{"publicNetworkAccess": "Enabled", "networkRuleSet": deny, "networkRuleBypassOptions": "None"}, byID("app:v1"), true},
		{"public access Disabled, None", map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "None"}, byID("app:v1"), true},
		{"IP rules, AzureServices, with credentials", map[string]any{"publicNetworkAccess": "Enabled", "networkRuleSet": deny, "networkRuleBypassOptions": "AzureServices"}, creds, true},
		{"open again, with credentials", map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Allow"}, "networkRuleBypassOptions": "None"}, creds, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.restrictSource(t, tt.props)
			target := "fw/app:" + string(rune('a'+i))
			status, m := e.importImage(t, map[string]any{"source": tt.source, "targetTags": []string{target}})
			if !tt.denied {
				require.Equal(t, http.StatusOK, status, m)
				assert.Equal(t, e.image.String(), e.digestAt(t, target))
				return
			}
			require.Equal(t, http.StatusBadRequest, status, m)
			code, msg := errorOf(m)
			assert.Equal(t, "InvalidParameters", code)
			assert.Contains(t, msg, "Invalid message Forbidden Forbidden")
			assert.Contains(t, msg, `"code":"DENIED"`)
			assert.Contains(t, msg, "is not allowed access")
			assert.Empty(t, e.digestAt(t, target), "nothing imported")
		})
	}
}

// TestImportImageTargetFirewall: the target's firewall judges the import
// service too; with None and a Deny rule the import is refused.
func TestImportImageTargetFirewall(t *testing.T) {
	e := newImportEnv(t)
	status, m := e.c.arm("PATCH", testarm.RegistryPath("rg", "importdst"), map[string]any{"properties": map[string]any{
		"networkRuleSet": map[string]any{"defaultAction": "Deny"}, "networkRuleBypassOptions": "None"}})
	require.Equal(t, http.StatusOK, status, m)
	status, m = e.importImage(t, map[string]any{"source": byID("app:v1"), "targetTags": []string{"app:v1"}})
	require.Equal(t, http.StatusBadRequest, status, m)
	_, msg := errorOf(m)
	assert.Contains(t, msg, `"code":"DENIED"`)

	status, m = e.c.arm("PATCH", testarm.RegistryPath("rg", "importdst"), map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "AzureServices"}})
	require.Equal(t, http.StatusOK, status, m)
	status, m = e.importImage(t, map[string]any{"source": byID("app:v1"), "targetTags": []string{"app:v1"}})
	require.Equal(t, http.StatusOK, status, m)
}
