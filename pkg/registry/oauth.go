package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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
	if err := checkService(req); err != nil {
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
			p, err = r.checkPassword(req, req.Form.Get("username"), req.Form.Get("password"))
		case "refresh_token":
			var c *token.Claims
			if c, err = r.verify(req.Form.Get("refresh_token"), token.GrantRefresh, audience(req)); err == nil {
				p = refreshPrincipal(c)
			}
		default:
			return errUnsupported(fmt.Sprintf("grant_type %q is not supported", gt))
		}
	}
	if err != nil {
		return errUnauthorized(nil, err)
	}

	resp := tokenResponse{}
	if resp.AccessToken, err = r.signer.Sign(token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: p.name, Audience: jwt.ClaimStrings{audience(req)}},
		GrantType:        token.GrantAccess,
		Tenant:           p.tenant,
		Access:           p.grant(parseScopes(req.Form["scope"])),
	}, AccessTokenTTL); err != nil {
		return errInternal(err)
	}
	// Only a refresh-token identity gets a refresh token back (and only one
	// with every permission, which is what signRefresh writes): an admin
	// login keeps sending its password, so disabling the admin user or
	// regenerating the password takes effect at once.
	if offline && p.refresh && p.all {
		if resp.RefreshToken, err = r.signRefresh(req, p.name, p.tenant); err != nil {
			return errInternal(err)
		}
	}
	return writeJSON(w, resp)
}

// tokenRequester authenticates a GET token request: Basic credentials, or
// none at all when anonymous pull is enabled.
func (r *Registry) tokenRequester(req *http.Request) (*principal, error) {
	if req.Header.Get("Authorization") == "" {
		if r.creds.Load().anonymousPull {
			return &principal{anonymous: true}, nil
		}
		return nil, errors.New("no credentials and anonymous pull disabled")
	}
	user, pass, ok := req.BasicAuth()
	if !ok {
		return nil, errBadCredentials
	}
	return r.checkPassword(req, user, pass)
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
	if err := checkService(req); err != nil {
		return err
	}
	if gt := req.Form.Get("grant_type"); gt != "access_token" {
		return errUnsupported(fmt.Sprintf("grant_type %q is not supported", gt))
	}
	arm, err := r.signer.Verify(req.Form.Get("access_token"), token.GrantARM, "")
	if err != nil {
		return errUnauthorized(nil, err)
	}
	subject := arm.Subject
	if subject == "" {
		subject = arm.AppID
	}
	tenant := req.Form.Get("tenant")
	if tenant == "" {
		tenant = arm.Tenant
	}
	refresh, err := r.signRefresh(req, subject, tenant)
	if err != nil {
		return errInternal(err)
	}
	return writeJSON(w, tokenResponse{RefreshToken: refresh})
}

// signRefresh mints an ACR refresh token for this registry with every
// permission, as ACR's exchange does for an identity with full access.
func (r *Registry) signRefresh(req *http.Request, subject, tenant string) (string, error) {
	return r.signer.Sign(token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: subject, Audience: jwt.ClaimStrings{audience(req)}},
		GrantType:        token.GrantRefresh,
		Tenant:           tenant,
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

// checkService rejects a token request for another service: tokens are
// bound to the host they were requested from (the realm's host).
func checkService(req *http.Request) error {
	if s := req.Form.Get("service"); s != "" && !strings.EqualFold(s, req.Host) {
		return errUnauthorized(nil, fmt.Errorf("service %q is not this registry (%q)", s, req.Host))
	}
	return nil
}

// writeJSON writes a 200 JSON response.
func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return errInternal(err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b) // too late for an error response
	return nil
}
