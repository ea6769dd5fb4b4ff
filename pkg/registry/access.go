package registry

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/auth"
)

// accessControllerOption is the auth parameter carrying the *Registry.
const accessControllerOption = "registry"

// accessController is distribution's view of a Registry's authentication:
// distribution computes the access records of each route (pull for reads,
// pull and push for writes, delete, the source of a cross-repository mount,
// registry:catalog:* for the catalog, none for /v2/) and asks for a grant.
type accessController struct{ r *Registry }

func newAccessController(opts map[string]any) (auth.AccessController, error) {
	r, ok := opts[accessControllerOption].(*Registry)
	if !ok || r == nil {
		return nil, errors.New("acremu access controller: no registry in options")
	}
	return accessController{r}, nil
}

// Authorized grants the request when its credentials cover every record;
// otherwise it returns a challenge, which distribution answers with 401.
func (c accessController) Authorized(req *http.Request, records ...auth.Access) (*auth.Grant, error) {
	p, err := c.r.permitted(req, records)
	if err != nil {
		return nil, err
	}
	grant := &auth.Grant{User: auth.UserInfo{Name: p.name}}
	for _, rec := range records {
		grant.Resources = append(grant.Resources, rec.Resource)
	}
	return grant, nil
}

// authorize is the one check of a request's credentials for the routes
// served next to distribution (the metadata API, referrers, the blob fast
// path, locks): the same authentication and records as distribution's own
// checks, so credentials and the 401 are those of every /v2/ request. Its
// refusal is a *challenge, which writeError writes; a handler that leaves
// a refused request to distribution just goes on, and distribution writes
// the same challenge.
func (r *Registry) authorize(req *http.Request, records ...auth.Access) error {
	_, err := r.permitted(req, records)
	return err
}

// permitted returns the request's principal when it covers every record,
// else the challenge.
func (r *Registry) permitted(req *http.Request, records []auth.Access) (*principal, error) {
	p, err := r.authenticate(req)
	switch {
	case err != nil:
		return nil, r.newChallenge(req, records, err)
	case p == nil:
		return nil, r.newChallenge(req, records, nil)
	}
	for _, rec := range records {
		if !p.allows(rec.Type, rec.Name, rec.Action) {
			return nil, r.newChallenge(req, records, errInsufficientScope)
		}
	}
	return p, nil
}

// repositoryAccess is the record of action on the repository name, as
// distribution spells it.
func repositoryAccess(name, action string) auth.Access {
	return auth.Access{Resource: auth.Resource{Type: "repository", Name: name}, Action: action}
}

// catalogAccess is the record distribution asks for on /v2/_catalog, and
// ACR on /acr/v1/_catalog.
var catalogAccess = auth.Access{Resource: auth.Resource{Type: "registry", Name: "catalog"}, Action: "*"}

// challenge is a 401 with ACR's WWW-Authenticate header and body.
type challenge struct {
	header string
	err    *regError
}

var _ auth.Challenge = (*challenge)(nil)

func (c *challenge) Error() string { return c.err.Error() }

// Unwrap gives the 401 body, so writeError treats a challenge as any
// other registry error.
func (c *challenge) Unwrap() error { return c.err }

// Write sends the challenge header and ACR's 401 body, wherever the
// challenge was raised.
func (c *challenge) Write(w http.ResponseWriter) error {
	w.Header().Set("WWW-Authenticate", c.header)
	return c.err.Write(w)
}

// SetHeaders is called by distribution just before it writes its own 401.
// It hands the challenge to the v2Writer of the request, which then writes
// ACR's header and body in place of distribution's; without one (a
// sub-request, whose answer no client sees) it sets the header only.
func (c *challenge) SetHeaders(req *http.Request, w http.ResponseWriter) {
	if vw, ok := req.Context().Value(v2WriterKey{}).(*v2Writer); ok {
		vw.challenge = c
		return
	}
	w.Header().Set("WWW-Authenticate", c.header)
}

// authDetail is one entry of the 401 detail, as ACR spells it.
type authDetail struct {
	Type   string
	Name   string
	Action string
}

// newChallenge builds the 401 for records. The realm and service follow the
// request's Host exactly (clients such as crane and oras refuse a realm on
// another host); scope lists the records grouped per resource.
func (r *Registry) newChallenge(req *http.Request, records []auth.Access, cause error) *challenge {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(requestScheme(req))
	b.WriteString("://")
	b.WriteString(req.Host)
	b.WriteString(`/oauth2/token",service="`)
	b.WriteString(req.Host)
	b.WriteByte('"')
	if scope := challengeScope(records); scope != "" {
		b.WriteString(`,scope="`)
		b.WriteString(scope)
		b.WriteByte('"')
	}
	switch {
	case errors.Is(cause, errInsufficientScope):
		b.WriteString(`,error="insufficient_scope"`)
	case errors.Is(cause, errInvalidToken):
		b.WriteString(`,error="invalid_token"`)
	}

	var detail any = jsonNull
	if len(records) > 0 {
		d := make([]authDetail, len(records))
		for i, rec := range records {
			d[i] = authDetail{rec.Type, rec.Name, rec.Action}
		}
		detail = d
	}
	ch := &challenge{header: b.String(), err: errUnauthorized(detail, cause)}
	var tr *tokenRefusal
	if errors.As(cause, &tr) {
		ch.err.Message = tr.msg // a disabled token or an expired password says so
	}
	return ch
}

// challengeScope renders records as "repository:foo:push,pull", one scope
// per resource in order of first appearance, separated by spaces.
func challengeScope(records []auth.Access) string {
	type resource struct{ typ, name string }
	var order []resource
	actions := map[resource][]string{}
	for _, rec := range records {
		k := resource{rec.Type, rec.Name}
		if _, seen := actions[k]; !seen {
			order = append(order, k)
		}
		if !slices.Contains(actions[k], rec.Action) {
			actions[k] = append(actions[k], rec.Action)
		}
	}
	scopes := make([]string, 0, len(order))
	for _, k := range order {
		acts := actions[k]
		// ACR names push before pull, the reverse of distribution's records.
		if len(acts) == 2 && acts[0] == "pull" && acts[1] == "push" {
			acts[0], acts[1] = "push", "pull"
		}
		scopes = append(scopes, k.typ+":"+k.name+":"+strings.Join(acts, ","))
	}
	return strings.Join(scopes, " ")
}

// requestScheme is https for TLS connections, or when a trusted proxy says
// so (forwarding headers from anyone else are stripped before this runs).
func requestScheme(req *http.Request) string {
	if req.TLS != nil || strings.EqualFold(req.Header.Get("X-Forwarded-Proto"), "https") {
		return "https"
	}
	return "http"
}
