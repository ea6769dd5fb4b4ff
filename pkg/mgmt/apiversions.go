package mgmt

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/store"
)

// registryAPIVersions are the api-versions of
// Microsoft.ContainerRegistry/registries, oldest first as ARM lists them.
// They cover every client acremu is tested with: az 2.45 (2022-02-01-preview
// and 2021-08-01-preview), newer az (2025-03-01-preview, 2026-01-01-preview
// for network rules), the Azure SDK for Go armcontainerregistry v3 and
// @azure/arm-containerregistry 12 (2025-11-01), Terraform azurerm and the
// portal (2023-07-01).
var registryAPIVersions = []string{
	"2017-03-01", "2017-10-01", "2019-05-01", "2019-12-01-preview",
	"2020-11-01-preview", "2021-06-01-preview", "2021-08-01-preview", "2021-09-01",
	"2021-12-01-preview", "2022-02-01-preview", "2022-12-01", "2023-01-01-preview",
	"2023-06-01-preview", "2023-07-01", "2023-08-01-preview", "2023-11-01-preview",
	"2024-11-01-preview", "2025-03-01-preview", "2025-04-01", "2025-05-01-preview",
	"2025-06-01-preview", "2025-11-01", "2026-01-01-preview",
}

// resourcesAPIVersions are the api-versions ARM itself lists for
// Microsoft.Resources (subscriptions, tenants, resource groups, resources),
// newest first and in ARM's own order (its tail is not sorted).
var resourcesAPIVersions = []string{
	"2025-04-01", "2025-03-01", "2025-01-01", "2024-11-01", "2024-07-01", "2024-03-01",
	"2023-07-01", "2023-07-01-preview", "2023-03-01-preview", "2022-12-01",
	"2022-11-01-preview", "2022-09-01", "2022-06-01", "2022-05-01", "2022-03-01-preview",
	"2022-01-01", "2021-04-01", "2021-01-01", "2020-10-01", "2020-09-01", "2020-08-01",
	"2020-07-01", "2020-06-01", "2020-05-01", "2020-01-01", "2019-11-01", "2019-10-01",
	"2019-09-01", "2019-08-01", "2019-07-01", "2019-06-01", "2019-05-10", "2019-05-01",
	"2019-03-01", "2018-11-01", "2018-09-01", "2018-08-01", "2018-07-01", "2018-06-01",
	"2018-05-01", "2018-02-01", "2018-01-01", "2017-12-01", "2017-08-01", "2017-06-01",
	"2017-05-10", "2017-05-01", "2017-03-01", "2016-09-01", "2016-07-01", "2016-06-01",
	"2016-02-01", "2015-11-01", "2015-01-01", "2014-04-01-preview", "2014-04-01",
	"2014-01-01", "2013-03-01", "2014-02-26", "2014-04",
}

// oldestResourcesAPI bounds the generous rule for Microsoft.Resources: any
// dated version from here to today is accepted even when it is not listed.
const oldestResourcesAPI = "2013-03-01"

// apiProvider says which version list applies to a request path.
type apiProvider int

const (
	providerResources apiProvider = iota // Microsoft.Resources (ARM itself)
	providerRegistry                     // Microsoft.ContainerRegistry resource types
	providerOther                        // another resource provider: format only
)

// classifyPath returns the provider whose api-versions apply to path and,
// for a Microsoft.ContainerRegistry path, the resource type as ARM names it
// in its messages ("registries"). The last /providers/{namespace} segment
// decides, as for ARM's extension resources; a provider path without a
// resource type (GET …/providers/Microsoft.ContainerRegistry, /register)
// belongs to Microsoft.Resources.
func classifyPath(path string) (apiProvider, string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	ns := -1
	for i := len(segs) - 2; i >= 0; i-- {
		if strings.EqualFold(segs[i], "providers") {
			ns = i + 1
			break
		}
	}
	if ns < 0 || ns+1 >= len(segs) {
		return providerResources, ""
	}
	typ := segs[ns+1]
	switch {
	case strings.EqualFold(typ, "register") || strings.EqualFold(typ, "unregister"):
		return providerResources, ""
	case strings.EqualFold(segs[ns], "Microsoft.Resources"):
		return providerResources, ""
	case !strings.EqualFold(segs[ns], "Microsoft.ContainerRegistry"):
		return providerOther, ""
	}
	switch asciiLower(typ) {
	case "registries":
		typ = "registries"
	case "checknameavailability":
		typ = "checkNameAvailability"
	}
	return providerRegistry, typ
}

