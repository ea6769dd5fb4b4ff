package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	ports     map[int]*portServer  // per-registry ports
	pending   map[int]net.Listener // ports allocated for registries being created
	closed    bool
}

// registrySet is an immutable snapshot of the served registries.
type registrySet struct {
	byName map[string]*servedRegistry // lower-cased name
}

type servedRegistry struct {
	rec store.Registry
	reg *registry.Registry
}

type portServer struct {
	srv *http.Server
	ln  *dualListener
}

// New opens the state, binds the front-end listeners and restores every
// registry, but serves nothing until Start.
func New(cfg Config) (_ *Server, err error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ports: map[int]*portServer{}, pending: map[int]net.Listener{}}
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
		s.store, err = store.Open(filepath.Join(cfg.DataDir, "acremu.db"))
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
	secret, err := s.store.SecretOrCreate("http-secret", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return []byte(hex.EncodeToString(b)), err
	})
	if err != nil {
		return nil, err
	}
	s.secret = string(secret)

	if err := s.setupTLS(); err != nil {
		return nil, err
	}
	if s.resolver, err = firewall.NewResolver(firewall.ResolverConfig{
		NAT: cfg.NAT, TrustedProxies: cfg.TrustedProxies, PrivateNetworks: cfg.PrivateNetworks,
	}); err != nil {
		return nil, err
	}

	for _, addr := range cfg.Listen {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", addr, err)
		}
		s.front = append(s.front, s.newPortServer(ln, ""))
	}
	s.frontPort = s.front[0].ln.Addr().(*net.TCPAddr).Port

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

	var recs []store.Registry
	if err := s.store.View(func(tx *store.Tx) error {
		recs, err = tx.Registries("", "")
		return err
	}); err != nil {
		return nil, err
	}
	for _, rec := range recs {
		if err := s.serveRegistry(rec); err != nil {
			return nil, fmt.Errorf("restore registry %s: %w", rec.Name, err)
		}
	}
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
		names = append(names, s.cfg.Domain, "*."+s.cfg.Domain)
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

func (s *Server) newPortServer(ln net.Listener, boundRegistry string) *portServer {
	dl := newDualListener(ln, s.tlsConfig, s.resolver)
	srv := &http.Server{
		Handler:           s.routes(boundRegistry),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
		ConnContext:       s.connContext,
	}
	return &portServer{srv: srv, ln: dl}
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
		go p.srv.Serve(p.ln)
	}
	for _, p := range s.ports {
		go p.srv.Serve(p.ln)
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
	for _, l := range s.pending {
		l.Close()
	}
	s.mu.Unlock()
	for _, p := range servers {
		if err := p.srv.Shutdown(ctx); err != nil {
			p.srv.Close()
		}
		p.ln.Close()
	}
	for _, sr := range s.regs.Load().byName {
		sr.reg.Close()
	}
	if s.store != nil {
		return s.store.Close()
	}
	return nil
}

// storageDir is where a registry's blobs live ("" = in memory).
func (s *Server) storageDir(name string) string {
	if s.cfg.InMemory {
		return ""
	}
	return filepath.Join(s.cfg.DataDir, "registries", strings.ToLower(name))
}

func registryConfig(rec store.Registry) registry.Config {
	ips := make([]string, len(rec.NetworkRuleSet.IPRules))
	for i, r := range rec.NetworkRuleSet.IPRules {
		ips[i] = r.Value
	}
	return registry.Config{
		Name: rec.Name,
		Rules: firewall.Rules{
			PublicNetworkAccess: rec.PublicNetworkAccess,
			DefaultAction:       rec.NetworkRuleSet.DefaultAction,
			IPRules:             ips,
		},
		AdminUserEnabled:     rec.AdminUserEnabled,
		Passwords:            rec.Passwords,
		AnonymousPullEnabled: rec.AnonymousPullEnabled && !strings.EqualFold(rec.SKU, "Basic"),
	}
}

