package mgmt

// A registry's private link resources
// (Microsoft.ContainerRegistry/registries/privateLinkResources): the one
// group id, "registry", that private endpoints connect to.

import (
	"net/http"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

type privateLinkResourceJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		GroupID           string   `json:"groupId"`
		RequiredMembers   []string `json:"requiredMembers"`
		RequiredZoneNames []string `json:"requiredZoneNames"`
	} `json:"properties"`
}

func (a *API) privateLinkResource(reg store.Registry) privateLinkResourceJSON {
	j := privateLinkResourceJSON{ID: registryID(reg) + "/privateLinkResources/" + registryGroup, Name: registryGroup, Type: plResourceType}
	j.Properties.GroupID = registryGroup
	j.Properties.RequiredMembers = []string{registryGroup, "registry_data_" + strings.ToLower(strings.ReplaceAll(reg.Location, " ", ""))}
	j.Properties.RequiredZoneNames = []string{"privatelink.azurecr.io"}
	return j
}

// privateLinkKind describes a registry's private link resources: the
// one group id there is. They are read-only.
var privateLinkKind = childKind[store.Registry, privateLinkResourceJSON]{
	param:  "plr",
	parent: (*API).registryInTx,
	one: func(a *API, _ *store.Tx, _ *http.Request, reg store.Registry, name string) (privateLinkResourceJSON, error) {
		if !strings.EqualFold(name, registryGroup) {
			return privateLinkResourceJSON{}, notFoundResource(plResourceType, reg.Name+"/"+name, reg.ResourceGroup)
		}
		return a.privateLinkResource(reg), nil
	},
	all: func(a *API, _ *store.Tx, _ *http.Request, reg store.Registry) ([]privateLinkResourceJSON, error) {
		return []privateLinkResourceJSON{a.privateLinkResource(reg)}, nil
	},
}

func (a *API) listPrivateLinkResources(w http.ResponseWriter, r *http.Request) error {
	return privateLinkKind.list(a, w, r)
}

func (a *API) getPrivateLinkResource(w http.ResponseWriter, r *http.Request) error {
	return privateLinkKind.get(a, w, r)
}
