package store

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
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

	// PrivateEndpointConnections are the registry's side of private endpoints (network.go).
	PrivateEndpointConnections []PrivateEndpointConnection `json:"privateEndpointConnections,omitempty"`

	// Settings ARM stores and shows but acremu does not enforce (see
	// docs/arm-properties.md). Zero values are ACR's defaults, so records
	// written before these fields existed read as a default registry.
	Policies                         Policies      `json:"policies,omitzero"`
	Identity                         *Identity     `json:"identity,omitempty"`
	Encryption                       *Encryption   `json:"encryption,omitempty"`
	RoleAssignmentMode               string        `json:"roleAssignmentMode,omitempty"` // "" = LegacyRegistryPermissions
	NetworkRuleBypassAllowedForTasks bool          `json:"networkRuleBypassAllowedForTasks,omitempty"`
	MetadataSearch                   string        `json:"metadataSearch,omitempty"`   // "" = Disabled
	EndpointProtocol                 string        `json:"endpointProtocol,omitempty"` // "" = IPv4
	Replications                     []Replication `json:"replications,omitempty"`     // besides the home region's

	// Port is the data-plane port assigned from --registry-ports; 0 when the
	// registry is served on the front end (default registry, --domain mode).
	Port int `json:"port,omitempty"`
	// DataEndpointPorts are the ports of the registry's data endpoints
	// from --registry-ports, by region (lower case, as DataEndpointRegions
	// names them); nil without data endpoints and with --domain. Records
	// stored before the field existed have none while data endpoints are
	// on: their ports are then chosen when the registry is served.
	DataEndpointPorts map[string]int `json:"dataEndpointPorts,omitempty"`

	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
	LastModifiedBy string    `json:"lastModifiedBy"`
}

// Policies are a registry's policies. Each status is "enabled",
// "disabled" or "" for ACR's default; days 0 means ACR's default (7).
type Policies struct {
	Quarantine                 string    `json:"quarantine,omitempty"`                 // "" = disabled
	Trust                      string    `json:"trust,omitempty"`                      // "" = disabled
	Retention                  string    `json:"retention,omitempty"`                  // "" = disabled
	RetentionDays              int       `json:"retentionDays,omitempty"`              // 0 = 7
	RetentionUpdatedAt         time.Time `json:"retentionUpdatedAt,omitzero"`          // zero = creation
	Export                     string    `json:"export,omitempty"`                     // "" = enabled
	AzureADAuthenticationAsArm string    `json:"azureADAuthenticationAsArm,omitempty"` // "" = enabled
	SoftDelete                 string    `json:"softDelete,omitempty"`                 // "" = disabled
	SoftDeleteDays             int       `json:"softDeleteDays,omitempty"`             // 0 = 7
	SoftDeleteUpdatedAt        time.Time `json:"softDeleteUpdatedAt,omitzero"`         // zero = creation
}

// Identity is a registry's managed identity as ARM shows it: type
// SystemAssigned, UserAssigned or both, with the ids acremu made up.
type Identity struct {
	Type         string                  `json:"type"`
	PrincipalID  string                  `json:"principalId,omitempty"` // system-assigned
	TenantID     string                  `json:"tenantId,omitempty"`
	UserAssigned map[string]UserIdentity `json:"userAssigned,omitempty"` // by resource id, spelling as sent
}

// UserIdentity is one user-assigned identity of a registry.
type UserIdentity struct {
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
}

// Encryption is a registry's customer-managed-key setting.
type Encryption struct {
	Status        string `json:"status"` // enabled, disabled
	KeyIdentifier string `json:"keyIdentifier,omitempty"`
	Identity      string `json:"identity,omitempty"` // client id of the identity that reads the key
}

// Replication is one geo-replication of a Premium registry, in a region
// other than the registry's own (which ARM lists as a replication too).
type Replication struct {
	Name                  string            `json:"name"` // spelling as created
	Location              string            `json:"location"`
	Tags                  map[string]string `json:"tags,omitempty"`
	RegionEndpointEnabled bool              `json:"regionEndpointEnabled"`
	ZoneRedundancy        string            `json:"zoneRedundancy"` // Enabled, Disabled
	CreatedAt             time.Time         `json:"createdAt"`
	CreatedBy             string            `json:"createdBy"`
	LastModifiedAt        time.Time         `json:"lastModifiedAt"`
	LastModifiedBy        string            `json:"lastModifiedBy"`
}

// NewRegistryID returns a fresh registry ID: 128 random bits in hex.
func NewRegistryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// DataEndpointRegions are the regions of r's dedicated data endpoints,
// lower case, home region first: the home region and each replication's
// when data endpoints are enabled, none otherwise.
func (r Registry) DataEndpointRegions() []string {
	if !r.DataEndpointEnabled {
		return nil
	}
	out := []string{strings.ToLower(r.Location)}
	for _, rep := range r.Replications {
		if l := strings.ToLower(rep.Location); !strings.EqualFold(l, r.Location) {
			out = append(out, l)
		}
	}
	return out
}
