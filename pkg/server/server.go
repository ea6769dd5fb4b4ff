package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/portal"
	"github.com/acremu/acremu/pkg/registry"
	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/tlsca"
	"github.com/acremu/acremu/pkg/token"
)

// Server is a running acremu instance.
type Server struct {
	cfg       Config
	store     *store.Store
	signer    *token.Signer
	ca        *tlsca.CA // nil with --tls-cert
	tlsConfig *tls.Config
	resolver  *firewall.Resolver
	api       *mgmt.API
	portal    *portal.Portal
	secret    string
	metrics   http.Handler // /_acremu/metrics

	regs atomic.Pointer[registrySet] // read on every request; replaced whole

	mu        sync.Mutex // serialises changes to the registry set and ports
	front     []*portServer
	frontPort int
	hosts     []netip.Addr           // where registry and data-endpoint ports listen (hosts.go)
	ports     map[int]*portServer    // per-registry ports
	dataPorts map[string][]*dataPort // data endpoint ports by registry key (dataendpoints.go)
	restoring bool                   // New is restoring stored registries: build them lazily
	closed    bool
}

// portServer is one port's HTTP server with its listeners: one per
// front-end address, one per host for a registry or data-endpoint port.
type portServer struct {
	srv *http.Server
	lns []*dualListener
}

// New opens the state, binds the front-end listeners and restores every
// registry, but serves nothing until Start.
func New(cfg Config) (_ *Server, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ports: map[int]*portServer{}}
	s.regs.Store(&registrySet{byName: map[string]*servedRegistry{}})
	s.metrics = s.metricsHandler()
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()

	if cfg.InMemory {
		s.store, err = store.OpenEphemeral()
	} else {
		s.store, err = s.openState()
	}
	if err != nil {
		return nil, err
	}
	keyPEM, err := s.store.SecretOrCreate("token-signing-key", token.GenerateKey)
	if err != nil {
		return nil, err
	}
	if s.signer, err = token.NewSigner(keyPEM, nil); err != nil {
		return nil, err
	}
	secret, err := s.store.SecretOrCreate("http-secret", randomSecret)
	if err != nil {
		return nil, err
	}
	s.secret = string(secret)

	if err := s.setupTLS(); err != nil {
		return nil, err
	}
	if s.resolver, err = firewall.NewResolver(firewall.ResolverConfig{
		NAT: cfg.NAT, TrustedProxies: cfg.TrustedProxies,
		VNets: cfg.VNets, TrustedServiceNetworks: cfg.TrustedServiceNetworks,
	}); err != nil {
		return nil, err
	}

	for _, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		s.front = append(s.front, s.newPortServer([]net.Listener{ln}, ""))
	}
	s.frontPort = s.front[0].port()
	front := make([]net.Addr, len(s.front))
	for i, p := range s.front {
		front[i] = p.lns[0].Addr()
	}
	s.hosts = listenHosts(front)
	if cfg.ExposedWithWellKnownSecret() {
		cfg.Logger.Warn("acremu listens beyond loopback with the published development secret: anyone who reaches it can change every firewall rule; set --client-secret",
			"listen", cfg.Listen)
	}

	if s.api, err = mgmt.New(mgmt.Config{
		Store: s.store, Signer: s.signer, Hooks: (*hooks)(s),
		Subscription: cfg.Subscription, Tenant: cfg.Tenant, ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret,
		MaxIPRules: cfg.MaxIPRules, Logger: cfg.Logger,
	}); err != nil {
		return nil, err
	}
	if s.portal, err = s.newPortal(); err != nil {
		return nil, err
	}

	recs, err := s.adoptStorage()
	if err != nil {
		return nil, err
	}
	// Stored registries start lazily (distribution's application is built
	// on first use or by Start's warm-up), so start-up with many
	// registries stays fast; registries created through ARM are built
	// whole inside their transaction.
	s.restoring = true
	for _, rec := range recs {
		if err := s.serveRegistry(rec); err != nil {
			return nil, fmt.Errorf("restore registry %s: %w", rec.Name, err)
		}
	}
	s.restoring = false
	if cfg.DefaultRegistry != "" {
		if _, _, err := s.api.EnsureRegistry(DefaultResourceGroup, cfg.DefaultRegistry); err != nil {
			return nil, fmt.Errorf("default registry %s: %w", cfg.DefaultRegistry, err)
		}
	}
	return s, nil
}

func (s *Server) setupTLS() error {
	names := []string{"localhost", "127.0.0.1", "::1", s.cfg.PublicHost}
	if s.cfg.Domain != "" {
		// Registries are <name>.D; their data endpoints <name>.<region>.data.D.
		names = append(names, s.cfg.Domain, "*."+s.cfg.Domain, "*.*.data."+s.cfg.Domain)
	}
	if s.cfg.TLSCert != "" {
		pair, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		s.tlsConfig = &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"http/1.1"}}
		return nil
	}
	var err error
	if s.cfg.InMemory {
		s.ca, err = tlsca.New(names)
	} else {
		s.ca, err = tlsca.LoadOrCreate(s.cfg.DataDir, names)
	}
	if err != nil {
		return err
	}
	s.tlsConfig = &tls.Config{GetCertificate: s.ca.GetCertificate, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	return nil
}

func (s *Server) newPortServer(lns []net.Listener, boundRegistry string) *portServer {
	srv := &http.Server{
		Handler:           limitBodies(s.dataHosts(boundRegistry, s.routes(boundRegistry)), unauthBodyTimeout, unauthBodyMaxBytes),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
		ConnContext:       s.connContext,
	}
	return s.portServerOn(srv, lns)
}

// portServerOn is srv with each of lns read by a dualListener.
func (s *Server) portServerOn(srv *http.Server, lns []net.Listener) *portServer {
	p := &portServer{srv: srv}
	for _, ln := range lns {
		p.lns = append(p.lns, newDualListener(ln, s.tlsConfig, s.resolver, s.cfg.Logger))
	}
	return p
}

// connContext stores the connection's firewall client, computed once at
// accept time, in every request's context.
func (s *Server) connContext(ctx context.Context, c net.Conn) context.Context {
	if client, ok := clientOf(c); ok {
		return firewall.NewContext(ctx, client)
	}
	return ctx
}

// Start serves every listener in the background.
func (s *Server) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.front {
		p.serve()
	}
	for _, p := range s.ports {
		p.serve()
	}
	go s.warmRegistries(s.regs.Load())
}

// warmRegistries builds the backends of lazily restored registries in the
// background, one at a time, so first requests rarely wait for one.
func (s *Server) warmRegistries(set *registrySet) {
	for _, sr := range set.byName {
		if err := sr.reg.Warm(); err != nil && !errors.Is(err, registry.ErrClosed) {
			s.cfg.Logger.Error("registry backend", "registry", sr.rec.Name, "err", err)
		}
	}
}

// Close stops serving and releases everything.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	servers := append([]*portServer(nil), s.front...)
	for _, p := range s.ports {
		servers = append(servers, p)
	}
	for _, dps := range s.dataPorts {
		for _, dp := range dps {
			servers = append(servers, dp.ps)
		}
	}
	s.mu.Unlock()
	for _, p := range servers {
		if err := p.srv.Shutdown(ctx); err != nil {
			p.srv.Close()
		}
		p.closeListeners()
	}
	for _, sr := range s.regs.Load().byName {
		sr.reg.Close()
	}
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}

// randomSecret makes the value of a persisted instance secret: 256 random
// bits in hex.
func randomSecret() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return []byte(hex.EncodeToString(b)), err
}
