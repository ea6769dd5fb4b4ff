package mgmt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/acremu/acremu/pkg/store"
	"github.com/acremu/acremu/pkg/token"
)

// Hooks connect ARM changes to whoever serves registries (the front end).
// AllocatePort and PrepareRegistry are called inside the changing store
// transaction, the others after it; all in commit order. They must not
// call back into the API.
type Hooks interface {
	// AllocatePort is called inside the create transaction with the ports
	// already used by registries; it returns the data-plane port for the new
	// registry (0 = served on the front end). It is also called, once per
	// region, inside a transaction that gives a registry a data endpoint
	// without a port yet (dataEndpointEnabled turned on, a replication
	// added); inUse then also holds every stored data-endpoint port and 0
	// means data endpoints are served on the front end. An error fails the
	// change and stores nothing: ErrNoPort (wrapped) gives a 409, anything
	// else a 500.
	AllocatePort(inUse []int) (int, error)
	// PrepareRegistry is called inside the transaction that creates or
	// updates r (including regenerated passwords) or changes its tokens or
	// scope maps, after everything else was validated and stored. tokens
	// are all of r's tokens as that transaction leaves them, each resolved
	// to its scope map's actions. It builds whatever can fail (the firewall
	// policy, credentials, storage, a listener) without serving it yet: an
	// error fails the change and stores nothing. The returned change is
	// applied after the commit, or discarded when the commit fails, so the
	// data plane never serves a state that is not stored, nor keeps one
	// that was replaced.
	PrepareRegistry(r store.Registry, tokens []ResolvedToken) (PreparedChange, error)
	// RegistryDeleted is called after the transaction committed; the front
	// end removes its images.
	RegistryDeleted(r store.Registry)
	// LoginServer is what ARM reports as properties.loginServer.
	LoginServer(r store.Registry) string
}

// PreparedChange is a data-plane change made ready by PrepareRegistry.
// Apply makes it live and cannot fail; Discard releases what it holds.
// Either may be nil.
type PreparedChange struct {
	Apply, Discard func()
}

// UsageReporter is an optional extension of Hooks: when the Hooks value
// implements it, listUsages reports the registry's storage use as the Size
// usage's currentValue (otherwise 0).
type UsageReporter interface {
	UsedBytes(r store.Registry) int64
}

// ErrNoPort is what AllocatePort wraps when every data-plane port is taken;
// the create or change then fails with 409 NoPortAvailable.
var ErrNoPort = errors.New("no data-plane port available")

// Config configures an API. Store, Signer, Hooks, Subscription, Tenant,
// ClientID and ClientSecret are required.
type Config struct {
	Store        *store.Store
	Signer       *token.Signer
	Hooks        Hooks
	Subscription string // a GUID; well-known dev value 11111111-1111-1111-1111-111111111111
	Tenant       string // 22222222-2222-2222-2222-222222222222
	ClientID     string // 33333333-3333-3333-3333-333333333333
	ClientSecret string // acremu-dev-secret
	MaxIPRules   int    // IP rules per registry; 0 = 100
	PageSize     int    // items per list page before a nextLink; 0 = 100
	Logger       *slog.Logger
	Now          func() time.Time // nil = time.Now
}

// Defaults for the zero values of Config.
const (
	DefaultMaxIPRules = 100
	DefaultPageSize   = 100
)

// TokenTTL is the lifetime of ARM access tokens from the ADFS endpoint.
const TokenTTL = time.Hour

var guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// API serves the ARM and ADFS endpoints. It is safe for concurrent use.
type API struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	router chi.Router

	// objectID is the service principal's object id (Entra's oid), derived
	// from the tenant and client id so that it is stable across restarts.
	objectID string

	// operationKey signs the ids of registry-create operations
	// (operations.go).
	operationKey operationKey

	// writeMu orders each store write together with its hook calls, so
	// hooks see changes in commit order (bbolt serialises writers anyway).
	writeMu sync.Mutex
}

