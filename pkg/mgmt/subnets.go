package mgmt

// Subnets (Microsoft.Network/virtualNetworks/subnets): stored in their
// virtual network's record; a private endpoint is placed in one.

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/acremu/acremu/pkg/store"
)

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

type subnetInput struct {
	Name       string `json:"name"`
	Properties struct {
		AddressPrefix   string   `json:"addressPrefix"`
		AddressPrefixes []string `json:"addressPrefixes"`
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
