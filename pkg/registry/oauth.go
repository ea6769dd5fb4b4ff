package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acremu/acremu/pkg/token"
)

// Token lifetimes. ACR refresh tokens last three hours; access tokens are
// short-lived, and clients fetch new ones from the refresh token or the
// credentials they hold.
const (
	RefreshTokenTTL = 3 * time.Hour
	AccessTokenTTL  = 75 * time.Minute
)

// maxFormBytes bounds a token request body; real ones are a few kilobytes.
const maxFormBytes = 64 << 10

// tokenResponse is the JSON body of both token endpoints. ACR sends only
// the field it was asked for; docker reads access_token as readily as token.
type tokenResponse struct {
	AccessToken  string `json:"access_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// serveToken implements /oauth2/token:
//
//   - GET ?service=&scope= with Basic credentials (admin user, or NullGUID
//     with a refresh or access token), or without credentials when anonymous
//     pull is enabled. docker login adds account=, client_id= and
//     offline_token=true; for a refresh-token login a new refresh token is
//     returned as well, so docker stores it as its identity token.
//   - POST grant_type=password (username, password) or
//     grant_type=refresh_token (refresh_token), with service and scope.
//     Empty credentials in either form (grant_type=password with no
//     username and password, as the Azure SDKs send, or an empty
//     refresh_token, as the JavaScript SDK sends) ask for the anonymous
//     identity, granted when anonymous pull is enabled.
//
// Usernames are the admin user, NullGUID (with an ACR token) or a
// repository-scoped token's name (with one of its passwords).
//
// The response is {"access_token":…} holding the requested access that the
// identity may have, and nothing more.
func (r *Registry) serveToken(w http.ResponseWriter, req *http.Request) error {
	if req.Method != http.MethodGet && req.Method != http.MethodPost {
		return errMethodNotAllowed
	}
	if err := parseForm(w, req); err != nil {
		return err
	}
	if err := r.checkService(req); err != nil {
		return err
	}

	var p *principal
	var err error
	offline := false
	if req.Method == http.MethodGet {
		p, err = r.tokenRequester(req)
		offline = req.Form.Get("offline_token") == "true"
	} else {
		switch gt := req.Form.Get("grant_type"); gt {
		case "password":
			user, pass := req.Form.Get("username"), req.Form.Get("password")
			if user == "" && pass == "" && req.Header.Get("Authorization") == "" {
				// The Azure SDKs' anonymous client: no credentials at all.
				p, err = r.anonymous()
			} else {
				p, err = r.checkPassword(req, user, pass)
			}
		case "refresh_token":
			raw := req.Form.Get("refresh_token")
			if raw == "" && req.Header.Get("Authorization") == "" {
				// The JavaScript SDK's anonymous form: refresh_token= empty.
				p, err = r.anonymous()
				break
			}
			var c *token.Claims
			var cred *liveCredential
			if c, cred, err = r.verify(raw, token.GrantRefresh); err == nil {
				p = refreshPrincipal(c, cred)
			}
		default:
			return errUnsupported(fmt.Sprintf("grant_type %q is not supported", gt))
		}
	}
	if err != nil {
		return r.refusal(err)
	}

	resp := tokenResponse{}
	if resp.AccessToken, err = r.signer.Sign(token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: p.name, Audience: jwt.ClaimStrings{r.loginServer}},
		GrantType:        token.GrantAccess,
		Registry:         r.id,
		Tenant:           p.tenant,
		ManagedIdentity:  p.mi,
		Credential:       fingerprintOf(p.credential),
		Access:           p.grant(parseScopes(req.Form["scope"])),
	}, AccessTokenTTL); err != nil {
		return errInternal(err)
	}
	// Only a refresh-token identity gets a refresh token back (and only one
	// with every permission, which is what signRefresh writes): an admin
	// login keeps sending its password, so disabling the admin user or
	// regenerating the password takes effect at once.
	if offline && p.refresh && p.all {
		if resp.RefreshToken, err = r.signRefresh(p.name, p.tenant, p.mi, fingerprintOf(p.credential)); err != nil {
			return errInternal(err)
		}
	}
	w.Header().Set("Cache-Control", "no-store") // tokens
	return writeJSONStatus(w, http.StatusOK, resp)
}

// tokenRequester authenticates a GET token request: Basic credentials, or
// none at all when anonymous pull is enabled.
func (r *Registry) tokenRequester(req *http.Request) (*principal, error) {
	if req.Header.Get("Authorization") == "" {
		return r.anonymous()
	}
	user, pass, ok := req.BasicAuth()
	if !ok {
		return nil, errBadCredentials
	}
	return r.checkPassword(req, user, pass)
}

// anonymous is the identity of a token request without credentials: ACR's
// anonymous pull identity when anonymous pull is enabled, else a refusal.
func (r *Registry) anonymous() (*principal, error) {
	if r.creds.Load().anonymousPull {
		return &principal{name: AnonymousSubject, anonymous: true}, nil
	}
	return nil, errAnonymousDisabled
}

// serveExchange implements /oauth2/exchange: grant_type=access_token with an
// ARM access token (from acremu's ADFS endpoint), service and tenant gives
// {"refresh_token":…} with every permission, bound to this registry.
func (r *Registry) serveExchange(w http.ResponseWriter, req *http.Request) error {
	if req.Method != http.MethodPost {
		return errMethodNotAllowed
	}
	if err := parseForm(w, req); err != nil {
		return err
	}
	if err := r.checkService(req); err != nil {
		return err
	}
	if gt := req.Form.Get("grant_type"); gt != "access_token" {
		return errUnsupported(fmt.Sprintf("grant_type %q is not supported", gt))
	}
	arm, err := r.signer.Verify(req.Form.Get("access_token"), token.GrantARM, "")
	if err != nil {
		return r.refusal(err)
	}
	if r.armAud != nil && !r.armAud(arm.Audience) {
		return errRefused(fmt.Sprintf("the access token was issued for %v, not for Azure Resource Manager", []string(arm.Audience)), nil)
	}
	subject := arm.Subject
	if subject == "" {
		subject = arm.AppID
	}
	tenant := req.Form.Get("tenant")
	if tenant == "" {
		tenant = arm.Tenant
	}
	refresh, err := r.signRefresh(subject, tenant, arm.ManagedIdentity, "")
	if err != nil {
		return errInternal(err)
	}
	w.Header().Set("Cache-Control", "no-store") // tokens
	return writeJSONStatus(w, http.StatusOK, tokenResponse{RefreshToken: refresh})
}

// signRefresh mints an ACR refresh token for this registry with every
// permission, as ACR's exchange does for an identity with full access.
// A token exchanged from a managed identity's carries the identity on, a
// token renewed from one issued for a credential carries the credential.
func (r *Registry) signRefresh(subject, tenant, mi, credential string) (string, error) {
	return r.signer.Sign(token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: subject, Audience: jwt.ClaimStrings{r.loginServer}},
		GrantType:        token.GrantRefresh,
		Registry:         r.id,
		Tenant:           tenant,
		ManagedIdentity:  mi,
		Credential:       credential,
		Permissions:      &token.Permissions{Actions: []string{"*"}, NotActions: []string{}},
	}, RefreshTokenTTL)
}

// parseForm parses the query and, for POST, a form body of bounded size.
func parseForm(w http.ResponseWriter, req *http.Request) error {
	if req.Body != nil {
		req.Body = http.MaxBytesReader(w, req.Body, maxFormBytes)
	}
	if err := req.ParseForm(); err != nil {
		return errUnsupported("malformed form: " + err.Error())
	}
	return nil
}

// checkService rejects a token request for another service. As at ACR,
// the registry's login server is always accepted; so is the name the
// request reached it under (the realm of a challenge follows the Host, so
// clients that use 127.0.0.1 for localhost send that). Either way the token
// is bound to this registry, never to the name.
func (r *Registry) checkService(req *http.Request) error {
	s := req.Form.Get("service")
	if s == "" || strings.EqualFold(s, r.loginServer) || (req.Host != "" && strings.EqualFold(s, req.Host)) {
		return nil
	}
	return errRefused(fmt.Sprintf("the service '%s' is not this registry; its login server is '%s'", s, r.loginServer), nil)
}

var errAnonymousDisabled = errors.New("no credentials, and anonymous pull is not enabled")

// errRefused is a 401 from a token endpoint whose message says why.
func errRefused(msg string, cause error) *regError {
	return &regError{Status: http.StatusUnauthorized, Code: codeUnauthorized, Message: msg, Err: cause}
}

// refusal turns an authentication failure at a token endpoint into a 401.
// A wrong password gets ACR's words; a token that cannot be used here says
// why, so a client that mixed up registries learns it.
func (r *Registry) refusal(err error) *regError {
	var msg string
	var tr *tokenRefusal
	var cr *credentialRefusal
	switch {
	case errors.As(err, &tr):
		msg = tr.msg
	case errors.As(err, &cr):
		msg = cr.msg
	case errors.Is(err, errForeignToken):
		msg = fmt.Sprintf("the token was issued for another registry; '%s' accepts only its own tokens", r.loginServer)
	case errors.Is(err, jwt.ErrTokenExpired):
		msg = "the token has expired"
	case errors.Is(err, errAnonymousDisabled), errors.Is(err, errBadCredentials):
		// ACR's own answer to a wrong password or a missing credential,
		// which docker prints as is.
		msg = msgAuthRequired
	case errors.Is(err, token.ErrInvalid):
		msg = "the token is not valid: " + strings.TrimPrefix(err.Error(), token.ErrInvalid.Error()+": ")
	default:
		msg = msgAuthRequired
	}
	return errRefused(msg, err)
}
