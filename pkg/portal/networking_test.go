package portal_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/portal"
)

const netPath = "/portal/registries/acremu/myregistry/networking"

func TestNetworkingMapsChoicesToARM(t *testing.T) {
	tests := []struct {
		name        string
		startRules  []string
		form        url.Values
		wantPatch   string
		wantAccess  string
		wantDefault string
		wantRules   []string
	}{
		{
			name: "selected networks with the client IP checkbox",
			form: url.Values{"access": {"selected"}, "clientipoffered": {"1"}, "clientip": {"on"}, "trusted": {"on"}},
			wantPatch: `{"properties":{"publicNetworkAccess":"Enabled","networkRuleBypassOptions":"AzureServices",` +
				`"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"203.0.113.10"}]}}}`,
			wantAccess: "Enabled", wantDefault: "Deny", wantRules: []string{natAddr},
		},
		{
			name: "selected networks with typed ranges",
			form: url.Values{"access": {"selected"}, "rule": {"198.51.100.0/24"}, "newrule": {"192.0.2.1, 203.0.113.0/28"}, "trusted": {"on"}},
			wantPatch: `{"properties":{"publicNetworkAccess":"Enabled","networkRuleBypassOptions":"AzureServices",` +
				`"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"198.51.100.0/24"},` +
				`{"action":"Allow","value":"192.0.2.1"},{"action":"Allow","value":"203.0.113.0/28"}]}}}`,
			wantAccess: "Enabled", wantDefault: "Deny", wantRules: []string{"198.51.100.0/24", "192.0.2.1", "203.0.113.0/28"},
		},
		{
			name: "all networks keeps the ranges",
			form: url.Values{"access": {"all"}, "rule": {"198.51.100.0/24"}, "trusted": {"on"}},
			wantPatch: `{"properties":{"publicNetworkAccess":"Enabled","networkRuleBypassOptions":"AzureServices",` +
				`"networkRuleSet":{"defaultAction":"Allow","ipRules":[{"action":"Allow","value":"198.51.100.0/24"}]}}}`,
			wantAccess: "Enabled", wantDefault: "Allow", wantRules: []string{"198.51.100.0/24"},
		},
		{
			name:       "disabled sets only public network access",
			startRules: []string{"198.51.100.7"},
			form:       url.Values{"access": {"disabled"}, "rule": {"198.51.100.7"}, "trusted": {"on"}},
			wantPatch:  `{"properties":{"publicNetworkAccess":"Disabled","networkRuleBypassOptions":"AzureServices"}}`,
			wantAccess: "Disabled", wantDefault: "Deny", wantRules: []string{"198.51.100.7"},
		},
		{
			name:       "unchecking the client IP removes it",
			startRules: []string{natAddr, "198.51.100.7"},
			form:       url.Values{"access": {"selected"}, "rule": {natAddr, "198.51.100.7"}, "clientipoffered": {"1"}, "trusted": {"on"}},
			wantPatch: `{"properties":{"publicNetworkAccess":"Enabled","networkRuleBypassOptions":"AzureServices",` +
				`"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"198.51.100.7"}]}}}`,
			wantAccess: "Enabled", wantDefault: "Deny", wantRules: []string{"198.51.100.7"},
		},
		{
			name: "trusted services off",
			form: url.Values{"access": {"all"}},
			wantPatch: `{"properties":{"publicNetworkAccess":"Enabled","networkRuleBypassOptions":"None",` +
				`"networkRuleSet":{"defaultAction":"Allow","ipRules":[]}}}`,
			wantAccess: "Enabled", wantDefault: "Allow", wantRules: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &armLog{}
			e := newEnv(t, recordPatches(log))
			if tt.startRules != nil {
				rules := []map[string]string{}
				for _, r := range tt.startRules {
					rules = append(rules, map[string]string{"value": r})
				}
				res := e.arm.Request(http.MethodPatch, testarm.RegistryPath("acremu", "myregistry"), map[string]any{"properties": map[string]any{
					"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": rules}}})
				require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			}
			u := e.newUser()
			u.signIn()
			u.get(netPath)
			tt.form.Set("op", "save")
			r := u.post(netPath, tt.form)
			require.Equal(t, http.StatusSeeOther, r.status, r.body)
			assert.Equal(t, netPath+"?done=network-saved", r.location)
			assert.JSONEq(t, tt.wantPatch, log.last())
			access, def, rules := e.network("acremu", "myregistry")
			assert.Equal(t, tt.wantAccess, access)
			assert.Equal(t, tt.wantDefault, def)
			assert.Equal(t, tt.wantRules, rules)
			assert.Contains(t, u.get(r.location).body, "Saved the network settings.")
		})
	}
}

