package mgmt

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acremu/acremu/pkg/token"
)

// Header names ARM sends on every response.
const (
	headerRequestID       = "x-ms-request-id"
	headerCorrelationID   = "x-ms-correlation-request-id"
	headerClientRequestID = "x-ms-client-request-id"
	headerAPIVersions     = "api-supported-versions"
)

type stateKey struct{}

// reqState is what the guards learn about a request, for its handler.
type reqState struct {
	path       string // URL path as sent, without a trailing slash
	claims     *token.Claims
	apiVersion string
}

func state(r *http.Request) *reqState {
	if st, ok := r.Context().Value(stateKey{}).(*reqState); ok {
		return st
	}
	// Only reachable if a handler is called outside ServeHTTP (tests).
	return &reqState{path: r.URL.Path}
}

// commonHeaders sets the headers every response carries. The correlation
// id echoes the client's, as ARM does, so client logs line up.
func (a *API) commonHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set(headerRequestID, newUUID())
		corr := r.Header.Get(headerCorrelationID)
		if corr == "" {
			corr = r.Header.Get(headerClientRequestID)
		}
		if corr == "" {
			corr = newUUID()
		}
		h.Set(headerCorrelationID, corr)
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("Pragma", "no-cache")
		h.Set("Expires", "-1")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// go-azure-sdk otherwise waits 10 s before it first polls a
			// long-running operation; acremu's complete at once.
			h.Set("X-Go-Azure-Sdk-Skip-Polling-Delay", "true")
		}
		next.ServeHTTP(w, r)
	})
}

// armGuard runs precheck before every ARM route.
func (a *API) armGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.precheck(w, r); err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// precheck applies, in ARM's order, what every ARM request needs: a valid
// bearer token for ARM's audience, an api-version the path's resource
// provider has, and (for /subscriptions/{id}/…) the emulated subscription.
func (a *API) precheck(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	claims, err := a.authenticate(r)
	if err != nil {
		return err
	}
	st.claims = claims
	v, err := a.apiVersion(r)
	if err != nil {
		return err
	}
	st.apiVersion = v
	w.Header().Set(headerAPIVersions, v)
	if sub := pathSubscription(st.path); sub != "" && !strings.EqualFold(sub, a.cfg.Subscription) {
		return subscriptionNotFound(sub)
	}
	return nil
}

func subscriptionNotFound(sub string) error {
	return newError(http.StatusNotFound, "SubscriptionNotFound", "The subscription '%s' could not be found.", sub)
}

// pathSubscription returns the {id} of a /subscriptions/{id}/… path.
func pathSubscription(path string) string {
	segs := strings.Split(path, "/")
	if len(segs) >= 3 && strings.EqualFold(segs[1], "subscriptions") {
		return segs[2]
	}
	return ""
}

// authenticate verifies the bearer token. The messages and the challenge
// header are ARM's.
func (a *API) authenticate(r *http.Request) (*token.Claims, error) {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return nil, a.unauthorized(r, "AuthenticationFailed",
			"Authentication failed. The 'Authorization' header is missing.",
			"The authentication failed because of missing 'Authorization' header.")
	}
	scheme, raw, ok := strings.Cut(authz, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return nil, a.unauthorized(r, "AuthenticationFailed",
			"Authentication failed. The 'Authorization' header is provided in an invalid format.",
			"The authentication failed because of invalid 'Authorization' header format.")
	}
	claims, err := a.cfg.Signer.Verify(raw, token.GrantARM, "")
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		// The signature was checked before the expiry, so exp is trustworthy.
		var c token.Claims
		exp := "unknown"
		if _, _, perr := jwt.NewParser().ParseUnverified(raw, &c); perr == nil && c.ExpiresAt != nil {
			exp = dotnetTime(c.ExpiresAt.Time)
		}
		return nil, a.unauthorized(r, "ExpiredAuthenticationToken",
			"The access token expiry UTC time '"+exp+"' is earlier than current UTC time '"+dotnetTime(a.now())+"'.",
			"The access token has expired.")
	case err != nil:
		return nil, a.unauthorized(r, "InvalidAuthenticationToken", "The access token is invalid.",
			"The access token is invalid.")
	}
	if !armAudience(r, claims.Audience) {
		aud := ""
		if len(claims.Audience) > 0 {
			aud = claims.Audience[0]
		}
		msg := "The access token has been obtained for wrong audience or resource '" + aud +
			"'. It should exactly match with one of the allowed audiences " + allowedAudiencesText + "."
		return nil, a.unauthorized(r, "InvalidAuthenticationTokenAudience", msg, msg)
	}
	return claims, nil
}

