//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clientOp is one operation on the client's own repository. tag
// selects the image; tags ignores it. Its result's Combined output is
// shown on failure and matched on denial.
type clientOp func(t *testing.T, tag string) result

// dataOp is an operation that produces data as well: the pulled file's
// content, or the listed tags one per line.
type dataOp func(t *testing.T, tag string) (result, string)

// registryClient is one client, set up with a private configuration for
// one registry host. A nil login or delete means the client has none that
// talks to the registry.
type registryClient struct {
	name   string
	login  func(t *testing.T, user, password string) result
	push   clientOp
	pull   dataOp   // data: the pushed file's content
	tags   dataOp   // data: one tag per line; nil when the client cannot list tags
	delete clientOp // deletes one tag
	// denied maps an operation name ("login", "push", …; "" for any) to
	// what the client prints when the firewall refuses it; {host} and
	// {denied} expand to the registry host and ACR's denial message.
	denied map[string]string
	// repo is the client's own repository on the registry.
	repo string
}

// clientContent is the file every image and artifact carries: different per
// client and tag, so deleting one tag cannot take another with it.
func clientContent(client, tag string) string {
	return fmt.Sprintf("hello from %s, tag %s\n", client, tag)
}

// The firewall states of the matrix: the NAT address of loopback clients
// admitted by a rule; denied because no rule matches it; and public access
// disabled although a rule matches.
var (
	admittedRules = map[string]any{"properties": map[string]any{
		"publicNetworkAccess": "Enabled",
		"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": natAddr}},
		},
	}}
	deniedRules = map[string]any{"properties": map[string]any{
		"publicNetworkAccess": "Enabled",
		"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": "198.51.100.7"}},
		},
	}}
	disabledRules = map[string]any{"properties": map[string]any{
		"publicNetworkAccess": "Disabled",
		"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": natAddr}},
		},
	}}
)

// TestClients runs every client through the firewall states: admitted by
// an IP rule, denied by the default action, and shut out by disabled public
// access. Each client logs in, pushes, lists tags, pulls and deletes as far
// as it can, and must print a 403 or ACR's denial when refused.
func TestClients(t *testing.T) {
	tools := clientTools(t)
	in := startAcremu(t)
	const rg, name = "acremu", "myregistry"
	host := in.Host()
	password := in.adminPassword(rg, name)

	clients := []*registryClient{
		newDockerClient(t, host),
		newCraneClient(t, tools, in, false, name, password),
		newCraneClient(t, tools, in, true, name, password),
		newOrasClient(t, tools, host),
		newRegctlClient(t, tools, host),
		newSkopeoClient(t, in, false),
		newSkopeoClient(t, in, true),
	}

	in.patchRegistry(rg, name, admittedRules)
	t.Run("admitted by an IP rule", func(t *testing.T) {
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) { c.requireAdmitted(t, name, password) })
		}
	})

	for _, phase := range []struct {
		name  string
		rules map[string]any
	}{
		{"denied by default action", deniedRules},
		{"public access disabled", disabledRules},
	} {
		in.patchRegistry(rg, name, phase.rules)
		t.Run(phase.name, func(t *testing.T) {
			for _, c := range clients {
				t.Run(c.name, func(t *testing.T) { c.requireDenied(t, host, name, password) })
			}
		})
	}

	in.patchRegistry(rg, name, admittedRules)
	t.Run("denied requests changed nothing", func(t *testing.T) {
		for _, c := range clients {
			t.Run(c.name, func(t *testing.T) {
				want := []string{"v1"}
				if c.delete == nil {
					want = append(want, "v2")
				}
				require.Equal(t, want, registryTags(t, host, name, password, c.repo))
				r, data := c.pull(t, "v1")
				r.MustSucceed(t)
				require.Equal(t, clientContent(c.name, "v1"), data)
			})
		}
	})

	t.Run("realm follows the Host", func(t *testing.T) { requireRealmFollowsHost(t, tools, in, name, password) })
}

