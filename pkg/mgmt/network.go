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
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/acremu/acremu/pkg/firewall"
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

// ---- virtual networks and subnets ----

type idJSON struct {
	ID string `json:"id"`
}

type subnetJSON struct {
	Name       string           `json:"name"`
	ID         string           `json:"id"`
	Etag       string           `json:"etag"`
	Type       string           `json:"type"`
	Properties subnetProperties `json:"properties"`
}

type subnetProperties struct {
	ProvisioningState                 string   `json:"provisioningState"`
	AddressPrefix                     string   `json:"addressPrefix,omitempty"`
	AddressPrefixes                   []string `json:"addressPrefixes,omitempty"`
	PrivateEndpoints                  []idJSON `json:"privateEndpoints,omitempty"`
	PrivateEndpointNetworkPolicies    string   `json:"privateEndpointNetworkPolicies"`
	PrivateLinkServiceNetworkPolicies string   `json:"privateLinkServiceNetworkPolicies"`
}

type vnetJSON struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Etag       string            `json:"etag"`
	Type       string            `json:"type"`
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags,omitempty"`
	Properties struct {
		ProvisioningState      string       `json:"provisioningState"`
		ResourceGUID           string       `json:"resourceGuid"`
		AddressSpace           addressSpace `json:"addressSpace"`
		Subnets                []subnetJSON `json:"subnets"`
		VirtualNetworkPeerings []struct{}   `json:"virtualNetworkPeerings"`
		EnableDdosProtection   bool         `json:"enableDdosProtection"`
	} `json:"properties"`
}

type addressSpace struct {
	AddressPrefixes []string `json:"addressPrefixes"`
}

func (a *API) renderSubnet(v store.VirtualNetwork, s store.Subnet, endpoints []store.PrivateEndpoint) subnetJSON {
	out := subnetJSON{Name: s.Name, ID: a.vnetID(v) + "/subnets/" + s.Name, Etag: etag(v.GUID), Type: subnetType,
		Properties: subnetProperties{ProvisioningState: "Succeeded", AddressPrefix: s.AddressPrefix, AddressPrefixes: s.AddressPrefixes,
			PrivateEndpointNetworkPolicies: "Disabled", PrivateLinkServiceNetworkPolicies: "Enabled"}}
	for _, p := range endpoints {
		if endpointInSubnet(p, v, s.Name) {
			out.Properties.PrivateEndpoints = append(out.Properties.PrivateEndpoints, idJSON{a.endpointID(p)})
		}
	}
	return out
}

func endpointInSubnet(p store.PrivateEndpoint, v store.VirtualNetwork, subnet string) bool {
	if !strings.EqualFold(p.VNetGroup, v.ResourceGroup) || !strings.EqualFold(p.VNet, v.Name) {
		return false
	}
	_, _, _, sn, _ := parseSubnetID(p.SubnetID)
	return subnet == "" || strings.EqualFold(sn, subnet)
}

func (a *API) renderVNet(v store.VirtualNetwork, endpoints []store.PrivateEndpoint) vnetJSON {
	out := vnetJSON{Name: v.Name, ID: a.vnetID(v), Etag: etag(v.GUID), Type: vnetType, Location: v.Location, Tags: v.Tags}
	p := &out.Properties
	p.ProvisioningState, p.ResourceGUID = "Succeeded", v.GUID
	p.AddressSpace.AddressPrefixes = nonNil(v.AddressPrefixes)
	p.Subnets = []subnetJSON{}
	for _, s := range v.Subnets {
		p.Subnets = append(p.Subnets, a.renderSubnet(v, s, endpoints))
	}
	p.VirtualNetworkPeerings = []struct{}{}
	return out
}

type subnetInput struct {
	Name       string `json:"name"`
	Properties struct {
		AddressPrefix   string   `json:"addressPrefix"`
		AddressPrefixes []string `json:"addressPrefixes"`
	} `json:"properties"`
}

type vnetInput struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		AddressSpace struct {
			AddressPrefixes []string `json:"addressPrefixes"`
		} `json:"addressSpace"`
		Subnets *[]subnetInput `json:"subnets"`
	} `json:"properties"`
}

