package mgmt

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/acremu/acremu/pkg/token"
)

// graphAppIDFilter is the one $filter clients send: the Terraform azurerm
// provider looks its service principal up by appId when a token lacks oid.
var graphAppIDFilter = regexp.MustCompile(`^\s*appId\s+eq\s+'([^']*)'\s*$`)

type graphServicePrincipal struct {
	ID                     string   `json:"id"`
	AppID                  string   `json:"appId"`
	DisplayName            string   `json:"displayName"`
	AccountEnabled         bool     `json:"accountEnabled"`
	AppOwnerOrganizationID string   `json:"appOwnerOrganizationId"`
	ServicePrincipalType   string   `json:"servicePrincipalType"`
	ServicePrincipalNames  []string `json:"servicePrincipalNames"`
}

type graphError struct {
	Error errorBody `json:"error"`
}

// graphServicePrincipals is a minimal Microsoft Graph
// GET /v1.0/servicePrincipals: the development service principal, all or
// filtered by appId. It needs a token for Microsoft Graph (acremu's
// /graph/ resource or Graph's public one).
func (a *API) graphServicePrincipals(w http.ResponseWriter, r *http.Request) {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	claims, err := a.cfg.Signer.Verify(strings.TrimSpace(raw), token.GrantARM, "")
	if !ok || err != nil || !a.graphAudience(r, claims.Audience) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="`+baseURL(r)+`/common/oauth2/authorize"`)
		writeJSON(w, http.StatusUnauthorized, graphError{errorBody{"InvalidAuthenticationToken", "Access token validation failure. Invalid audience."}})
		return
	}
	sp := graphServicePrincipal{
		ID: a.objectID, AppID: a.cfg.ClientID, DisplayName: "acremu",
		AccountEnabled: true, AppOwnerOrganizationID: a.cfg.Tenant,
		ServicePrincipalType: "Application", ServicePrincipalNames: []string{a.cfg.ClientID},
	}
	out := []graphServicePrincipal{sp}
	if f := r.URL.Query().Get("$filter"); f != "" {
		m := graphAppIDFilter.FindStringSubmatch(f)
		if m == nil {
			writeJSON(w, http.StatusBadRequest, graphError{errorBody{"Request_UnsupportedQuery",
				"Unsupported query: acremu's Microsoft Graph supports only $filter=appId eq '<id>'."}})
			return
		}
		if !strings.EqualFold(m[1], a.cfg.ClientID) {
			out = []graphServicePrincipal{}
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Context string                  `json:"@odata.context"`
		Value   []graphServicePrincipal `json:"value"`
	}{"https://graph.microsoft.com/v1.0/$metadata#servicePrincipals", out})
}

// graphAudience reports whether aud is Microsoft Graph: its public
// resource, or acremu's own /graph/ endpoint on the host r reached.
func (a *API) graphAudience(r *http.Request, aud []string) bool {
	own := baseURL(r) + "/graph"
	for _, s := range aud {
		s = strings.TrimSuffix(s, "/")
		if s == "https://graph.microsoft.com" || strings.EqualFold(s, own) {
			return true
		}
	}
	return false
}
