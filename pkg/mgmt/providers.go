package mgmt

import (
	"net/http"
	"slices"
	"strings"
)

// providerJSON is a resource provider as GET …/providers shows it.
type providerJSON struct {
	ID                 string             `json:"id,omitempty"`
	Namespace          string             `json:"namespace"`
	RegistrationState  string             `json:"registrationState"`
	RegistrationPolicy string             `json:"registrationPolicy"`
	ResourceTypes      []resourceTypeJSON `json:"resourceTypes"`
}

type resourceTypeJSON struct {
	ResourceType string   `json:"resourceType"`
	Locations    []string `json:"locations"`
	APIVersions  []string `json:"apiVersions"`
	Capabilities string   `json:"capabilities,omitempty"`
}

// providers are the resource providers acremu serves, both always
// Registered (registering is a no-op that succeeds at once). Resource types
// list what acremu routes, with the api-versions it accepts for them
// (newest first, as ARM lists them) and, for located types, the regions.
// ARM shows regions by display name ("East US"); acremu shows the canonical
// names it stores, which clients normalise to the same value.
func (a *API) providers() []providerJSON {
	newestFirst := slices.Clone(registryAPIVersions)
	slices.Reverse(newestFirst)
	var replications []string
	for _, v := range newestFirst {
		if v >= "2017-10-01" {
			replications = append(replications, v)
		}
	}
	global := []string{}
	return []providerJSON{
		{
			Namespace: registryProvider, RegistrationState: "Registered", RegistrationPolicy: "RegistrationRequired",
			ResourceTypes: []resourceTypeJSON{
				{ResourceType: "registries", Locations: azureRegions, APIVersions: newestFirst,
					Capabilities: "CrossResourceGroupResourceMove, CrossSubscriptionResourceMove, SupportsTags, SupportsLocation"},
				{ResourceType: "registries/replications", Locations: azureRegions, APIVersions: replications,
					Capabilities: "SupportsTags, SupportsLocation"},
				{ResourceType: "checkNameAvailability", Locations: global, APIVersions: newestFirst},
				{ResourceType: "operations", Locations: global, APIVersions: newestFirst},
			},
		},
		{
			Namespace: "Microsoft.Resources", RegistrationState: "Registered", RegistrationPolicy: "RegistrationFree",
			ResourceTypes: []resourceTypeJSON{
				{ResourceType: "subscriptions", Locations: global, APIVersions: resourcesAPIVersions},
				{ResourceType: "tenants", Locations: global, APIVersions: resourcesAPIVersions},
				{ResourceType: "resourceGroups", Locations: azureRegions, APIVersions: resourcesAPIVersions},
				{ResourceType: "resources", Locations: global, APIVersions: resourcesAPIVersions},
			},
		},
	}
}

// provider returns the provider namespace names (any case), with its id
// under the route's subscription when there is one.
func (a *API) provider(r *http.Request, namespace string) (providerJSON, error) {
	for _, p := range a.providers() {
		if strings.EqualFold(p.Namespace, namespace) {
			if sub := pathParam(r, "sub"); sub != "" {
				p.ID = "/subscriptions/" + a.cfg.Subscription + "/providers/" + p.Namespace
			}
			return p, nil
		}
	}
	return providerJSON{}, newError(http.StatusNotFound, "InvalidResourceNamespace",
		"The resource namespace '%s' is invalid.", namespace)
}

// listProviders answers GET /subscriptions/{sub}/providers (and the
// tenant-level /providers).
func (a *API) listProviders(w http.ResponseWriter, r *http.Request) error {
	var out []providerJSON
	for _, p := range a.providers() {
		p, _ := a.provider(r, p.Namespace)
		out = append(out, p)
	}
	writeJSON(w, http.StatusOK, list[providerJSON]{Value: out})
	return nil
}

func (a *API) getProvider(w http.ResponseWriter, r *http.Request) error {
	p, err := a.provider(r, pathParam(r, "namespace"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

// registerProvider answers POST …/providers/{namespace}/register: acremu's
// providers are always registered, so this returns the provider at once.
func (a *API) registerProvider(w http.ResponseWriter, r *http.Request) error {
	return a.getProvider(w, r)
}

type operationJSON struct {
	Name         string               `json:"name"`
	IsDataAction bool                 `json:"isDataAction"`
	Display      operationDisplayJSON `json:"display"`
	Origin       string               `json:"origin,omitempty"`
}

type operationDisplayJSON struct {
	Provider    string `json:"provider"`
	Resource    string `json:"resource"`
	Operation   string `json:"operation"`
	Description string `json:"description"`
}

// operations are the Microsoft.ContainerRegistry operations acremu serves.
var operations = []struct{ name, resource, operation, description string }{
	{"operations/read", "Operations", "List Operations", "Lists all of the available Azure Container Registry REST API operations."},
	{"checkNameAvailability/read", "Registry Name Availability", "Check Name Availability", "Checks whether the container registry name is available for use."},
	{"registries/read", "Registry", "Get Registry", "Gets the properties of the specified container registry or lists all container registries under the specified resource group or subscription."},
	{"registries/write", "Registry", "Create or Update Registry", "Creates or updates a container registry with the specified parameters."},
	{"registries/delete", "Registry", "Delete Registry", "Deletes a container registry."},
	{"registries/listCredentials/action", "Registry", "List Registry Credentials", "Lists the login credentials for the specified container registry."},
	{"registries/regenerateCredential/action", "Registry", "Regenerate Registry Credential", "Regenerates one of the login credentials for the specified container registry."},
	{"registries/listUsages/read", "Registry", "List Registry Usages", "Lists the quota usages for the specified container registry."},
	{"registries/replications/read", "Replication", "Get Replication", "Gets the properties of the specified replication or lists all replications for the specified container registry."},
	{"registries/replications/write", "Replication", "Create or Update Replication", "Creates or updates a replication for a container registry with the specified parameters."},
	{"registries/replications/delete", "Replication", "Delete Replication", "Deletes a replication from a container registry."},
	{"registries/pull/read", "Registry", "Pull Image", "Pull or Get images from a container registry."},
	{"registries/push/write", "Registry", "Push Image", "Push or Write images to a container registry."},
}

// listOperations answers GET /providers/Microsoft.ContainerRegistry/operations.
func (a *API) listOperations(w http.ResponseWriter, r *http.Request) error {
	out := make([]operationJSON, len(operations))
	for i, o := range operations {
		out[i] = operationJSON{
			Name:         registryProvider + "/" + o.name,
			IsDataAction: strings.HasPrefix(o.name, "registries/pull/") || strings.HasPrefix(o.name, "registries/push/"),
			Display:      operationDisplayJSON{"Microsoft Container Registry", o.resource, o.operation, o.description},
			Origin:       "user,system",
		}
	}
	writeJSON(w, http.StatusOK, list[operationJSON]{Value: out})
	return nil
}