// New validates cfg and returns an API.
func New(cfg Config) (*API, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("mgmt: Config.Store is required")
	case cfg.Signer == nil:
		return nil, errors.New("mgmt: Config.Signer is required")
	case cfg.Hooks == nil:
		return nil, errors.New("mgmt: Config.Hooks is required")
	case !guidPattern.MatchString(cfg.Subscription):
		return nil, fmt.Errorf("mgmt: subscription %q is not a GUID", cfg.Subscription)
	case strings.TrimSpace(cfg.Tenant) == "":
		return nil, errors.New("mgmt: Config.Tenant is required")
	case strings.TrimSpace(cfg.ClientID) == "":
		return nil, errors.New("mgmt: Config.ClientID is required")
	case cfg.ClientSecret == "":
		return nil, errors.New("mgmt: Config.ClientSecret is required")
	case cfg.MaxIPRules < 0:
		return nil, fmt.Errorf("mgmt: MaxIPRules %d is negative", cfg.MaxIPRules)
	case cfg.PageSize < 0:
		return nil, fmt.Errorf("mgmt: PageSize %d is negative", cfg.PageSize)
	}
	if cfg.MaxIPRules == 0 {
		cfg.MaxIPRules = DefaultMaxIPRules
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	a := &API{cfg: cfg, log: cfg.Logger, now: cfg.Now, objectID: DerivedUUID("service principal", cfg.Tenant, cfg.ClientID),
		operationKey: newOperationKey()}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.router = a.routes()
	return a, nil
}

// ServeHTTP routes ARM, ADFS and metadata requests. Paths match
// case-insensitively, as in ARM (the resources SDK sends /resourcegroups/,
// the registry SDK /resourceGroups/).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	// Clients that join an endpoint ending in / with a path starting with
	// one send //metadata/endpoints (the azurerm provider does).
	for strings.HasPrefix(path, "//") {
		path = path[1:]
	}
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	// A fresh routing context: chi would otherwise reuse the one of a router
	// that mounted us, and route on its state.
	rctx := chi.NewRouteContext()
	rctx.RoutePath = asciiLower(path)
	ctx := context.WithValue(r.Context(), chi.RouteCtxKey, rctx)
	ctx = context.WithValue(ctx, stateKey{}, &reqState{path: path})
	a.router.ServeHTTP(w, r.WithContext(ctx))
}

// handlerFunc is an ARM handler: it writes a success response or returns
// an error for writeError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (a *API) handle(f handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

func (a *API) routes() chi.Router {
	r := chi.NewRouter()
	r.Use(a.accessLog, a.commonHeaders)

	// Unauthenticated: discovery and token issuance.
	// Entra's paths for every tenant acremu knows, ADFS's for "adfs".
	r.Get("/{tenant}/.well-known/openid-configuration", a.openIDConfiguration)
	r.Get("/{tenant}/v2.0/.well-known/openid-configuration", a.openIDConfiguration)
	r.Get("/{tenant}/discovery/keys", a.jwks)
	r.Get("/{tenant}/discovery/v2.0/keys", a.jwks)
	r.Post("/{tenant}/oauth2/token", a.tokenEndpoint)
	r.Post("/{tenant}/oauth2/v2.0/token", a.tokenEndpoint)
	r.Get("/metadata/endpoints", a.handle(a.metadataEndpoints))
	// Microsoft Graph, as far as clients look up the service principal.
	r.Get("/v1.0/serviceprincipals", a.graphServicePrincipals)
	r.Get("/graph/v1.0/serviceprincipals", a.graphServicePrincipals)

	r.Group(func(r chi.Router) {
		r.Use(a.armGuard)
		h := a.handle
		r.Get("/subscriptions", h(a.listSubscriptions))
		r.Get("/tenants", h(a.listTenants))
		r.Get("/subscriptions/{sub}", h(a.getSubscription))

		r.Get("/subscriptions/{sub}/resourcegroups", h(a.listGroups))
		const group = "/subscriptions/{sub}/resourcegroups/{rg}"
		r.Put(group, h(a.putGroup))
		r.Get(group, h(a.getGroup))
		r.Head(group, h(a.headGroup))
		r.Patch(group, h(a.patchGroup))
		r.Delete(group, h(a.deleteGroup))

		r.Get("/subscriptions/{sub}/providers", h(a.listProviders))
		r.Get("/subscriptions/{sub}/providers/{namespace}", h(a.getProvider))
		r.Post("/subscriptions/{sub}/providers/{namespace}/register", h(a.registerProvider))
		r.Get("/providers", h(a.listProviders))
		r.Get("/providers/{namespace}", h(a.getProvider))
		r.Get("/providers/microsoft.containerregistry/operations", h(a.listOperations))

		r.Get("/subscriptions/{sub}/resources", h(a.listResources))
		r.Get(group+"/resources", h(a.listResources))

		const provider = "/providers/microsoft.containerregistry"
		r.Get("/subscriptions/{sub}"+provider+"/registries", h(a.listRegistries))
		r.Post("/subscriptions/{sub}"+provider+"/checknameavailability", h(a.checkNameAvailability))
		r.Get(group+provider+"/registries", h(a.listRegistries))
		const registry = group + provider + "/registries/{name}"
		r.Put(registry, h(a.putRegistry))
		r.Get(registry, h(a.getRegistry))
		r.Patch(registry, h(a.patchRegistry))
		r.Delete(registry, h(a.deleteRegistry))
		r.Get(registry+"/operationstatuses/{operation}", h(a.getRegistryOperation))
		r.Post(registry+"/listcredentials", h(a.listCredentials))
		r.Post(registry+"/regeneratecredential", h(a.regenerateCredential))
		r.Get(registry+"/listusages", h(a.listUsages))
		r.Post(registry+"/importimage", h(a.importImage))
		a.networkRoutes(r, group, registry)
		r.Post(registry+"/generatecredentials", h(a.generateCredentials))
		r.Get(registry+"/scopemaps", h(a.listScopeMaps))
		r.Get(registry+"/tokens", h(a.listTokens))
		for path, m := range map[string][4]handlerFunc{
			registry + "/scopemaps/{scopemap}": {a.putScopeMap, a.getScopeMap, a.patchScopeMap, a.deleteScopeMap},
			registry + "/tokens/{token}":       {a.putToken, a.getToken, a.patchToken, a.deleteToken},
		} {
			r.Put(path, h(m[0]))
			r.Get(path, h(m[1]))
			r.Patch(path, h(m[2]))
			r.Delete(path, h(m[3]))
		}
		r.Get(registry+"/replications", h(a.listReplications))
		const replication = registry + "/replications/{replication}"
		r.Put(replication, h(a.putReplication))
		r.Get(replication, h(a.getReplication))
		r.Patch(replication, h(a.patchReplication))
		r.Delete(replication, h(a.deleteReplication))
	})

	r.NotFound(a.handle(a.notFound))
	r.MethodNotAllowed(a.handle(a.methodNotAllowed))
	return r
}

