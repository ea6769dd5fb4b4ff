package portal

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// registryJSON is the part of ARM's registry representation the portal
// shows.
type registryJSON struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
	SKU      struct {
		Name string `json:"name"`
	} `json:"sku"`
	Properties struct {
		LoginServer              string `json:"loginServer"`
		CreationDate             string `json:"creationDate"`
		ProvisioningState        string `json:"provisioningState"`
		AdminUserEnabled         bool   `json:"adminUserEnabled"`
		PublicNetworkAccess      string `json:"publicNetworkAccess"`
		NetworkRuleBypassOptions string `json:"networkRuleBypassOptions"`
		NetworkRuleSet           struct {
			DefaultAction string   `json:"defaultAction"`
			IPRules       []ipRule `json:"ipRules"`
		} `json:"networkRuleSet"`
	} `json:"properties"`
}

type ipRule struct {
	Action string `json:"action"`
	Value  string `json:"value"`
}

type groupJSON struct {
	Name     string `json:"name"`
	Location string `json:"location"`
}

type listJSON[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink"`
}

type credentialsJSON struct {
	Username  string `json:"username"`
	Passwords []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"passwords"`
}

type nameStatusJSON struct {
	NameAvailable bool   `json:"nameAvailable"`
	Reason        string `json:"reason"`
	Message       string `json:"message"`
}

// Public access choices of the Networking blade.
const (
	accessAll      = "all"      // publicNetworkAccess Enabled, defaultAction Allow
	accessSelected = "selected" // publicNetworkAccess Enabled, defaultAction Deny
	accessDisabled = "disabled" // publicNetworkAccess Disabled
)

var accessLabels = map[string]string{
	accessAll:      "All networks",
	accessSelected: "Selected networks",
	accessDisabled: "Disabled",
}

// regView is a registry as the pages show it.
type regView struct {
	Name, ResourceGroup, Location, SKU string
	LoginServer, Created, State        string
	AdminUser, Premium, Trusted        bool
	Access                             string // accessAll, accessSelected or accessDisabled
	Rules                              []string
	Tags                               []tag
	URL                                string // the registry's portal page
}

type tag struct{ Key, Value string }

func (v regView) AccessLabel() string { return accessLabels[v.Access] }

// AccessSummary is the list's public-access column.
func (v regView) AccessSummary() string {
	if v.Access != accessSelected {
		return v.AccessLabel()
	}
	switch n := len(v.Rules); n {
	case 0:
		return "Selected networks (no address ranges)"
	case 1:
		return "Selected networks (1 address range)"
	default:
		return "Selected networks (" + strconv.Itoa(n) + " address ranges)"
	}
}

func toView(r registryJSON) regView {
	p := r.Properties
	v := regView{
		Name:          r.Name,
		ResourceGroup: groupOf(r.ID),
		Location:      r.Location,
		SKU:           r.SKU.Name,
		LoginServer:   p.LoginServer,
		Created:       formatTime(p.CreationDate),
		State:         p.ProvisioningState,
		AdminUser:     p.AdminUserEnabled,
		Premium:       strings.EqualFold(r.SKU.Name, "Premium"),
		Trusted:       !strings.EqualFold(p.NetworkRuleBypassOptions, "None"),
		Access:        accessOf(p.PublicNetworkAccess, p.NetworkRuleSet.DefaultAction),
	}
	for _, ir := range p.NetworkRuleSet.IPRules {
		v.Rules = append(v.Rules, ir.Value)
	}
	for k, val := range r.Tags {
		v.Tags = append(v.Tags, tag{k, val})
	}
	slices.SortFunc(v.Tags, func(a, b tag) int { return strings.Compare(a.Key, b.Key) })
	v.URL = registryURL(v.ResourceGroup, v.Name)
	return v
}

// accessOf maps ACR's two properties onto the blade's three choices.
func accessOf(publicNetworkAccess, defaultAction string) string {
	switch {
	case strings.EqualFold(publicNetworkAccess, "Disabled"):
		return accessDisabled
	case strings.EqualFold(defaultAction, "Deny"):
		return accessSelected
	default:
		return accessAll
	}
}

// groupOf extracts the resource group from an ARM resource id.
func groupOf(id string) string {
	segs := strings.Split(id, "/")
	for i := 0; i+1 < len(segs); i++ {
		if strings.EqualFold(segs[i], "resourceGroups") {
			return segs[i+1]
		}
	}
	return ""
}

func registryURL(rg, name string) string {
	return Prefix + "/registries/" + url.PathEscape(rg) + "/" + url.PathEscape(name)
}

func groupURL(rg string) string { return Prefix + "/groups/" + url.PathEscape(rg) }

func formatTime(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
