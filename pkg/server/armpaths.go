package server

import (
	"slices"
	"strings"
)

// armPrefixes are the first path segments the ARM API (pkg/mgmt) owns:
// resources and providers, tenants, cloud metadata, ADFS's authority and
// Microsoft Graph (at /v1.0 and at the /graph/ audience acremu advertises).
var armPrefixes = []string{"subscriptions", "providers", "tenants", "metadata", "adfs", "v1.0", "graph"}

// armTenantSegments are the second segments of the identity endpoints,
// whose first segment is a free tenant ("common", a tenant id, "adfs"):
// /{tenant}/oauth2/…, /{tenant}/discovery/…, /{tenant}/.well-known/… and
// Entra's v2 authority /{tenant}/v2.0/….
var armTenantSegments = []string{"oauth2", "discovery", ".well-known", "v2.0"}

// claimedByARM reports whether path belongs to the ARM API: its root (the
// resourceManager endpoint of the cloud metadata), a path under one of its
// prefixes, or an identity endpoint of any tenant. It reads the path the
// way pkg/mgmt routes it: ASCII case folded (ARM clients send both
// /resourcegroups/ and /resourceGroups/), extra leading slashes dropped
// (clients that join "…/" with "/metadata/…") and one trailing slash
// ignored.
func claimedByARM(path string) bool {
	for strings.HasPrefix(path, "//") {
		path = path[1:]
	}
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	if path == "/" {
		return true
	}
	rest, ok := strings.CutPrefix(asciiLower(path), "/")
	if !ok {
		return false
	}
	first, rest, _ := strings.Cut(rest, "/")
	if slices.Contains(armPrefixes, first) {
		return true
	}
	second, _, _ := strings.Cut(rest, "/")
	return slices.Contains(armTenantSegments, second)
}

// asciiLower folds ASCII letters only, as pkg/mgmt does (Unicode folding
// would also turn "ſ" into "s", which ARM's router does not).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
