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

func (a *API) listPrivateLinkResources(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": []privateLinkResourceJSON{a.privateLinkResource(reg)}})
	return nil
}

func (a *API) getPrivateLinkResource(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	if !strings.EqualFold(pathParam(r, "plr"), registryGroup) {
		return notFoundResource(plResourceType, reg.Name+"/"+pathParam(r, "plr"), reg.ResourceGroup)
	}
	writeJSON(w, http.StatusOK, a.privateLinkResource(reg))
	return nil
}
