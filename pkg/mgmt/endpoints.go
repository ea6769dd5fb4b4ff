package mgmt

// Private endpoints (Microsoft.Network/privateEndpoints): each connects
// the network of its subnet to one registry, whose connection state it
// shows.

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

type plsConnectionJSON struct {
	Name       string `json:"name"`
	ID         string `json:"id"`
	Etag       string `json:"etag"`
	Type       string `json:"type"`
	Properties struct {
		ProvisioningState                 string              `json:"provisioningState"`
		PrivateLinkServiceID              string              `json:"privateLinkServiceId"`
		GroupIDs                          []string            `json:"groupIds"`
		RequestMessage                    string              `json:"requestMessage,omitempty"`
		PrivateLinkServiceConnectionState connectionStateJSON `json:"privateLinkServiceConnectionState"`
	} `json:"properties"`
}

type endpointJSON struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Etag       string            `json:"etag"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties struct {
		ProvisioningState                   string              `json:"provisioningState"`
		ResourceGUID                        string              `json:"resourceGuid"`
		Subnet                              idJSON              `json:"subnet"`
		NetworkInterfaces                   []idJSON            `json:"networkInterfaces"`
		PrivateLinkServiceConnections       []plsConnectionJSON `json:"privateLinkServiceConnections"`
		ManualPrivateLinkServiceConnections []plsConnectionJSON `json:"manualPrivateLinkServiceConnections"`
		CustomDNSConfigs                    []struct{}          `json:"customDnsConfigs"`
	} `json:"properties"`
}

type plsConnectionInput struct {
	Name       string `json:"name"`
	Properties struct {
		PrivateLinkServiceID string   `json:"privateLinkServiceId"`
		GroupIDs             []string `json:"groupIds"`
		RequestMessage       string   `json:"requestMessage"`
	} `json:"properties"`
}

type endpointInput struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		Subnet struct {
			ID string `json:"id"`
		} `json:"subnet"`
		PrivateLinkServiceConnections       []plsConnectionInput `json:"privateLinkServiceConnections"`
		ManualPrivateLinkServiceConnections []plsConnectionInput `json:"manualPrivateLinkServiceConnections"`
	} `json:"properties"`
}

// connectionState is the state the registry holds for c, or Disconnected
// when the registry or its connection is gone.
func connectionState(c store.PrivateLinkServiceConnection, reg *store.Registry) connectionStateJSON {
	if reg != nil {
		for _, x := range reg.PrivateEndpointConnections {
			if strings.EqualFold(x.Name, c.ConnectionName) {
				return connectionStateJSON{x.Status, x.Description, orNone(x.ActionsRequired)}
			}
		}
	}
	return connectionStateJSON{statusDisconnected, "The private endpoint connection was deleted by the registry or the registry was deleted.", "None"}
}

func (a *API) renderEndpoint(tx *store.Tx, p store.PrivateEndpoint) endpointJSON {
	id := a.endpointID(p)
	out := endpointJSON{Name: p.Name, ID: id, Etag: etag(p.GUID), Type: endpointType, Location: p.Location, Tags: p.Tags}
	props := &out.Properties
	props.ProvisioningState, props.ResourceGUID = "Succeeded", p.GUID
	props.Subnet = idJSON{p.SubnetID}
	props.NetworkInterfaces = []idJSON{{a.rgID(p.ResourceGroup) + "/providers/Microsoft.Network/networkInterfaces/" + p.Name + ".nic." + p.GUID}}
	props.PrivateLinkServiceConnections, props.ManualPrivateLinkServiceConnections = []plsConnectionJSON{}, []plsConnectionJSON{}
	props.CustomDNSConfigs = []struct{}{}
	for _, c := range p.Connections {
		var reg *store.Registry
		if _, _, name, ok := parseRegistryID(c.PrivateLinkServiceID); ok {
			if r, err := tx.Registry(name); err == nil {
				reg = &r
			}
		}
		j := plsConnectionJSON{Name: c.Name, ID: id + "/" + map[bool]string{false: "privateLinkServiceConnections", true: "manualPrivateLinkServiceConnections"}[c.Manual] + "/" + c.Name,
			Etag: etag(p.GUID), Type: plsConnType}
		j.Properties.ProvisioningState = "Succeeded"
		j.Properties.PrivateLinkServiceID, j.Properties.GroupIDs, j.Properties.RequestMessage = c.PrivateLinkServiceID, c.GroupIDs, c.RequestMessage
		j.Properties.PrivateLinkServiceConnectionState = connectionState(c, reg)
		if c.Manual {
			props.ManualPrivateLinkServiceConnections = append(props.ManualPrivateLinkServiceConnections, j)
		} else {
			props.PrivateLinkServiceConnections = append(props.PrivateLinkServiceConnections, j)
		}
	}
	return out
}

// endpointKind describes a resource group's private endpoints, or the
// subscription's in a subscription-wide list. A write changes the
// registry an endpoint connects to, not the group, so putEndpoint and
// deleteEndpoint commit by hand rather than through the kind.
var endpointKind = childKind[store.ResourceGroup, endpointJSON]{
	param:  "pe",
	parent: (*API).groupOfRoute,
	one: func(a *API, tx *store.Tx, _ *http.Request, g store.ResourceGroup, name string) (endpointJSON, error) {
		p, err := a.privateEndpoint(tx, g, name)
		if err != nil {
			return endpointJSON{}, err
		}
		return a.renderEndpoint(tx, p), nil
	},
	all: func(a *API, tx *store.Tx, _ *http.Request, g store.ResourceGroup) ([]endpointJSON, error) {
		var out []endpointJSON
		eps, err := tx.PrivateEndpoints(a.cfg.Subscription, g.Name)
		for _, p := range eps {
			out = append(out, a.renderEndpoint(tx, p))
		}
		return out, err
	},
}

// putEndpoint creates a private endpoint with one connection to a
// registry. ARM approves a privateLinkServiceConnections entry at once
// (the caller may approve connections to the registry, as the emulated
// principal always can); a manualPrivateLinkServiceConnections entry
// waits as Pending for the registry owner. The registry's connection and
// its recompiled firewall are committed in the same transaction.
func (a *API) putEndpoint(w http.ResponseWriter, r *http.Request) error {
	var in endpointInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	name := pathParam(r, "pe")
	conns := append(slices.Clone(in.Properties.PrivateLinkServiceConnections), in.Properties.ManualPrivateLinkServiceConnections...)
	if len(conns) != 1 {
		return badRequest("PrivateEndpointMustHaveExactlyOneConnection",
			"Private endpoint %s must have exactly one private link service connection (privateLinkServiceConnections or manualPrivateLinkServiceConnections).", name)
	}
	manual := len(in.Properties.ManualPrivateLinkServiceConnections) == 1
	c := conns[0]
	subS, subRG, vnetName, subnetName, ok := parseSubnetID(in.Properties.Subnet.ID)
	if !ok || !strings.EqualFold(subS, a.cfg.Subscription) {
		return badRequest("InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", in.Properties.Subnet.ID, name)
	}
	_, regRG, regName, ok := parseRegistryID(c.Properties.PrivateLinkServiceID)
	if !ok {
		return badRequest("InvalidPrivateLinkServiceId", "The private link service id '%s' is not the resource id of a container registry.", c.Properties.PrivateLinkServiceID)
	}
	if len(c.Properties.GroupIDs) != 1 || !strings.EqualFold(c.Properties.GroupIDs[0], registryGroup) {
		return badRequest("PrivateEndpointBadRequest", "Call to Microsoft.ContainerRegistry/registries failed. Error message: The group id must be 'registry', got %v.", c.Properties.GroupIDs)
	}

	var p store.PrivateEndpoint
	created := false
	_, _, err := a.commitRegistry(func(tx *store.Tx) (store.Registry, bool, error) {
		g, err := a.lookupGroup(tx, pathParam(r, "rg"))
		if err != nil {
			return store.Registry{}, false, err
		}
		v, err := tx.VirtualNetwork(a.cfg.Subscription, subRG, vnetName)
		if err == nil && !slices.ContainsFunc(v.Subnets, func(s store.Subnet) bool { return strings.EqualFold(s.Name, subnetName) }) {
			err = store.ErrNotFound
		}
		if errors.Is(err, store.ErrNotFound) {
			return store.Registry{}, false, badRequest("InvalidResourceReference", "Resource %s referenced by resource %s was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.", in.Properties.Subnet.ID, a.rgID(g.Name)+"/providers/"+endpointType+"/"+name)
		} else if err != nil {
			return store.Registry{}, false, err
		}
		reg, err := tx.Registry(regName)
		if errors.Is(err, store.ErrNotFound) || err == nil && !strings.EqualFold(reg.ResourceGroup, regRG) {
			return store.Registry{}, false, badRequest("PrivateLinkServiceNotFound", "The private link service %s was not found.", c.Properties.PrivateLinkServiceID)
		} else if err != nil {
			return store.Registry{}, false, err
		}
		if reg.SKU != skuPremium {
			return store.Registry{}, false, badRequest("PrivateEndpointConnectionNotSupported",
				"Private endpoint connections are not supported for the SKU %s. For more information, please visit https://aka.ms/acr/private-link.", reg.SKU)
		}

		old, err := tx.PrivateEndpoint(a.cfg.Subscription, g.Name, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			created = true
			p = store.PrivateEndpoint{Subscription: a.cfg.Subscription, ResourceGroup: g.Name, Name: name, CreatedAt: a.now().UTC(),
				GUID: DerivedUUID("private endpoint", a.cfg.Subscription, g.Name, strings.ToLower(name), a.now().String())}
		case err != nil:
			return store.Registry{}, false, err
		default:
			p = old
			oc := old.Connections[0]
			if !strings.EqualFold(oc.PrivateLinkServiceID, c.Properties.PrivateLinkServiceID) || !strings.EqualFold(old.SubnetID, in.Properties.Subnet.ID) {
				return store.Registry{}, false, badRequest("CannotChangePrivateEndpoint",
					"Private endpoint %s cannot change its subnet or private link service; delete it and create it again.", name)
			}
		}
		p.Location, p.Tags = in.Location, in.Tags
		if p.Location == "" {
			p.Location = g.Location
		}
		p.SubnetID, p.VNetGroup, p.VNet = in.Properties.Subnet.ID, v.ResourceGroup, v.Name
		conn := store.PrivateLinkServiceConnection{Name: c.Name, PrivateLinkServiceID: c.Properties.PrivateLinkServiceID,
			GroupIDs: []string{registryGroup}, RequestMessage: c.Properties.RequestMessage, Manual: manual,
			ConnectionName: p.Name + "." + p.GUID}
		if conn.Name == "" {
			conn.Name = p.Name
		}
		p.Connections = []store.PrivateLinkServiceConnection{conn}
		if err := tx.PutPrivateEndpoint(p); err != nil {
			return store.Registry{}, false, err
		}
		if !created && slices.ContainsFunc(reg.PrivateEndpointConnections, func(x store.PrivateEndpointConnection) bool {
			return strings.EqualFold(x.Name, conn.ConnectionName)
		}) {
			return reg, true, nil // the registry keeps its decision
		}
		state := store.PrivateEndpointConnection{Name: conn.ConnectionName, PrivateEndpointID: a.endpointID(p), Network: v.Name,
			GroupIDs: []string{registryGroup}, Status: statusApproved, Description: "Auto-Approved"}
		if manual {
			state.Status, state.Description = statusPending, c.Properties.RequestMessage
		}
		reg.PrivateEndpointConnections = append(slices.Clone(reg.PrivateEndpointConnections), state)
		reg.LastModifiedAt = a.now().UTC()
		return reg, true, nil
	})
	if err != nil {
		return err
	}
	if created {
		a.log.Info("private endpoint created", "privateEndpoint", p.Name, "virtualNetwork", p.VNet, "registry", regName, "manual", manual)
	}
	var out endpointJSON
	if err := a.cfg.Store.View(func(tx *store.Tx) error { out = a.renderEndpoint(tx, p); return nil }); err != nil {
		return err
	}
	answerWrite(w, created, out)
	return nil
}

func (a *API) endpointFromPath(tx *store.Tx, r *http.Request) (store.PrivateEndpoint, error) {
	g, err := a.lookupGroup(tx, pathParam(r, "rg"))
	if err != nil {
		return store.PrivateEndpoint{}, err
	}
	return a.privateEndpoint(tx, g, pathParam(r, "pe"))
}

// privateEndpoint reads g's private endpoint called name, or returns its
// 404.
func (a *API) privateEndpoint(tx *store.Tx, g store.ResourceGroup, name string) (store.PrivateEndpoint, error) {
	p, err := tx.PrivateEndpoint(a.cfg.Subscription, g.Name, name)
	if errors.Is(err, store.ErrNotFound) {
		return p, notFoundResource(endpointType, name, g.Name)
	}
	return p, err
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	return endpointKind.get(a, w, r)
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	return endpointKind.list(a, w, r)
}

// deleteEndpoint removes the endpoint and its connection from the
// registry, whose firewall is recompiled in the same transaction: clients
// in the network lose private access with the next request.
func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	found := false
	_, _, err := a.commitRegistry(func(tx *store.Tx) (store.Registry, bool, error) {
		p, err := a.endpointFromPath(tx, r)
		var ae *armError
		if errors.As(err, &ae) && ae.code == "ResourceNotFound" {
			return store.Registry{}, false, nil
		} else if err != nil {
			return store.Registry{}, false, err
		}
		found = true
		if err := tx.DeletePrivateEndpoint(p.Subscription, p.ResourceGroup, p.Name); err != nil {
			return store.Registry{}, false, err
		}
		for _, c := range p.Connections {
			_, _, regName, ok := parseRegistryID(c.PrivateLinkServiceID)
			if !ok {
				continue
			}
			reg, err := tx.Registry(regName)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return store.Registry{}, false, err
			}
			n := len(reg.PrivateEndpointConnections)
			reg.PrivateEndpointConnections = slices.DeleteFunc(slices.Clone(reg.PrivateEndpointConnections),
				func(x store.PrivateEndpointConnection) bool { return strings.EqualFold(x.Name, c.ConnectionName) })
			return reg, len(reg.PrivateEndpointConnections) != n, nil
		}
		return store.Registry{}, false, nil
	})
	if err != nil {
		return err
	}
	answerDelete(w, found)
	return nil
}
