package registry

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/scopemap"
)

// Token is a repository-scoped token as the data plane needs it: its
// name (the username), whether it is enabled, its passwords and the
// actions of its scope map.
type Token struct {
	Name      string
	Enabled   bool
	Passwords []TokenPassword
	// Actions are the scope map's actions, e.g.
	// "repositories/hello/content/read" or "repositories/team/*/content/write".
	// Actions on anything but repositories (gateway/…) grant nothing here.
	Actions []string
}

// TokenPassword is one password of a token.
type TokenPassword struct {
	Name   string    // password1, password2
	Hash   string    // hex SHA-256 of the value
	Expiry time.Time // zero: never expires
}

// scopeActions maps a scope map's repository actions to the Docker actions
// an access token carries, as ACR maps them.
var scopeActions = map[string]string{
	"content/read":   "pull",
	"content/write":  "push",
	"content/delete": "delete",
	"metadata/read":  "metadata_read",
	"metadata/write": "metadata_write",
}

// repoRule grants actions on the repositories a pattern matches: one
// repository, every repository under a prefix ("team/*": team/a, team/a/b,
// but not team itself), or every repository ("*").
type repoRule struct {
	name    string // exact name, or the prefix with its trailing "/"; "" with all
	prefix  bool
	all     bool
	actions []string // Docker actions
}

func (r repoRule) matches(repo string) bool {
	switch {
	case r.all:
		return true
	case r.prefix:
		return strings.HasPrefix(repo, r.name) && len(repo) > len(r.name)
	default:
		return repo == r.name
	}
}

// compiledToken is a Token ready for checking passwords and scopes.
type compiledToken struct {
	name      string
	enabled   bool
	passwords []compiledPassword
	rules     []repoRule
}

type compiledPassword struct {
	hash       [sha256.Size]byte
	credential *liveCredential // what tokens issued for this password name
}

// tokenSet is the immutable set of a registry's tokens, by lower-cased name.
type tokenSet map[string]*compiledToken

// compileTokens compiles tokens, fingerprinting their passwords with key
// (credentialKey). It cannot fail: a password whose hash is not a SHA-256
// never matches, and actions that grant nothing here (gateway actions,
// patterns ACR refuses) are skipped, as ARM validated what it stored. Of
// two tokens with the same name the last wins.
func compileTokens(tokens []Token, key []byte) tokenSet {
	set := make(tokenSet, len(tokens))
	for _, t := range tokens {
		ct := &compiledToken{name: t.Name, enabled: t.Enabled}
		lower := strings.ToLower(t.Name)
		for _, p := range t.Passwords {
			raw, err := hex.DecodeString(p.Hash)
			if err != nil || len(raw) != sha256.Size {
				continue
			}
			cp := compiledPassword{credential: &liveCredential{
				fingerprint: tokenFingerprint(key, lower, p.Name, hex.EncodeToString(raw)),
				scope:       ct,
				expiry:      p.Expiry,
				disabled:    !t.Enabled,
			}}
			copy(cp.hash[:], raw)
			ct.passwords = append(ct.passwords, cp)
		}
		ct.rules = compileRules(t.Actions)
		set[lower] = ct
	}
	return set
}

// compileRules groups a scope map's repository actions by pattern.
func compileRules(actions []string) []repoRule {
	var rules []repoRule
	index := map[string]int{}
	for _, s := range actions {
		pattern, action, ok := scopemap.ParseAction(s)
		if !ok || !scopemap.ValidRepositoryPattern(pattern) {
			continue
		}
		i, seen := index[pattern]
		if !seen {
			r := repoRule{name: pattern}
			switch {
			case pattern == "*":
				r.all, r.name = true, ""
			case strings.HasSuffix(pattern, "/*"):
				r.prefix, r.name = true, strings.TrimSuffix(pattern, "*")
			}
			i = len(rules)
			index[pattern] = i
			rules = append(rules, r)
		}
		docker := scopeActions[action]
		if !containsString(rules[i].actions, docker) {
			rules[i].actions = append(rules[i].actions, docker)
		}
	}
	return rules
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// allows reports whether the token's scope map grants action on the
// repository repo. Wildcard rules add up with exact ones, as in ACR.
func (t *compiledToken) allows(repo, action string) bool {
	for _, r := range t.rules {
		if r.matches(repo) && containsString(r.actions, action) {
			return true
		}
	}
	return false
}

// Errors of token authentication. Their messages are what the client sees.
var (
	errTokenDisabled   = errors.New("token disabled")
	errPasswordExpired = errors.New("token password expired")
)

// tokenRefusal is a token login refused for a reason worth telling.
type tokenRefusal struct {
	kind error // errTokenDisabled or errPasswordExpired
	msg  string
}

func (e *tokenRefusal) Error() string { return e.msg }
func (e *tokenRefusal) Unwrap() error { return e.kind }

// checkToken authenticates user and pass against the registry's tokens.
// A disabled token is refused whatever the password; a matching password
// past its expiry is refused as expired.
func (r *Registry) checkToken(user, pass string) (*principal, error) {
	t := r.creds.Load().tokens[strings.ToLower(user)]
	if t == nil {
		return nil, errBadCredentials
	}
	sum := sha256.Sum256([]byte(pass))
	matched, expired := false, false
	var credential *liveCredential
	for _, p := range t.passwords {
		if subtle.ConstantTimeCompare(sum[:], p.hash[:]) != 1 {
			continue
		}
		if p.credential.expired(r.now()) {
			expired = true
			continue
		}
		matched, credential = true, p.credential
	}
	switch {
	case !t.enabled && (matched || expired):
		return nil, &tokenRefusal{errTokenDisabled, fmt.Sprintf("the token '%s' is disabled; enable it (az acr token update --status enabled) to sign in with it", t.name)}
	case matched:
		return &principal{name: t.name, all: true, credential: credential}, nil
	case expired:
		return nil, &tokenRefusal{errPasswordExpired, fmt.Sprintf("the password of token '%s' has expired; generate a new one (az acr token credential generate)", t.name)}
	}
	return nil, errBadCredentials
}