// checkSubnet validates a subnet's ranges against the network's space.
func checkSubnet(vnet string, space []netip.Prefix, s store.Subnet) error {
	prefixes := s.AddressPrefixes
	if s.AddressPrefix != "" {
		prefixes = append([]string{s.AddressPrefix}, prefixes...)
	}
	if len(prefixes) == 0 {
		return badRequest("InvalidRequestFormat", "Subnet '%s' of virtual network '%s' has no address prefix.", s.Name, vnet)
	}
	for _, v := range prefixes {
		p, err := netip.ParsePrefix(strings.TrimSpace(v))
		if err != nil {
			return badRequest("InvalidAddressPrefixFormat", "Address prefix %s of subnet '%s' is not a valid CIDR range.", v, s.Name)
		}
		if !slices.ContainsFunc(space, func(sp netip.Prefix) bool { return sp.Bits() <= p.Bits() && sp.Contains(p.Addr()) }) {
			return badRequest("NetcfgSubnetRangeOutsideVnet",
				"Subnet '%s' is not valid because its IP address range %s is outside the IP address range of virtual network '%s'.", s.Name, v, vnet)
		}
	}
	return nil
}

func parseSpace(vnet string, prefixes []string) ([]netip.Prefix, error) {
	if len(prefixes) == 0 {
		return nil, badRequest("InvalidRequestFormat", "Virtual network '%s' needs at least one address prefix in properties.addressSpace.addressPrefixes.", vnet)
	}
	var out []netip.Prefix
	for _, v := range prefixes {
		p, err := netip.ParsePrefix(strings.TrimSpace(v))
		if err != nil {
			return nil, badRequest("InvalidAddressPrefixFormat", "Address prefix %s of virtual network '%s' is not a valid CIDR range.", v, vnet)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (a *API) putVNet(w http.ResponseWriter, r *http.Request) error {
	var in vnetInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	name := pathParam(r, "vnet")
	if !firewall.ValidVNetName(name) {
		return badRequest("InvalidResourceName", "Resource name %s is invalid. The name can be up to 64 characters long, start with a letter or digit, end with a letter, digit or underscore, and contain only letters, digits, underscores, periods or hyphens.", name)
	}
	space, err := parseSpace(name, in.Properties.AddressSpace.AddressPrefixes)
	if err != nil {
		return err
	}
	var v store.VirtualNetwork
	created := false
	err = a.commit(func(tx *store.Tx) error {
		g, err := a.lookupGroup(tx, pathParam(r, "rg"))
		if err != nil {
			return err
		}
		old, err := tx.VirtualNetwork(a.cfg.Subscription, g.Name, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			created = true
			v = store.VirtualNetwork{Subscription: a.cfg.Subscription, ResourceGroup: g.Name, Name: name,
				GUID: derivedUUID("vnet", a.cfg.Subscription, g.Name, strings.ToLower(name), a.now().String())}
		case err != nil:
			return err
		default:
			v = old
		}
		v.Location = in.Location
		if v.Location == "" {
			v.Location = g.Location
		}
		v.Tags = in.Tags
		v.AddressPrefixes = in.Properties.AddressSpace.AddressPrefixes
		if in.Properties.Subnets != nil { // left out: the subnets stay, as az's updates expect
			v.Subnets = nil
			for _, s := range *in.Properties.Subnets {
				v.Subnets = append(v.Subnets, store.Subnet{Name: s.Name, AddressPrefix: s.Properties.AddressPrefix, AddressPrefixes: s.Properties.AddressPrefixes})
			}
		}
		for _, s := range v.Subnets {
			if err := checkSubnet(name, space, s); err != nil {
				return err
			}
		}
		if !created {
			if err := a.checkSubnetsInUse(tx, old, v); err != nil {
				return err
			}
		}
		return tx.PutVirtualNetwork(v)
	}, nil)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return a.writeVNet(w, status, v)
}

func (a *API) writeVNet(w http.ResponseWriter, status int, v store.VirtualNetwork) error {
	var eps []store.PrivateEndpoint
	if err := a.cfg.Store.View(func(tx *store.Tx) (err error) {
		eps, err = tx.PrivateEndpoints(a.cfg.Subscription, "")
		return err
	}); err != nil {
		return err
	}
	writeJSON(w, status, a.renderVNet(v, eps))
	return nil
}

// checkSubnetsInUse refuses to drop a subnet (or the network) that holds
// a private endpoint, as Azure does.
func (a *API) checkSubnetsInUse(tx *store.Tx, old, next store.VirtualNetwork) error {
	eps, err := tx.PrivateEndpoints(a.cfg.Subscription, "")
	if err != nil {
		return err
	}
	for _, s := range old.Subnets {
		if slices.ContainsFunc(next.Subnets, func(n store.Subnet) bool { return strings.EqualFold(n.Name, s.Name) }) {
			continue
		}
		for _, p := range eps {
			if endpointInSubnet(p, old, s.Name) {
				return badRequest("InUseSubnetCannotBeDeleted",
					"Subnet %s is in use by private endpoint %s and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet.",
					s.Name, a.endpointID(p))
			}
		}
	}
	return nil
}

func (a *API) vnetFromPath(tx *store.Tx, r *http.Request) (store.VirtualNetwork, error) {
	g, err := a.lookupGroup(tx, pathParam(r, "rg"))
	if err != nil {
		return store.VirtualNetwork{}, err
	}
	v, err := tx.VirtualNetwork(a.cfg.Subscription, g.Name, pathParam(r, "vnet"))
	if errors.Is(err, store.ErrNotFound) {
		return v, notFoundResource(vnetType, pathParam(r, "vnet"), g.Name)
	}
	return v, err
}

func (a *API) getVNet(w http.ResponseWriter, r *http.Request) error {
	var v store.VirtualNetwork
	if err := a.cfg.Store.View(func(tx *store.Tx) (err error) { v, err = a.vnetFromPath(tx, r); return err }); err != nil {
		return err
	}
	return a.writeVNet(w, http.StatusOK, v)
}

func (a *API) listVNets(w http.ResponseWriter, r *http.Request) error {
	var vs []store.VirtualNetwork
	var eps []store.PrivateEndpoint
	err := a.cfg.Store.View(func(tx *store.Tx) error {
		rg, err := a.routeGroup(tx, r)
		if err != nil {
			return err
		}
		if vs, err = tx.VirtualNetworks(a.cfg.Subscription, rg); err != nil {
			return err
		}
		eps, err = tx.PrivateEndpoints(a.cfg.Subscription, "")
		return err
	})
	if err != nil {
		return err
	}
	out := make([]vnetJSON, len(vs))
	for i, v := range vs {
		out[i] = a.renderVNet(v, eps)
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (a *API) deleteVNet(w http.ResponseWriter, r *http.Request) error {
	found := true
	err := a.commit(func(tx *store.Tx) error {
		v, err := a.vnetFromPath(tx, r)
		var ae *armError
		if errors.As(err, &ae) && ae.status == http.StatusNotFound && ae.code == "ResourceNotFound" {
			found = false
			return nil
		}
		if err != nil {
			return err
		}
		next := v
		next.Subnets = nil
		if err := a.checkSubnetsInUse(tx, v, next); err != nil {
			return err
		}
		return tx.DeleteVirtualNetwork(v.Subscription, v.ResourceGroup, v.Name)
	}, nil)
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

func (a *API) putSubnet(w http.ResponseWriter, r *http.Request) error {
	var in subnetInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	name := pathParam(r, "subnet")
	var v store.VirtualNetwork
	var s store.Subnet
	created := false
	err := a.commit(func(tx *store.Tx) (err error) {
		if v, err = a.vnetFromPath(tx, r); err != nil {
			return err
		}
		space, err := parseSpace(v.Name, v.AddressPrefixes)
		if err != nil {
			return err
		}
		s = store.Subnet{Name: name, AddressPrefix: in.Properties.AddressPrefix, AddressPrefixes: in.Properties.AddressPrefixes}
		if err := checkSubnet(v.Name, space, s); err != nil {
			return err
		}
		i := slices.IndexFunc(v.Subnets, func(x store.Subnet) bool { return strings.EqualFold(x.Name, name) })
		if i < 0 {
			created = true
			v.Subnets = append(v.Subnets, s)
		} else {
			s.Name = v.Subnets[i].Name
			v.Subnets[i] = s
		}
		return tx.PutVirtualNetwork(v)
	}, nil)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return a.writeSubnet(w, status, v, s)
}

func (a *API) writeSubnet(w http.ResponseWriter, status int, v store.VirtualNetwork, s store.Subnet) error {
	var eps []store.PrivateEndpoint
	if err := a.cfg.Store.View(func(tx *store.Tx) (err error) {
		eps, err = tx.PrivateEndpoints(a.cfg.Subscription, "")
		return err
	}); err != nil {
		return err
	}
	writeJSON(w, status, a.renderSubnet(v, s, eps))
	return nil
}

func (a *API) subnetFromPath(r *http.Request) (store.VirtualNetwork, store.Subnet, error) {
	var v store.VirtualNetwork
	if err := a.cfg.Store.View(func(tx *store.Tx) (err error) { v, err = a.vnetFromPath(tx, r); return err }); err != nil {
		return v, store.Subnet{}, err
	}
	name := pathParam(r, "subnet")
	i := slices.IndexFunc(v.Subnets, func(x store.Subnet) bool { return strings.EqualFold(x.Name, name) })
	if i < 0 {
		return v, store.Subnet{}, notFoundResource(subnetType, v.Name+"/"+name, v.ResourceGroup)
	}
	return v, v.Subnets[i], nil
}

func (a *API) getSubnet(w http.ResponseWriter, r *http.Request) error {
	v, s, err := a.subnetFromPath(r)
	if err != nil {
		return err
	}
	return a.writeSubnet(w, http.StatusOK, v, s)
}

func (a *API) listSubnets(w http.ResponseWriter, r *http.Request) error {
	var v store.VirtualNetwork
	var eps []store.PrivateEndpoint
	err := a.cfg.Store.View(func(tx *store.Tx) (err error) {
		if v, err = a.vnetFromPath(tx, r); err != nil {
			return err
		}
		eps, err = tx.PrivateEndpoints(a.cfg.Subscription, "")
		return err
	})
	if err != nil {
		return err
	}
	out := []subnetJSON{}
	for _, s := range v.Subnets {
		out = append(out, a.renderSubnet(v, s, eps))
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
}

func (a *API) deleteSubnet(w http.ResponseWriter, r *http.Request) error {
	err := a.commit(func(tx *store.Tx) error {
		v, err := a.vnetFromPath(tx, r)
		if err != nil {
			return err
		}
		next := v
		next.Subnets = slices.DeleteFunc(slices.Clone(v.Subnets), func(x store.Subnet) bool { return strings.EqualFold(x.Name, pathParam(r, "subnet")) })
		if len(next.Subnets) == len(v.Subnets) {
			return nil
		}
		if err := a.checkSubnetsInUse(tx, v, next); err != nil {
			return err
		}
		return tx.PutVirtualNetwork(next)
	}, nil)
	if err != nil {
		return err
	}
	writeEmpty(w, http.StatusOK)
	return nil
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

// ---- private endpoints ----

type connectionStateJSON struct {
	Status          string `json:"status"`
	Description     string `json:"description"`
	ActionsRequired string `json:"actionsRequired"`
}

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

func orNone(s string) string {
	if s == "" {
		return "None"
	}
	return s
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

func (a *API) writeEndpoint(w http.ResponseWriter, status int, p store.PrivateEndpoint) error {
	var out endpointJSON
	if err := a.cfg.Store.View(func(tx *store.Tx) error { out = a.renderEndpoint(tx, p); return nil }); err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
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
				GUID: derivedUUID("private endpoint", a.cfg.Subscription, g.Name, strings.ToLower(name), a.now().String())}
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
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		a.log.Info("private endpoint created", "privateEndpoint", p.Name, "virtualNetwork", p.VNet, "registry", regName, "manual", manual)
	}
	return a.writeEndpoint(w, status, p)
}

func (a *API) endpointFromPath(tx *store.Tx, r *http.Request) (store.PrivateEndpoint, error) {
	g, err := a.lookupGroup(tx, pathParam(r, "rg"))
	if err != nil {
		return store.PrivateEndpoint{}, err
	}
	p, err := tx.PrivateEndpoint(a.cfg.Subscription, g.Name, pathParam(r, "pe"))
	if errors.Is(err, store.ErrNotFound) {
		return p, notFoundResource(endpointType, pathParam(r, "pe"), g.Name)
	}
	return p, err
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	var out endpointJSON
	err := a.cfg.Store.View(func(tx *store.Tx) error {
		p, err := a.endpointFromPath(tx, r)
		out = a.renderEndpoint(tx, p)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	out := []endpointJSON{}
	err := a.cfg.Store.View(func(tx *store.Tx) error {
		rg, err := a.routeGroup(tx, r)
		if err != nil {
			return err
		}
		eps, err := tx.PrivateEndpoints(a.cfg.Subscription, rg)
		for _, p := range eps {
			out = append(out, a.renderEndpoint(tx, p))
		}
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
	return nil
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
	if !found {
		writeEmpty(w, http.StatusNoContent)
		return nil
	}
	writeEmpty(w, http.StatusOK)
	return nil
}

// ---- the registry's privateEndpointConnections and privateLinkResources ----

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
