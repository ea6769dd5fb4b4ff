//go:build e2e

package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the OCI distribution-spec conformance suite against
// acremu's default registry with its firewall in Deny mode, as ACR users
// run it: first from a client an IP rule admits (it must pass at least the
// recorded baseline, see docs/conformance.md), then from a client no rule
// admits (every request must be refused with 403 DENIED).
func TestConformance(t *testing.T) {
	bin := conformanceBinary(t)
	t.Logf("suite: %s", conformanceVersion(bin))
	in := startAcremu(t)
	const rg, name = "acremu", "myregistry"
	password := in.adminPassword(rg, name)
	setRule := func(value string) {
		in.patchRegistry(rg, name, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{
			"defaultAction": "Deny", "ipRules": []map[string]string{{"action": "Allow", "value": value}},
		}}})
	}
	// Denials are counted from the metrics, which are exact; the log
	// is rate-limited per client.
	denials := func() int {
		t.Helper()
		resp, err := http.Get(in.URL("/_acremu/metrics"))
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "acremu_firewall_requests_total{") &&
				strings.Contains(line, `decision="denied"`) && strings.Contains(line, `registry="`+name+`"`) {
				n, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
				require.NoError(t, err, line)
				return int(n)
			}
		}
		return 0
	}

	t.Run("admitted client passes the baseline", func(t *testing.T) {
		setRule(natAddr)
		before := denials()
		run := runConformance(t, bin, in.Host(), name, password)
		logConformance(t, "admitted", run, true)
		assert.Equal(t, before, denials(), "the rule admits the suite's client, so the firewall refuses nothing")

		base := conformanceBaseline(t)
		assert.GreaterOrEqual(t, run.Summary["Pass"], base["passed"], "suite summary: passed fell below the baseline")
		assert.GreaterOrEqual(t, run.JUnit.Passed, base["junit-passed"], "junit: passed fell below the baseline")
		if run.Summary["Pass"] > base["passed"] || run.JUnit.Passed > base["junit-passed"] {
			t.Logf("above the baseline (%d / %d): raise e2e/testdata/conformance-baseline.txt", base["passed"], base["junit-passed"])
		}
	})

	// The suite runs through a recording proxy, so every request it sends
	// is accounted for independently of the suite's own report: each one
	// must have been answered 403 with ACR's DENIED body, and acremu must
	// have logged one firewall denial per request, which shows the
	// refusals came from the firewall and that no request got past it.
	t.Run("denied client gets 403 DENIED on every request", func(t *testing.T) {
		setRule("198.51.100.0/24") // does not match the client's (NAT) address
		proxy := newRecordingProxy(t, in.URL(""))
		before := denials()
		run := runConformance(t, bin, proxy.hostPort(), name, password,
			"OCI_REPO1=conformance/denied1", "OCI_REPO2=conformance/denied2")
		logConformance(t, "denied", run, false)

		log := proxy.exchanges()
		require.NotEmpty(t, log, "the suite sent no request")
		wantMessage := strings.TrimPrefix(deniedMessage, "denied: ")
		for _, ex := range log {
			require.Equal(t, http.StatusForbidden, ex.Status, "%s %s got through: %s", ex.Method, ex.Path, ex.Body)
			if ex.Method == http.MethodHead {
				continue // no body
			}
			var body struct {
				Errors []struct{ Code, Message string } `json:"errors"`
			}
			require.NoError(t, json.Unmarshal([]byte(ex.Body), &body), "%s %s: %s", ex.Method, ex.Path, ex.Body)
			require.Len(t, body.Errors, 1)
			require.Equal(t, "DENIED", body.Errors[0].Code)
			require.Equal(t, wantMessage, body.Errors[0].Message)
		}
		assert.Equal(t, len(log), denials()-before, "one firewall denial per request")
		// The suite's own verdict agrees: every test case fails except
		// "ping", which only checks that GET /v2/ gets an answer, whatever
		// its status.
		assert.LessOrEqual(t, run.Summary["Pass"], 1, "suite summary")
		for name := range run.JUnit.PassedNames {
			assert.Equal(t, "ping", name, "a test case passed without access")
		}
		t.Logf("denied: %d requests, all 403 DENIED", len(log))

		// Nothing was stored: the denied run's repositories do not exist,
		// while the admitted run's does. (The catalog hides repositories
		// left without manifests, as ACR does, and the suite deletes its
		// manifests at the end, so existence is asked per repository.)
		setRule(natAddr)
		tagsStatus := func(repo string) int {
			t.Helper()
			req, err := http.NewRequest(http.MethodGet, in.URL("/v2/"+repo+"/tags/list"), nil)
			require.NoError(t, err)
			req.SetBasicAuth(name, password)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp.StatusCode
		}
		assert.Equal(t, http.StatusOK, tagsStatus("conformance/repo1"), "the admitted run's repository exists")
		assert.Equal(t, http.StatusNotFound, tagsStatus("conformance/denied1"))
		assert.Equal(t, http.StatusNotFound, tagsStatus("conformance/denied2"))
	})
}
