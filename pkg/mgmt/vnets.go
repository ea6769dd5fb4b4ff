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
