package mgmt

// Virtual networks (Microsoft.Network/virtualNetworks): address spaces
// and subnets. Which clients are in one is decided by the front end's
// --vnet ranges, by network name (see network.go).

import (
	"errors"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/store"
)

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

// vnetKind describes a resource group's virtual networks, or the
// subscription's in a subscription-wide list.
var vnetKind = childKind[store.ResourceGroup, vnetJSON]{
	param:  "vnet",
	parent: (*API).groupOfRoute,
	commit: commitPlain[store.ResourceGroup],
	one: func(a *API, tx *store.Tx, _ *http.Request, g store.ResourceGroup, name string) (vnetJSON, error) {
		v, err := a.virtualNetwork(tx, g, name)
		if err != nil {
			return vnetJSON{}, err
		}
		return a.renderVNetIn(tx, v)
	},
	all: func(a *API, tx *store.Tx, _ *http.Request, g store.ResourceGroup) ([]vnetJSON, error) {
		vs, err := tx.VirtualNetworks(a.cfg.Subscription, g.Name)
		if err != nil {
			return nil, err
		}
		eps, err := tx.PrivateEndpoints(a.cfg.Subscription, "")
		if err != nil {
			return nil, err
		}
		out := make([]vnetJSON, len(vs))
		for i, v := range vs {
			out[i] = a.renderVNet(v, eps)
		}
		return out, nil
	},
}

// renderVNetIn renders v with the private endpoints in its subnets.
func (a *API) renderVNetIn(tx *store.Tx, v store.VirtualNetwork) (vnetJSON, error) {
	eps, err := tx.PrivateEndpoints(a.cfg.Subscription, "")
	if err != nil {
		return vnetJSON{}, err
	}
	return a.renderVNet(v, eps), nil
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
	_, err = vnetKind.write(a, w, r, func(tx *store.Tx, g *store.ResourceGroup) (vnetJSON, bool, error) {
		created := false
		old, err := tx.VirtualNetwork(a.cfg.Subscription, g.Name, name)
		var v store.VirtualNetwork
		switch {
		case errors.Is(err, store.ErrNotFound):
			created = true
			v = store.VirtualNetwork{Subscription: a.cfg.Subscription, ResourceGroup: g.Name, Name: name,
				GUID: DerivedUUID("vnet", a.cfg.Subscription, g.Name, strings.ToLower(name), a.now().String())}
		case err != nil:
			return vnetJSON{}, false, err
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
				return vnetJSON{}, false, err
			}
		}
		if !created {
			if err := a.checkSubnetsInUse(tx, old, v); err != nil {
				return vnetJSON{}, false, err
			}
		}
		if err := tx.PutVirtualNetwork(v); err != nil {
			return vnetJSON{}, false, err
		}
		out, err := a.renderVNetIn(tx, v)
		return out, created, err
	})
	return err
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
	return a.virtualNetwork(tx, g, pathParam(r, "vnet"))
}

// virtualNetwork reads g's virtual network called name, or returns its
// 404.
func (a *API) virtualNetwork(tx *store.Tx, g store.ResourceGroup, name string) (store.VirtualNetwork, error) {
	v, err := tx.VirtualNetwork(a.cfg.Subscription, g.Name, name)
	if errors.Is(err, store.ErrNotFound) {
		return v, notFoundResource(vnetType, name, g.Name)
	}
	return v, err
}

func (a *API) getVNet(w http.ResponseWriter, r *http.Request) error {
	return vnetKind.get(a, w, r)
}

func (a *API) listVNets(w http.ResponseWriter, r *http.Request) error {
	return vnetKind.list(a, w, r)
}

func (a *API) deleteVNet(w http.ResponseWriter, r *http.Request) error {
	_, err := vnetKind.remove(a, w, r, func(tx *store.Tx, g *store.ResourceGroup) (bool, error) {
		v, err := tx.VirtualNetwork(a.cfg.Subscription, g.Name, pathParam(r, "vnet"))
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		next := v
		next.Subnets = nil
		if err := a.checkSubnetsInUse(tx, v, next); err != nil {
			return false, err
		}
		return deletedFromStore(tx.DeleteVirtualNetwork(v.Subscription, v.ResourceGroup, v.Name))
	})
	return err
}
