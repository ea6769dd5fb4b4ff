package registry

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/golang-jwt/jwt/v5"

	"github.com/acremu/acremu/pkg/token"
)

// tokenCacheSize bounds the verified-token cache; when it is full the cache
// starts over. Clients reuse one token for many requests, so even a small
// cache removes nearly every signature check.
const tokenCacheSize = 4096

// errForeignToken refuses a validly signed token that another registry (or
// a registry since deleted) issued.
var errForeignToken = errors.New("the token was not issued by this registry")

// tokenCache remembers tokens whose signature was verified, until they
// expire. An ES256 verification costs about ten times a whole GET /v2/ in
// distribution; a client sends the same bearer token on every request of a
// pull or push, so the check is done once per token instead.
type tokenCache struct {
	m    sync.Map // raw token → *token.Claims
	size atomic.Int64
}

// verify accepts raw only when it is an ACR token of grantType issued by
// this very registry (verifyBound) and, when it was issued for a
// credential, while that credential is still valid (credentials.standing),
// which is checked on every use, remembered token or not. cred is the
// credential the token was issued for, nil for an identity's.
func (r *Registry) verify(raw, grantType string) (*token.Claims, *liveCredential, error) {
	c, err := r.verifyBound(raw, grantType)
	if err != nil {
		return nil, nil, err
	}
	cred, err := r.creds.Load().standing(c, r.now())
	if err != nil {
		return nil, nil, err
	}
	return c, cred, nil
}

// verifyBound accepts raw only when it is an ACR token of grantType issued
// by this very registry: bound to its ID and its login server, whatever
// name the request used to reach it. A remembered token's signature is not
// checked again, but its grant type, binding and expiry are, on every use;
// only tokens bound here are remembered.
func (r *Registry) verifyBound(raw, grantType string) (*token.Claims, error) {
	if v, ok := r.tokens.m.Load(raw); ok {
		c := v.(*token.Claims)
		switch {
		case c.GrantType != grantType:
			return nil, fmt.Errorf("%w: grant type %q, want %q", token.ErrInvalid, c.GrantType, grantType)
		case !r.now().Before(c.ExpiresAt.Time):
			r.tokens.m.Delete(raw)
			return nil, fmt.Errorf("%w: %w", token.ErrInvalid, jwt.ErrTokenExpired)
		}
		if err := r.boundHere(c); err != nil {
			return nil, err
		}
		return c, nil
	}
	c, err := r.signer.Verify(raw, grantType, "") // the binding is checked below
	if err != nil {
		return nil, err
	}
	if err := r.boundHere(c); err != nil {
		return nil, err
	}
	if c.ExpiresAt != nil {
		if r.tokens.size.Add(1) > tokenCacheSize {
			r.tokens.m.Clear()
			r.tokens.size.Store(1)
		}
		r.tokens.m.Store(raw, c)
	}
	return c, nil
}

// boundHere checks the claims that tie a token to this registry.
func (r *Registry) boundHere(c *token.Claims) error {
	if c.Registry != r.id || !slices.Contains(c.Audience, r.loginServer) {
		return fmt.Errorf("%w: %w (audience %v)", token.ErrInvalid, errForeignToken, c.Audience)
	}
	return nil
}
