package registry

import (
	"net/http"
	"strings"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/token"
)

// admitTrustedService decides a request that the firewall denied but
// marked TrustedService: the source is where trusted Azure services run
// and the registry lets them bypass its rules (networkRuleBypassOptions
// AzureServices). ACR admits such a caller only when it authenticates with
// its managed identity, so the request passes only with a credential that
// derives from a managed identity's token: the token itself at
// /oauth2/exchange, and ACR refresh or access tokens exchanged from it
// everywhere else. Admin credentials, other tokens and anonymous requests
// keep the denial (d). A credential-less GET /v2/ passes so that the
// client learns where to get a token, as docker and crane expect.
func (r *Registry) admitTrustedService(req *http.Request, d firewall.Decision) firewall.Decision {
	switch path := req.URL.Path; {
	case path == "/oauth2/exchange":
		if req.Method != http.MethodPost || parseForm(nil, req) != nil {
			return d
		}
		c, err := r.signer.Verify(req.Form.Get("access_token"), token.GrantARM, "")
		if err != nil || c.ManagedIdentity == "" {
			return d
		}
	case path == "/oauth2/token":
		if parseForm(nil, req) != nil {
			return d
		}
		var mi string
		switch {
		case req.Method == http.MethodPost && req.Form.Get("grant_type") == "refresh_token":
			mi = r.tokenIdentity(req.Form.Get("refresh_token"))
		case req.Method == http.MethodGet:
			if user, pass, ok := req.BasicAuth(); ok && user == NullGUID {
				mi = r.tokenIdentity(pass)
			}
		}
		if mi == "" {
			return d
		}
	default:
		h := req.Header.Get("Authorization")
		if h == "" && (path == "/v2/" || path == "/v2") && req.Method == http.MethodGet && !r.creds.Load().anonymousPull {
			return firewall.TrustedServiceAdmitted // the challenge, nothing else
		}
		scheme, value, _ := strings.Cut(h, " ")
		var mi string
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			mi = r.tokenIdentity(strings.TrimSpace(value))
		case strings.EqualFold(scheme, "Basic"):
			if user, pass, ok := req.BasicAuth(); ok && user == NullGUID {
				mi = r.tokenIdentity(pass)
			}
		}
		if mi == "" {
			return d
		}
	}
	return firewall.TrustedServiceAdmitted
}

// tokenIdentity is the managed identity behind an ACR refresh or access
// token of this registry, or "".
func (r *Registry) tokenIdentity(raw string) string {
	if c, _, err := r.verify(raw, token.GrantRefresh); err == nil {
		return c.ManagedIdentity
	}
	if c, _, err := r.verify(raw, token.GrantAccess); err == nil {
		return c.ManagedIdentity
	}
	return ""
}
