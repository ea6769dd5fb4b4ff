//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// networkState is what ARM says about a registry's network settings.
type networkState struct {
	PublicNetworkAccess string
	DefaultAction       string
	IPRules             []string
}

func (in *instance) networkState(rg, name string) networkState {
	in.t.Helper()
	status, out := in.arm("GET", registryPath(rg, name), nil)
	require.Equal(in.t, 200, status, string(out))
	var reg struct {
		Properties struct {
			PublicNetworkAccess string `json:"publicNetworkAccess"`
			NetworkRuleSet      struct {
				DefaultAction string `json:"defaultAction"`
				IPRules       []struct {
					Value string `json:"value"`
				} `json:"ipRules"`
			} `json:"networkRuleSet"`
		} `json:"properties"`
	}
	require.NoError(in.t, json.Unmarshal(out, &reg))
	p := reg.Properties
	s := networkState{PublicNetworkAccess: p.PublicNetworkAccess, DefaultAction: p.NetworkRuleSet.DefaultAction, IPRules: []string{}}
	for _, r := range p.NetworkRuleSet.IPRules {
		s.IPRules = append(s.IPRules, r.Value)
	}
	return s
}

// TestPortalSeedSteps walks the seed document's portal steps in a real
// browser ("navigate to your container registry. Under Settings, select
// Networking. On the Public access tab, select to allow public access from
// Selected networks. Under Firewall, … Select Save.") and proves each
// outcome with the real docker daemon.
func TestPortalSeedSteps(t *testing.T) {
	in := startAcremu(t)
	shots := artifactsDir(t, "portal")
	t.Logf("portal screenshots: %s", shots)
	b := newBrowser(t, "http://"+in.Host(), shots)
	d := newDocker(t)
	const rg, name = "portal-lab", "portallab01"

	// Sign in as the service principal.
	require.EqualValues(t, 200, b.open("/portal/"))
	require.Equal(t, "Sign in", b.text("h1"))
	b.shot("signin")
	b.do(chromedp.SendKeys(chromedp.ID("client_id"), clientID), chromedp.SendKeys(chromedp.ID("client_secret"), clientSecret))
	require.EqualValues(t, 200, b.click("main form button[type=submit]"))
	require.Equal(t, "Container registries", b.text("h1"))
	require.Contains(t, b.text("main table"), "myregistry")
	b.shot("registries")

	// Create a Premium registry in a new resource group.
	require.EqualValues(t, 200, b.click(`a[href="/portal/create"]`))
	b.do(
		chromedp.SendKeys(chromedp.ID("group"), rg),
		chromedp.SendKeys(chromedp.ID("name"), name),
		chromedp.SetValue(chromedp.ID("sku"), "Premium"),
	)
	b.shot("create")
	require.EqualValues(t, 200, b.click("main form button.primary"))
	require.Equal(t, name+" | Overview", b.text("h1"))
	require.Equal(t, "The registry was created.", b.text(".flash"))
	loginServer := b.text("#login-server")
	require.Regexp(t, `^localhost:\d+$`, loginServer)
	b.shot("overview")

	// Settings > Access keys: enable the admin user and read its password.
	require.EqualValues(t, 200, b.click(`nav.menu a[href$="/keys"]`))
	require.EqualValues(t, 200, b.click(`button[value="admin-on"]`))
	require.Equal(t, "Enabled", b.text("#admin-state"))
	username, password := b.value("#username"), b.value("#pw-password")
	require.Equal(t, name, username)
	require.Len(t, password, 52)
	b.shot("access-keys")

	image := loginServer + "/samples/hello:v1"
	d.importImage(image, "hello from the portal\n")
	d.must("login", loginServer, "-u", username, "-p", password)
	d.must("push", image)
	pullWorks := func(t *testing.T) {
		t.Helper()
		d.pullFresh(image).MustSucceed(t)
	}
	pullDenied := func(t *testing.T) {
		t.Helper()
		r := d.pullFresh(image)
		require.Error(t, r.Err, r.Combined)
		require.Contains(t, r.Combined, deniedMessage)
	}

	t.Run("selected networks with the client IP admits docker", func(t *testing.T) {
		// Navigate to the registry; Settings > Networking; Public access tab.
		require.EqualValues(t, 200, b.open("/portal/"))
		require.EqualValues(t, 200, b.click(fmt.Sprintf(`main table a[href$="/%s"]`, name)))
		require.EqualValues(t, 200, b.click(`nav.menu a[href$="/networking"]`))
		require.EqualValues(t, 200, b.click(`nav.tabs a:first-child`))
		require.Equal(t, "Public access", b.text(`nav.tabs a[aria-current="page"]`))
		// Selected networks shows the Firewall section and its checkbox
		// with the address the firewall sees for this browser.
		b.do(chromedp.Click(chromedp.ID("access-selected")), chromedp.WaitVisible(chromedp.ID("clientip")))
		require.Equal(t, "Add your client IP address ('"+natAddr+"')", b.text(`label[for="clientip"]`))
		b.do(chromedp.Click(chromedp.ID("clientip")))
		b.shot("networking-selected-networks")
		require.EqualValues(t, 200, b.click(`button[value="save"]`))
		require.Equal(t, "Saved the network settings.", b.text(".flash"))
		require.Equal(t, natAddr, b.text("table.rules tbody code"))
		b.shot("networking-saved")
		assert.Equal(t, networkState{"Enabled", "Deny", []string{natAddr}}, in.networkState(rg, name))
		pullWorks(t)
	})

	t.Run("an invalid range shows ACR's error and saves nothing", func(t *testing.T) {
		// Keyboard only: type the range and press Enter, which is Save.
		require.EqualValues(t, 400, b.press("#newrule", "10.0.0.0/8\r"))
		require.Contains(t, b.text("#newrule-error"), "The IP rule value '10.0.0.0/8' is invalid")
		require.Equal(t, "true", evalIn[string](b, `document.getElementById("newrule").getAttribute("aria-invalid")`))
		b.shot("networking-invalid-range")
		assert.Equal(t, networkState{"Enabled", "Deny", []string{natAddr}}, in.networkState(rg, name))
		require.EqualValues(t, 200, b.click(`a.button[href$="/networking"]`)) // Discard
	})

	t.Run("removing the range denies docker", func(t *testing.T) {
		require.EqualValues(t, 200, b.click(`button[value="remove:`+natAddr+`"]`))
		require.Contains(t, b.text(".unsaved"), "Unsaved changes")
		require.False(t, evalIn[bool](b, `document.getElementById("clientip").checked`))
		require.EqualValues(t, 200, b.click(`button[value="save"]`))
		require.Equal(t, "Saved the network settings.", b.text(".flash"))
		assert.Equal(t, networkState{"Enabled", "Deny", []string{}}, in.networkState(rg, name))
		pullDenied(t)

		// The registry's side of the 403: the Recent denials panel.
		require.EqualValues(t, 200, b.open("/portal/registries/"+rg+"/"+name+"/networking"))
		denials := b.text("table.denials tbody tr:first-child")
		require.Contains(t, denials, "127.0.0.1")
		require.Contains(t, denials, natAddr)
		require.Contains(t, denials, "/v2/")
		b.shot("networking-recent-denials")
	})

	t.Run("disabled denies docker", func(t *testing.T) {
		b.do(chromedp.Click(chromedp.ID("access-disabled")))
		require.Equal(t, "none", evalIn[string](b, `getComputedStyle(document.querySelector(".firewall")).display`))
		require.EqualValues(t, 200, b.click(`button[value="save"]`))
		require.Equal(t, "Saved the network settings.", b.text(".flash"))
		assert.Equal(t, "Disabled", in.networkState(rg, name).PublicNetworkAccess)
		b.shot("networking-disabled")
		pullDenied(t)
	})

	t.Run("all networks admits docker", func(t *testing.T) {
		b.do(chromedp.Click(chromedp.ID("access-all")))
		require.EqualValues(t, 200, b.click(`button[value="save"]`))
		require.Equal(t, "Saved the network settings.", b.text(".flash"))
		st := in.networkState(rg, name)
		assert.Equal(t, "Enabled", st.PublicNetworkAccess)
		assert.Equal(t, "Allow", st.DefaultAction)
		b.shot("networking-all-networks")
		pullWorks(t)
	})

	t.Run("selected networks again, with the denials on record", func(t *testing.T) {
		b.do(chromedp.Click(chromedp.ID("access-selected")), chromedp.WaitVisible(chromedp.ID("clientip")), chromedp.Click(chromedp.ID("clientip")))
		require.EqualValues(t, 200, b.click(`button[value="save"]`))
		require.Equal(t, "Saved the network settings.", b.text(".flash"))
		assert.Equal(t, networkState{"Enabled", "Deny", []string{natAddr}}, in.networkState(rg, name))
		pullWorks(t)
		require.EqualValues(t, 200, b.open("/portal/registries/"+rg+"/"+name+"/networking"))
		shot := b.shot("networking-selected-with-denials")
		// ACREMU_DOCS_SCREENSHOT=../docs/img/portal-networking.png refreshes
		// the documentation's screenshot.
		if dst := os.Getenv("ACREMU_DOCS_SCREENSHOT"); dst != "" {
			png, err := os.ReadFile(shot)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(dst, png, 0o644))
		}
	})

	t.Run("narrow screens keep the blade usable", func(t *testing.T) {
		b.do(chromedp.EmulateViewport(390, 844))
		require.EqualValues(t, 200, b.open("/portal/registries/"+rg+"/"+name+"/networking"))
		require.True(t, evalIn[bool](b, `document.documentElement.scrollWidth <= window.innerWidth`), "the page scrolls sideways")
		b.shot("networking-narrow")
		b.do(chromedp.EmulateViewport(1280, 800))
	})

	t.Run("delete resource group removes its registry", func(t *testing.T) {
		require.EqualValues(t, 200, b.open("/portal/"))
		require.EqualValues(t, 200, b.click(`a[href="/portal/groups/`+rg+`/delete"]`))
		require.Contains(t, b.text("main form ul"), name)
		b.do(chromedp.SendKeys(chromedp.ID("confirm"), rg))
		b.shot("delete-resource-group")
		require.EqualValues(t, 200, b.click("main form button.danger"))
		require.Equal(t, "The resource group and its registries were deleted.", b.text(".flash"))
		status, out := in.arm("GET", registryPath(rg, name), nil)
		require.Equal(t, 404, status, string(out))
		r := d.pullFresh(image)
		require.Error(t, r.Err)
	})

	t.Run("sign out ends the session", func(t *testing.T) {
		require.EqualValues(t, 200, b.click(".signout button"))
		require.Equal(t, "You have signed out.", b.text(".flash"))
		require.EqualValues(t, 200, b.open("/portal/"))
		require.Equal(t, "Sign in", b.text("h1"))
	})
}