// serveRegistry starts serving rec, or applies its new state if served.
func (s *Server) serveRegistry(rec store.Registry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(rec.Name)
	cur := s.regs.Load()
	if sr, ok := cur.byName[key]; ok {
		if err := sr.reg.Update(registryConfig(rec)); err != nil {
			return err
		}
		s.publish(key, &servedRegistry{rec: rec, reg: sr.reg})
		return nil
	}
	reg, err := registry.New(registry.Options{
		StorageDir: s.storageDir(rec.Name),
		HTTPSecret: s.secret,
		Signer:     s.signer,
		Resolver:   s.resolver,
		Logger:     s.cfg.Logger,
		RuleDelay:  s.cfg.RuleDelay,
	}, registryConfig(rec))
	if err != nil {
		return err
	}
	if rec.Port != 0 && s.cfg.Domain == "" {
		ln, ok := s.pending[rec.Port]
		delete(s.pending, rec.Port)
		if !ok {
			if ln, err = net.Listen("tcp", s.portAddr(rec.Port)); err != nil {
				reg.Close()
				return fmt.Errorf("registry %s: %w", rec.Name, err)
			}
		}
		p := s.newPortServer(ln, key)
		s.ports[rec.Port] = p
		if !s.closed {
			go p.srv.Serve(p.ln)
		}
	}
	s.publish(key, &servedRegistry{rec: rec, reg: reg})
	return nil
}

// publish swaps in a registry set with key set to sr (nil removes it).
func (s *Server) publish(key string, sr *servedRegistry) {
	cur := s.regs.Load()
	next := &registrySet{byName: make(map[string]*servedRegistry, len(cur.byName)+1)}
	for k, v := range cur.byName {
		next.byName[k] = v
	}
	if sr == nil {
		delete(next.byName, key)
	} else {
		next.byName[key] = sr
	}
	s.regs.Store(next)
}

func (s *Server) removeRegistry(rec store.Registry) {
	s.mu.Lock()
	key := strings.ToLower(rec.Name)
	sr, ok := s.regs.Load().byName[key]
	s.publish(key, nil)
	var p *portServer
	if rec.Port != 0 {
		p = s.ports[rec.Port]
		delete(s.ports, rec.Port)
	}
	s.mu.Unlock()
	if p != nil {
		p.srv.Close() // also drops keep-alive connections to the deleted registry
		p.ln.Close()
	}
	if ok {
		sr.reg.Close()
	}
	if dir := s.storageDir(rec.Name); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			s.cfg.Logger.Error("remove registry storage", "registry", rec.Name, "err", err)
		}
	}
}

// portAddr is the address a registry port listens on: the host of the first
// front-end address, so registries are exactly as exposed as the front end.
func (s *Server) portAddr(port int) string {
	host, _, err := net.SplitHostPort(s.cfg.Listen[0])
	if err != nil {
		host = ""
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// loginServer is the address clients use for rec's data plane.
func (s *Server) loginServer(rec store.Registry) string {
	name := strings.ToLower(rec.Name)
	switch {
	case s.cfg.Domain != "":
		if s.frontPort == 443 {
			return name + "." + s.cfg.Domain
		}
		return fmt.Sprintf("%s.%s:%d", name, s.cfg.Domain, s.frontPort)
	case rec.Port != 0:
		return net.JoinHostPort(s.cfg.PublicHost, strconv.Itoa(rec.Port))
	default:
		return net.JoinHostPort(s.cfg.PublicHost, strconv.Itoa(s.frontPort))
	}
}

// hooks implements mgmt.Hooks.
type hooks Server

func (h *hooks) AllocatePort(inUse []int) (int, error) {
	s := (*Server)(h)
	if s.cfg.Domain != "" {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	used := map[int]bool{}
	for _, p := range inUse {
		used[p] = true
	}
	for _, p := range s.front {
		used[p.ln.Addr().(*net.TCPAddr).Port] = true
	}
	for p := range s.pending {
		used[p] = true
	}
	for port := s.cfg.RegistryPorts.First; port <= s.cfg.RegistryPorts.Last; port++ {
		if used[port] {
			continue
		}
		ln, err := net.Listen("tcp", s.portAddr(port))
		if err != nil {
			continue // taken by another process: try the next one
		}
		s.pending[port] = ln
		return port, nil
	}
	return 0, fmt.Errorf("%w in --registry-ports %s", mgmt.ErrNoPort, s.cfg.RegistryPorts)
}

func (h *hooks) RegistryChanged(rec store.Registry) {
	s := (*Server)(h)
	if err := s.serveRegistry(rec); err != nil {
		s.cfg.Logger.Error("serve registry", "registry", rec.Name, "err", err)
	}
}

func (h *hooks) RegistryDeleted(rec store.Registry) { (*Server)(h).removeRegistry(rec) }

func (h *hooks) LoginServer(rec store.Registry) string { return (*Server)(h).loginServer(rec) }
