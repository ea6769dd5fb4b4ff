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

// connectionKind describes a registry's private endpoint connections,
// stored in its record.
var connectionKind = childKind[store.Registry, peConnectionJSON]{
	param:  "conn",
	parent: (*API).registryInTx,
	commit: commitRegistryRecord,
	one: func(_ *API, _ *store.Tx, _ *http.Request, reg store.Registry, name string) (peConnectionJSON, error) {
		i := connectionIndex(reg, name)
		if i < 0 {
			return peConnectionJSON{}, connectionNotFound(reg, name)
		}
		return renderConnection(reg, reg.PrivateEndpointConnections[i]), nil
	},
	all: func(_ *API, _ *store.Tx, _ *http.Request, reg store.Registry) ([]peConnectionJSON, error) {
		return renderConnections(reg), nil
	},
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) error {
	return connectionKind.list(a, w, r)
}

func connectionIndex(reg store.Registry, name string) int {
	return slices.IndexFunc(reg.PrivateEndpointConnections, func(x store.PrivateEndpointConnection) bool { return strings.EqualFold(x.Name, name) })
}

func connectionNotFound(reg store.Registry, name string) error {
	return notFoundResource(peConnType, reg.Name+"/"+name, reg.ResourceGroup)
}

func (a *API) getConnection(w http.ResponseWriter, r *http.Request) error {
	return connectionKind.get(a, w, r)
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
	name := pathParam(r, "conn")
	_, err := connectionKind.write(a, w, r, func(_ *store.Tx, reg *store.Registry) (peConnectionJSON, bool, error) {
		i := connectionIndex(*reg, name)
		if i < 0 {
			return peConnectionJSON{}, false, connectionNotFound(*reg, name)
		}
		conns := slices.Clone(reg.PrivateEndpointConnections)
		c := &conns[i]
		if c.Status == statusRejected && status != statusRejected {
			return peConnectionJSON{}, false, badRequest("CannotChangeRejectedPrivateEndpointConnection",
				"The private endpoint connection %s was rejected and cannot be %s; delete the private endpoint and create it again.", c.Name, strings.ToLower(status))
		}
		c.Status, c.Description = status, st.Description
		reg.PrivateEndpointConnections = conns
		reg.LastModifiedAt = a.now().UTC()
		return renderConnection(*reg, *c), false, nil
	})
	return err
}

func (a *API) deleteConnection(w http.ResponseWriter, r *http.Request) error {
	name := pathParam(r, "conn")
	_, err := connectionKind.remove(a, w, r, func(_ *store.Tx, reg *store.Registry) (bool, error) {
		i := connectionIndex(*reg, name)
		if i < 0 {
			return false, nil
		}
		reg.PrivateEndpointConnections = slices.Delete(slices.Clone(reg.PrivateEndpointConnections), i, i+1)
		reg.LastModifiedAt = a.now().UTC()
		return true, nil
	})
	return err
}
