package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/gaissmai/bart"
)

// Values of Rules.PublicNetworkAccess and Rules.DefaultAction, as in ARM.
const (
	PublicAccessEnabled  = "Enabled"
	PublicAccessDisabled = "Disabled"
	ActionAllow          = "Allow"
	ActionDeny           = "Deny"
	BypassAzureServices  = "AzureServices"
	BypassNone           = "None"
	EndpointIPv4         = "IPv4"
	EndpointIPv4AndIPv6  = "IPv4AndIPv6"
)

// Rules is a registry's network configuration exactly as ARM stores it.
type Rules struct {
	PublicNetworkAccess string   // "Enabled" or "Disabled"; empty means Enabled
	DefaultAction       string   // "Allow" or "Deny"; empty means Allow
	IPRules             []string // IPv4 addresses or CIDR ranges, as sent
	// NetworkRuleBypassOptions is "AzureServices" (trusted services pass
	// the rules) or "None"; empty means AzureServices, ARM's default.
	NetworkRuleBypassOptions string
	// PrivateEndpointNetworks names the virtual networks with an approved
	// private endpoint connection to the registry.
	PrivateEndpointNetworks []string
	// EndpointProtocol is "IPv4" (public endpoints have IPv4 addresses
	// only) or "IPv4AndIPv6" (dual stack); empty means IPv4, ARM's default.
	EndpointProtocol string
}

// Reason says why Decide allowed or denied a client.
type Reason uint8

const (
	ReasonDefaultAllow         Reason = iota // default action Allow
	ReasonIPRule                             // inside an IP rule
	ReasonPrivateEndpoint                    // arrived through a private network
	ReasonPublicAccessDisabled               // public network access is Disabled
	ReasonNotInIPRules                       // default action Deny and no rule matched
	ReasonTrustedService                     // a trusted service with its managed identity
	ReasonIPv6NotEnabled                     // arrived over IPv6 at a registry whose endpointProtocol is IPv4
)

var reasonText = [...]string{
	ReasonDefaultAllow:         "default action Allow",
	ReasonIPRule:               "matched an IP rule",
	ReasonPrivateEndpoint:      "private endpoint",
	ReasonPublicAccessDisabled: "public network access disabled",
	ReasonNotInIPRules:         "default action Deny and no IP rule matches",
	ReasonTrustedService:       "trusted service",
	ReasonIPv6NotEnabled:       "arrived over IPv6 but endpointProtocol is IPv4 (the registry has no IPv6 address)",
}

func (r Reason) String() string {
	if int(r) < len(reasonText) {
		return reasonText[r]
	}
	return fmt.Sprintf("Reason(%d)", r)
}

// Decision is the outcome of Policy.Decide.
type Decision struct {
	Allowed bool
	Reason  Reason
	// TrustedService is set on a denial of a trusted-service source by a
	// registry that lets trusted services bypass its rules: the request is
	// admitted (ReasonTrustedService) if, and only if, its credential is a
	// managed identity's. Every other denial stands before any credential
	// is read.
	TrustedService bool
}

// TrustedServiceAdmitted is the decision for a request that TrustedService
// allowed to prove itself and did.
var TrustedServiceAdmitted = Decision{Allowed: true, Reason: ReasonTrustedService}

// Policy is an immutable, compiled Rules. The zero value is not usable; build
// one with NewPolicy.
type Policy struct {
	rules          Rules
	publicDisabled bool
	defaultAllow   bool
	bypass         bool // trusted services pass the rules
	ipv6           bool // endpointProtocol IPv4AndIPv6: public clients may arrive over IPv6
	contains       func(netip.Addr) bool
	private        networkSet
}

// ParseIPRule parses an IP rule value: an IPv4 address or an IPv4 CIDR
// range, as ParsePrefix reads it. The returned prefix is masked. It does
// not judge whether the range is public; see CheckPublic.
func ParseIPRule(value string) (netip.Prefix, error) {
	if strings.TrimSpace(value) == "" {
		return netip.Prefix{}, errors.New("empty IP rule")
	}
	p, err := ParsePrefix(value)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a valid IPv4 address or CIDR range", value)
	}
	// ParsePrefix unmaps ::ffff:a.b.c.d; ARM takes rules written as IPv4
	// only, and no IPv4 form contains a colon.
	if !p.Addr().Is4() || strings.Contains(value, ":") {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address or range: only IPv4 is allowed", value)
	}
	return p, nil
}

