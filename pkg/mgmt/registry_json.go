package mgmt

import (
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
	SystemData systemDataJSON    `json:"systemData"`
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

type propertiesJSON struct {
	LoginServer                string             `json:"loginServer"`
	CreationDate               string             `json:"creationDate"`
	ProvisioningState          string             `json:"provisioningState"`
	AdminUserEnabled           bool               `json:"adminUserEnabled"`
	NetworkRuleSet             networkRuleSetJSON `json:"networkRuleSet"`
	Policies                   policiesJSON       `json:"policies"`
	Encryption                 statusJSON         `json:"encryption"`
	DataEndpointEnabled        bool               `json:"dataEndpointEnabled"`
	DataEndpointHostNames      []string           `json:"dataEndpointHostNames"`
	PrivateEndpointConnections []struct{}         `json:"privateEndpointConnections"`
	PublicNetworkAccess        string             `json:"publicNetworkAccess"`
	NetworkRuleBypassOptions   string             `json:"networkRuleBypassOptions"`
	ZoneRedundancy             string             `json:"zoneRedundancy"`
	AnonymousPullEnabled       bool               `json:"anonymousPullEnabled"`
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

type policiesJSON struct {
	QuarantinePolicy                 statusJSON        `json:"quarantinePolicy"`
	TrustPolicy                      trustPolicyJSON   `json:"trustPolicy"`
	RetentionPolicy                  retentionJSON     `json:"retentionPolicy"`
	ExportPolicy                     statusJSON        `json:"exportPolicy"`
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

// legacySchema reports whether apiVersion predates 2021-09-01, the version
// that dropped networkRuleSet.virtualNetworkRules. Those versions (az's
// network-rule commands pin 2021-08-01-preview) show virtualNetworkRules
// and lack the azureADAuthenticationAsArmPolicy and softDeletePolicy
// policies; later versions the other way round, as recorded from ACR.
func legacySchema(apiVersion string) bool {
	return len(apiVersion) >= 10 && apiVersion[:10] < "2021-09-01"
}

func registryID(reg store.Registry) string {
	return "/subscriptions/" + reg.Subscription + "/resourceGroups/" + reg.ResourceGroup +
		"/providers/" + registryProvider + "/registries/" + reg.Name
}

// renderRegistry builds the registry's ARM representation for apiVersion.
func renderRegistry(reg store.Registry, apiVersion, loginServer string) registryJSON {
	tags := reg.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	rules := make([]ipRuleJSON, len(reg.NetworkRuleSet.IPRules))
	for i, r := range reg.NetworkRuleSet.IPRules {
		rules[i] = ipRuleJSON{r.Action, r.Value}
	}
	nrs := networkRuleSetJSON{DefaultAction: reg.NetworkRuleSet.DefaultAction, IPRules: rules}
	policyTime := formatOffset(reg.CreatedAt)
	policies := policiesJSON{
		QuarantinePolicy: statusJSON{"disabled"},
		TrustPolicy:      trustPolicyJSON{"Notary", "disabled"},
		RetentionPolicy:  retentionJSON{7, policyTime, "disabled"},
		ExportPolicy:     statusJSON{"enabled"},
	}
	if legacySchema(apiVersion) {
		nrs.VirtualNetworkRules = &[]struct{}{}
	} else {
		policies.AzureADAuthenticationAsArmPolicy = &statusJSON{"enabled"}
		policies.SoftDeletePolicy = &softDeletePolicy{7, policyTime, "disabled"}
	}
	lastModified := reg.LastModifiedAt
	if lastModified.IsZero() {
		lastModified = reg.CreatedAt
	}
	return registryJSON{
		SKU:      skuJSON{reg.SKU, reg.SKU},
		Type:     registryType,
		ID:       registryID(reg),
		Name:     reg.Name,
		Location: reg.Location,
		Tags:     tags,
		SystemData: systemDataJSON{
			CreatedBy:          reg.CreatedBy,
			CreatedByType:      "Application",
			CreatedAt:          formatOffset(reg.CreatedAt),
			LastModifiedBy:     reg.LastModifiedBy,
			LastModifiedByType: "Application",
			LastModifiedAt:     formatOffset(lastModified),
		},
		Properties: propertiesJSON{
			LoginServer:                loginServer,
			CreationDate:               formatZ(reg.CreatedAt),
			ProvisioningState:          "Succeeded",
			AdminUserEnabled:           reg.AdminUserEnabled,
			NetworkRuleSet:             nrs,
			Policies:                   policies,
			Encryption:                 statusJSON{"disabled"},
			DataEndpointEnabled:        reg.DataEndpointEnabled,
			DataEndpointHostNames:      []string{},
			PrivateEndpointConnections: []struct{}{},
			PublicNetworkAccess:        reg.PublicNetworkAccess,
			NetworkRuleBypassOptions:   reg.NetworkRuleBypassOptions,
			ZoneRedundancy:             reg.ZoneRedundancy,
			AnonymousPullEnabled:       reg.AnonymousPullEnabled,
		},
	}
}

// stamp records who changed reg and when.
func stamp(reg *store.Registry, appID string, now time.Time) {
	reg.LastModifiedAt = now
	reg.LastModifiedBy = appID
}
