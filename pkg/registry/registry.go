package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3/registry/handlers"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/token"
)

// Config is the part of a registry's ARM state the data plane needs. Update
// is called with a fresh Config after every ARM change.
type Config struct {
	ID                   string         // the registry's unique identity (store.Registry.ID); tokens are bound to it
	LoginServer          string         // what ARM reports as loginServer; the audience of this registry's tokens
	Name                 string         // registry name as created; the admin username
	Rules                firewall.Rules // networkRuleSet and publicNetworkAccess
	AdminUserEnabled     bool
	Passwords            [2]string // admin passwords "password" and "password2"; "" never matches
	AnonymousPullEnabled bool      // already effective (the caller clears it for Basic SKU)
	// Tokens are the registry's repository-scoped tokens, each with the
	// actions of its scope map; they swap at once with the credentials.
	Tokens []Token
	// DataEndpoint is the host[:port] of the registry's dedicated data
	// endpoint in its home region (dataendpoint.go): blob GETs answer 307
	// with a signed link to it. "" serves blobs directly.
	DataEndpoint string
}

// Options are a registry's fixed dependencies.
type Options struct {
	StorageDir string        // distribution filesystem root; "" selects distribution's inmemory driver
	HTTPSecret string        // persisted secret that signs upload state; required
	Signer     *token.Signer // signs and verifies ACR tokens, verifies ARM tokens; required
	// ARMAudience says whether an ARM token's audience lets /oauth2/exchange
	// take it (a token for Key Vault or Graph is not for ARM); nil accepts
	// any audience.
	ARMAudience func(aud []string) bool
	Resolver    *firewall.Resolver // NAT, trusted proxies, private networks; nil means none of them
	Logger      *slog.Logger       // nil means slog.Default()
	RuleDelay   time.Duration      // rule changes reach the data plane after this delay; 0 means the next request
	Now         func() time.Time   // nil means time.Now

	// DenyLogInterval limits the firewall's warnings: the first denial of
	// a client address is logged, then at most one per address per
	// interval, which counts the denials left out. A count that no later
	// denial carries (the client stopped) gets a summary line of its own a
	// quarter interval after the interval, or at Close. 0 means 10s;
	// negative logs every denial. Stats and RecentDenials are exact either
	// way.
	DenyLogInterval time.Duration
	// Lazy defers building distribution's application to the first
	// request or Warm: starting many registries then costs little. An
	// error in building it then answers that registry's requests with 500.
	Lazy bool
	// UploadPurgeAge is how old an unfinished blob upload must be before it
	// is deleted (filesystem storage only). 0 means 168h, distribution's
	// default; negative disables purging.
	UploadPurgeAge time.Duration
	// UploadPurgeInterval is how often uploads are purged, the first time
	// one interval after New. 0 means 24h, distribution's default.
	UploadPurgeInterval time.Duration
}

// Stats counts firewall decisions since New.
type Stats struct {
	Allowed uint64
	Denied  uint64
}

// Denial records one request the firewall refused.
type Denial struct {
	Time   time.Time
	Method string
	Path   string
	Peer   netip.Addr // TCP peer
	Source netip.Addr // original client (differs from Peer behind a trusted proxy)
	Addr   netip.Addr // address judged by the rules (Source after NAT)
	Reason string
}

// credentials are the authentication settings that swap at once on Update.
type credentials struct {
	adminEnabled  bool
	passwords     [2]string
	anonymousPull bool
	tokens        tokenSet
	dataEndpoint  string // Config.DataEndpoint
	// admin are the admin user's passwords as credentials tokens are
	// issued for ("" passwords: nil); live holds every credential tokens
	// may be issued for, by fingerprint (credential.go).
	admin [2]*liveCredential
	live  map[string]*liveCredential
}

