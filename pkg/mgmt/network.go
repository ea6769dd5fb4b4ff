package mgmt

// Microsoft.Network, as far as private endpoints to registries need it:
// virtual networks and their subnets, private endpoints, and on the
// registry the privateEndpointConnections and privateLinkResources child
// resources. Everything completes synchronously (200/201, provisioningState
// Succeeded), which az and the SDK pollers accept.
//
// Which clients are in a virtual network is not decided here: the front
// end's --vnet NAME=CIDR ranges place sources in networks by name, and a
// virtual network resource of that name (in any resource group) is that
// network. A private endpoint connects the network of its subnet to one
// registry; while the registry's connection is Approved, clients in that
// network reach the registry privately.

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/acremu/acremu/pkg/store"
)

const (
	vnetType       = "Microsoft.Network/virtualNetworks"
	subnetType     = "Microsoft.Network/virtualNetworks/subnets"
	endpointType   = "Microsoft.Network/privateEndpoints"
	plsConnType    = "Microsoft.Network/privateEndpoints/privateLinkServiceConnections"
	peConnType     = "Microsoft.ContainerRegistry/registries/privateEndpointConnections"
	plResourceType = "Microsoft.ContainerRegistry/registries/privateLinkResources"
	registryGroup  = "registry" // the only private-link group id of a registry

	statusApproved     = "Approved"
	statusPending      = "Pending"
	statusRejected     = "Rejected"
	statusDisconnected = "Disconnected"
)

// networkRoutes registers the Microsoft.Network resources under group and
// the registry's private-link children under registry.
func (a *API) networkRoutes(r chi.Router, group, registry string) {
	h := a.handle
	const network = "/providers/microsoft.network"
	vnet := group + network + "/virtualnetworks/{vnet}"
	r.Get("/subscriptions/{sub}"+network+"/virtualnetworks", h(a.listVNets))
	r.Get(group+network+"/virtualnetworks", h(a.listVNets))
	r.Put(vnet, h(a.putVNet))
	r.Get(vnet, h(a.getVNet))
	r.Delete(vnet, h(a.deleteVNet))
	r.Get(vnet+"/subnets", h(a.listSubnets))
	r.Put(vnet+"/subnets/{subnet}", h(a.putSubnet))
	r.Get(vnet+"/subnets/{subnet}", h(a.getSubnet))
	r.Delete(vnet+"/subnets/{subnet}", h(a.deleteSubnet))

	pe := group + network + "/privateendpoints/{pe}"
	r.Get("/subscriptions/{sub}"+network+"/privateendpoints", h(a.listEndpoints))
	r.Get(group+network+"/privateendpoints", h(a.listEndpoints))
	r.Put(pe, h(a.putEndpoint))
	r.Get(pe, h(a.getEndpoint))
	r.Delete(pe, h(a.deleteEndpoint))

	r.Get(registry+"/privateendpointconnections", h(a.listConnections))
	r.Get(registry+"/privateendpointconnections/{conn}", h(a.getConnection))
	r.Put(registry+"/privateendpointconnections/{conn}", h(a.putConnection))
	r.Delete(registry+"/privateendpointconnections/{conn}", h(a.deleteConnection))
	r.Get(registry+"/privatelinkresources", h(a.listPrivateLinkResources))
	r.Get(registry+"/privatelinkresources/{plr}", h(a.getPrivateLinkResource))
}

func notFoundResource(typ, name, rg string) error {
	return newError(http.StatusNotFound, "ResourceNotFound",
		"The Resource '%s/%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
		typ, name, rg)
}

func (a *API) rgID(rg string) string {
	return "/subscriptions/" + a.cfg.Subscription + "/resourceGroups/" + rg
}

func (a *API) vnetID(v store.VirtualNetwork) string {
	return a.rgID(v.ResourceGroup) + "/providers/" + vnetType + "/" + v.Name
}

func (a *API) endpointID(p store.PrivateEndpoint) string {
	return a.rgID(p.ResourceGroup) + "/providers/" + endpointType + "/" + p.Name
}

func etag(guid string) string { return `W/"` + guid + `"` }

type idJSON struct {
	ID string `json:"id"`
}

// parseSubnetID splits /subscriptions/S/resourceGroups/G/providers/
// Microsoft.Network/virtualNetworks/V/subnets/N (case-insensitive keys).
func parseSubnetID(id string) (sub, rg, vnet, subnet string, ok bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 10 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5], "Microsoft.Network") ||
		!strings.EqualFold(p[6], "virtualNetworks") || !strings.EqualFold(p[8], "subnets") {
		return "", "", "", "", false
	}
	return p[1], p[3], p[7], p[9], true
}

// parseRegistryID splits a registry's resource id.
func parseRegistryID(id string) (sub, rg, name string, ok bool) {
	p := strings.Split(strings.Trim(id, "/"), "/")
	if len(p) != 8 || !strings.EqualFold(p[0], "subscriptions") || !strings.EqualFold(p[2], "resourceGroups") ||
		!strings.EqualFold(p[4], "providers") || !strings.EqualFold(p[5]+"/"+p[6], registryType) {
		return "", "", "", false
	}
	return p[1], p[3], p[7], true
}
