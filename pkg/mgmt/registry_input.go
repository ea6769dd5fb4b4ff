package mgmt

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/store"
)

// SKU names.
const (
	skuBasic    = "Basic"
	skuStandard = "Standard"
	skuPremium  = "Premium"
)

// registryInput is the body of a registry PUT (Registry) or PATCH
// (RegistryUpdateParameters). A nil pointer is a field the client left
// out; PATCH changes only what is present. Fields acremu does not model
// (policies, encryption, identity) are accepted and ignored.
type registryInput struct {
	Location   *string            `json:"location"`
	Tags       *map[string]string `json:"tags"`
	SKU        *skuInput          `json:"sku"`
	Properties *propertiesInput   `json:"properties"`
}

type skuInput struct {
	Name *string `json:"name"`
}

type propertiesInput struct {
	AdminUserEnabled         *bool                `json:"adminUserEnabled"`
	NetworkRuleSet           *networkRuleSetInput `json:"networkRuleSet"`
	PublicNetworkAccess      *string              `json:"publicNetworkAccess"`
	NetworkRuleBypassOptions *string              `json:"networkRuleBypassOptions"`
	AnonymousPullEnabled     *bool                `json:"anonymousPullEnabled"`
	ZoneRedundancy           *string              `json:"zoneRedundancy"`
	DataEndpointEnabled      *bool                `json:"dataEndpointEnabled"`
}

type networkRuleSetInput struct {
	DefaultAction *string        `json:"defaultAction"`
	IPRules       *[]ipRuleInput `json:"ipRules"`
	// VirtualNetworkRules is accepted only empty: az's network-rule
	// commands send back the [] that 2021-08-01-preview shows.
	VirtualNetworkRules []any `json:"virtualNetworkRules"`
}

type ipRuleInput struct {
	Action *string `json:"action"`
	Value  *string `json:"value"`
}

// defaultRegistry has ACR's defaults for a new registry.
func defaultRegistry() store.Registry {
	return store.Registry{
		NetworkRuleSet:           store.NetworkRuleSet{DefaultAction: firewall.ActionAllow},
		PublicNetworkAccess:      firewall.PublicAccessEnabled,
		NetworkRuleBypassOptions: "AzureServices",
		ZoneRedundancy:           "Disabled",
	}
}

// applyTo validates the input field by field and writes what is present
// into reg. For a PUT (put=true) sku is required and zoneRedundancy may be
// set; a PATCH cannot change zoneRedundancy (ARM's update parameters lack
// it), so it is ignored there. Cross-field rules are checkSKUFeatures'.
func (in *registryInput) applyTo(reg *store.Registry, put bool, maxIPRules int) error {
	switch {
	case in.SKU != nil:
		sku, err := parseSKU(in.SKU.Name)
		if err != nil {
			return err
		}
		reg.SKU = sku
	case put:
		return badRequest("InvalidSku", "The 'sku' property is required. Valid SKUs are Basic, Standard and Premium.")
	}
	if in.Tags != nil {
		reg.Tags = *in.Tags
	}
	p := in.Properties
	if p == nil {
		return nil
	}
	if p.AdminUserEnabled != nil {
		reg.AdminUserEnabled = *p.AdminUserEnabled
	}
	if p.AnonymousPullEnabled != nil {
		reg.AnonymousPullEnabled = *p.AnonymousPullEnabled
	}
	if p.DataEndpointEnabled != nil {
		reg.DataEndpointEnabled = *p.DataEndpointEnabled
	}
	if p.PublicNetworkAccess != nil {
		v, err := enum("properties.publicNetworkAccess", "InvalidPublicNetworkAccess", *p.PublicNetworkAccess,
			firewall.PublicAccessEnabled, firewall.PublicAccessDisabled)
		if err != nil {
			return err
		}
		reg.PublicNetworkAccess = v
	}
	if p.NetworkRuleBypassOptions != nil {
		v, err := enum("properties.networkRuleBypassOptions", "InvalidNetworkRuleBypassOptions", *p.NetworkRuleBypassOptions,
			"AzureServices", "None")
		if err != nil {
			return err
		}
		reg.NetworkRuleBypassOptions = v
	}
	if p.ZoneRedundancy != nil && put {
		v, err := enum("properties.zoneRedundancy", "InvalidZoneRedundancy", *p.ZoneRedundancy, "Enabled", "Disabled")
		if err != nil {
			return err
		}
		reg.ZoneRedundancy = v
	}
	if p.NetworkRuleSet != nil {
		return p.NetworkRuleSet.applyTo(&reg.NetworkRuleSet, maxIPRules)
	}
	return nil
}

// applyTo merges a networkRuleSet: an omitted defaultAction or ipRules
// keeps the stored value (as real ACR does for `az acr update
// --default-action`), a present ipRules replaces the list, [] clears it.
func (in *networkRuleSetInput) applyTo(nrs *store.NetworkRuleSet, maxIPRules int) error {
	if in.DefaultAction != nil {
		v, err := enum("properties.networkRuleSet.defaultAction", "InvalidNetworkRuleSet", *in.DefaultAction,
			firewall.ActionAllow, firewall.ActionDeny)
		if err != nil {
			return err
		}
		nrs.DefaultAction = v
	}
	if len(in.VirtualNetworkRules) > 0 {
		return badRequest("InvalidNetworkRuleSet",
			"Virtual network rules are not supported by acremu; use IP rules (properties.networkRuleSet.ipRules).")
	}
	if in.IPRules == nil {
		return nil
	}
	rules := make([]store.IPRule, 0, len(*in.IPRules))
	for i, ir := range *in.IPRules {
		rule, err := ir.parse(i)
		if err != nil {
			return err
		}
		rules = append(rules, rule)
	}
	if len(rules) > maxIPRules {
		// ACR's message; the SKU is necessarily Premium here or
		// checkSKUFeatures rejects the rules anyway.
		return badRequest("QuotaExceeded",
			"The requested feature IP rule exceeds allowed quota %d for the SKU Premium.", maxIPRules)
	}
	nrs.IPRules = rules
	return nil
}

