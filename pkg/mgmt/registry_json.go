package mgmt

import (
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/store"
)

// Resource type and provider spellings as ARM emits them.
const (
	registryType     = "Microsoft.ContainerRegistry/registries"
	registryProvider = "Microsoft.ContainerRegistry"
)

// registryJSON renders a registry with the fields in the order of real
// ACR responses: sku, type, id, name, location, tags, systemData,
// properties. Struct field order is encoding/json's output order.
type registryJSON struct {
	SKU        skuJSON           `json:"sku"`
	Type       string            `json:"type"`
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Identity   *identityJSON     `json:"identity,omitempty"`
	SystemData *systemDataJSON   `json:"systemData,omitempty"`
	Properties propertiesJSON    `json:"properties"`
}

type skuJSON struct {
	Name string `json:"name"`
	Tier string `json:"tier"`
}

type systemDataJSON struct {
	CreatedBy          string `json:"createdBy"`
	CreatedByType      string `json:"createdByType"`
	CreatedAt          string `json:"createdAt"`
	LastModifiedBy     string `json:"lastModifiedBy"`
	LastModifiedByType string `json:"lastModifiedByType"`
	LastModifiedAt     string `json:"lastModifiedAt"`
}

type identityJSON struct {
	PrincipalID            string                      `json:"principalId,omitempty"`
	TenantID               string                      `json:"tenantId,omitempty"`
	Type                   string                      `json:"type"`
	UserAssignedIdentities map[string]userIdentityJSON `json:"userAssignedIdentities,omitempty"`
}

type userIdentityJSON struct {
	PrincipalID string `json:"principalId"`
	ClientID    string `json:"clientId"`
}

// propertiesJSON has a pointer (or omitempty) for every property some
// api-version lacks: renderRegistry leaves out what the request's version
// does not have.
type propertiesJSON struct {
	LoginServer                      string              `json:"loginServer"`
	CreationDate                     string              `json:"creationDate"`
	ProvisioningState                string              `json:"provisioningState"`
	AdminUserEnabled                 bool                `json:"adminUserEnabled"`
	NetworkRuleSet                   *networkRuleSetJSON `json:"networkRuleSet,omitempty"`
	Policies                         *policiesJSON       `json:"policies,omitempty"`
	Encryption                       *encryptionJSON     `json:"encryption,omitempty"`
	DataEndpointEnabled              *bool               `json:"dataEndpointEnabled,omitempty"`
	DataEndpointHostNames            *[]string           `json:"dataEndpointHostNames,omitempty"`
	PrivateEndpointConnections       *[]peConnectionJSON `json:"privateEndpointConnections,omitempty"`
	PublicNetworkAccess              string              `json:"publicNetworkAccess,omitempty"`
	NetworkRuleBypassOptions         string              `json:"networkRuleBypassOptions,omitempty"`
	ZoneRedundancy                   string              `json:"zoneRedundancy,omitempty"`
	AnonymousPullEnabled             *bool               `json:"anonymousPullEnabled,omitempty"`
	MetadataSearch                   string              `json:"metadataSearch,omitempty"`
	RoleAssignmentMode               string              `json:"roleAssignmentMode,omitempty"`
	NetworkRuleBypassAllowedForTasks *bool               `json:"networkRuleBypassAllowedForTasks,omitempty"`
	EndpointProtocol                 string              `json:"endpointProtocol,omitempty"`
}

type networkRuleSetJSON struct {
	DefaultAction string `json:"defaultAction"`
	// VirtualNetworkRules is non-nil (rendered as []) only for the
	// api-versions whose schema has it.
	VirtualNetworkRules *[]struct{}  `json:"virtualNetworkRules,omitempty"`
	IPRules             []ipRuleJSON `json:"ipRules"`
}

type ipRuleJSON struct {
	Action string `json:"action"`
	Value  string `json:"value"`
}

type statusJSON struct {
	Status string `json:"status"`
}

type encryptionJSON struct {
	Status             string        `json:"status"`
	KeyVaultProperties *keyVaultJSON `json:"keyVaultProperties,omitempty"`
}

type keyVaultJSON struct {
	KeyIdentifier          string `json:"keyIdentifier"`
	VersionedKeyIdentifier string `json:"versionedKeyIdentifier"`
	Identity               string `json:"identity"`
	KeyRotationEnabled     bool   `json:"keyRotationEnabled"`
}