// Registry is the data plane of one emulated registry. It is an
// http.Handler for /v2/… and /oauth2/…; create it with New.
type Registry struct {
	id          string
	loginServer string // lower-cased
	name        string
	signer      *token.Signer
	armAud      func(aud []string) bool
	resolver    *firewall.Resolver
	log         *slog.Logger
	now         func() time.Time
	delay       time.Duration
	app         *handlers.App
	storageDir  string // distribution's filesystem root; "" for in-memory storage
	dataKey     []byte // signs data-endpoint links (dataendpoint.go)
	credKey     []byte // fingerprints credentials in tokens (credential.go)

	referrers *referrerIndex              // the OCI referrers API, which distribution lacks
	driver    storagedriver.StorageDriver // distribution's storage driver (set by driverTap)
	repos     *repoStore                  // ACR's metadata API (/acr/v1/) on that storage
	attrs     *attributeStore             // changeableAttributes (attributes.go), enforced by locks.go

	policy  atomic.Pointer[firewall.Policy]
	creds   atomic.Pointer[credentials]
	allowed atomic.Uint64
	denied  atomic.Uint64
	denials denialRing
	tokens  tokenCache

	mu      sync.Mutex // guards the fields below: delayed policy changes
	seq     uint64     // sequence number of the latest scheduled policy
	applied uint64     // sequence number of the policy in effect
	pending map[uint64]*time.Timer

	backend     func() error // builds the backend (buildBackend with New's options)
	backendOnce sync.Once
	backendErr  error
	closed      bool
}

