package mgmt

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acremu/acremu/pkg/token"
)

// ErrInvalidClient is returned by Token for an unknown client id or a
// wrong secret.
var ErrInvalidClient = errors.New("mgmt: invalid client credentials")

// Token issues an ARM access token for the configured service principal
// after checking clientID and secret. Its audience is ARM's public one
// (https://management.azure.com/), which ARM accepts whatever host it is
// reached at.
func (a *API) Token(clientID, secret string) (string, time.Duration, error) {
	if err := a.checkClient(clientID, secret); err != nil {
		return "", 0, err
	}
	tok, err := a.sign([]string{"https://management.azure.com/"})
	return tok, TokenTTL, err
}

func (a *API) checkClient(clientID, secret string) error {
	idOK := subtle.ConstantTimeCompare([]byte(clientID), []byte(a.cfg.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(a.cfg.ClientSecret)) == 1
	if !idOK || !secretOK {
		return ErrInvalidClient
	}
	return nil
}

func (a *API) sign(audience []string) (string, error) {
	c := token.Claims{GrantType: token.GrantARM, Tenant: a.cfg.Tenant, AppID: a.cfg.ClientID,
		TenantID: a.cfg.Tenant, ObjectID: a.objectID}
	c.Subject = a.cfg.ClientID
	c.Audience = jwt.ClaimStrings(audience)
	return a.cfg.Signer.Sign(c, TokenTTL)
}

// openIDConfiguration is the OpenID Connect discovery document (RFC 8414
// fields; OpenID Connect Discovery makes jwks_uri required, and MSAL refuses
// a document without it) of the authority /{tenant}: ADFS's at /adfs, Entra's
// v1 at /{tenant} and v2 at /{tenant}/v2.0. MSAL takes the tenant from the
// token endpoint's first path segment.
func (a *API) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	tenant := pathParam(r, "tenant")
	if !a.knownTenant(tenant) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", unknownTenant(tenant))
		return
	}
	authority := baseURL(r) + "/" + tenant
	issuer, oauth, keys := authority, authority+"/oauth2", authority+"/discovery/keys"
	if strings.HasSuffix(state(r).path, "/v2.0/.well-known/openid-configuration") {
		// Entra names the v2 issuer by tenant id; the multi-tenant
		// authorities carry the "{tenantid}" template instead.
		issuer = baseURL(r) + "/" + a.cfg.Tenant + "/v2.0"
		if isMultiTenant(tenant) {
			issuer = baseURL(r) + "/{tenantid}/v2.0"
		}
		oauth, keys = authority+"/oauth2/v2.0", authority+"/discovery/v2.0/keys"
	}
	writeJSON(w, http.StatusOK, struct {
		Issuer            string   `json:"issuer"`
		AuthorizationEP   string   `json:"authorization_endpoint"`
		TokenEP           string   `json:"token_endpoint"`
		JWKSURI           string   `json:"jwks_uri"`
		TokenAuthMethods  []string `json:"token_endpoint_auth_methods_supported"`
		GrantTypes        []string `json:"grant_types_supported"`
		ResponseTypes     []string `json:"response_types_supported"`
		SubjectTypes      []string `json:"subject_types_supported"`
		SigningAlgs       []string `json:"id_token_signing_alg_values_supported"`
		AccessTokenIssuer string   `json:"access_token_issuer"`
	}{
		Issuer:            issuer,
		AuthorizationEP:   oauth + "/authorize",
		TokenEP:           oauth + "/token",
		JWKSURI:           keys,
		TokenAuthMethods:  []string{"client_secret_post", "client_secret_basic"},
		GrantTypes:        []string{"client_credentials"},
		ResponseTypes:     []string{"token"},
		SubjectTypes:      []string{"pairwise"},
		SigningAlgs:       []string{"ES256"},
		AccessTokenIssuer: token.Issuer,
	})
}

// jwks publishes the key that signs every token acremu issues.
func (a *API) jwks(w http.ResponseWriter, r *http.Request) {
	if tenant := pathParam(r, "tenant"); !a.knownTenant(tenant) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_tenant", unknownTenant(tenant))
		return
	}
	writeJSON(w, http.StatusOK, token.JWKS{Keys: []token.JWK{a.cfg.Signer.PublicJWK()}})
}

// knownTenant reports whether tenant names an authority acremu answers
// for: the configured tenant (its id), Entra's multi-tenant aliases
// "common" and "organizations", and ADFS's "adfs".
func (a *API) knownTenant(tenant string) bool {
	return strings.EqualFold(tenant, a.cfg.Tenant) || isMultiTenant(tenant) || strings.EqualFold(tenant, "adfs")
}

func isMultiTenant(tenant string) bool {
	return strings.EqualFold(tenant, "common") || strings.EqualFold(tenant, "organizations")
}

// unknownTenant is Entra's description for a tenant it does not know.
func unknownTenant(tenant string) string {
	return "AADSTS90002: Tenant '" + tenant + "' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
}

// oauthError is the OAuth 2.0 error body (RFC 6749 §5.2), the token
// endpoint's own wire format.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeOAuthError is the only writer of token-endpoint errors.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, oauthError{code, description})
}

// tokenEndpoint implements the client-credentials grant, the only flow az
// uses with a service principal. Credentials come in the form
// (client_secret_post, what MSAL sends) or in Basic auth.
//
// It serves every authority acremu answers for (see knownTenant), with
// ADFS's and Entra's v1 path /{tenant}/oauth2/token (resource) and Entra's
// v2 path /{tenant}/oauth2/v2.0/token (scope). Tokens carry Entra's claims
// for the service principal: appid, tid, oid.
func (a *API) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	if tenant := pathParam(r, "tenant"); !a.knownTenant(tenant) {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", unknownTenant(tenant))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The request body is not a valid form.")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != token.GrantARM {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type",
			"The grant type '"+gt+"' is not supported. Use 'client_credentials'.")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok && clientID == "" && secret == "" {
		clientID, secret = user, pass
	}
	switch {
	case clientID == "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "The 'client_id' parameter is missing.")
		return
	case subtle.ConstantTimeCompare([]byte(clientID), []byte(a.cfg.ClientID)) != 1:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client",
			"Client authentication failed: no client is registered with the identifier '"+clientID+"'.")
		return
	case a.checkClient(clientID, secret) != nil:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client",
			"Client authentication failed: the client secret is invalid.")
		return
	}
	tok, err := a.sign(audiences(r))
	if err != nil {
		a.log.Error("sign arm token", "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "The token could not be issued.")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	ttl := int(TokenTTL.Seconds())
	writeJSON(w, http.StatusOK, struct {
		AccessToken  string `json:"access_token"`
		TokenType    string `json:"token_type"`
		ExpiresIn    int    `json:"expires_in"`
		ExtExpiresIn int    `json:"ext_expires_in"`
	}{tok, "Bearer", ttl, ttl})
}

// audiences turns the requested scopes (v2: "<resource>/.default", any
// resource) or resource (v1) into the token's audience. Without either the
// audience is this ARM endpoint, the only resource it serves.
func audiences(r *http.Request) []string {
	var out []string
	for _, s := range strings.Fields(r.PostForm.Get("scope")) {
		switch s {
		case "openid", "profile", "offline_access":
			continue
		}
		out = append(out, strings.TrimSuffix(s, "/.default"))
	}
	if res := r.PostForm.Get("resource"); res != "" {
		out = append(out, res)
	}
	if len(out) == 0 {
		out = []string{baseURL(r) + "/"}
	}
	return out
}
