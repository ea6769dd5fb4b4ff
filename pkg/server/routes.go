package server

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/registry"
)

// routes is the handler of one port. boundRegistry is the lower-cased name
// of the registry that owns the port ("" on front-end ports).
func (s *Server) routes(boundRegistry string) http.Handler {
	r := chi.NewRouter()
	r.Get("/_acremu/health", s.health)
	r.Head("/_acremu/health", s.health)
	r.Get("/_acremu/whoami", s.whoami)
	r.Get("/_acremu/ca.crt", s.caCert)
	r.Handle("/_acremu/metrics", s.metrics)
	r.Get(identityPath, s.managedIdentityToken) // IMDS, for trusted-service sources
	dataPlane := func(w http.ResponseWriter, req *http.Request) {
		sr := s.pick(boundRegistry, req.Host)
		if sr == nil {
			registry.WriteError(w, http.StatusNotFound, "NAME_UNKNOWN", "no registry is served at "+req.Host)
			return
		}
		sr.reg.ServeHTTP(w, req)
	}
	r.HandleFunc("/v2", dataPlane)
	r.HandleFunc("/v2/*", dataPlane)
	r.HandleFunc("/oauth2/*", dataPlane)
	r.HandleFunc("/acr/v1/*", dataPlane) // ACR's metadata API (az acr repository)
	r.HandleFunc("/portal", s.servePortal)
	r.HandleFunc("/portal/*", s.servePortal)
	// Docker's v1 API belongs to the registry host too (firewall, then 404).
	// Left to ARM it would be a 401, which skopeo's /v1/_ping probe takes
	// for a v1 registry ("can't talk to a V1 container registry").
	r.HandleFunc("/v1/*", dataPlane)
	// ARM's paths match case-insensitively and its identity endpoints start
	// with a free tenant segment, neither of which chi patterns express, so
	// the paths the routes above do not take are dispatched by claimedByARM.
	r.NotFound(s.unrouted(http.StatusNotFound))
	r.MethodNotAllowed(s.unrouted(http.StatusMethodNotAllowed))
	return r
}

// unrouted answers a path the port's routes do not take (status says
// whether the path is unknown or only the method). ARM is mounted on the
// paths it claims (claimedByARM: its prefixes and tenant forms, folded as
// ARM folds them), which chi's patterns cannot express. Every other path
// is the front end's, answered in the registry's error format like its
// other endpoints.
func (s *Server) unrouted(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		path := req.URL.Path
		if claimedByARM(path) {
			// The ARM API is created after the front-end listeners are bound
			// (it needs their port for loginServer values), so resolve it per
			// request.
			s.api.ServeHTTP(w, req)
			return
		}
		if status == http.StatusMethodNotAllowed {
			registry.WriteError(w, status, "UNSUPPORTED", "the method "+req.Method+" is not supported at "+path)
			return
		}
		registry.WriteError(w, status, "NOT_FOUND", "acremu serves nothing at "+path)
	}
}

// pick chooses the registry for a data-plane request: the port's own
// registry, else (with --domain) the registry named by the Host, else the
// default registry.
func (s *Server) pick(boundRegistry, host string) *servedRegistry {
	set := s.regs.Load()
	if boundRegistry != "" {
		return set.byName[boundRegistry]
	}
	if s.cfg.Domain != "" {
		h := strings.ToLower(host)
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		if name, ok := strings.CutSuffix(strings.TrimSuffix(h, "."), "."+s.cfg.Domain); ok {
			if sr := set.byName[name]; sr != nil {
				return sr
			}
		}
	}
	if s.cfg.DefaultRegistry == "" {
		return nil
	}
	return set.byName[strings.ToLower(s.cfg.DefaultRegistry)]
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// whoamiResponse is the client address as the firewall sees it.
type whoamiResponse struct {
	IP     string `json:"ip"`     // the address IP rules are matched against
	Source string `json:"source"` // the client's own address (before NAT)
	Peer   string `json:"peer"`   // the TCP peer (a proxy, when one relays)
	// Network is the virtual network the client is in (--vnet); registries
	// with an approved private endpoint from it admit it privately.
	Network        string `json:"network,omitempty"`
	TrustedService bool   `json:"trustedService,omitempty"` // in a --trusted-service-network
}

func (s *Server) whoami(w http.ResponseWriter, req *http.Request) {
	c := s.clientOf(req)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(whoamiResponse{IP: c.Addr.String(), Source: c.Source.String(), Peer: c.Peer.String(),
		Network: c.Network, TrustedService: c.TrustedService})
}

// clientOf is the request's client exactly as the data plane judges it.
func (s *Server) clientOf(req *http.Request) firewall.Client { return s.resolver.ClientOf(req) }

func (s *Server) caCert(w http.ResponseWriter, _ *http.Request) {
	if s.ca == nil {
		registry.WriteError(w, http.StatusNotFound, "NOT_FOUND", "acremu serves a user-supplied certificate (--tls-cert); it has no CA")
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(s.ca.CertPEM())
}