// notFound answers paths no route knows. ARM paths still authenticate
// first, so an anonymous caller learns nothing about the URL space.
func (a *API) notFound(w http.ResponseWriter, r *http.Request) error {
	if isARMPath(r) {
		if err := a.precheck(w, r); err != nil {
			return err
		}
	}
	path := state(r).path
	return newError(http.StatusNotFound, "NotFound", "The requested resource path '%s' was not found.", path)
}

func (a *API) methodNotAllowed(w http.ResponseWriter, r *http.Request) error {
	if isARMPath(r) {
		if err := a.precheck(w, r); err != nil {
			return err
		}
	}
	return newError(http.StatusMethodNotAllowed, "MethodNotAllowed",
		"The HTTP method '%s' is not supported for the resource path '%s'.", r.Method, state(r).path)
}

// isARMPath reports whether r needs ARM authentication: everything except
// the ADFS, metadata and Graph endpoints.
func isARMPath(r *http.Request) bool {
	p := asciiLower(state(r).path)
	return !hasSegmentPrefix(p, "/adfs") && !hasSegmentPrefix(p, "/metadata") &&
		!hasSegmentPrefix(p, "/v1.0") && !hasSegmentPrefix(p, "/graph")
}

func hasSegmentPrefix(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// commit runs fn in one store transaction and then, after the commit and
// in commit order, after (the hook calls). fn's errors pass through.
// commitRegistry stores the registry record that change returns (ok
// false: nothing to store) and prepares the data plane for it, inside one
// transaction; the prepared change goes live after the commit.
func (a *API) commitRegistry(change func(*store.Tx) (reg store.Registry, ok bool, err error)) (store.Registry, bool, error) {
	var reg store.Registry
	var ok bool
	var prepared PreparedChange
	err := a.commit(func(tx *store.Tx) error {
		var err error
		if reg, ok, err = change(tx); err != nil || !ok {
			return err
		}
		if err := a.assignDataPorts(tx, &reg); err != nil { // last, so that invalid input never costs a port
			return err
		}
		if err := tx.PutRegistry(reg); err != nil {
			return err
		}
		prepared, err = a.prepareDataPlane(tx, reg)
		return err
	}, func() {
		if prepared.Apply != nil {
			prepared.Apply()
		}
	})
	if err != nil {
		if prepared.Discard != nil {
			prepared.Discard()
		}
		return store.Registry{}, false, err
	}
	return reg, ok, nil
}

// prepareDataPlane asks the hooks to prepare reg with its tokens as tx
// has them, so the data plane always gets the registry and its
// credentials together.
func (a *API) prepareDataPlane(tx *store.Tx, reg store.Registry) (PreparedChange, error) {
	tokens, err := ResolveTokens(tx, reg.ID)
	if err != nil {
		return PreparedChange{}, err
	}
	return a.cfg.Hooks.PrepareRegistry(reg, tokens)
}

func (a *API) commit(fn func(*store.Tx) error, after func()) error {
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	if err := a.cfg.Store.Update(fn); err != nil {
		return err
	}
	if after != nil {
		after()
	}
	return nil
}
