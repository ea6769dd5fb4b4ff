package server

import (
	"net/http"
	"strings"

	"github.com/acremu/acremu/pkg/portal"
)

// newPortal builds the web portal on top of the ARM API. Its session key is
// a secret of this instance's state, so sessions survive a restart and
// another instance's cookies are refused.
func (s *Server) newPortal() (*portal.Portal, error) {
	key, err := s.store.SecretOrCreate("portal-session-key", randomSecret)
	if err != nil {
		return nil, err
	}
	cfg := portal.Config{
		ARM:          s.api,
		SignIn:       s.api.Token,
		Subscription: s.cfg.Subscription,
		SessionKey:   key,
		ClientOf:     s.clientOf,
		Activity:     s.firewallActivity,
		Logger:       s.cfg.Logger,
	}
	// Only the well-known development credentials are shown as a hint, and
	// only while acremu listens on loopback alone.
	if s.cfg.ClientID == DefaultClientID && s.cfg.ClientSecret == DefaultClientSecret && !s.cfg.ExposedWithWellKnownSecret() {
		cfg.HintClientID, cfg.HintSecret = DefaultClientID, DefaultClientSecret
	}
	return portal.New(cfg)
}

// servePortal is the /portal/ route of every port.
func (s *Server) servePortal(w http.ResponseWriter, req *http.Request) { s.portal.ServeHTTP(w, req) }

// firewallActivity is a served registry's firewall counters and recent
// denials, for the portal's Networking blade.
func (s *Server) firewallActivity(name string) (portal.Activity, bool) {
	sr := s.regs.Load().byName[strings.ToLower(name)]
	if sr == nil {
		return portal.Activity{}, false
	}
	st := sr.reg.Stats()
	a := portal.Activity{Allowed: st.Allowed, Denied: st.Denied}
	for _, d := range sr.reg.RecentDenials() {
		a.Recent = append(a.Recent, portal.Denial{Time: d.Time, Method: d.Method, Path: d.Path, Source: d.Source, Addr: d.Addr, Reason: d.Reason})
	}
	return a, true
}