// requireAdmitted pushes v1 and v2, lists both, pulls v1 and deletes v2.
func (c *registryClient) requireAdmitted(t *testing.T, user, password string) {
	t.Run("login", func(t *testing.T) {
		if c.login == nil {
			t.Skip("no login that contacts the registry; credentials are written at set-up")
		}
		c.login(t, user, password).MustSucceed(t)
	})
	t.Run("push", func(t *testing.T) {
		c.push(t, "v1").MustSucceed(t)
		c.push(t, "v2").MustSucceed(t)
	})
	t.Run("list tags", func(t *testing.T) {
		if c.tags == nil {
			t.Skip("no tag listing")
		}
		r, tags := c.tags(t, "")
		r.MustSucceed(t)
		require.Equal(t, []string{"v1", "v2"}, sortedLines(tags), r.Combined)
	})
	t.Run("pull", func(t *testing.T) {
		r, data := c.pull(t, "v1")
		r.MustSucceed(t)
		require.Equal(t, clientContent(c.name, "v1"), data, r.Combined)
	})
	t.Run("delete", func(t *testing.T) {
		if c.delete == nil {
			t.Skip("no delete")
		}
		c.delete(t, "v2").MustSucceed(t)
		if c.tags != nil {
			r, tags := c.tags(t, "")
			r.MustSucceed(t)
			require.Equal(t, []string{"v1"}, sortedLines(tags), r.Combined)
		}
	})
}

// requireDenied runs every operation and requires each to fail with the
// client's own rendering of the firewall's 403.
func (c *registryClient) requireDenied(t *testing.T, host, user, password string) {
	refused := func(t *testing.T, opName string, r result) {
		t.Helper()
		require.Error(t, r.Err, "%s succeeded although the firewall denies it:\n%s", opName, r.Combined)
		pattern, ok := c.denied[opName]
		if !ok {
			pattern = c.denied[""]
		}
		pattern = strings.NewReplacer(
			"{host}", regexp.QuoteMeta(host),
			"{denied}", regexp.QuoteMeta(fmt.Sprintf("client with IP '%s' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", natAddr)),
		).Replace(pattern)
		assert.Regexp(t, pattern, r.Combined)
		assert.Regexp(t, `403|(?i)denied`, r.Combined)
	}
	t.Run("login", func(t *testing.T) {
		if c.login == nil {
			t.Skip("no login that contacts the registry")
		}
		refused(t, "login", c.login(t, user, password))
	})
	t.Run("push", func(t *testing.T) { refused(t, "push", c.push(t, "v3")) })
	t.Run("list tags", func(t *testing.T) {
		if c.tags == nil {
			t.Skip("no tag listing")
		}
		r, _ := c.tags(t, "")
		refused(t, "tags", r)
	})
	t.Run("pull", func(t *testing.T) {
		r, _ := c.pull(t, "v1")
		refused(t, "pull", r)
	})
	t.Run("delete", func(t *testing.T) {
		if c.delete == nil {
			t.Skip("no delete")
		}
		refused(t, "delete", c.delete(t, "v1"))
	})
}

// registryTags lists a repository's tags over plain HTTP with the admin
// user's Basic credentials, independently of any client.
func registryTags(t *testing.T, host, user, password, repo string) []string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/tags/list", nil)
	require.NoError(t, err)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var list struct {
		Tags []string `json:"tags"`
	}
	require.NoError(t, decodeJSON(resp, &list))
	slices.Sort(list.Tags)
	return list.Tags
}

// sortedLines splits s into its non-empty lines, sorted.
func sortedLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// jsonTags reads the tag list of skopeo list-tags.
func jsonTags(b []byte) (string, error) {
	var v struct{ Tags []string }
	if err := json.Unmarshal(b, &v); err != nil {
		return "", err
	}
	return strings.Join(v.Tags, "\n"), nil
}

// withData reads an operation's data after its command succeeded; an error
// reading it fails the operation.
func withData(r result, read func() (string, error)) (result, string) {
	if r.Err != nil {
		return r, ""
	}
	data, err := read()
	r.Err = err
	return r, data
}
