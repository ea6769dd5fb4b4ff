package mgmt

import (
	"net/http"
)

type usageJSON struct {
	Name         string `json:"name"`
	Limit        int64  `json:"limit"`
	CurrentValue int64  `json:"currentValue"`
	Unit         string `json:"unit"`
}

// skuLimits are ACR's documented per-SKU limits (storage included in the
// SKU, webhooks, geo-replications, private endpoints, scope maps, tokens).
// -1 means unlimited and 0 unavailable, as ACR reports them.
var skuLimits = map[string]struct{ size, webhooks, replications, endpoints, scopeMaps, tokens int64 }{
	skuBasic:    {10 << 30, 2, 0, 0, 100, 100},
	skuStandard: {100 << 30, 10, 0, 0, 500, 500},
	skuPremium:  {500 << 30, 500, -1, 200, 50000, 50000},
}

// listUsages reports the registry's quotas in ACR's order. IP rules,
// geo-replications and Size (when the hooks implement UsageReporter: the
// bytes the registry's storage holds) have real current values; acremu has
// no webhooks, VNet rules, private endpoints, scope maps or tokens.
func (a *API) listUsages(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	lim := skuLimits[reg.SKU]
	var used int64
	if u, ok := a.cfg.Hooks.(UsageReporter); ok {
		used = u.UsedBytes(reg)
	}
	ipLimit, vnetLimit := int64(0), int64(0)
	if reg.SKU == skuPremium {
		ipLimit, vnetLimit = int64(a.cfg.MaxIPRules), 100
	}
	writeJSON(w, http.StatusOK, list[usageJSON]{Value: []usageJSON{
		{"Size", lim.size, used, "Bytes"},
		{"Webhooks", lim.webhooks, 0, "Count"},
		{"Geo-replications", lim.replications, int64(len(reg.Replications)), "Count"},
		{"IPRules", ipLimit, int64(len(reg.NetworkRuleSet.IPRules)), "Count"},
		{"VNetRules", vnetLimit, 0, "Count"},
		{"PrivateEndpointConnections", lim.endpoints, 0, "Count"},
		{"ScopeMaps", lim.scopeMaps, 0, "Count"},
		{"Tokens", lim.tokens, 0, "Count"},
	}})
	return nil
}