// apiVersion returns the api-version parameter, which ARM requires on every
// request, once it is one the path's resource provider has. Matching is
// case-insensitive; the canonical (lower-case) spelling is returned.
//
//   - Microsoft.ContainerRegistry: exactly registryAPIVersions, otherwise
//     ARM's 400 NoRegisteredProviderFound. Malformed values get the same
//     answer (acremu's choice: ARM's answer to them is not recorded).
//   - Microsoft.Resources: malformed values and unknown ones get ARM's 400
//     InvalidApiVersionParameter. Besides the listed versions any
//     YYYY-MM-DD[-preview] from 2013-03-01 to today is accepted, because
//     clients pin many versions and ARM adds some every year.
//   - other providers (paths acremu does not serve): the shape only.
func (a *API) apiVersion(r *http.Request) (string, error) {
	v := r.URL.Query().Get("api-version")
	if v == "" {
		return "", badRequest("MissingApiVersionParameter",
			"The api-version query parameter (?api-version=) is required for all requests.")
	}
	lv := asciiLower(v)
	prov, typ := classifyPath(state(r).path)
	switch prov {
	case providerRegistry:
		if contains(registryAPIVersions, lv) {
			return lv, nil
		}
		return "", badRequest("NoRegisteredProviderFound",
			"No registered resource provider found for location '%s' and API version '%s' for type '%s'. The supported api-versions are '%s'. The supported locations are '%s'.",
			a.requestLocation(r), v, typ, strings.Join(registryAPIVersions, ", "), strings.Join(azureRegions, ", "))
	case providerResources:
		if contains(resourcesAPIVersions, lv) ||
			validAPIVersion(lv) && lv[:10] >= oldestResourcesAPI && lv[:10] <= a.now().UTC().Format(time.DateOnly) {
			return lv, nil
		}
		return "", badRequest("InvalidApiVersionParameter",
			"The api-version '%s' is invalid. The supported versions are '%s'.", v, strings.Join(resourcesAPIVersions, ","))
	default:
		if validAPIVersion(lv) {
			return lv, nil
		}
		return "", badRequest("InvalidApiVersionParameter",
			"The api-version '%s' is invalid. The supported versions are of the form 'YYYY-MM-DD' or 'YYYY-MM-DD-preview'.", v)
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

// validAPIVersion reports whether v has the shape YYYY-MM-DD[-preview]
// with a real date.
func validAPIVersion(v string) bool {
	if len(v) < 10 {
		return false
	}
	if _, err := time.Parse(time.DateOnly, v[:10]); err != nil {
		return false
	}
	rest := v[10:]
	return rest == "" || strings.EqualFold(rest, "-preview")
}

// requestLocation is the location NoRegisteredProviderFound names. ARM
// names the region it would route the request to; acremu takes, in order,
// the location of a PUT body, the stored registry's, the resource group's,
// and DefaultLocation for requests that have none (lists, name checks).
func (a *API) requestLocation(r *http.Request) string {
	if r.Method == http.MethodPut && r.Body != nil && r.Body != http.NoBody {
		// Peek at the body and put it back for the handler, which is
		// not reached anyway: this request fails.
		data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), r.Body))
		var in struct {
			Location string `json:"location"`
		}
		if err == nil && json.Unmarshal(data, &in) == nil && isAzureRegion(in.Location) {
			return normalizeLocation(in.Location)
		}
	}
	rg, name := pathResource(state(r).path)
	loc := DefaultLocation
	if rg == "" || !strings.EqualFold(pathSubscription(state(r).path), a.cfg.Subscription) {
		return loc
	}
	a.cfg.Store.View(func(tx *store.Tx) error {
		g, err := tx.ResourceGroup(a.cfg.Subscription, rg)
		if err != nil {
			return nil
		}
		loc = g.Location
		if name == "" {
			return nil
		}
		if reg, err := tx.Registry(name); err == nil && a.inGroup(reg, g) {
			loc = reg.Location
		}
		return nil
	})
	return loc
}

// pathResource returns the resource group and registry name of a
// /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}
// path, or what of them it has.
func pathResource(path string) (rg, name string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := 0; i+1 < len(segs); i++ {
		switch {
		case strings.EqualFold(segs[i], "resourceGroups"):
			rg = segs[i+1]
		case strings.EqualFold(segs[i], "registries"):
			name = segs[i+1]
		}
	}
	return rg, name
}