func TestNetworkingShowsSavedState(t *testing.T) {
	tests := []struct {
		name      string
		patch     map[string]any
		wantCheck string // the radio that is checked
	}{
		{"all networks", map[string]any{"publicNetworkAccess": "Enabled", "networkRuleSet": map[string]any{"defaultAction": "Allow"}}, "access-all"},
		{"selected networks", map[string]any{"publicNetworkAccess": "Enabled", "networkRuleSet": map[string]any{"defaultAction": "Deny"}}, "access-selected"},
		{"disabled wins over deny", map[string]any{"publicNetworkAccess": "Disabled", "networkRuleSet": map[string]any{"defaultAction": "Deny"}}, "access-disabled"},
		{"disabled wins over allow", map[string]any{"publicNetworkAccess": "Disabled", "networkRuleSet": map[string]any{"defaultAction": "Allow"}}, "access-disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			res := e.arm.Request(http.MethodPatch, testarm.RegistryPath("acremu", "myregistry"), map[string]any{"properties": tt.patch})
			require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
			u := e.newUser()
			u.signIn()
			page := u.get(netPath)
			require.Equal(t, http.StatusOK, page.status)
			assert.Equal(t, 1, strings.Count(page.body, " checked aria-describedby="), "exactly one access choice is checked")
			assert.Contains(t, page.body, `id="`+tt.wantCheck+`" name="access" value="`+strings.TrimPrefix(tt.wantCheck, "access-")+`" checked`)
		})
	}
}

func TestNetworkingInvalidEntriesSaveNothing(t *testing.T) {
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("198.51.%d.%d", i/200, i%200+1)
	}
	tests := []struct {
		name    string
		form    url.Values
		wantMsg string
		inRow   bool // the error sits on a table row, not on the new-range field
	}{
		{"private range", url.Values{"newrule": {"10.0.0.0/8"}}, "The IP rule value '10.0.0.0/8' is invalid: 10.0.0.0/8 overlaps the private range 10.0.0.0/8", false},
		{"IPv6", url.Values{"newrule": {"2001:db8::1"}}, "The IP rule value '2001:db8::1' is invalid", false},
		{"malformed", url.Values{"newrule": {"1.2.3"}}, "The IP rule value '1.2.3' is invalid", false},
		{"prefix too long", url.Values{"newrule": {"198.51.100.0/33"}}, "The IP rule value '198.51.100.0/33' is invalid", false},
		{"loopback in the table", url.Values{"rule": {"198.51.100.7", "127.0.0.1"}}, "The IP rule value '127.0.0.1' is invalid", true},
		{"more than 100", url.Values{"rule": many}, "The requested feature IP rule exceeds allowed quota 100 for the SKU Premium.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.newUser()
			u.signIn()
			u.get(netPath)
			before := e.snapshot()
			tt.form.Set("op", "save")
			tt.form.Set("access", "selected")
			r := u.post(netPath, tt.form)
			require.Equal(t, http.StatusBadRequest, r.status, r.body)
			assert.Contains(t, r.body, "Nothing was saved")
			assert.Contains(t, r.body, "Unsaved changes")
			if tt.inRow {
				assert.Regexp(t, `<tr class="invalid">\s*<td><input type="hidden" name="rule" value="127.0.0.1"><code>127.0.0.1</code><p class="field-error">`+
					`The IP rule value &#39;127.0.0.1&#39; is invalid`, r.body)
			} else {
				assert.Contains(t, r.body, `aria-invalid="true"`)
				assert.Contains(t, r.body, `<p class="field-error" id="newrule-error">`+htmlText(tt.wantMsg))
			}
			assert.Equal(t, before, e.snapshot())
		})
	}
}

// htmlText is s as html/template writes it in text.
func htmlText(s string) string { return strings.ReplaceAll(s, "'", "&#39;") }

