package portal_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/internal/testarm"
)

// peEnv is an env with a Premium registry and two private endpoints from
// the virtual network corp: one approved at once, one manual request
// waiting as Pending.
func peEnv(t *testing.T) (e *env, approved, pending string) {
	t.Helper()
	e = newEnv(t)
	e.createRegistry("rg", "peregistry", "Premium", nil)
	e.createRegistry("rg", "basicregistry", "Basic", nil)
	vnet := testarm.GroupPath("rg") + "/providers/Microsoft.Network/virtualNetworks/corp"
	res := e.arm.Request(http.MethodPut, vnet, map[string]any{"location": "eastus", "properties": map[string]any{
		"addressSpace": map[string]any{"addressPrefixes": []string{"10.77.0.0/16"}},
		"subnets":      []any{map[string]any{"name": "default", "properties": map[string]any{"addressPrefix": "10.77.1.0/24"}}}}})
	require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	for _, pe := range []struct {
		name, key string
	}{{"corp-auto", "privateLinkServiceConnections"}, {"corp-manual", "manualPrivateLinkServiceConnections"}} {
		res := e.arm.Request(http.MethodPut, testarm.GroupPath("rg")+"/providers/Microsoft.Network/privateEndpoints/"+pe.name, map[string]any{
			"location": "eastus", "properties": map[string]any{
				"subnet": map[string]any{"id": vnet + "/subnets/default"},
				pe.key: []any{map[string]any{"name": pe.name, "properties": map[string]any{
					"privateLinkServiceId": testarm.RegistryPath("rg", "peregistry"), "groupIds": []string{"registry"}, "requestMessage": "please"}}},
			}})
		require.Equal(t, http.StatusCreated, res.Code, "%s", res.Body)
	}
	for name, status := range e.connectionStates("rg", "peregistry") {
		switch {
		case strings.HasPrefix(name, "corp-auto.") && status == "Approved":
			approved = name
		case strings.HasPrefix(name, "corp-manual.") && status == "Pending":
			pending = name
		}
	}
	require.NotEmpty(t, approved)
	require.NotEmpty(t, pending)
	return e, approved, pending
}

// connectionStates is each private endpoint connection's status, by name,
// as ARM reports them.
func (e *env) connectionStates(rg, name string) map[string]string {
	e.t.Helper()
	res := e.arm.Request(http.MethodGet, testarm.RegistryPath(rg, name)+"/privateEndpointConnections", nil)
	require.Equal(e.t, http.StatusOK, res.Code, "%s", res.Body)
	m := res.JSON(e.t)
	out := map[string]string{}
	for _, c := range m["value"].([]any) {
		c := c.(map[string]any)
		state := c["properties"].(map[string]any)["privateLinkServiceConnectionState"].(map[string]any)
		out[c["name"].(string)] = state["status"].(string)
	}
	return out
}

func (e *env) connectionDescription(rg, name, conn string) string {
	e.t.Helper()
	res := e.arm.Request(http.MethodGet, testarm.ChildPath(testarm.RegistryPath(rg, name), "privateEndpointConnections", conn), nil)
	require.Equal(e.t, http.StatusOK, res.Code, "%s", res.Body)
	m := res.JSON(e.t)
	return m["properties"].(map[string]any)["privateLinkServiceConnectionState"].(map[string]any)["description"].(string)
}

const pePath = "/portal/registries/rg/peregistry/networking"

