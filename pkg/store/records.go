package store

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// ResourceGroup is an ARM resource group.
type ResourceGroup struct {
	Subscription string            `json:"subscription"`
	Name         string            `json:"name"` // spelling as created
	Location     string            `json:"location"`
	Tags         map[string]string `json:"tags,omitempty"`
	CreatedAt    time.Time         `json:"createdAt"`
}

// IPRule is one entry of networkRuleSet.ipRules, stored exactly as sent.
type IPRule struct {
	Action string `json:"action"`
	Value  string `json:"value"`
}

// NetworkRuleSet is a registry's firewall configuration as ARM shows it.
type NetworkRuleSet struct {
	DefaultAction string   `json:"defaultAction"`
	IPRules       []IPRule `json:"ipRules"`
}

// Registry is one emulated container registry. Its fields mirror the ARM
// properties that acremu models; everything else is rendered from defaults.
type Registry struct {
	// ID is the registry's identity inside acremu, never reused: tokens are
	// bound to it and its storage is named by it, so a registry deleted and
	// created again under the same name or port starts with nothing of the
	// old one.
	ID string `json:"id"`

	Subscription  string            `json:"subscription"`
	ResourceGroup string            `json:"resourceGroup"` // spelling as created
	Name          string            `json:"name"`          // spelling as created
	Location      string            `json:"location"`
	SKU           string            `json:"sku"` // Basic, Standard, Premium
	Tags          map[string]string `json:"tags,omitempty"`

	AdminUserEnabled bool      `json:"adminUserEnabled"`
	Passwords        [2]string `json:"passwords"` // "password", "password2"

	NetworkRuleSet           NetworkRuleSet `json:"networkRuleSet"`
	PublicNetworkAccess      string         `json:"publicNetworkAccess"`      // Enabled, Disabled
	NetworkRuleBypassOptions string         `json:"networkRuleBypassOptions"` // AzureServices, None
	AnonymousPullEnabled     bool           `json:"anonymousPullEnabled"`
	ZoneRedundancy           string         `json:"zoneRedundancy"`
	DataEndpointEnabled      bool           `json:"dataEndpointEnabled"`

	// Port is the data-plane port assigned from --registry-ports; 0 when the
	// registry is served on the front end (default registry, --domain mode).
	Port int `json:"port,omitempty"`

	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
	LastModifiedBy string    `json:"lastModifiedBy"`
}

// NewRegistryID returns a fresh registry ID: 128 random bits in hex.
func NewRegistryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}
