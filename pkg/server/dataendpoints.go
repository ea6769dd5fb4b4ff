package server

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/registry"
	"github.com/acremu/acremu/pkg/store"
)

// Dedicated data endpoints (pkg/registry/dataendpoint.go serves them).
//
// ACR names one per region the registry is in, <registry>.<region>.data.
// azurecr.io. acremu makes each reachable without DNS the way it makes
// login servers reachable:
//
//   - port mode: every data endpoint gets a port of its own from
//     --registry-ports, on every front-end host. The name ARM lists is
//     <registry>.<region>.data.<public host>:<port>, ACR's shape, so that
//     `az acr show-endpoints` finds the region in it; the port alone
//     decides which endpoint a connection reaches, and redirects name the
//     reachable <public host>:<port>.
//   - --domain D: <registry>.<region>.data.D on the front-end port, routed
//     by the Host header like <registry>.D.
//
// Data endpoint ports are stored with the registry (store.Registry.
// DataEndpointPorts): ARM allocates them through AllocatePort, from the
// bottom of the range like login servers' ports, in the transaction that
// turns data endpoints on or adds a replication, and the data plane binds
// the stored ports. A record stored before the ports were (data endpoints
// on, no ports) has its ports chosen here when it is served, from the top
// of the range down, until its next ARM change stores ports for it.

// dataPort is one data endpoint's listener in port mode.
type dataPort struct {
	region string
	port   int
	ps     *portServer
}

// dataPlan is the prepared data-endpoint state of one registry.
type dataPlan struct {
	key            string
	ports          []*dataPort // the registry's ports once applied
	added, removed []*dataPort
	target         string // Location host of the home region; "" without data endpoints
}

// dataRegions are the regions of rec's data endpoints, home region first.
func dataRegions(rec store.Registry) []string { return rec.DataEndpointRegions() }

// dataDomainHost is a data endpoint's name with --domain.
func (s *Server) dataDomainHost(rec store.Registry, region string) string {
	h := strings.ToLower(rec.Name) + "." + region + ".data." + s.cfg.Domain
	if s.frontPort != 443 {
		h += ":" + strconv.Itoa(s.frontPort)
	}
	return h
}

// planDataEndpoints binds the ports rec's data endpoints need and have not
// got: the stored ones, or ports it chooses for a record stored without
// them. The caller holds s.mu.
func (s *Server) planDataEndpoints(rec store.Registry) (*dataPlan, error) {
	key := strings.ToLower(rec.Name)
	regions := dataRegions(rec)
	p := &dataPlan{key: key}
	if s.cfg.Domain != "" {
		if len(regions) > 0 {
			p.target = s.dataDomainHost(rec, regions[0])
		}
		return p, nil
	}
	have := map[string]*dataPort{}
	for _, dp := range s.dataPorts[key] {
		have[dp.region] = dp
	}
	for _, region := range regions {
		stored := rec.DataEndpointPorts[region]
		if dp := have[region]; dp != nil && (stored == 0 || dp.port == stored) {
			p.ports = append(p.ports, dp)
			delete(have, region)
			continue
		}
		var dp *dataPort
		var err error
		if stored != 0 {
			dp, err = s.bindStoredDataPort(key, region, stored)
		} else {
			dp, err = s.bindDataPort(key, region, rec.Port, p)
		}
		if err != nil {
			p.discard()
			return nil, err
		}
		p.ports = append(p.ports, dp)
		p.added = append(p.added, dp)
	}
	for _, dp := range have {
		p.removed = append(p.removed, dp)
	}
	if len(p.ports) > 0 {
		p.target = net.JoinHostPort(s.cfg.PublicHost, strconv.Itoa(p.ports[0].port))
	}
	return p, nil
}

// bindStoredDataPort binds a data endpoint's stored port on every
// front-end host. The caller holds s.mu.
func (s *Server) bindStoredDataPort(key, region string, port int) (*dataPort, error) {
	lns, err := s.listenPort(port)
	if err != nil {
		return nil, fmt.Errorf("%w: port %d for the data endpoint of %s in %s: %w", mgmt.ErrNoPort, port, key, region, err)
	}
	return &dataPort{region: region, port: port, ps: s.newDataPortServer(lns, key)}, nil
}

