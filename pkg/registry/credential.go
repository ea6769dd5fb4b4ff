package registry

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/acremu/acremu/pkg/token"
)

// A token issued for a credential (the admin user's password or a
// repository-scoped token's password) names the credential in its
// acremu_credential claim, and is honoured only while the registry's
// current configuration still holds that credential, enabled and
// unexpired. Disabling the admin user or a token, regenerating or removing
// a password, deleting a token or letting its password expire therefore
// ends the tokens issued for it on their next use, cached or not.
// Enabling the credential again (same password) makes them valid again:
// a token is exactly as good as its credential.

// fingerprintBytes is how much of the HMAC a fingerprint keeps: enough
// that no two credentials of a registry ever share one.
const fingerprintBytes = 16

// credentialKey derives the key of a registry's credential fingerprints
// from the persisted HTTP secret, so fingerprints survive a restart. A
// keyed hash, because anyone holding a token can read its claims: the
// fingerprint must say nothing about the password.
func credentialKey(secret, id string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("acremu credential fingerprint\x00" + id))
	return m.Sum(nil)
}

// fingerprint names one credential: its kind, its owner, which of its
// passwords, and that password (its value or its stored hash), so a new
// password, or a token deleted and created again, gets a new fingerprint.
func fingerprint(key []byte, parts ...string) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:fingerprintBytes])
}

// adminPasswordNames are ARM's names of the admin user's two passwords.
var adminPasswordNames = [2]string{"password", "password2"}

func adminFingerprint(key []byte, i int, password string) string {
	return fingerprint(key, "admin", adminPasswordNames[i], password)
}

// tokenFingerprint names a token's password by the token's lower-cased
// name, the password's name and its stored hash.
func tokenFingerprint(key []byte, name, password, hash string) string {
	return fingerprint(key, "token", name, password, hash)
}

// liveCredential is a credential of the registry's current configuration
// that tokens may be issued for.
type liveCredential struct {
	fingerprint string         // the acremu_credential claim of its tokens
	scope       *compiledToken // the repository-scoped token; nil for the admin user
	expiry      time.Time      // zero: never expires
	disabled    bool           // the admin user or the token is disabled
}

func (l *liveCredential) expired(now time.Time) bool {
	return !l.expiry.IsZero() && !now.Before(l.expiry)
}

// fingerprintOf is the claim naming cred, "" for none.
func fingerprintOf(cred *liveCredential) string {
	if cred == nil {
		return ""
	}
	return cred.fingerprint
}

// errCredentialRevoked is the kind of every refusal of a token whose
// credential is no longer valid.
var errCredentialRevoked = errors.New("the credential the token was issued for is no longer valid")

// credentialRefusal says why a token's credential no longer counts. The
// token endpoints tell the client (refusal); /v2/ answers as for any
// invalid token, so that clients sign in again and then hear ACR's own
// words for a credential that no longer works.
type credentialRefusal struct{ msg string }

func (e *credentialRefusal) Error() string { return e.msg }
func (e *credentialRefusal) Unwrap() error { return errCredentialRevoked }

var (
	refusalCredentialGone = &credentialRefusal{"the token was issued for a password that has since been regenerated or removed, or for a token since deleted; sign in again"}
	// Tokens issued before tokens named their credential cannot show that
	// it is still valid, so they fail closed.
	refusalNoFingerprint = &credentialRefusal{"the token was issued for the admin user or a token without naming the credential; sign in again"}
	refusalAdminDisabled = &credentialRefusal{"the token was issued for the admin user, which is disabled"}
	refusalAnonymousOff  = &credentialRefusal{"the token was issued for anonymous pull, which is disabled"}
)

// standing checks that the credential c was issued for is still valid, and
// returns it: for a repository-scoped token's, its scope map as it is now
// bounds what the token may do. Tokens of identities name no credential
// and pass with nil. It is one map lookup: no lock, no allocation unless
// it refuses.
func (cr *credentials) standing(c *token.Claims, now time.Time) (*liveCredential, error) {
	if c.Credential == "" {
		// Every identity's token carries the tenant of the ARM token it
		// was exchanged from, a managed identity, or the anonymous
		// subject; a token with none of them was issued for a
		// credential before tokens named it.
		if c.Tenant == "" && c.ManagedIdentity == "" && c.Subject != AnonymousSubject {
			return nil, refusalNoFingerprint
		}
		// Anonymous tokens are worth no more than anonymous pull.
		if c.Subject == AnonymousSubject && c.Tenant == "" && c.ManagedIdentity == "" && !cr.anonymousPull {
			return nil, refusalAnonymousOff
		}
		return nil, nil
	}
	live, ok := cr.live[c.Credential]
	switch {
	case !ok:
		return nil, refusalCredentialGone
	case live.disabled && live.scope == nil:
		return nil, refusalAdminDisabled
	case live.disabled:
		return nil, &credentialRefusal{fmt.Sprintf("the token was issued for token '%s', which is disabled", live.scope.name)}
	case live.expired(now):
		return nil, &credentialRefusal{fmt.Sprintf("the token was issued for a password of token '%s', which has expired", live.scope.name)}
	}
	return live, nil
}
