package mgmt

import "net/http"

// subscriptionJSON is a subscription as GET /subscriptions shows it; az
// records tenantId as the account's home tenant.
type subscriptionJSON struct {
	ID                   string               `json:"id"`
	SubscriptionID       string               `json:"subscriptionId"`
	TenantID             string               `json:"tenantId"`
	DisplayName          string               `json:"displayName"`
	State                string               `json:"state"`
	AuthorizationSource  string               `json:"authorizationSource"`
	ManagedByTenants     []struct{}           `json:"managedByTenants"`
	SubscriptionPolicies subscriptionPolicies `json:"subscriptionPolicies"`
}

type subscriptionPolicies struct {
	LocationPlacementID string `json:"locationPlacementId"`
	QuotaID             string `json:"quotaId"`
	SpendingLimit       string `json:"spendingLimit"`
}

// SubscriptionName and TenantName are the display names of the one
// emulated subscription and tenant.
const (
	SubscriptionName = "AcrEmu Subscription"
	TenantName       = "AcrEmu Tenant"
	tenantDomain     = "acremu.localhost"
)

func (a *API) subscription() subscriptionJSON {
	return subscriptionJSON{
		ID:                  "/subscriptions/" + a.cfg.Subscription,
		SubscriptionID:      a.cfg.Subscription,
		TenantID:            a.cfg.Tenant,
		DisplayName:         SubscriptionName,
		State:               "Enabled",
		AuthorizationSource: "RoleBased",
		ManagedByTenants:    []struct{}{},
		SubscriptionPolicies: subscriptionPolicies{
			LocationPlacementID: "Public_2014-09-01",
			QuotaID:             "PayAsYouGo_2014-09-01",
			SpendingLimit:       "Off",
		},
	}
}

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, list[subscriptionJSON]{Value: []subscriptionJSON{a.subscription()}})
	return nil
}

func (a *API) getSubscription(w http.ResponseWriter, r *http.Request) error {
	// precheck has already rejected any other subscription id.
	writeJSON(w, http.StatusOK, a.subscription())
	return nil
}

type tenantJSON struct {
	ID             string `json:"id"`
	TenantID       string `json:"tenantId"`
	TenantCategory string `json:"tenantCategory"`
	DisplayName    string `json:"displayName"`
	DefaultDomain  string `json:"defaultDomain"`
}

func (a *API) listTenants(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, list[tenantJSON]{Value: []tenantJSON{{
		ID:             "/tenants/" + a.cfg.Tenant,
		TenantID:       a.cfg.Tenant,
		TenantCategory: "Home",
		DisplayName:    TenantName,
		DefaultDomain:  tenantDomain,
	}}})
	return nil
}
