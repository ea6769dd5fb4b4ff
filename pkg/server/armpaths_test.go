package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClaimedByARM(t *testing.T) {
	tests := []struct {
		name string
		path string
		want bool
	}{
		{"root is the resourceManager endpoint", "/", true},
		{"subscriptions", "/subscriptions", true},
		{"registry resource", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r", true},
		{"capitalised subscriptions", "/Subscriptions/s/resourcegroups/rg", true},
		{"upper-case subscriptions", "/SUBSCRIPTIONS", true},
		{"providers", "/providers/Microsoft.ContainerRegistry/operations", true},
		{"tenants", "/tenants", true},
		{"cloud metadata", "/metadata/endpoints", true},
		{"cloud metadata after a doubled slash", "//metadata/endpoints", true},
		{"trailing slash", "/subscriptions/", true},
		{"graph", "/v1.0/servicePrincipals", true},
		{"graph under its audience", "/graph/v1.0/servicePrincipals", true},
		{"adfs authority", "/adfs", true},
		{"adfs token", "/adfs/oauth2/token", true},
		{"entra v1 token", "/22222222-2222-2222-2222-222222222222/oauth2/token", true},
		{"entra v2 token", "/common/oauth2/v2.0/token", true},
		{"mixed-case tenant form", "/Organizations/OAuth2/V2.0/Token", true},
		{"openid configuration", "/common/.well-known/openid-configuration", true},
		{"v2 openid configuration", "/common/v2.0/.well-known/openid-configuration", true},
		{"signing keys", "/common/discovery/v2.0/keys", true},
		{"unknown identity path of a tenant", "/common/discovery/instance", true},
		{"unknown tenant", "/nosuchtenant/oauth2/token", true},
		{"prefix is a whole segment", "/subscriptionsx", false},
		{"tenant segment alone", "/common", false},
		{"tenant with another second segment", "/common/userrealm/x", false},
		{"identity segment without a tenant", "/oauth2/token", false},
		{"unknown path", "/nothing/here", false},
		{"front-end namespace", "/_acremu/nothing", false},
		{"data plane", "/v2/", false},
		{"unicode folding is not ARM's", "/ſubscriptions", false},
		{"empty", "", false},
		{"relative", "subscriptions", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, claimedByARM(tt.path))
		})
	}
}

// FuzzClaimedByARM holds the matcher to pkg/mgmt's reading of a path: case,
// extra leading slashes and one trailing slash never change the answer.
func FuzzClaimedByARM(f *testing.F) {
	for _, p := range []string{"/", "/subscriptions/s", "/common/oauth2/token", "/v2/x", "/_acremu/health", "//metadata/endpoints"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		got := claimedByARM(path)
		if strings.HasPrefix(path, "/") {
			assert.Equal(t, got, claimedByARM("/"+path), "extra leading slash")
			assert.Equal(t, got, claimedByARM(path+"/"), "trailing slash")
		}
		assert.Equal(t, got, claimedByARM(asciiLower(path)), "lower case")
		assert.Equal(t, got, claimedByARM(asciiUpper(path)), "upper case")
	})
}

func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
