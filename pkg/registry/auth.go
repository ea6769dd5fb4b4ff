package registry

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/acremu/acremu/pkg/token"
)

// NullGUID as a username says "the password is an ACR refresh or access
// token" (az acr login, docker login with an identity token).
const NullGUID = "00000000-0000-0000-0000-000000000000"

var (
	errBadCredentials    = errors.New("invalid username or password")
	errInvalidToken      = errors.New("invalid access token")
	errInsufficientScope = errors.New("insufficient scope")
)

// principal is who a request authenticated as, and what it may do.
type principal struct {
	name      string         // admin username, or the token's subject
	tenant    string         // carried from an exchanged ARM token
	all       bool           // admin user, repository-scoped token or refresh token: every action credential allows
	anonymous bool           // no credentials, anonymous pull enabled: pull only
	refresh   bool           // authenticated with a refresh token (may be re-issued)
	access    []token.Access // access token: exactly its access claim
	mi        string         // managed identity (xms_mirid) the credential derives from
	// credential is the admin password or repository-scoped token's
	// password behind the request, directly or through a token issued
	// for it; every token issued to p names it. nil for identities. A
	// repository-scoped token's scope map, as it is now, bounds every
	// action: narrowing it narrows the tokens already issued (widening it
	// does not widen them).
	credential *liveCredential
}

// AnonymousSubject is the subject of access tokens issued without
// credentials when anonymous pull is enabled, as ACR names it.
const AnonymousSubject = "acr_anon_pull"

// allows reports whether p may perform action on the resource typ:name.
func (p *principal) allows(typ, name, action string) bool {
	if p.credential != nil && p.credential.scope != nil &&
		!(typ == "repository" && p.credential.scope.allows(name, action)) {
		// Scope maps grant repository actions only; a token never lists
		// the catalog, as in ACR.
		return false
	}
	switch {
	case p.all:
		return true
	case p.anonymous:
		// ACR's anonymous identity reads: pull, metadata and the catalog.
		return typ == "repository" && (action == "pull" || action == "metadata_read") ||
			typ == "registry" && name == "catalog"
	}
	for _, a := range p.access {
		if a.Type == typ && a.Name == name && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, "*")) {
			return true
		}
	}
	return false
}

// authenticate reads the Authorization header of a /v2/ request. No header
// gives (nil, nil): the caller challenges. A bearer token must be an ACR
// access token issued by this registry; Basic credentials are checked by
// checkPassword.
func (r *Registry) authenticate(req *http.Request) (*principal, error) {
	h := req.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	scheme, value, _ := strings.Cut(h, " ")
	switch {
	case strings.EqualFold(scheme, "Bearer"):
		c, cred, err := r.verify(strings.TrimSpace(value), token.GrantAccess)
		if err != nil {
			return nil, errors.Join(errInvalidToken, err)
		}
		return accessPrincipal(c, cred), nil
	case strings.EqualFold(scheme, "Basic"):
		user, pass, ok := req.BasicAuth()
		if !ok {
			return nil, errBadCredentials
		}
		return r.checkPassword(req, user, pass)
	default:
		return nil, errBadCredentials
	}
}

// checkPassword authenticates a username and password: the admin user
// (username = registry name, case-insensitive; either password; only when
// enabled), NullGUID with an ACR refresh or access token as password, or a
// repository-scoped token (username = token name) with one of its
// passwords.
func (r *Registry) checkPassword(req *http.Request, user, pass string) (*principal, error) {
	if user == NullGUID {
		if c, cred, err := r.verify(pass, token.GrantRefresh); err == nil {
			return refreshPrincipal(c, cred), nil
		} else if errors.Is(err, errCredentialRevoked) {
			// Say so, rather than that it is no access token.
			return nil, errors.Join(errBadCredentials, err)
		}
		c, cred, err := r.verify(pass, token.GrantAccess)
		if err != nil {
			return nil, errors.Join(errBadCredentials, err)
		}
		return accessPrincipal(c, cred), nil
	}
	creds := r.creds.Load()
	if creds.adminEnabled && strings.EqualFold(user, r.name) {
		for i, pw := range creds.passwords {
			if passwordMatches(pass, pw) {
				return &principal{name: r.name, all: true, credential: creds.admin[i]}, nil
			}
		}
	}
	return r.checkToken(user, pass)
}

// accessPrincipal is the identity behind a verified access token and the
// credential it was issued for (verify's).
func accessPrincipal(c *token.Claims, cred *liveCredential) *principal {
	return &principal{name: c.Subject, tenant: c.Tenant, access: c.Access, mi: c.ManagedIdentity, credential: cred}
}

// refreshPrincipal is the identity behind a verified refresh token and the
// credential it was issued for (verify's).
func refreshPrincipal(c *token.Claims, cred *liveCredential) *principal {
	all := c.Permissions != nil && slices.Contains(c.Permissions.Actions, "*") && len(c.Permissions.NotActions) == 0
	return &principal{name: c.Subject, tenant: c.Tenant, all: all, refresh: true, mi: c.ManagedIdentity, credential: cred}
}

func passwordMatches(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// knownActions are the actions a token may carry, per resource type:
// Docker's, plus ACR's metadata and soft-delete actions.
var knownActions = map[string][]string{
	"repository": {"pull", "push", "delete", "metadata_read", "metadata_write", "deleted_read", "deleted_restore", "*"},
	"registry":   {"*"},
}

// parseScopes parses Docker scope strings ("repository:foo/bar:pull,push",
// "registry:catalog:*"); each value may hold several, separated by spaces.
// A resource class ("repository(plugin)") is dropped. Malformed scopes and
// unknown types or actions are ignored, as they can never be granted.
func parseScopes(values []string) []token.Access {
	var out []token.Access
	for _, v := range values {
		for _, s := range strings.Fields(v) {
			typ, rest, ok := strings.Cut(s, ":")
			i := strings.LastIndexByte(rest, ':')
			if !ok || i <= 0 {
				continue
			}
			if j := strings.IndexByte(typ, '('); j >= 0 {
				typ = typ[:j]
			}
			name, actions := rest[:i], rest[i+1:]
			known := knownActions[typ]
			if typ == "registry" && name != "catalog" {
				known = nil
			}
			var acts []string
			for _, a := range strings.Split(actions, ",") {
				if slices.Contains(known, a) && !slices.Contains(acts, a) {
					acts = append(acts, a)
				}
			}
			if len(acts) > 0 {
				out = mergeAccess(out, token.Access{Type: typ, Name: name, Actions: acts})
			}
		}
	}
	return out
}

// mergeAccess adds a to list, joining the actions of an existing entry for
// the same resource.
func mergeAccess(list []token.Access, a token.Access) []token.Access {
	for i := range list {
		if list[i].Type == a.Type && list[i].Name == a.Name {
			for _, act := range a.Actions {
				if !slices.Contains(list[i].Actions, act) {
					list[i].Actions = append(list[i].Actions, act)
				}
			}
			return list
		}
	}
	return append(list, a)
}

// grant intersects the requested access with what p may do. Resources with
// no granted action are left out. "*" is granted only to principals that
// may do everything on the resource.
func (p *principal) grant(requested []token.Access) []token.Access {
	var out []token.Access
	for _, req := range requested {
		var acts []string
		for _, a := range req.Actions {
			if p.allows(req.Type, req.Name, a) {
				acts = append(acts, a)
			}
		}
		if len(acts) > 0 {
			out = append(out, token.Access{Type: req.Type, Name: req.Name, Actions: acts})
		}
	}
	return out
}