// New validates cfg and opts, compiles the firewall policy and builds the
// distribution application.
func New(opts Options, cfg Config) (*Registry, error) {
	if cfg.Name == "" {
		return nil, errors.New("registry: empty name")
	}
	if cfg.ID == "" || cfg.LoginServer == "" {
		return nil, fmt.Errorf("registry %s: empty ID or login server", cfg.Name)
	}
	if opts.HTTPSecret == "" {
		return nil, fmt.Errorf("registry %s: empty HTTP secret", cfg.Name)
	}
	if opts.Signer == nil {
		return nil, fmt.Errorf("registry %s: no token signer", cfg.Name)
	}
	if opts.RuleDelay < 0 {
		return nil, fmt.Errorf("registry %s: negative rule delay %v", cfg.Name, opts.RuleDelay)
	}
	policy, err := firewall.NewPolicy(cfg.Rules)
	if err != nil {
		return nil, fmt.Errorf("registry %s: %w", cfg.Name, err)
	}
	if opts.Resolver == nil {
		if opts.Resolver, err = firewall.NewResolver(firewall.ResolverConfig{}); err != nil {
			return nil, err
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Registry{
		id:          cfg.ID,
		loginServer: strings.ToLower(cfg.LoginServer),
		name:        cfg.Name,
		signer:      opts.Signer,
		armAud:      opts.ARMAudience,
		resolver:    opts.Resolver,
		log:         opts.Logger,
		now:         opts.Now,
		delay:       opts.RuleDelay,
		storageDir:  opts.StorageDir,
		dataKey:     dataLinkKey(opts.HTTPSecret, cfg.ID),
		credKey:     credentialKey(opts.HTTPSecret, cfg.ID),
		pending:     make(map[uint64]*time.Timer),
	}
	r.denials.flusher.timer = newFlushTimer(r.flushDenials)
	// The firewall answers before a lazy backend exists, so the deny
	// path's settings are applied here, not when the backend is built.
	r.denials.setDenyLogInterval(opts.DenyLogInterval)
	r.policy.Store(policy)
	r.creds.Store(newCredentials(cfg, r.credKey))
	if _, _, _, err := purgeSettings(opts); err != nil {
		return nil, fmt.Errorf("registry %s: %w", cfg.Name, err)
	}
	if opts.StorageDir != "" {
		if err := os.MkdirAll(opts.StorageDir, 0o700); err != nil {
			return nil, fmt.Errorf("registry %s: storage: %w", cfg.Name, err)
		}
	}
	r.backend = func() error { return r.buildBackend(opts) }
	if opts.Lazy {
		return r, nil
	}
	if err := r.ready(); err != nil {
		return nil, err
	}
	return r, nil
}

// buildBackend builds what serves requests after the firewall: the
// distribution application and the views on its storage. It is the costly
// part of a registry (distribution compiles its routes per application),
// so with Options.Lazy it runs on first use or on Warm.
func (r *Registry) buildBackend(opts Options) (err error) {
	if r.app, err = newApp(r, opts); err != nil {
		return fmt.Errorf("registry %s: %w", r.name, err)
	}
	defer func() {
		if err != nil {
			_ = r.app.Shutdown()
			r.app = nil
		}
	}()
	if r.repos, err = newRepoStore(r.driver); err != nil {
		return fmt.Errorf("registry %s: %w", r.name, err)
	}
	// The referrer index learns what an earlier process stored from the
	// same view; distribution's inmemory storage outlives nothing, so
	// there is nothing to scan.
	var scan scanFunc
	if opts.StorageDir != "" {
		scan = r.repos.scanReferrers
	}
	r.referrers = newReferrerIndex(scan)
	if r.attrs, err = loadAttributes(context.Background(), r.driver); err != nil {
		return fmt.Errorf("registry %s: %w", r.name, err)
	}
	r.repos.hidden = r.unlisted
	return nil
}

// ready builds the backend once; every request passes here after the
// firewall, so what buildBackend set is visible to it.
func (r *Registry) ready() error {
	r.backendOnce.Do(func() { r.backendErr = r.backend() })
	return r.backendErr
}

// ErrClosed is what Warm returns for a registry closed before its backend
// was built.
var ErrClosed = errors.New("registry closed")

// Warm builds a lazily created registry's backend now, so its first
// request does not wait for it.
func (r *Registry) Warm() error { return r.ready() }

// newCredentials compiles cfg's credentials, fingerprinted with key
// (credentialKey).
func newCredentials(cfg Config, key []byte) *credentials {
	c := &credentials{
		adminEnabled:  cfg.AdminUserEnabled,
		passwords:     cfg.Passwords,
		anonymousPull: cfg.AnonymousPullEnabled,
		tokens:        compileTokens(cfg.Tokens, key),
		dataEndpoint:  cfg.DataEndpoint,
		live:          make(map[string]*liveCredential),
	}
	for i, pw := range cfg.Passwords {
		if pw != "" {
			c.admin[i] = &liveCredential{fingerprint: adminFingerprint(key, i, pw), disabled: !cfg.AdminUserEnabled}
			c.live[c.admin[i].fingerprint] = c.admin[i]
		}
	}
	for _, t := range c.tokens {
		for _, p := range t.passwords {
			c.live[p.credential.fingerprint] = p.credential
		}
	}
	return c
}

// Name returns the registry name as created.
func (r *Registry) Name() string { return r.name }

// Close cancels pending rule changes, logs the firewall denials left out
// of the log and not yet reported (closeDenyLog) and shuts the application
// down.
func (r *Registry) Close() error {
	r.closeDenyLog()
	r.mu.Lock()
	r.closed = true
	for seq, t := range r.pending {
		t.Stop()
		delete(r.pending, seq)
	}
	r.mu.Unlock()
	// A backend not built yet never will be; one being built is awaited.
	r.backendOnce.Do(func() { r.backendErr = ErrClosed })
	if r.app == nil {
		return nil
	}
	return r.app.Shutdown()
}

// Stats returns the firewall counters.
func (r *Registry) Stats() Stats {
	return Stats{Allowed: r.allowed.Load(), Denied: r.denied.Load()}
}

// RecentDenials returns the last denials, newest first.
func (r *Registry) RecentDenials() []Denial { return r.denials.list() }

// ServeHTTP gates every request through the firewall, then serves /v2/…
// (distribution behind ACR authentication), ACR's metadata API /acr/v1/…,
// /oauth2/token and /oauth2/exchange; any other path is a 404 in the
// registry envelope.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	client, decision := r.admit(req)
	if !decision.Allowed && decision.TrustedService {
		decision = r.admitTrustedService(req, decision)
	}
	if !decision.Allowed {
		r.deny(w, req, client, decision)
		return
	}
	r.allowed.Add(1)
	if err := r.ready(); err != nil {
		r.writeError(w, req, errInternal(err))
		return
	}
	if !r.resolver.HeadersTrusted(client) {
		stripForwarded(req.Header)
	}

	path := req.URL.Path
	if path == "/v2" || strings.HasPrefix(path, "/v2/") {
		r.serveV2(w, req)
		return
	}
	var err error
	switch {
	case strings.HasPrefix(path, "/acr/v1/"):
		err = r.serveACR(w, req)
	case path == "/oauth2/token":
		err = r.serveToken(w, req)
	case path == "/oauth2/exchange":
		err = r.serveExchange(w, req)
	default:
		err = errNotFound
	}
	if err != nil {
		r.writeError(w, req, err)
	}
}

// writeError is the one place handler errors become responses.
func (r *Registry) writeError(w http.ResponseWriter, req *http.Request, err error) {
	var re *regError
	if !errors.As(err, &re) {
		re = errInternal(err)
	}
	if re.Status >= 500 {
		r.log.Error("registry request failed", "registry", r.name, "method", req.Method, "path", req.URL.Path, "err", err)
	} else if re.Err != nil {
		r.log.Debug("registry request refused", "registry", r.name, "method", req.Method, "path", req.URL.Path, "err", err)
	}
	var ch *challenge
	if errors.As(err, &ch) {
		_ = ch.Write(w)
		return
	}
	_ = re.Write(w)
}