type policiesJSON struct {
	QuarantinePolicy                 statusJSON        `json:"quarantinePolicy"`
	TrustPolicy                      trustPolicyJSON   `json:"trustPolicy"`
	RetentionPolicy                  retentionJSON     `json:"retentionPolicy"`
	ExportPolicy                     *statusJSON       `json:"exportPolicy,omitempty"`
	AzureADAuthenticationAsArmPolicy *statusJSON       `json:"azureADAuthenticationAsArmPolicy,omitempty"`
	SoftDeletePolicy                 *softDeletePolicy `json:"softDeletePolicy,omitempty"`
}

type trustPolicyJSON struct {
	Type   string `json:"type"`
	Status string `json:"status"`
}

type retentionJSON struct {
	Days            int    `json:"days"`
	LastUpdatedTime string `json:"lastUpdatedTime"`
	Status          string `json:"status"`
}

type softDeletePolicy struct {
	RetentionDays   int    `json:"retentionDays"`
	LastUpdatedTime string `json:"lastUpdatedTime"`
	Status          string `json:"status"`
}

// feature is when a registry property appeared: the first stable and the
// first preview api-version that have it ("" = none of that kind).
// Previews and stable versions are separate lines in ACR's specs: a
// property can be in every preview since 2020 and only in stable versions
// since 2025.
type feature struct{ stable, preview string }

// Property history of Microsoft.ContainerRegistry/registries, from the
// published specs (azure-rest-api-specs) and go-azure-sdk's models.
var (
	featNetworkRuleSet     = feature{"2017-10-01", "2017-10-01"}
	featPolicies           = feature{"2019-05-01", "2017-10-01"} // quarantine, trust, retention
	featSystemData         = feature{"2021-09-01", "2020-11-01"}
	featPrivateNetworking  = feature{"2021-09-01", "2019-12-01"} // encryption, identity, data endpoints, private endpoints, publicNetworkAccess
	featExportPolicy       = feature{"2021-09-01", "2019-12-01"}
	featBypassZones        = feature{"2021-09-01", "2020-11-01"} // networkRuleBypassOptions, zoneRedundancy
	featAnonymousPull      = feature{"2025-04-01", "2020-11-01"}
	featAADAuthAsArm       = feature{"2025-04-01", "2021-09-01"}
	featSoftDelete         = feature{"", "2021-09-01"}
	featMetadataSearch     = feature{"", "2023-11-01"}
	featRoleAssignmentMode = feature{"2025-11-01", "2025-03-01"}
	featBypassForTasks     = feature{"2025-11-01", "2025-06-01"}
	featEndpointProtocol   = feature{"", "2026-01-01"}
)

// in reports whether apiVersion has f.
func (f feature) in(apiVersion string) bool {
	if len(apiVersion) < 10 {
		return true
	}
	since := f.stable
	if strings.HasSuffix(apiVersion, "-preview") {
		since = f.preview
	}
	return since != "" && apiVersion[:10] >= since
}

// legacySchema reports whether apiVersion predates 2021-09-01, the version
// that dropped networkRuleSet.virtualNetworkRules (az's network-rule
// commands pin 2021-08-01-preview, which shows them).
func legacySchema(apiVersion string) bool {
	return len(apiVersion) >= 10 && apiVersion[:10] < "2021-09-01"
}

