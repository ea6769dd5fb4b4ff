//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireRealmFollowsHost lists the tags crane and oras pushed, addressing
// the registry as 127.0.0.1:port instead of localhost:port. Both clients
// refuse a bearer realm on another host than the registry's (a private
// address at that), so this passes only because the challenge's realm and
// service follow the request's Host.
func requireRealmFollowsHost(t *testing.T, tools map[string]string, in *instance, user, password string) {
	alt := fmt.Sprintf("127.0.0.1:%d", in.Port)
	for _, tc := range []struct {
		tool  string
		login func(c *clientCLI) []string
		tags  func(c *clientCLI) []string
	}{
		{
			tool:  "crane",
			login: func(*clientCLI) []string { return []string{"auth", "login", alt, "-u", user, "-p", password} },
			tags:  func(*clientCLI) []string { return []string{"ls", alt + "/crane/hello"} },
		},
		{
			// oras speaks plain HTTP by itself to localhost only.
			tool: "oras",
			login: func(c *clientCLI) []string {
				return []string{"login", "--plain-http", "--registry-config", filepath.Join(c.home, "oras.json"), "-u", user, "-p", password, alt}
			},
			tags: func(c *clientCLI) []string {
				return []string{"repo", "tags", "--plain-http", "--registry-config", filepath.Join(c.home, "oras.json"), alt + "/oras/hello"}
			},
		},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			c := newClientCLI(t, tools[tc.tool])
			c.env = append(c.env, "DOCKER_CONFIG="+filepath.Join(c.home, ".docker"))
			c.mustRun(t, tc.login(c)...)
			r := c.mustRun(t, tc.tags(c)...)
			require.Equal(t, []string{"v1"}, sortedLines(r.Stdout), r.Combined)
		})
	}
}
