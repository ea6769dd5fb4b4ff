package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/registry"
	"github.com/acremu/acremu/pkg/store"
)

// registrySet is an immutable snapshot of the served registries.
type registrySet struct {
	byName map[string]*servedRegistry // lower-cased name
}

type servedRegistry struct {
	rec store.Registry
	reg *registry.Registry
}

// registriesDir holds one storage directory per registry, named by its ID.
func (s *Server) registriesDir() string { return filepath.Join(s.cfg.DataDir, "registries") }

// storageDir is where rec's blobs live ("" = in memory). It is named by
// the registry's ID, never its name: a registry created again under a
// deleted one's name starts empty, even if the old storage outlived it.
func (s *Server) storageDir(rec store.Registry) string {
	if s.cfg.InMemory {
		return ""
	}
	return filepath.Join(s.registriesDir(), rec.ID)
}

func (s *Server) registryConfig(rec store.Registry, tokens []registry.Token) registry.Config {
	ips := make([]string, len(rec.NetworkRuleSet.IPRules))
	for i, r := range rec.NetworkRuleSet.IPRules {
		ips[i] = r.Value
	}
	return registry.Config{
		ID:          rec.ID,
		LoginServer: s.loginServer(rec),
		Name:        rec.Name,
		Rules: firewall.Rules{
			PublicNetworkAccess:      rec.PublicNetworkAccess,
			DefaultAction:            rec.NetworkRuleSet.DefaultAction,
			IPRules:                  ips,
			NetworkRuleBypassOptions: rec.NetworkRuleBypassOptions,
			PrivateEndpointNetworks:  store.ApprovedNetworks(rec.PrivateEndpointConnections),
			EndpointProtocol:         rec.EndpointProtocol,
		},
		AdminUserEnabled:     rec.AdminUserEnabled,
		Passwords:            rec.Passwords,
		AnonymousPullEnabled: rec.AnonymousPullEnabled, // ARM refuses it on Basic (checkSKUFeatures)
		Tokens:               tokens,
	}
}

// prepareRegistry readies rec's data plane without serving it: for a
// served registry the new configuration is compiled; for a new one the
// distribution app is built and its port bound. Everything that can fail
// happens here, so applying the result cannot. tokens are all of rec's
// tokens, resolved to their scope maps' actions.
func (s *Server) prepareRegistry(rec store.Registry, tokens []mgmt.ResolvedToken) (mgmt.PreparedChange, error) {
	key := strings.ToLower(rec.Name)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return mgmt.PreparedChange{}, errors.New("acremu is shutting down")
	}
	data, err := s.planDataEndpoints(rec) // dataendpoints.go
	if err != nil {
		return mgmt.PreparedChange{}, err
	}
	cfg := s.registryConfig(rec, dataPlaneTokens(tokens))
	cfg.DataEndpoint = data.target
	if sr, ok := s.regs.Load().byName[key]; ok {
		apply, err := sr.reg.PrepareUpdate(cfg)
		if err != nil {
			data.discard()
			return mgmt.PreparedChange{}, err
		}
		return mgmt.PreparedChange{Apply: func() {
			apply()
			s.mu.Lock()
			defer s.mu.Unlock()
			data.apply(s)
			s.publish(key, &servedRegistry{rec: rec, reg: sr.reg})
		}, Discard: data.discard}, nil
	}

	reg, err := registry.New(registry.Options{
		StorageDir:  s.storageDir(rec),
		HTTPSecret:  s.secret,
		Signer:      s.signer,
		ARMAudience: s.isARMAudience,
		Resolver:    s.resolver,
		Logger:      s.cfg.Logger,
		RuleDelay:   s.cfg.RuleDelay,
		Lazy:        s.restoring,

		UploadPurgeAge:      s.cfg.UploadPurgeAge,
		UploadPurgeInterval: s.cfg.UploadPurgeInterval,
		DenyLogInterval:     s.cfg.DenyLogInterval,
	}, cfg)
	if err != nil {
		data.discard()
		return mgmt.PreparedChange{}, err
	}
	var port *portServer
	if rec.Port != 0 && s.cfg.Domain == "" {
		lns, err := s.listenPort(rec.Port)
		if err != nil {
			reg.Close()
			data.discard()
			return mgmt.PreparedChange{}, fmt.Errorf("%w: port %d: %w", mgmt.ErrNoPort, rec.Port, err)
		}
		port = s.newPortServer(lns, key)
	}
	return mgmt.PreparedChange{
		Apply: func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if port != nil {
				s.ports[rec.Port] = port
				if !s.closed {
					port.serve()
				}
			}
			data.apply(s)
			s.publish(key, &servedRegistry{rec: rec, reg: reg})
		},
		Discard: func() {
			data.discard()
			if port != nil {
				port.closeListeners()
			}
			reg.Close()
			s.removeStorage(rec)
		},
	}, nil
}

