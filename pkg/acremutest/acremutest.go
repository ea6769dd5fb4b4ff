// Package acremutest runs acremu inside a Go test: an Azure Container
// Registry emulator with an enforcing firewall, in memory, on loopback
// ports the system picks, stopped when the test ends. It hands back the
// ARM endpoint, the development identity, the CA pool and Azure SDK
// clients that are ready to use.
//
//	func TestLockedDownRegistry(t *testing.T) {
//		emu := acremutest.Start(t)
//		regs := emu.RegistriesClient(t)
//		poller, _ := regs.BeginUpdate(ctx, acremutest.ResourceGroup, emu.Registry.Name, armcontainerregistry.RegistryUpdateParameters{
//			Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
//				NetworkRuleSet: &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny)},
//			},
//		}, nil)
//		poller.PollUntilDone(ctx, nil)
//		// GET https://<emu.Registry.LoginServer>/v2/ with emu.HTTPClient() now answers 403 DENIED.
//	}
//
// acremutest_test.go is this example in full.
//
// Clients on loopback appear to the firewall as 203.0.113.10 (see
// NATAddr), so an IP rule for that address admits the test's own requests.
package acremutest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry/v3"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/server"
)

// The development identity and the default registry's place.
const (
	SubscriptionID = server.DefaultSubscription
	TenantID       = server.DefaultTenant
	ClientID       = server.DefaultClientID
	ClientSecret   = server.DefaultClientSecret
	ResourceGroup  = server.DefaultResourceGroup
)

// NATAddr is the address the firewall sees for clients on loopback.
var NATAddr = firewall.DocumentationNATAddr.String()

// Registry is the default registry: Premium, admin user enabled.
type Registry struct {
	Name        string
	LoginServer string // 127.0.0.1:<port>, HTTP and HTTPS
	Username    string
	Password    string
}

// Emulator is a running acremu.
type Emulator struct {
	// ARMEndpoint is the Azure Resource Manager endpoint
	// (https://127.0.0.1:<port>); the identity endpoint is under /adfs.
	ARMEndpoint string
	Registry    Registry
	// CAPool trusts the certificates acremu serves.
	CAPool *x509.CertPool
	// Server is the emulator itself, for what this package does not wrap.
	Server *server.Server
}

// Option changes the configuration Start uses.
type Option func(*server.Config)

// WithLogger sends acremu's logs to l (by default they are dropped).
func WithLogger(l *slog.Logger) Option { return func(c *server.Config) { c.Logger = l } }

// WithConfig lets f change anything else of the configuration.
func WithConfig(f func(*server.Config)) Option { return Option(f) }

// Start runs acremu for tb: in memory, the front end and every registry on
// loopback ports the system picks, stopped by tb.Cleanup.
func Start(tb testing.TB, opts ...Option) *Emulator {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.InMemory = true
	cfg.Listen = []string{"127.0.0.1:0"}
	cfg.PublicHost = "127.0.0.1"
	cfg.RegistryPorts = server.EphemeralPorts
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, o := range opts {
		o(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		tb.Fatalf("acremutest: %v", err)
	}
	s.Start()
	tb.Cleanup(func() { _ = s.Close(context.Background()) })

	e := &Emulator{ARMEndpoint: fmt.Sprintf("https://127.0.0.1:%d", s.FrontPort()), Server: s}
	if ca := s.CA(); ca != nil {
		e.CAPool = ca.Pool()
	}
	if d := s.Info().Default; d != nil {
		e.Registry = Registry{Name: d.Name, LoginServer: d.LoginServer, Username: d.Username, Password: d.Passwords[0]}
	}
	return e
}

// HTTPClient is an HTTP client that trusts acremu's CA.
func (e *Emulator) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: e.CAPool, MinVersion: tls.VersionTLS12}}}
}

// ClientOptions are Azure SDK options for acremu: a custom cloud whose
// authority and Resource Manager are acremu, its CA trusted, and no retries
// (a failure shows at once).
func (e *Emulator) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: e.ARMEndpoint + "/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: e.ARMEndpoint, Audience: e.ARMEndpoint},
			},
		},
		Transport: e.HTTPClient(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// Credential is the development service principal as an Azure SDK
// credential.
func (e *Emulator) Credential(tb testing.TB) azcore.TokenCredential {
	tb.Helper()
	cred, err := azidentity.NewClientSecretCredential("adfs", ClientID, ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: e.ClientOptions(), DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatalf("acremutest: credential: %v", err)
	}
	return cred
}

// RegistriesClient is an armcontainerregistry client for the development
// subscription.
func (e *Emulator) RegistriesClient(tb testing.TB) *armcontainerregistry.RegistriesClient {
	tb.Helper()
	c, err := armcontainerregistry.NewRegistriesClient(SubscriptionID, e.Credential(tb), &arm.ClientOptions{ClientOptions: e.ClientOptions()})
	if err != nil {
		tb.Fatalf("acremutest: registries client: %v", err)
	}
	return c
}