// parse validates one IP rule: a value without whitespace or invisible
// characters (refused, not trimmed), an IPv4 address or CIDR range that is
// public (acremu rejects private, loopback, link-local, CGNAT, multicast
// and reserved ranges, which can never be a client's public address), with
// action Allow (the only value ACR knows; absent means Allow). The value is
// kept exactly as sent: az removes rules by exact string match.
func (in ipRuleInput) parse(i int) (store.IPRule, error) {
	if in.Value == nil {
		return store.IPRule{}, badRequest("InvalidIpRule",
			"The IP rule properties.networkRuleSet.ipRules[%d] has no 'value'. Each rule needs an IPv4 address or CIDR range.", i)
	}
	v := *in.Value
	if r, ok := invisibleRune(v); ok {
		return store.IPRule{}, badRequest("InvalidIpRule",
			"The IP rule value %q is invalid: it contains whitespace or an invisible character (U+%04X). Send the address or range alone.", v, r)
	}
	action := firewall.ActionAllow
	if in.Action != nil {
		if !strings.EqualFold(*in.Action, firewall.ActionAllow) {
			return store.IPRule{}, badRequest("InvalidIpRule",
				"The IP rule action '%s' for value '%s' is invalid. The only allowed action is 'Allow'.", *in.Action, v)
		}
	}
	p, err := firewall.ParseIPRule(v)
	if err == nil {
		err = firewall.CheckPublic(p)
	}
	if err != nil {
		return store.IPRule{}, badRequest("InvalidIpRule", "The IP rule value '%s' is invalid: %v.", v, err)
	}
	return store.IPRule{Action: action, Value: v}, nil
}

// invisibleRune returns the first character of v that a reader cannot see
// or that is whitespace: spaces (including NBSP and the other Unicode
// spaces), tabs and line breaks, control characters, format characters
// (zero-width space and joiners, BOM, bidirectional marks) and invalid
// UTF-8. The firewall would trim some of these and the stored value would
// not be what az or the portal show.
func invisibleRune(v string) (rune, bool) {
	for _, r := range v {
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsGraphic(r) {
			return r, true
		}
	}
	return 0, false
}

// parseSKU accepts the managed SKUs in any case and returns their
// canonical spelling.
func parseSKU(name *string) (string, error) {
	if name == nil || *name == "" {
		return "", badRequest("InvalidSku", "The 'sku.name' property is required. Valid SKUs are Basic, Standard and Premium.")
	}
	if strings.EqualFold(*name, "Classic") {
		return "", badRequest("InvalidSku", "Classic SKU is no longer supported. Please select a managed SKU.")
	}
	for _, s := range []string{skuBasic, skuStandard, skuPremium} {
		if strings.EqualFold(*name, s) {
			return s, nil
		}
	}
	return "", badRequest("InvalidSku", "The SKU '%s' is invalid. Valid SKUs are Basic, Standard and Premium.", *name)
}

// enum matches v case-insensitively against allowed and returns the
// canonical spelling, which is what ARM echoes.
func enum(field, code, v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", badRequest(code, "The value '%s' of '%s' is invalid. Allowed values are '%s'.",
		v, field, strings.Join(allowed, "', '"))
}

// checkSKUFeatures applies ACR's SKU rules to the registry as it would be
// stored, so that a SKU downgrade is refused while it would leave
// Premium-only settings behind.
func checkSKUFeatures(reg store.Registry) error {
	premium := reg.SKU == skuPremium
	switch {
	case !premium && reg.PublicNetworkAccess == firewall.PublicAccessDisabled:
		return badRequest("DisablingPublicNetworkAccessNotSupported",
			"Disabling public network access is not supported for the SKU %s. For more information, please visit https://aka.ms/acr/private-link.", reg.SKU)
	case !premium && (len(reg.NetworkRuleSet.IPRules) > 0 || reg.NetworkRuleSet.DefaultAction == firewall.ActionDeny):
		return badRequest("NetworkRuleSetNotSupported", "Network rule set is not supported for the SKU %s.", reg.SKU)
	case reg.SKU == skuBasic && reg.AnonymousPullEnabled:
		return badRequest("AnonymousPullNotSupported",
			"Anonymous pull is not supported for the SKU Basic. It requires the Standard or Premium SKU.")
	case !premium && reg.ZoneRedundancy == "Enabled":
		return badRequest("ZoneRedundancyNotSupported", "Zone redundancy is not supported for the SKU %s.", reg.SKU)
	case !premium && reg.DataEndpointEnabled:
		return badRequest("DataEndpointNotSupported", "Dedicated data endpoints are not supported for the SKU %s.", reg.SKU)
	}
	return nil
}

// validateRegistryName applies ACR's rule: 5-50 alphanumeric characters.
func validateRegistryName(name string) error {
	ok := len(name) >= 5 && len(name) <= 50
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	if !ok {
		return badRequest("InvalidResourceName", "%s", registryNameRule(name))
	}
	return nil
}

func registryNameRule(name string) string {
	return fmt.Sprintf("The registry name '%s' is invalid. Registry names must be 5 to 50 characters long and may contain only alphanumeric characters.", name)
}
