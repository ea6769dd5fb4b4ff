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

func TestRegistriesList(t *testing.T) {
	e := newEnv(t)
	e.createRegistry("lab", "basicreg1", "Basic", nil)
	e.createRegistry("lab", "lockedreg", "Premium", map[string]any{"properties": map[string]any{
		"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []map[string]string{{"value": "198.51.100.0/24"}, {"value": "192.0.2.1"}}}}})
	u := e.newUser()
	u.signIn()
	page := u.get("/portal/")
	require.Equal(t, http.StatusOK, page.status)
	assert.Contains(t, page.body, "3 container registries")
	row := func(name string) string {
		m := regexp.MustCompile(`(?s)<tr>\s*<th scope="row"><a href="[^"]*/` + name + `">` + name + `</a></th>(.*?)</tr>`).FindStringSubmatch(page.body)
		require.NotNil(t, m, name)
		return m[1]
	}
	assert.Regexp(t, `(?s)<td>acremu</td>.*<td>Premium</td>.*<code>localhost:5000</code>.*<td>All networks</td>`, row("myregistry"))
	assert.Regexp(t, `(?s)<td>lab</td>.*<td>Basic</td>`, row("basicreg1"))
	assert.Contains(t, row("lockedreg"), "Selected networks (2 address ranges)")
	assert.Contains(t, page.body, `href="/portal/groups/lab/delete"`)
}

func TestCreateRegistry(t *testing.T) {
	tests := []struct {
		name      string
		form      url.Values
		wantField string // the field that shows the error; "" = created
		wantMsg   string
	}{
		{"new group and Premium registry", url.Values{"name": {"labreg01"}, "group": {"lab"}, "location": {"westeurope"}, "sku": {"Premium"}}, "", ""},
		{"existing group", url.Values{"name": {"labreg02"}, "group": {"acremu"}, "location": {"eastus"}, "sku": {"Standard"}}, "", ""},
		{"name too short", url.Values{"name": {"ab"}, "group": {"lab"}, "location": {"eastus"}, "sku": {"Basic"}}, "name",
			"The registry name 'ab' is invalid. Registry names must be 5 to 50 characters long and may contain only alphanumeric characters."},
		{"name taken", url.Values{"name": {"MyRegistry"}, "group": {"lab"}, "location": {"eastus"}, "sku": {"Basic"}}, "name",
			"The registry MyRegistry is already in use."},
		{"bad group name", url.Values{"name": {"labreg03"}, "group": {"bad group!"}, "location": {"eastus"}, "sku": {"Basic"}}, "group",
			"The provided resource group name 'bad group!' has these invalid characters"},
		{"unknown SKU", url.Values{"name": {"labreg04"}, "group": {"acremu"}, "location": {"eastus"}, "sku": {"Gold"}}, "sku",
			"The SKU 'Gold' is invalid. Valid SKUs are Basic, Standard and Premium."},
		{"empty location", url.Values{"name": {"labreg05"}, "group": {"acremu"}, "location": {""}, "sku": {"Basic"}}, "location", "A value is required."},
		{"slash in a name", url.Values{"name": {"a/b/c"}, "group": {"acremu"}, "location": {"eastus"}, "sku": {"Basic"}}, "name", "The value contains characters that are not allowed here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			u := e.newUser()
			u.signIn()
			u.get("/portal/create")
			before := e.snapshot()
			r := u.post("/portal/create", tt.form)
			if tt.wantField == "" {
				name, rg := tt.form.Get("name"), tt.form.Get("group")
				require.Equal(t, http.StatusSeeOther, r.status, r.body)
				assert.Equal(t, "/portal/registries/"+rg+"/"+name+"?done=created", r.location)
				res := e.arm.Request(http.MethodGet, testarm.RegistryPath(rg, name), nil)
				require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
				body := res.JSON(t)
				assert.Equal(t, tt.form.Get("sku"), body["sku"].(map[string]any)["name"])
				assert.Equal(t, tt.form.Get("location"), body["location"])
				assert.Equal(t, false, body["properties"].(map[string]any)["adminUserEnabled"])
				page := u.get(r.location)
				assert.Contains(t, page.body, "The registry was created.")
				assert.Contains(t, page.body, "docker login localhost:5000 --username "+name)
				return
			}
			require.GreaterOrEqual(t, r.status, 400, r.body)
			assert.Contains(t, r.body, `<p class="field-error" id="`+tt.wantField+`-error">`+htmlText(tt.wantMsg))
			assert.Equal(t, before, e.snapshot(), "nothing created")
		})
	}
}

func TestAccessKeys(t *testing.T) {
	e := newEnv(t)
	e.createRegistry("lab", "keysreg1", "Standard", nil)
	u := e.newUser()
	u.signIn()
	path := "/portal/registries/lab/keysreg1/keys"
	page := u.get(path)
	assert.Contains(t, page.body, `<span id="admin-state">Disabled</span>`)
	assert.NotContains(t, page.body, `id="pw-password"`)

	r := u.post(path, url.Values{"op": {"admin-on"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	page = u.get(r.location)
	assert.Contains(t, page.body, "The admin user is enabled.")
	pw := regexp.MustCompile(`id="pw-password" type="password" value="([^"]+)"`).FindStringSubmatch(page.body)
	require.NotNil(t, pw)
	assert.Contains(t, page.body, `id="username" value="keysreg1"`)
	assert.Contains(t, u.get(path+"?show=password2").body, `id="pw-password2" type="text"`)

	r = u.post(path, url.Values{"op": {"regenerate:password"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	page = u.get(r.location)
	assert.Contains(t, page.body, "The password was regenerated.")
	assert.NotContains(t, page.body, pw[1])

	r = u.post(path, url.Values{"op": {"regenerate:password3"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, r.body, "InvalidPasswordName")

	r = u.post(path, url.Values{"op": {"admin-off"}})
	require.Equal(t, http.StatusSeeOther, r.status)
	res := e.arm.Request(http.MethodGet, testarm.RegistryPath("lab", "keysreg1"), nil)
	require.Equal(t, http.StatusOK, res.Code, "%s", res.Body)
	assert.Equal(t, false, res.JSON(t)["properties"].(map[string]any)["adminUserEnabled"])
}

func TestDeleteRegistryAndGroup(t *testing.T) {
	e := newEnv(t)
	e.createRegistry("lab", "doomed01", "Basic", nil)
	e.createRegistry("lab", "doomed02", "Premium", nil)
	u := e.newUser()
	u.signIn()

	page := u.get("/portal/registries/lab/doomed01/delete")
	assert.Contains(t, page.body, "Type the registry name to confirm")
	before := e.snapshot()
	r := u.post("/portal/registries/lab/doomed01/delete", url.Values{"confirm": {"doomed0"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, before, e.snapshot())
	r = u.post("/portal/registries/lab/doomed01/delete", url.Values{"confirm": {"doomed01"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Contains(t, u.get(r.location).body, "The registry was deleted.")
	assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodGet, testarm.RegistryPath("lab", "doomed01"), nil).Code)

	page = u.get("/portal/groups/lab/delete")
	assert.Regexp(t, `<ul><li>doomed02</li></ul>`, page.body)
	before = e.snapshot()
	r = u.post("/portal/groups/lab/delete", url.Values{"confirm": {"acremu"}})
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, before, e.snapshot())
	r = u.post("/portal/groups/lab/delete", url.Values{"confirm": {"lab"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Contains(t, u.get(r.location).body, "The resource group and its registries were deleted.")
	assert.Equal(t, http.StatusNotFound, e.arm.Request(http.MethodGet, testarm.GroupPath("lab"), nil).Code)
	assert.Equal(t, []string{"doomed01", "doomed02"}, e.hooks.deleted, "the front end removes their images")
	assert.Equal(t, 404, u.get("/portal/groups/lab/delete").status)
}

func TestOverviewAndErrors(t *testing.T) {
	e := newEnv(t)
	u := e.newUser()
	u.signIn()
	page := u.get("/portal/registries/acremu/myregistry")
	require.Equal(t, http.StatusOK, page.status)
	for _, want := range []string{"myregistry | Overview", `<code id="login-server">localhost:5000</code>`, "Premium",
		"docker login localhost:5000 --username myregistry", "az acr login --name myregistry", `aria-current="page">Overview`} {
		assert.Contains(t, page.body, want)
	}
	r := u.get("/portal/registries/acremu/nosuchreg")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Contains(t, r.body, "ResourceNotFound")
	assert.Equal(t, http.StatusNotFound, u.get("/portal/no/such/page").status)
	assert.True(t, strings.HasPrefix(u.get("/portal").location, "/portal/"))
}
