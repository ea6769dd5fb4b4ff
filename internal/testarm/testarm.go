// Package testarm is what the acremu unit tests share to act as an ARM
// client: the development identity, resource paths and api-versions, a
// settable clock, and a client that signs in at acremu's ADFS endpoint and
// decodes ARM answers. Only _test.go files import it.
package testarm

import (
	"net/url"
	"strings"
	"sync"
	"time"
)

// The development identity, as acremu's defaults configure it.
const (
	Subscription = "11111111-1111-1111-1111-111111111111"
	Tenant       = "22222222-2222-2222-2222-222222222222"
	ClientID     = "33333333-3333-3333-3333-333333333333"
	ClientSecret = "acremu-dev-secret"
)

// api-versions as clients send them.
const (
	APIRegistry    = "2022-02-01-preview" // az 2.45 registry calls
	APINetworkRule = "2021-08-01-preview" // az 2.45 network-rule calls
	APIGroups      = "2021-04-01"         // az 2.45 resource calls
	APICurrent     = "2023-07-01"         // the portal and the current Azure SDK
)

// SubscriptionPath is the ARM path of the development subscription.
const SubscriptionPath = "/subscriptions/" + Subscription

// GroupPath is the ARM path of resource group rg.
func GroupPath(rg string) string { return SubscriptionPath + "/resourceGroups/" + rg }

// RegistryPath is the ARM path of registry name in resource group rg.
func RegistryPath(rg, name string) string {
	return GroupPath(rg) + "/providers/Microsoft.ContainerRegistry/registries/" + name
}

// ChildPath is the ARM path of the child resource kind/name below parent,
// as in ChildPath(RegistryPath("rg", "reg"), "scopeMaps", "pull").
func ChildPath(parent, kind, name string) string { return parent + "/" + kind + "/" + name }

// WithAPI appends an api-version to path, which may carry a query already.
func WithAPI(path, version string) string {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return path + sep + "api-version=" + url.QueryEscape(version)
}

// Clock is a settable clock, safe for concurrent use. Its Now method is
// what the signer, the ARM API, the portal and the registry take as their
// clock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set puts the clock at t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
