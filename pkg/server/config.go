// Package server is acremu's front end: it opens the listeners (plain HTTP
// and TLS on every port), keeps the set of served registries in step with
// the ARM state, routes each request to a registry's data plane, to the ARM
// API or to acremu's own /_acremu/ endpoints, and owns start-up and
// shutdown. It holds no policy of its own: firewall decisions live in
// pkg/firewall and pkg/registry, ARM semantics in pkg/mgmt.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/mgmt"
)

// Well-known development identity.
const (
	DefaultSubscription = "11111111-1111-1111-1111-111111111111"
	DefaultTenant       = "22222222-2222-2222-2222-222222222222"
	DefaultClientID     = "33333333-3333-3333-3333-333333333333"
	DefaultClientSecret = "acremu-dev-secret"
	// DefaultResourceGroup holds the default registry.
	DefaultResourceGroup = "acremu"
)

// PortRange is an inclusive range of TCP ports.
type PortRange struct{ First, Last int }

// EphemeralPorts lets the system choose each registry's port ("0").
var EphemeralPorts = PortRange{0, 0}

// Ephemeral reports whether every registry gets a port the system chooses.
func (p PortRange) Ephemeral() bool { return p == EphemeralPorts }

// ParsePortRange parses "5001-5099", a single port, or "0" (the system
// chooses a free port for each registry).
func ParsePortRange(s string) (PortRange, error) {
	if strings.TrimSpace(s) == "0" {
		return EphemeralPorts, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(s), "-")
	if !found {
		b = a
	}
	first, err1 := strconv.Atoi(strings.TrimSpace(a))
	last, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return PortRange{}, fmt.Errorf("port range %q: want FIRST-LAST within 1-65535", s)
	}
	return PortRange{first, last}, nil
}

func (p PortRange) String() string { return fmt.Sprintf("%d-%d", p.First, p.Last) }

// Config is everything `acremu serve` can be told.
type Config struct {
	DataDir  string // state directory; ignored with InMemory
	InMemory bool   // keep nothing on disk

	Listen          []string  // front-end addresses
	PublicHost      string    // host name put into reported addresses
	DefaultRegistry string    // created at first start; "" = none
	RegistryPorts   PortRange // ports for other registries (port mode)
	Domain          string    // name-based routing instead of ports

	Subscription, Tenant, ClientID, ClientSecret string

	NAT            []firewall.NAT
	TrustedProxies []netip.Prefix
	// AllowAnyTrustedProxy accepts trusted-proxy ranges that cover
	// (nearly) everyone, which let any client name its own address.
	AllowAnyTrustedProxy bool
	VNets                []firewall.VNet // virtual networks sources are in (--vnet)
	// TrustedServiceNetworks are the sources that stand for trusted Azure
	// services (--trusted-service-network).
	TrustedServiceNetworks []netip.Prefix
	RuleDelay              time.Duration
	MaxIPRules             int

	// Abandoned blob uploads older than UploadPurgeAge are removed every
	// UploadPurgeInterval; zero means the defaults (7 days, every 24 h), a
	// negative age turns purging off.
	UploadPurgeAge, UploadPurgeInterval time.Duration
	// DenyLogInterval: after a client's first denial, at most one log line
	// per client per interval (0: 10 s; negative: every denial).
	DenyLogInterval time.Duration

	TLSCert, TLSKey string // bring your own certificate (PEM files)

	Logger *slog.Logger
}

// DefaultConfig returns the embedded defaults.
func DefaultConfig() Config {
	return Config{
		DataDir:         ".acremu",
		Listen:          []string{"127.0.0.1:5000"},
		PublicHost:      "localhost",
		DefaultRegistry: "myregistry",
		RegistryPorts:   PortRange{5001, 5099},
		Subscription:    DefaultSubscription,
		Tenant:          DefaultTenant,
		ClientID:        DefaultClientID,
		ClientSecret:    DefaultClientSecret,
		NAT:             append([]firewall.NAT(nil), firewall.DefaultNAT...),
		MaxIPRules:      mgmt.DefaultMaxIPRules,
	}
}

func (c *Config) validate() error {
	var errs []error
	if len(c.Listen) == 0 {
		errs = append(errs, errors.New("at least one --listen address is required"))
	}
	if c.PublicHost == "" {
		errs = append(errs, errors.New("--public-host must not be empty"))
	}
	if !c.InMemory && c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty (or use --in-memory)"))
	}
	if c.Domain == "" && !c.RegistryPorts.Ephemeral() && (c.RegistryPorts.First < 1 || c.RegistryPorts.Last < c.RegistryPorts.First) {
		errs = append(errs, errors.New("--registry-ports must be a range like 5001-5099"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	for _, v := range []struct{ name, val string }{{"subscription", c.Subscription}, {"tenant", c.Tenant}, {"client-id", c.ClientID}, {"client-secret", c.ClientSecret}} {
		if v.val == "" {
			errs = append(errs, fmt.Errorf("--%s must not be empty", v.name))
		}
	}
	for _, p := range c.TrustedProxies {
		if coversEveryone(p) && !c.AllowAnyTrustedProxy {
			errs = append(errs, fmt.Errorf("--trusted-proxy %s trusts (nearly) every peer to name its own client address, which lets anyone past every firewall: "+
				"name your proxies' addresses, or add --allow-any-trusted-proxy if that is what you mean", p))
		}
	}
	if c.UploadPurgeInterval < 0 {
		errs = append(errs, errors.New("--upload-purge-interval must not be negative"))
	}
	if c.RuleDelay < 0 {
		errs = append(errs, errors.New("--rule-delay must not be negative"))
	}
	if c.MaxIPRules < 0 {
		errs = append(errs, errors.New("--max-ip-rules must not be negative"))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Domain = strings.Trim(strings.ToLower(c.Domain), ".")
	return errors.Join(errs...)
}

// coversEveryone reports whether p is a catch-all rather than a proxy
// network: an IPv4 range wider than a /8 (0.0.0.0/0, 0.0.0.0/1, …) or an
// IPv6 range wider than a /16 (::/0, 2000::/3, …). No real set of proxies
// spans more.
func coversEveryone(p netip.Prefix) bool {
	if p.Addr().Is4() {
		return p.Bits() < 8
	}
	return p.Bits() < 16
}

// ExposedWithWellKnownSecret reports whether acremu listens beyond
// loopback while the service principal's secret is the published
// development one: then anyone who can reach it can change every rule.
func (c *Config) ExposedWithWellKnownSecret() bool {
	if c.ClientSecret != DefaultClientSecret {
		return false
	}
	for _, l := range c.Listen {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			host = l
		}
		if host == "localhost" {
			continue
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !ip.IsLoopback() {
			return true // a wildcard, a name or a non-loopback address
		}
	}
	return false
}