// managementAudiences are the audiences of ARM tokens in the public cloud;
// ARM names them, in this order, when it refuses another.
var managementAudiences = []string{
	"https://management.core.windows.net/", "https://management.core.windows.net",
	"https://management.azure.com/", "https://management.azure.com",
}

var allowedAudiencesText = "'" + strings.Join(managementAudiences, "','") + "'"

// armAudience reports whether a token with audience aud is meant for this
// ARM endpoint: see IsARMAudience; the endpoint's host must be the one the
// request reached (the scheme may differ behind a TLS-terminating proxy).
func armAudience(r *http.Request, aud []string) bool {
	want := hostKey(requestScheme(r), r.Host)
	return IsARMAudience(aud, func(scheme, host string) bool { return hostKey(scheme, host) == want })
}

// IsARMAudience reports whether a token with audience aud is meant for
// ARM: one of the public cloud's management audiences, or acremu's own
// endpoint as its clients know it ("<endpoint>/" or "<endpoint>": az and
// the SDKs in a custom cloud ask for that), where ownEndpoint says which
// scheme and host are acremu's. Tokens for other resources (Key Vault,
// Microsoft Graph, including acremu's own /graph/ audience, Azure
// Container Registry) and tokens without an audience are not.
func IsARMAudience(aud []string, ownEndpoint func(scheme, host string) bool) bool {
	for _, s := range aud {
		for _, m := range managementAudiences {
			if s == m {
				return true
			}
		}
		u, err := url.Parse(s)
		if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.User != nil ||
			u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
			continue
		}
		if ownEndpoint(u.Scheme, u.Host) {
			return true
		}
	}
	return false
}

// hostKey is host in lower case without the scheme's default port.
func hostKey(scheme, host string) string {
	host = strings.ToLower(host)
	switch {
	case scheme == "https" && strings.HasSuffix(host, ":443"):
		return strings.TrimSuffix(host, ":443")
	case scheme == "http" && strings.HasSuffix(host, ":80"):
		return strings.TrimSuffix(host, ":80")
	}
	return host
}

// unauthorized is a 401 with ARM's challenge, pointing at our ADFS authority.
func (a *API) unauthorized(r *http.Request, code, message, description string) error {
	e := newError(http.StatusUnauthorized, code, "%s", message)
	e.wwwAuthenticate = `Bearer authorization_uri="` + baseURL(r) + `/adfs", error="invalid_token", error_description="` + description + `"`
	return e
}

// dotnetTime formats t the way ARM's messages print UTC times.
func dotnetTime(t time.Time) string { return t.UTC().Format("1/2/2006 3:04:05 PM") }

// baseURL is the scheme and host the client used to reach us, so that
// every URL we hand out (nextLink, authorities) is reachable.
func baseURL(r *http.Request) string {
	return requestScheme(r) + "://" + r.Host
}

func requestScheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// claimsFrom returns the authenticated caller's claims.
func claimsFrom(ctx context.Context) *token.Claims {
	if st, ok := ctx.Value(stateKey{}).(*reqState); ok && st.claims != nil {
		return st.claims
	}
	return &token.Claims{}
}
