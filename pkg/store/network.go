package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Microsoft.Network resources live in one bucket, created by the first
// write that needs it (files written before it existed have none), under
// keys "<kind>/<subscription>/<group>/<name>".
var bucketNetwork = []byte("network")

const (
	kindVNet     = "vnet"
	kindEndpoint = "pe"
)

// Subnet is a subnet of a virtual network, as sent.
type Subnet struct {
	Name            string   `json:"name"` // spelling as created
	AddressPrefix   string   `json:"addressPrefix,omitempty"`
	AddressPrefixes []string `json:"addressPrefixes,omitempty"`
}

// VirtualNetwork is a Microsoft.Network/virtualNetworks resource. Which
// clients are in it is decided by the --vnet ranges of the same name, not
// by AddressPrefixes (which are stored and shown as sent).
type VirtualNetwork struct {
	Subscription    string            `json:"subscription"`
	ResourceGroup   string            `json:"resourceGroup"` // spelling as created
	Name            string            `json:"name"`          // spelling as created
	Location        string            `json:"location"`
	Tags            map[string]string `json:"tags,omitempty"`
	AddressPrefixes []string          `json:"addressPrefixes"`
	Subnets         []Subnet          `json:"subnets"`
	GUID            string            `json:"guid"`
}

// PrivateLinkServiceConnection is one connection a private endpoint asks
// for, as sent.
type PrivateLinkServiceConnection struct {
	Name                 string   `json:"name"`
	PrivateLinkServiceID string   `json:"privateLinkServiceId"`
	GroupIDs             []string `json:"groupIds"`
	RequestMessage       string   `json:"requestMessage,omitempty"`
	Manual               bool     `json:"manual,omitempty"` // manualPrivateLinkServiceConnections
	// ConnectionName is the name of the registry's privateEndpointConnection.
	ConnectionName string `json:"connectionName"`
}

// PrivateEndpoint is a Microsoft.Network/privateEndpoints resource.
type PrivateEndpoint struct {
	Subscription  string                         `json:"subscription"`
	ResourceGroup string                         `json:"resourceGroup"` // spelling as created
	Name          string                         `json:"name"`          // spelling as created
	Location      string                         `json:"location"`
	Tags          map[string]string              `json:"tags,omitempty"`
	SubnetID      string                         `json:"subnetId"` // as sent
	VNetGroup     string                         `json:"vnetGroup"`
	VNet          string                         `json:"vnet"` // spelling as created
	Connections   []PrivateLinkServiceConnection `json:"connections"`
	GUID          string                         `json:"guid"`
	CreatedAt     time.Time                      `json:"createdAt"`
}

// PrivateEndpointConnection is the registry's side of a private endpoint:
// its state decides whether clients in Network reach the registry.
type PrivateEndpointConnection struct {
	Name              string   `json:"name"`
	PrivateEndpointID string   `json:"privateEndpointId"`
	Network           string   `json:"network"` // the virtual network's name
	GroupIDs          []string `json:"groupIds"`
	Status            string   `json:"status"` // Approved, Pending, Rejected, Disconnected
	Description       string   `json:"description,omitempty"`
	ActionsRequired   string   `json:"actionsRequired,omitempty"`
}

// ApprovedNetworks are the networks of c's approved connections.
func ApprovedNetworks(c []PrivateEndpointConnection) []string {
	var out []string
	for _, x := range c {
		if x.Status == "Approved" {
			out = append(out, x.Network)
		}
	}
	return out
}

func (t *Tx) netPut(kind, sub, rg, name string, v any) error {
	b, err := t.tx.CreateBucketIfNotExists(bucketNetwork)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key(kind, sub, rg, name), raw)
}

func (t *Tx) netGet(kind, sub, rg, name string, v any) error {
	b := t.tx.Bucket(bucketNetwork)
	if b == nil {
		return ErrNotFound
	}
	raw := b.Get(key(kind, sub, rg, name))
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("store: decode %s/%s/%s/%s: %w", kind, sub, rg, name, err)
	}
	return nil
}

func (t *Tx) netDel(kind, sub, rg, name string) error {
	b := t.tx.Bucket(bucketNetwork)
	if b == nil || b.Get(key(kind, sub, rg, name)) == nil {
		return ErrNotFound
	}
	return b.Delete(key(kind, sub, rg, name))
}

// netList decodes every record of kind in sub (and rg, unless empty) with
// each, in key order.
func (t *Tx) netList(kind, sub, rg string, each func(raw []byte) error) error {
	b := t.tx.Bucket(bucketNetwork)
	if b == nil {
		return nil
	}
	prefix := string(key(kind, sub)) + "/"
	if rg != "" {
		prefix = string(key(kind, sub, rg)) + "/"
	}
	c := b.Cursor()
	for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
		if err := each(v); err != nil {
			return err
		}
	}
	return nil
}

// VirtualNetwork returns the virtual network sub/rg/name (case-insensitive).
func (t *Tx) VirtualNetwork(sub, rg, name string) (VirtualNetwork, error) {
	var v VirtualNetwork
	return v, t.netGet(kindVNet, sub, rg, name, &v)
}

// PutVirtualNetwork stores v.
func (t *Tx) PutVirtualNetwork(v VirtualNetwork) error {
	return t.netPut(kindVNet, v.Subscription, v.ResourceGroup, v.Name, v)
}

// DeleteVirtualNetwork removes a virtual network, or returns ErrNotFound.
func (t *Tx) DeleteVirtualNetwork(sub, rg, name string) error {
	return t.netDel(kindVNet, sub, rg, name)
}

// VirtualNetworks lists the virtual networks of sub (and rg, unless empty).
func (t *Tx) VirtualNetworks(sub, rg string) ([]VirtualNetwork, error) {
	var out []VirtualNetwork
	return out, t.netList(kindVNet, sub, rg, func(raw []byte) error {
		var v VirtualNetwork
		if err := json.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("store: decode virtual network: %w", err)
		}
		out = append(out, v)
		return nil
	})
}

// PrivateEndpoint returns the private endpoint sub/rg/name (case-insensitive).
func (t *Tx) PrivateEndpoint(sub, rg, name string) (PrivateEndpoint, error) {
	var p PrivateEndpoint
	return p, t.netGet(kindEndpoint, sub, rg, name, &p)
}

// PutPrivateEndpoint stores p.
func (t *Tx) PutPrivateEndpoint(p PrivateEndpoint) error {
	return t.netPut(kindEndpoint, p.Subscription, p.ResourceGroup, p.Name, p)
}

// DeletePrivateEndpoint removes a private endpoint, or returns ErrNotFound.
func (t *Tx) DeletePrivateEndpoint(sub, rg, name string) error {
	return t.netDel(kindEndpoint, sub, rg, name)
}

// PrivateEndpoints lists the private endpoints of sub (and rg, unless empty).
func (t *Tx) PrivateEndpoints(sub, rg string) ([]PrivateEndpoint, error) {
	var out []PrivateEndpoint
	return out, t.netList(kindEndpoint, sub, rg, func(raw []byte) error {
		var p PrivateEndpoint
		if err := json.Unmarshal(raw, &p); err != nil {
			return fmt.Errorf("store: decode private endpoint: %w", err)
		}
		out = append(out, p)
		return nil
	})
}