// NewPolicy compiles r. It rejects values it cannot parse; ARM validation is
// stricter (public ranges only) and runs before rules are stored.
func NewPolicy(r Rules) (*Policy, error) {
	switch r.PublicNetworkAccess {
	case "", PublicAccessEnabled, PublicAccessDisabled:
	default:
		return nil, fmt.Errorf("publicNetworkAccess %q: want Enabled or Disabled", r.PublicNetworkAccess)
	}
	switch r.DefaultAction {
	case "", ActionAllow, ActionDeny:
	default:
		return nil, fmt.Errorf("defaultAction %q: want Allow or Deny", r.DefaultAction)
	}
	switch r.NetworkRuleBypassOptions {
	case "", BypassAzureServices, BypassNone:
	default:
		return nil, fmt.Errorf("networkRuleBypassOptions %q: want AzureServices or None", r.NetworkRuleBypassOptions)
	}
	switch r.EndpointProtocol {
	case "", EndpointIPv4, EndpointIPv4AndIPv6:
	default:
		return nil, fmt.Errorf("endpointProtocol %q: want IPv4 or IPv4AndIPv6", r.EndpointProtocol)
	}
	private, err := newNetworkSet(r.PrivateEndpointNetworks)
	if err != nil {
		return nil, err
	}
	prefixes := make([]netip.Prefix, 0, len(r.IPRules))
	for _, v := range r.IPRules {
		p, err := ParseIPRule(v)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, p)
	}
	return &Policy{
		rules: Rules{r.PublicNetworkAccess, r.DefaultAction, slices.Clone(r.IPRules),
			r.NetworkRuleBypassOptions, slices.Clone(r.PrivateEndpointNetworks), r.EndpointProtocol},
		publicDisabled: r.PublicNetworkAccess == PublicAccessDisabled,
		defaultAllow:   r.DefaultAction != ActionDeny,
		bypass:         r.NetworkRuleBypassOptions != BypassNone,
		ipv6:           r.EndpointProtocol == EndpointIPv4AndIPv6,
		contains:       newContainsFunc(prefixes),
		private:        private,
	}, nil
}

// Rules returns the rules p was compiled from, verbatim (a nil IPRules
// stays nil and an empty one stays empty, so ARM can echo them).
func (p *Policy) Rules() Rules {
	r := p.rules
	r.IPRules = slices.Clone(r.IPRules)
	r.PrivateEndpointNetworks = slices.Clone(r.PrivateEndpointNetworks)
	return r
}

// Decide applies ACR's order of evaluation: a client in a virtual network
// with an approved private endpoint to the registry bypasses the public
// firewall; Disabled public access denies everyone else; default action
// Allow admits everyone; otherwise only addresses inside an IP rule. A
// denial of a trusted-service source is marked TrustedService when the
// registry lets trusted services bypass its rules. A public client whose
// address is IPv6 (c.Addr, after NAT: a NAT that maps an IPv6 source to an
// IPv4 address makes a client that reaches registries over IPv4) reaches
// only a registry whose endpointProtocol is IPv4AndIPv6: with IPv4 the
// registry's names have no AAAA record in Azure. c.Addr must already be
// unmapped (Resolver guarantees it).
func (p *Policy) Decide(c Client) Decision {
	var d Decision
	switch {
	case p.private.has(c.Network):
		return Decision{Allowed: true, Reason: ReasonPrivateEndpoint}
	case !p.ipv6 && c.Addr.Is6():
		return Decision{Reason: ReasonIPv6NotEnabled}
	case p.publicDisabled:
		d = Decision{Reason: ReasonPublicAccessDisabled}
	case p.defaultAllow:
		return Decision{Allowed: true, Reason: ReasonDefaultAllow}
	case p.contains(c.Addr):
		return Decision{Allowed: true, Reason: ReasonIPRule}
	default:
		d = Decision{Reason: ReasonNotInIPRules}
	}
	d.TrustedService = c.TrustedService && p.bypass
	return d
}

// pathForTest is replaced in tests to observe which matcher was chosen.
var pathForTest = func(string) {}

// newContainsFunc returns a matcher specialised to the size of the set, as
// tailscale's ipset does: no rules never match, one prefix is a direct
// Contains, a handful is a linear scan, anything larger a bart.Lite trie.
func newContainsFunc(prefixes []netip.Prefix) func(netip.Addr) bool {
	switch {
	case len(prefixes) == 0:
		pathForTest("empty")
		return func(netip.Addr) bool { return false }
	case len(prefixes) == 1:
		pathForTest("one")
		return prefixes[0].Contains
	case len(prefixes) <= 6:
		pathForTest("linear")
		ps := append([]netip.Prefix(nil), prefixes...)
		return func(a netip.Addr) bool {
			for _, p := range ps {
				if p.Contains(a) {
					return true
				}
			}
			return false
		}
	default:
		pathForTest("bart")
		t := new(bart.Lite)
		for _, p := range prefixes {
			t.Insert(p)
		}
		return t.Lookup
	}
}
