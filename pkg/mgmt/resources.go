package mgmt

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

// genericResourceJSON is an item of the Microsoft.Resources resources
// list. az resolves a registry's resource group from id when -g is absent.
type genericResourceJSON struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Type     string            `json:"type"`
	SKU      skuJSON           `json:"sku"`
	Location string            `json:"location"`
	Tags     map[string]string `json:"tags"`
}

// resourceFilter is a parsed $filter: each non-empty field must match
// (case-insensitively).
type resourceFilter struct {
	resourceType, name, location string
}

var (
	filterAnd    = regexp.MustCompile(`(?i)\s+and\s+`)
	filterClause = regexp.MustCompile(`(?i)^\s*(resourceType|name|location)\s+eq\s+'((?:[^']|'')*)'\s*$`)
)

// parseFilter understands the subset of ARM's OData $filter that clients
// use for registries: "resourceType eq '…'", "name eq '…'" and
// "location eq '…'", joined by "and". Anything else is refused rather than
// silently ignored, since ignoring a filter returns wrong results.
func parseFilter(f string) (resourceFilter, error) {
	var rf resourceFilter
	if strings.TrimSpace(f) == "" {
		return rf, nil
	}
	for _, clause := range filterAnd.Split(strings.TrimSpace(f), -1) {
		m := filterClause.FindStringSubmatch(clause)
		if m == nil {
			return rf, badRequest("InvalidFilterInQueryString",
				"The $filter '%s' is not supported. Supported are resourceType, name and location with 'eq', joined by 'and'.", f)
		}
		v := strings.ReplaceAll(m[2], "''", "'")
		switch strings.ToLower(m[1]) {
		case "resourcetype":
			rf.resourceType = v
		case "name":
			rf.name = v
		case "location":
			rf.location = normalizeLocation(v)
		}
	}
	return rf, nil
}

func (f resourceFilter) match(reg store.Registry) bool {
	return (f.resourceType == "" || strings.EqualFold(f.resourceType, registryType)) &&
		(f.name == "" || strings.EqualFold(f.name, reg.Name)) &&
		(f.location == "" || f.location == reg.Location)
}

// listResources lists the resources of the subscription or of a resource
// group. Registries are the only resources acremu has.
func (a *API) listResources(w http.ResponseWriter, r *http.Request) error {
	filter, err := parseFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		return err
	}
	regs, err := a.registriesFromPath(r)
	if err != nil {
		return err
	}
	out := []genericResourceJSON{}
	for _, reg := range regs {
		if !filter.match(reg) {
			continue
		}
		tags := reg.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		out = append(out, genericResourceJSON{
			ID: registryID(reg), Name: reg.Name, Type: registryType,
			SKU: skuJSON{reg.SKU, reg.SKU}, Location: reg.Location, Tags: tags,
		})
	}
	page, err := paginate(a, r, out, func(g genericResourceJSON) string { return strings.ToLower(g.Name) })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
