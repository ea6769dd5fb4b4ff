package registry

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/acremu/acremu/pkg/token"
)

// tokenCacheSize bounds the verified-token cache; when it is full the cache
// starts over. Clients reuse one token for many requests, so even a small
// cache removes nearly every signature check.
const tokenCacheSize = 4096

// tokenCache remembers tokens whose signature was verified, until they
// expire. An ES256 verification costs about ten times a whole GET /v2/ in
// distribution; a client sends the same bearer token on every request of a
// pull or push, so the check is done once per token instead.
type tokenCache struct {
	m    sync.Map // raw token → *token.Claims
	size atomic.Int64
}

// verify is Signer.Verify with the cache in front. Only successful
// verifications are remembered. A remembered token's signature is not
// checked again, but its grant type, audience and expiry are, on every use.
func (r *Registry) verify(raw, grantType, aud string) (*token.Claims, error) {
	if v, ok := r.tokens.m.Load(raw); ok {
		c := v.(*token.Claims)
		switch {
		case c.GrantType != grantType:
			return nil, fmt.Errorf("%w: grant type %q, want %q", token.ErrInvalid, c.GrantType, grantType)
		case aud != "" && !slices.Contains(c.Audience, aud):
			return nil, fmt.Errorf("%w: audience %v, want %q", token.ErrInvalid, c.Audience, aud)
		case !r.now().Before(c.ExpiresAt.Time):
			r.tokens.m.Delete(raw)
			return nil, fmt.Errorf("%w: token expired", token.ErrInvalid)
		}
		return c, nil
	}
	c, err := r.signer.Verify(raw, grantType, aud)
	if err != nil {
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
