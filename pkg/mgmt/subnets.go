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

// subnetKind describes a virtual network's subnets, in the network's
// order.
var subnetKind = childKind[store.VirtualNetwork, subnetJSON]{
	param:  "subnet",
	parent: (*API).vnetFromPath,
	commit: commitPlain[store.VirtualNetwork],
	one: func(a *API, tx *store.Tx, _ *http.Request, v store.VirtualNetwork, name string) (subnetJSON, error) {
		i := slices.IndexFunc(v.Subnets, func(x store.Subnet) bool { return strings.EqualFold(x.Name, name) })
		if i < 0 {
			return subnetJSON{}, notFoundResource(subnetType, v.Name+"/"+name, v.ResourceGroup)
		}
		return a.renderSubnetIn(tx, v, v.Subnets[i])
	},
	all: func(a *API, tx *store.Tx, _ *http.Request, v store.VirtualNetwork) ([]subnetJSON, error) {
		eps, err := tx.PrivateEndpoints(a.cfg.Subscription, "")
		if err != nil {
			return nil, err
		}
		var out []subnetJSON
		for _, s := range v.Subnets {
			out = append(out, a.renderSubnet(v, s, eps))
		}
		return out, nil
	},
}

// renderSubnetIn renders subnet s of v with the private endpoints in it.
func (a *API) renderSubnetIn(tx *store.Tx, v store.VirtualNetwork, s store.Subnet) (subnetJSON, error) {
	eps, err := tx.PrivateEndpoints(a.cfg.Subscription, "")
	if err != nil {
		return subnetJSON{}, err
	}
	return a.renderSubnet(v, s, eps), nil
}

func (a *API) putSubnet(w http.ResponseWriter, r *http.Request) error {
	var in subnetInput
	if err := decodeBody(w, r, &in); err != nil {
		return err
	}
	name := pathParam(r, "subnet")
	_, err := subnetKind.write(a, w, r, func(tx *store.Tx, v *store.VirtualNetwork) (subnetJSON, bool, error) {
		space, err := parseSpace(v.Name, v.AddressPrefixes)
		if err != nil {
			return subnetJSON{}, false, err
		}
		s := store.Subnet{Name: name, AddressPrefix: in.Properties.AddressPrefix, AddressPrefixes: in.Properties.AddressPrefixes}
		if err := checkSubnet(v.Name, space, s); err != nil {
			return subnetJSON{}, false, err
		}
		i := slices.IndexFunc(v.Subnets, func(x store.Subnet) bool { return strings.EqualFold(x.Name, name) })
		created := i < 0
		if created {
			v.Subnets = append(v.Subnets, s)
		} else {
			s.Name = v.Subnets[i].Name
			v.Subnets[i] = s
		}
		if err := tx.PutVirtualNetwork(*v); err != nil {
			return subnetJSON{}, false, err
		}
		out, err := a.renderSubnetIn(tx, *v, s)
		return out, created, err
	})
	return err
}

func (a *API) getSubnet(w http.ResponseWriter, r *http.Request) error {
	return subnetKind.get(a, w, r)
}

func (a *API) listSubnets(w http.ResponseWriter, r *http.Request) error {
	return subnetKind.list(a, w, r)
}

// deleteSubnet answers 200, or 204 when the subnet does not exist (as
// Microsoft.Network's Subnets_Delete documents), like every other delete.
func (a *API) deleteSubnet(w http.ResponseWriter, r *http.Request) error {
	_, err := subnetKind.remove(a, w, r, func(tx *store.Tx, v *store.VirtualNetwork) (bool, error) {
		next := *v
		next.Subnets = slices.DeleteFunc(slices.Clone(v.Subnets), func(x store.Subnet) bool { return strings.EqualFold(x.Name, pathParam(r, "subnet")) })
		if len(next.Subnets) == len(v.Subnets) {
			return false, nil
		}
		if err := a.checkSubnetsInUse(tx, *v, next); err != nil {
			return false, err
		}
		*v = next
		return true, tx.PutVirtualNetwork(next)
	})
	return err
}
