package portal

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acremu/acremu/pkg/firewall"
)

// Prefix is the path the portal is served under.
const Prefix = "/portal"

// Config configures a Portal. ARM, SignIn, Subscription, SessionKey and
// ClientOf are required.
type Config struct {
	// ARM serves the ARM API; the portal calls it in-process.
	ARM http.Handler
	// SignIn checks the service principal's credentials and returns an ARM
	// bearer token and its lifetime (mgmt.API.Token).
	SignIn func(clientID, secret string) (token string, ttl time.Duration, err error)
	// Subscription is the id of the emulated subscription.
	Subscription string
	// SessionKey seals session cookies; at least 32 bytes, persisted per
	// instance so that another instance's cookies are refused.
	SessionKey []byte
	// ClientOf is the request's client exactly as the registries' firewall
	// sees it; it names the address "Add your client IP address" adds.
	ClientOf func(*http.Request) firewall.Client
	// Activity returns a registry's firewall counters and recent denials
	// (nil: the Networking blade shows none).
	Activity func(registry string) (Activity, bool)
	// HintClientID and HintSecret, when set, are shown on the sign-in page
	// (the well-known development credentials).
	HintClientID, HintSecret string
	// MaxSession bounds a session's life; the ARM token's lifetime bounds
	// it too. 0 means 8 hours.
	MaxSession time.Duration
	Logger     *slog.Logger
	Now        func() time.Time // nil = time.Now
}

// Activity is what the firewall of one registry has done since start.
type Activity struct {
	Allowed, Denied uint64
	Recent          []Denial // newest first
}

// Denial is one request the firewall refused.
type Denial struct {
	Time   time.Time
	Method string
	Path   string
	Source netip.Addr // the client's address as seen (before NAT)
	Addr   netip.Addr // the address the rules judged (after NAT)
	Reason string
}

// Portal is the web portal; an http.Handler for Prefix and below.
type Portal struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	sessions *sessions
	pages    map[string]*template.Template
	router   chi.Router
}

// New validates cfg and parses the embedded templates.
func New(cfg Config) (*Portal, error) {
	switch {
	case cfg.ARM == nil:
		return nil, errors.New("portal: Config.ARM is required")
	case cfg.SignIn == nil:
		return nil, errors.New("portal: Config.SignIn is required")
	case cfg.Subscription == "" || strings.ContainsAny(cfg.Subscription, "/?#"):
		return nil, fmt.Errorf("portal: invalid subscription %q", cfg.Subscription)
	case cfg.ClientOf == nil:
		return nil, errors.New("portal: Config.ClientOf is required")
	case cfg.MaxSession < 0:
		return nil, errors.New("portal: MaxSession is negative")
	}
	if cfg.MaxSession == 0 {
		cfg.MaxSession = 8 * time.Hour
	}
	p := &Portal{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	var err error
	if p.sessions, err = newSessions(cfg.SessionKey, p.now); err != nil {
		return nil, err
	}
	if p.pages, err = parsePages(); err != nil {
		return nil, err
	}
	p.router = p.routes()
	return p, nil
}

// ServeHTTP serves the portal. It routes on the decoded path, so a route
// parameter never contains '/'.
func (p *Portal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	rctx := chi.NewRouteContext()
	rctx.RoutePath = r.URL.Path
	p.router.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, rctx)))
}

// securityHeaders: no inline script or style, no framing, no referrer
// leaking registry names, nothing cached.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

func (p *Portal) routes() chi.Router {
	r := chi.NewRouter()
	r.Get(Prefix, func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, Prefix+"/", http.StatusMovedPermanently)
	})
	r.Handle(Prefix+"/static/*", staticHandler())
	r.Get(Prefix+"/signin", p.handle(p.signinPage))
	r.Post(Prefix+"/signin", p.handle(p.signin))
	r.Post(Prefix+"/signout", p.authed(p.signout))

	r.Get(Prefix+"/", p.authed(p.registriesPage))
	r.Get(Prefix+"/create", p.authed(p.createPage))
	r.Post(Prefix+"/create", p.authed(p.create))
	r.Get(Prefix+"/groups/{rg}/delete", p.authed(p.deleteGroupPage))
	r.Post(Prefix+"/groups/{rg}/delete", p.authed(p.deleteGroup))

	const reg = Prefix + "/registries/{rg}/{name}"
	r.Get(reg, p.authed(p.overviewPage))
	r.Get(reg+"/keys", p.authed(p.keysPage))
	r.Post(reg+"/keys", p.authed(p.keys))
	r.Get(reg+"/networking", p.authed(p.networkingPage))
	r.Post(reg+"/networking", p.authed(p.networking))
	r.Post(reg+"/networking/connections", p.authed(p.privateAccess))
	r.Get(reg+"/delete", p.authed(p.deleteRegistryPage))
	r.Post(reg+"/delete", p.authed(p.deleteRegistry))

	r.NotFound(p.handle(func(http.ResponseWriter, *http.Request) error { return errPageNotFound }))
	r.MethodNotAllowed(p.handle(func(http.ResponseWriter, *http.Request) error {
		return &pageError{Status: http.StatusMethodNotAllowed, Title: "Not allowed", Message: "This page does not accept that request."}
	}))
	return r
}

// handlerFunc renders a page or returns an error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// authedFunc is a handler for a signed-in user.
type authedFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// call is one signed-in request: the session, its CSRF token and the ARM
// client acting as the user.
type call struct {
	sess *session
	csrf string
	arm  armClient
}

func (p *Portal) handle(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			p.writeError(w, r, err)
		}
	}
}

// maxForm bounds form bodies: 100 address ranges are a few kilobytes.
const maxForm = 64 << 10

// authed admits only requests with a valid session and, for anything but
// GET and HEAD, a same-origin request carrying the session's CSRF token.
// Nothing is read from ARM or changed before both checks pass.
func (p *Portal) authed(f authedFunc) http.HandlerFunc {
	return p.handle(func(w http.ResponseWriter, r *http.Request) error {
		sess, err := p.sessions.fromRequest(r)
		if err != nil {
			return errNoSession
		}
		c := &call{
			sess: sess,
			csrf: p.sessions.csrf("session", sess.ID),
			arm:  armClient{h: p.cfg.ARM, token: sess.Token, sub: p.cfg.Subscription, from: r},
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := p.checkPost(w, r, "session", sess.ID); err != nil {
				return err
			}
		}
		return f(w, r, c)
	})
}

// checkPost parses the form and checks the Origin and the CSRF token.
func (p *Portal) checkPost(w http.ResponseWriter, r *http.Request, purpose, id string) error {
	if !sameOrigin(r) {
		return errForbidden
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &pageError{Status: http.StatusBadRequest, Title: "Bad request", Message: "The form could not be read."}
	}
	if !p.sessions.checkCSRF(purpose, id, r.PostForm.Get("csrf")) {
		return errForbidden
	}
	return nil
}

// sameOrigin refuses cross-site posts: when the browser names the origin
// it must be this host (SameSite=Strict and the CSRF token guard the rest).
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return strings.EqualFold(origin, scheme+"://"+r.Host)
}
