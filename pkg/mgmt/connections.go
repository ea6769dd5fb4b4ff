package mgmt

// A registry's private endpoint connections
// (Microsoft.ContainerRegistry/registries/privateEndpointConnections):
// stored in the registry's record, approved or rejected by its owner.

import (
	"net/http"
	"slices"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

type connectionStateJSON struct {
	Status          string `json:"status"`
	Description     string `json:"description"`
	ActionsRequired string `json:"actionsRequired"`
}

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
}

type peConnectionJSON struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Type       string `json:"type"`
	Properties struct {
		PrivateEndpoint                   idJSON              `json:"privateEndpoint"`
		PrivateLinkServiceConnectionState connectionStateJSON `json:"privateLinkServiceConnectionState"`
		ProvisioningState                 string              `json:"provisioningState"`
	} `json:"properties"`
}

// renderConnections is the registry's privateEndpointConnections property.
func renderConnections(reg store.Registry) []peConnectionJSON {
	out := []peConnectionJSON{}
	for _, c := range reg.PrivateEndpointConnections {
		out = append(out, renderConnection(reg, c))
	}
	return out
}

func renderConnection(reg store.Registry, c store.PrivateEndpointConnection) peConnectionJSON {
	j := peConnectionJSON{ID: registryID(reg) + "/privateEndpointConnections/" + c.Name, Name: c.Name, Type: peConnType}
	j.Properties.PrivateEndpoint = idJSON{c.PrivateEndpointID}
	j.Properties.PrivateLinkServiceConnectionState = connectionStateJSON{c.Status, c.Description, orNone(c.ActionsRequired)}
	j.Properties.ProvisioningState = "Succeeded"
	return j
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": renderConnections(reg)})
	return nil
}

func connectionIndex(reg store.Registry, name string) int {
	return slices.IndexFunc(reg.PrivateEndpointConnections, func(x store.PrivateEndpointConnection) bool { return strings.EqualFold(x.Name, name) })
}

func connectionNotFound(reg store.Registry, name string) error {
	return notFoundResource(peConnType, reg.Name+"/"+name, reg.ResourceGroup)
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) error {
	reg, err := a.registryFromPath(r)
	if err != nil {
		return err
	}
	i := connectionIndex(reg, pathParam(r, "conn"))
	if i < 0 {
		return connectionNotFound(reg, pathParam(r, "conn"))
	}
	writeJSON(w, http.StatusOK, renderConnection(reg, reg.PrivateEndpointConnections[i]))
	return nil
}

// putConnection is how the registry owner approves or rejects a
// connection (az acr private-endpoint-connection approve/reject). A
// rejected connection cannot be approved again: the endpoint must be
// created anew, as in Azure.
func (a *API) putConnection(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Properties struct {
			State *struct {
				Status      string `json:"status"`
				Description string `json:"description"`
			} `json:"privateLinkServiceConnectionState"`
		} `json:"properties"`
	}
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	st := in.Properties.State
	if st == nil {
		return badRequest("InvalidRequestFormat", "properties.privateLinkServiceConnectionState is required.")
	}
	var status string
	for _, s := range []string{statusApproved, statusRejected, statusPending, statusDisconnected} {
		if strings.EqualFold(st.Status, s) {
			status = s
		}
	}
	if status == "" {
		return badRequest("InvalidPrivateLinkServiceConnectionStatus",
			"The private link service connection status '%s' is invalid. Valid values are Approved, Rejected, Pending and Disconnected.", st.Status)
	}
	var out peConnectionJSON
	_, _, err := a.commitRegistry(func(tx *store.Tx) (store.Registry, bool, error) {
		reg, err := a.registryInTx(tx, r)
		if err != nil {
			return reg, false, err
		}
		i := connectionIndex(reg, pathParam(r, "conn"))
		if i < 0 {
			return reg, false, connectionNotFound(reg, pathParam(r, "conn"))
		}
		conns := slices.Clone(reg.PrivateEndpointConnections)
		c := &conns[i]
		if c.Status == statusRejected && status != statusRejected {
			return reg, false, badRequest("CannotChangeRejectedPrivateEndpointConnection",
				"The private endpoint connection %s was rejected and cannot be %s; delete the private endpoint and create it again.", c.Name, strings.ToLower(status))
		}
		c.Status, c.Description = status, st.Description
		reg.PrivateEndpointConnections = conns
		reg.LastModifiedAt = a.now().UTC()
		out = renderConnection(reg, *c)
		return reg, true, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	found := false
	_, _, err := a.commitRegistry(func(tx *store.Tx) (store.Registry, bool, error) {
		reg, err := a.registryInTx(tx, r)
		if err != nil {
			return reg, false, err
		}
		i := connectionIndex(reg, pathParam(r, "conn"))
		if i < 0 {
			return reg, false, nil
		}
		found = true
		reg.PrivateEndpointConnections = slices.Delete(slices.Clone(reg.PrivateEndpointConnections), i, i+1)
		reg.LastModifiedAt = a.now().UTC()
		return reg, true, nil
	})
	if err != nil {
		return err
	}
	if !found {
		writeEmpty(w, http.StatusNoContent)
		return nil
	}
	writeEmpty(w, http.StatusOK)
	return nil
}