// connectionRow is the table row of one connection.
func connectionRow(t *testing.T, body, name string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<tr>\s*<td data-label="Connection name"><code>` + regexp.QuoteMeta(name) + `</code>.*?</tr>`)
	row := re.FindString(body)
	require.NotEmpty(t, row, "no row for %s in:\n%s", name, body)
	return row
}

func TestPrivateAccessTabListsConnections(t *testing.T) {
	e, approved, pending := peEnv(t)
	u := e.newUser()
	u.signIn()

	r := u.get(pePath + "?tab=private")
	require.Equal(t, http.StatusOK, r.status, r.body)
	assert.Contains(t, r.body, "Connections (2)")
	row := connectionRow(t, r.body, approved)
	assert.Contains(t, row, "corp-auto")
	assert.Contains(t, row, "resource group rg")
	assert.Contains(t, row, ">Approved<")
	assert.Contains(t, row, "Auto-Approved")
	assert.NotContains(t, row, `value="approve"`, "an approved connection has no Approve button")
	assert.Contains(t, row, `value="reject"`)
	row = connectionRow(t, r.body, pending)
	assert.Contains(t, row, ">Pending<")
	assert.Contains(t, row, "please")
	assert.Contains(t, row, `value="approve"`)
	assert.Contains(t, row, `value="reject"`)
	assert.Contains(t, row, `name="csrf" value="`+u.csrf+`"`)
	assert.Contains(t, row, `action="/portal/registries/rg/peregistry/networking/connections"`)

	// The public tab does not list them.
	r = u.get(pePath)
	require.Equal(t, http.StatusOK, r.status)
	assert.NotContains(t, r.body, "Connections (")

	// A registry that cannot take private endpoints says so.
	r = u.get("/portal/registries/rg/basicregistry/networking?tab=private")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, "Private endpoints require the Premium pricing plan")

	// No connections: the empty row.
	e.createRegistry("rg", "lonelyregistry", "Premium", nil)
	r = u.get("/portal/registries/rg/lonelyregistry/networking?tab=private")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, r.body, "Connections (0)")
	assert.Contains(t, r.body, "No private endpoint connections")
}

func TestPrivateAccessApproveAndReject(t *testing.T) {
	e, approved, pending := peEnv(t)
	u := e.newUser()
	u.signIn()
	u.get(pePath + "?tab=private")
	action := pePath + "/connections"

	r := u.post(action, url.Values{"op": {"approve"}, "connection": {pending}, "description": {"  ok from the portal "}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Equal(t, pePath+"?tab=private&done=connection-approved", r.location)
	assert.Equal(t, "Approved", e.connectionStates("rg", "peregistry")[pending])
	assert.Equal(t, "ok from the portal", e.connectionDescription("rg", "peregistry", pending))
	r = u.get(r.location)
	assert.Contains(t, r.body, "The private endpoint connection is approved.")
	assert.NotContains(t, connectionRow(t, r.body, pending), `value="approve"`)

	r = u.post(action, url.Values{"op": {"reject"}, "connection": {approved}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Equal(t, pePath+"?tab=private&done=connection-rejected", r.location)
	assert.Equal(t, "Rejected", e.connectionStates("rg", "peregistry")[approved])
	r = u.get(r.location)
	assert.Contains(t, r.body, "The private endpoint connection is rejected.")
	row := connectionRow(t, r.body, approved)
	assert.Contains(t, row, ">Rejected<")
	assert.NotContains(t, row, "<form", "a rejected connection takes no action")

	// ARM refuses to approve a rejected connection: its error comes back
	// on the tab and nothing changes.
	r = u.post(action, url.Values{"op": {"approve"}, "connection": {approved}})
	assert.Equal(t, http.StatusBadRequest, r.status, r.body)
	assert.Contains(t, r.body, "CannotChangeRejectedPrivateEndpointConnection")
	assert.Contains(t, r.body, "Connections (2)")
	assert.Equal(t, "Rejected", e.connectionStates("rg", "peregistry")[approved])

	// An unknown connection is ARM's 404.
	r = u.post(action, url.Values{"op": {"approve"}, "connection": {"nosuchconnection"}})
	assert.Equal(t, http.StatusNotFound, r.status, r.body)
}

func TestPrivateAccessFormsAreChecked(t *testing.T) {
	e, approved, pending := peEnv(t)
	u := e.newUser()
	u.signIn()
	u.get(pePath + "?tab=private")
	action := pePath + "/connections"
	before := e.connectionStates("rg", "peregistry")

	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"no CSRF token", url.Values{"op": {"reject"}, "connection": {approved}, "csrf": {""}}, http.StatusForbidden},
		{"wrong CSRF token", url.Values{"op": {"reject"}, "connection": {approved}, "csrf": {"forged"}}, http.StatusForbidden},
		{"unknown action", url.Values{"op": {"delete"}, "connection": {approved}}, http.StatusBadRequest},
		{"no connection", url.Values{"op": {"approve"}}, http.StatusBadRequest},
		{"a path in the name", url.Values{"op": {"approve"}, "connection": {"../../" + pending}}, http.StatusBadRequest},
		{"dot dot", url.Values{"op": {"approve"}, "connection": {".."}}, http.StatusBadRequest},
		{"long description", url.Values{"op": {"approve"}, "connection": {pending}, "description": {strings.Repeat("x", 141)}}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := u.forTest(t)
			e := e.forTest(t)
			r := u.post(action, tc.form)
			assert.Equal(t, tc.status, r.status, r.body)
			assert.Equal(t, before, e.connectionStates("rg", "peregistry"), "nothing changed")
		})
	}

	t.Run("signed out", func(t *testing.T) {
		u := u.forTest(t)
		e := e.forTest(t)
		anon := e.newUser()
		anon.csrf = u.csrf
		r := anon.post(action, url.Values{"op": {"reject"}, "connection": {approved}})
		assert.NotEqual(t, http.StatusSeeOther, r.status)
		assert.Equal(t, before, e.connectionStates("rg", "peregistry"))
	})
}