func registryID(reg store.Registry) string {
	return "/subscriptions/" + reg.Subscription + "/resourceGroups/" + reg.ResourceGroup +
		"/providers/" + registryProvider + "/registries/" + reg.Name
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// renderRegistry builds the registry's ARM representation for apiVersion,
// with only the properties that api-version has.
func renderRegistry(reg store.Registry, apiVersion, loginServer string) registryJSON {
	v := apiVersion
	tags := reg.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	lastModified := reg.LastModifiedAt
	if lastModified.IsZero() {
		lastModified = reg.CreatedAt
	}
	out := registryJSON{
		SKU:      skuJSON{reg.SKU, reg.SKU},
		Type:     registryType,
		ID:       registryID(reg),
		Name:     reg.Name,
		Location: reg.Location,
		Tags:     tags,
		Properties: propertiesJSON{
			LoginServer:       loginServer,
			CreationDate:      formatZ(reg.CreatedAt),
			ProvisioningState: "Succeeded",
			AdminUserEnabled:  reg.AdminUserEnabled,
		},
	}
	if featSystemData.in(v) {
		out.SystemData = &systemDataJSON{
			CreatedBy:          reg.CreatedBy,
			CreatedByType:      "Application",
			CreatedAt:          formatOffset(reg.CreatedAt),
			LastModifiedBy:     reg.LastModifiedBy,
			LastModifiedByType: "Application",
			LastModifiedAt:     formatOffset(lastModified),
		}
	}
	p := &out.Properties
	if featNetworkRuleSet.in(v) {
		rules := make([]ipRuleJSON, len(reg.NetworkRuleSet.IPRules))
		for i, r := range reg.NetworkRuleSet.IPRules {
			rules[i] = ipRuleJSON{r.Action, r.Value}
		}
		p.NetworkRuleSet = &networkRuleSetJSON{DefaultAction: reg.NetworkRuleSet.DefaultAction, IPRules: rules}
		if legacySchema(v) {
			p.NetworkRuleSet.VirtualNetworkRules = &[]struct{}{}
		}
	}
	if featPolicies.in(v) {
		p.Policies = renderPolicies(reg, v)
	}
	if featPrivateNetworking.in(v) {
		out.Identity = renderIdentity(reg.Identity)
		p.Encryption = &encryptionJSON{Status: "disabled"}
		if e := reg.Encryption; e != nil {
			p.Encryption = &encryptionJSON{Status: e.Status, KeyVaultProperties: &keyVaultJSON{
				KeyIdentifier: e.KeyIdentifier, VersionedKeyIdentifier: e.KeyIdentifier, Identity: e.Identity,
			}}
		}
		p.DataEndpointEnabled = &reg.DataEndpointEnabled
		p.DataEndpointHostNames = &[]string{}
		conns := renderConnections(reg)
		p.PrivateEndpointConnections = &conns
		p.PublicNetworkAccess = reg.PublicNetworkAccess
	}
	if featBypassZones.in(v) {
		p.NetworkRuleBypassOptions = reg.NetworkRuleBypassOptions
		p.ZoneRedundancy = reg.ZoneRedundancy
	}
	if featAnonymousPull.in(v) {
		p.AnonymousPullEnabled = &reg.AnonymousPullEnabled
	}
	if featMetadataSearch.in(v) {
		p.MetadataSearch = orDefault(reg.MetadataSearch, "Disabled")
	}
	if featRoleAssignmentMode.in(v) {
		p.RoleAssignmentMode = orDefault(reg.RoleAssignmentMode, roleModeLegacy)
	}
	if featBypassForTasks.in(v) {
		p.NetworkRuleBypassAllowedForTasks = &reg.NetworkRuleBypassAllowedForTasks
	}
	if featEndpointProtocol.in(v) {
		p.EndpointProtocol = orDefault(reg.EndpointProtocol, "IPv4")
	}
	return out
}

func renderPolicies(reg store.Registry, v string) *policiesJSON {
	pol := reg.Policies
	created := formatOffset(reg.CreatedAt)
	updated := func(t time.Time) string {
		if t.IsZero() {
			return created
		}
		return formatOffset(t)
	}
	out := &policiesJSON{
		QuarantinePolicy: statusJSON{orDefault(pol.Quarantine, "disabled")},
		TrustPolicy:      trustPolicyJSON{"Notary", orDefault(pol.Trust, "disabled")},
		RetentionPolicy: retentionJSON{orDefault(pol.RetentionDays, defaultRetentionDays),
			updated(pol.RetentionUpdatedAt), orDefault(pol.Retention, "disabled")},
	}
	if featExportPolicy.in(v) {
		out.ExportPolicy = &statusJSON{orDefault(pol.Export, "enabled")}
	}
	if featAADAuthAsArm.in(v) {
		out.AzureADAuthenticationAsArmPolicy = &statusJSON{orDefault(pol.AzureADAuthenticationAsArm, "enabled")}
	}
	if featSoftDelete.in(v) {
		out.SoftDeletePolicy = &softDeletePolicy{orDefault(pol.SoftDeleteDays, defaultSoftDeleteDays),
			updated(pol.SoftDeleteUpdatedAt), orDefault(pol.SoftDelete, "disabled")}
	}
	return out
}

func renderIdentity(id *store.Identity) *identityJSON {
	if id == nil {
		return nil
	}
	out := &identityJSON{PrincipalID: id.PrincipalID, TenantID: id.TenantID, Type: id.Type}
	if len(id.UserAssigned) > 0 {
		out.UserAssignedIdentities = map[string]userIdentityJSON{}
		for k, u := range id.UserAssigned {
			out.UserAssignedIdentities[k] = userIdentityJSON(u)
		}
	}
	return out
}

// stamp records who changed reg and when.
func stamp(reg *store.Registry, appID string, now time.Time) {
	reg.LastModifiedAt = now
	reg.LastModifiedBy = appID
}
