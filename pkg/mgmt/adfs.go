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
	c := token.Claims{GrantType: token.GrantARM, Tenant: a.cfg.Tenant, AppID: a.cfg.ClientID}
	c.Subject = a.cfg.ClientID
	c.Audience = jwt.ClaimStrings(audience)
	return a.cfg.Signer.Sign(c, TokenTTL)
}

// openIDConfiguration is the ADFS discovery document. MSAL needs only the
// authorization and token endpoints; it takes the tenant ("adfs") from the
// token endpoint's first path segment.
func (a *API) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	authority := baseURL(r) + "/adfs"
	writeJSON(w, http.StatusOK, struct {
		Issuer            string   `json:"issuer"`
		AuthorizationEP   string   `json:"authorization_endpoint"`
		TokenEP           string   `json:"token_endpoint"`
		TokenAuthMethods  []string `json:"token_endpoint_auth_methods_supported"`
		GrantTypes        []string `json:"grant_types_supported"`
		AccessTokenIssuer string   `json:"access_token_issuer"`
	}{
		Issuer:            authority,
		AuthorizationEP:   authority + "/oauth2/authorize",
		TokenEP:           authority + "/oauth2/token",
		TokenAuthMethods:  []string{"client_secret_post", "client_secret_basic"},
		GrantTypes:        []string{"client_credentials"},
		AccessTokenIssuer: token.Issuer,
	})
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
func (a *API) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
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