func TestNetworkingAddAndDeleteArePending(t *testing.T) {
	e := newEnv(t)
	u := e.newUser()
	u.signIn()
	u.get(netPath)
	before := e.snapshot()

	r := u.post(netPath, url.Values{"op": {"add"}, "access": {"selected"}, "rule": {"198.51.100.7"}, "newrule": {"192.0.2.0/24 203.0.113.5"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	for _, v := range []string{"198.51.100.7", "192.0.2.0/24", "203.0.113.5"} {
		assert.Contains(t, r.body, `name="rule" value="`+v+`"`)
	}
	assert.Contains(t, r.body, `id="newrule" name="newrule" value=""`)
	assert.Contains(t, r.body, "Unsaved changes")

	r = u.post(netPath, url.Values{"op": {"remove:192.0.2.0/24"}, "access": {"selected"}, "rule": {"198.51.100.7", "192.0.2.0/24", "203.0.113.5"}})
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.NotContains(t, r.body, `value="192.0.2.0/24"`)
	assert.Contains(t, r.body, `name="rule" value="203.0.113.5"`)
	assert.Equal(t, before, e.snapshot(), "add and delete change nothing until Save")

	r = u.post(netPath, url.Values{"op": {"bogus"}, "access": {"selected"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	r = u.post(netPath, url.Values{"op": {"save"}, "access": {"sometimes"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, before, e.snapshot())
}

func TestNetworkingClientIP(t *testing.T) {
	loop := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name     string
		client   firewall.Client
		want     string // text on the page
		checkbox bool
	}{
		{"loopback behind the default NAT", firewall.Client{Peer: loop, Source: loop, Addr: netip.MustParseAddr(natAddr)},
			"Add your client IP address ('203.0.113.10')", true},
		{"a public address", firewall.Client{Peer: netip.MustParseAddr("198.51.100.20"), Source: netip.MustParseAddr("198.51.100.20"), Addr: netip.MustParseAddr("198.51.100.20")},
			"Add your client IP address ('198.51.100.20')", true},
		{"loopback without NAT", firewall.Client{Peer: loop, Source: loop, Addr: loop},
			"Your client address 127.0.0.1 cannot be an IP rule", false},
		{"a virtual network", firewall.Client{Peer: loop, Source: netip.MustParseAddr("10.1.2.3"), Addr: netip.MustParseAddr("198.51.100.21"), Network: "lab"},
			"in the virtual network &#39;lab&#39;", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.setClient(tt.client)
			u := e.newUser()
			u.signIn()
			page := u.get(netPath)
			assert.Contains(t, page.body, tt.want)
			assert.Equal(t, tt.checkbox, strings.Contains(page.body, `id="clientip"`))
			if !tt.checkbox {
				return
			}
			r := u.post(netPath, url.Values{"op": {"save"}, "access": {"selected"}, "clientipoffered": {"1"}, "clientip": {"on"}})
			require.Equal(t, http.StatusSeeOther, r.status, r.body)
			_, _, rules := e.network("acremu", "myregistry")
			assert.Equal(t, []string{tt.client.Addr.String()}, rules)
			assert.Contains(t, u.get(netPath).body, `id="clientip" name="clientip" checked`)
		})
	}
}

func TestNetworkingNeedsPremium(t *testing.T) {
	for _, sku := range []string{"Basic", "Standard"} {
		t.Run(sku, func(t *testing.T) {
			e := newEnv(t)
			e.createRegistry("lab", "plainreg", sku, nil)
			u := e.newUser()
			u.signIn()
			path := "/portal/registries/lab/plainreg/networking"
			page := u.get(path)
			require.Equal(t, http.StatusOK, page.status)
			assert.Contains(t, page.body, "Networking requires the Premium pricing plan")
			assert.Contains(t, page.body, "uses the "+sku+" plan")
			assert.NotContains(t, page.body, `name="access"`)
			before := e.snapshot()
			r := u.post(path, url.Values{"op": {"save"}, "access": {"selected"}})
			assert.Equal(t, http.StatusBadRequest, r.status)
			assert.Contains(t, r.body, "NetworkRuleSetNotSupported: Network rule set is not supported for the SKU "+sku+".")
			assert.Equal(t, before, e.snapshot())
		})
	}
}

func TestRecentDenialsPanel(t *testing.T) {
	e := newEnv(t)
	e.activity["myregistry"] = portal.Activity{Allowed: 7, Denied: 2, Recent: []portal.Denial{
		{Time: time.Date(2026, 3, 1, 12, 30, 5, 0, time.UTC), Method: "GET", Path: "/v2/samples/hello/manifests/v1",
			Source: netip.MustParseAddr("127.0.0.1"), Addr: netip.MustParseAddr(natAddr), Reason: "default action Deny and no IP rule matches"},
		{Time: time.Date(2026, 3, 1, 12, 30, 4, 0, time.UTC), Method: "GET", Path: "/v2/",
			Source: netip.MustParseAddr("127.0.0.1"), Addr: netip.MustParseAddr(natAddr), Reason: "public network access disabled"},
	}}
	u := e.newUser()
	u.signIn()
	page := u.get(netPath)
	assert.Contains(t, page.body, "admitted <strong>7</strong> and denied <strong>2</strong>")
	assert.Contains(t, page.body, "Last 2 denied requests, newest first")
	assert.Regexp(t, `2026-03-01 12:30:05</td><td data-label="Client address"><code>127.0.0.1</code></td><td data-label="Judged as"><code>203.0.113.10</code>`, page.body)
	assert.Contains(t, page.body, "<code>GET /v2/samples/hello/manifests/v1</code>")
	assert.Contains(t, page.body, "public network access disabled")
}