// serveRegistry starts serving a stored registry with its tokens (at
// start-up).
func (s *Server) serveRegistry(rec store.Registry) error {
	var resolved []mgmt.ResolvedToken
	if err := s.store.View(func(tx *store.Tx) (err error) {
		resolved, err = mgmt.ResolveTokens(tx, rec.ID)
		return err
	}); err != nil {
		return err
	}
	ch, err := s.prepareRegistry(rec, resolved)
	if err != nil {
		return err
	}
	ch.Apply()
	return nil
}

// publish swaps in a registry set with key set to sr (nil removes it).
// The caller holds s.mu.
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

// removeRegistry stops serving a deleted registry and removes its storage.
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
	dataPorts := s.removeDataEndpointsLocked(key)
	s.mu.Unlock()
	if p != nil {
		p.close() // every host's listener; also drops keep-alive connections to the deleted registry
	}
	for _, dp := range dataPorts {
		dp.close()
	}
	if ok {
		sr.reg.Close()
	}
	s.removeStorage(rec)
}

// removeStorage deletes rec's storage. A failure is only logged: the
// storage is named by an ID no registry will have again, and start-up
// removes storage that belongs to no registry.
func (s *Server) removeStorage(rec store.Registry) {
	if dir := s.storageDir(rec); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			s.cfg.Logger.Error("remove registry storage", "registry", rec.Name, "id", rec.ID, "err", err)
		}
	}
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

// AllocatePort picks the first port of --registry-ports that no registry
// uses and that can be bound now on every front-end host. It binds
// nothing: PrepareRegistry binds the port inside the same transaction,
// and a create that fails holds no port.
func (h *hooks) AllocatePort(inUse []int) (int, error) {
	s := (*Server)(h)
	if s.cfg.Domain != "" {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	used := s.usedPortsLocked() // front end, registries, data endpoints
	for _, p := range inUse {
		used[p] = true
	}
	if s.cfg.RegistryPorts.Ephemeral() {
		lns, err := s.listenPort(0)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", mgmt.ErrNoPort, err)
		}
		defer closeAll(lns)
		return boundPort(lns), nil
	}
	for port := s.cfg.RegistryPorts.First; port <= s.cfg.RegistryPorts.Last; port++ {
		if used[port] {
			continue
		}
		lns, err := s.listenPort(port)
		if err != nil {
			continue // taken by another process on some host: try the next one
		}
		closeAll(lns)
		return port, nil
	}
	return 0, fmt.Errorf("%w in --registry-ports %s", mgmt.ErrNoPort, s.cfg.RegistryPorts)
}

func (h *hooks) PrepareRegistry(rec store.Registry, tokens []mgmt.ResolvedToken) (mgmt.PreparedChange, error) {
	return (*Server)(h).prepareRegistry(rec, tokens)
}

// dataPlaneTokens converts resolved tokens for the data plane.
func dataPlaneTokens(resolved []mgmt.ResolvedToken) []registry.Token {
	out := make([]registry.Token, len(resolved))
	for i, t := range resolved {
		out[i] = dataPlaneToken(t)
	}
	return out
}

func (h *hooks) RegistryDeleted(rec store.Registry) { (*Server)(h).removeRegistry(rec) }

func (h *hooks) LoginServer(rec store.Registry) string { return (*Server)(h).loginServer(rec) }

// isARMAudience accepts ARM tokens for the management audiences or for
// acremu's ARM endpoint, which is on the front-end port under any name.
func (s *Server) isARMAudience(aud []string) bool {
	front := strconv.Itoa(s.frontPort)
	return mgmt.IsARMAudience(aud, func(scheme, host string) bool {
		_, port, err := net.SplitHostPort(host)
		if err != nil { // no port: the scheme's default
			port = map[string]string{"http": "80", "https": "443"}[scheme]
		}
		return port == front
	})
}

// dataPlaneToken converts a stored token, resolved to its scope map's
// actions, for the data plane.
func dataPlaneToken(t mgmt.ResolvedToken) registry.Token {
	out := registry.Token{Name: t.Name, Enabled: !strings.EqualFold(t.Status, "disabled"), Actions: t.Actions}
	for _, p := range t.Passwords {
		dp := registry.TokenPassword{Name: p.Name, Hash: p.Hash}
		if p.Expiry != nil {
			dp.Expiry = *p.Expiry
		}
		out.Passwords = append(out.Passwords, dp)
	}
	return out
}