// bindDataPort binds the highest port of --registry-ports that is free on
// every front-end host for a data endpoint of a record stored without its
// ports. The caller holds s.mu.
func (s *Server) bindDataPort(key, region string, loginPort int, p *dataPlan) (*dataPort, error) {
	used := s.usedPortsLocked()
	used[loginPort] = true
	for _, dp := range p.added {
		used[dp.port] = true
	}
	if s.restoring { // registries not served yet keep their stored ports
		_ = s.store.View(func(tx *store.Tx) error {
			recs, err := tx.Registries("", "")
			for _, r := range recs {
				used[r.Port] = true
				for _, port := range r.DataEndpointPorts {
					used[port] = true
				}
			}
			return err
		})
	}
	if s.cfg.RegistryPorts.Ephemeral() {
		lns, err := s.listenPort(0)
		if err != nil {
			return nil, fmt.Errorf("%w for the data endpoint of %s in %s: %w", mgmt.ErrNoPort, key, region, err)
		}
		return &dataPort{region: region, port: boundPort(lns), ps: s.newDataPortServer(lns, key)}, nil
	}
	for port := s.cfg.RegistryPorts.Last; port >= s.cfg.RegistryPorts.First; port-- {
		if used[port] {
			continue
		}
		lns, err := s.listenPort(port)
		if err != nil {
			continue // taken by another process on some host
		}
		return &dataPort{region: region, port: port, ps: s.newDataPortServer(lns, key)}, nil
	}
	return nil, fmt.Errorf("%w in --registry-ports %s for the data endpoint of %s in %s", mgmt.ErrNoPort, s.cfg.RegistryPorts, key, region)
}

// usedPortsLocked are the ports acremu listens on. The caller holds s.mu.
func (s *Server) usedPortsLocked() map[int]bool {
	used := map[int]bool{}
	for _, p := range s.front {
		used[p.port()] = true
	}
	for p := range s.ports {
		used[p] = true
	}
	for _, dps := range s.dataPorts {
		for _, dp := range dps {
			used[dp.port] = true
		}
	}
	return used
}

// apply serves the plan's new ports and closes those no longer wanted.
// The caller holds s.mu.
func (p *dataPlan) apply(s *Server) {
	if p == nil {
		return
	}
	if s.dataPorts == nil {
		s.dataPorts = map[string][]*dataPort{}
	}
	if len(p.ports) == 0 {
		delete(s.dataPorts, p.key)
	} else {
		s.dataPorts[p.key] = p.ports
	}
	for _, dp := range p.added {
		if !s.closed {
			dp.ps.serve()
		}
	}
	for _, dp := range p.removed {
		dp.ps.close()
	}
}

// discard releases the ports the plan bound.
func (p *dataPlan) discard() {
	if p == nil {
		return
	}
	for _, dp := range p.added {
		dp.ps.closeListeners()
	}
}

// removeDataEndpoints closes a deleted registry's data ports. The caller
// holds s.mu.
func (s *Server) removeDataEndpointsLocked(key string) []*portServer {
	var out []*portServer
	for _, dp := range s.dataPorts[key] {
		out = append(out, dp.ps)
	}
	delete(s.dataPorts, key)
	return out
}

// newDataPortServer serves one data endpoint port of registry key.
func (s *Server) newDataPortServer(lns []net.Listener, key string) *portServer {
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			sr := s.regs.Load().byName[key]
			if sr == nil {
				registry.WriteError(w, http.StatusNotFound, "NAME_UNKNOWN", "no registry is served at "+req.Host)
				return
			}
			sr.reg.ServeDataEndpoint(w, req)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ConnContext:       s.connContext,
	}
	return s.portServerOn(srv, lns)
}

// dataHosts routes requests for <registry>.<region>.data.<domain> on the
// front end (--domain) to that registry's data endpoint.
func (s *Server) dataHosts(boundRegistry string, next http.Handler) http.Handler {
	if s.cfg.Domain == "" || boundRegistry != "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h := strings.ToLower(req.Host)
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		rest, ok := strings.CutSuffix(strings.TrimSuffix(h, "."), ".data."+s.cfg.Domain)
		if !ok {
			next.ServeHTTP(w, req)
			return
		}
		name, region, _ := strings.Cut(rest, ".")
		sr := s.regs.Load().byName[name]
		if sr == nil || !containsFold(dataRegions(sr.rec), region) {
			registry.WriteError(w, http.StatusNotFound, "NAME_UNKNOWN", "no data endpoint is served at "+req.Host)
			return
		}
		sr.reg.ServeDataEndpoint(w, req)
	})
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// DataEndpointHostNames implements mgmt.DataEndpointHooks: what ARM lists
// as dataEndpointHostNames.
func (h *hooks) DataEndpointHostNames(rec store.Registry) []string {
	s := (*Server)(h)
	regions := dataRegions(rec)
	out := make([]string, 0, len(regions))
	if s.cfg.Domain != "" {
		for _, region := range regions {
			out = append(out, s.dataDomainHost(rec, region))
		}
		return out
	}
	ports := rec.DataEndpointPorts
	if len(ports) < len(regions) { // stored without its ports: the ones served
		s.mu.Lock()
		ports = map[string]int{}
		for _, dp := range s.dataPorts[strings.ToLower(rec.Name)] {
			ports[dp.region] = dp.port
		}
		s.mu.Unlock()
	}
	for _, region := range regions {
		if port, ok := ports[region]; ok {
			out = append(out, fmt.Sprintf("%s.%s.data.%s", strings.ToLower(rec.Name), region, net.JoinHostPort(s.cfg.PublicHost, strconv.Itoa(port))))
		}
	}
	return out
}

var _ mgmt.DataEndpointHooks = (*hooks)(nil)
