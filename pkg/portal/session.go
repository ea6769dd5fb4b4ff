package portal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// cookiePrefix starts the names of the portal's cookies. Browsers share
// cookies between ports of one host, so each instance names its cookies
// with a tag of its key: two instances on one machine keep separate
// sessions, and neither can open the other's.
const cookiePrefix = "acremu_portal_"

// sealLabel is the AES-GCM additional data: it binds sealed values to their
// purpose and format version.
var sealLabel = []byte("acremu-portal-session-v1")

// errNoSession is any reason a request carries no usable session.
var errNoSession = errors.New("portal: no valid session")

// session is what the sealed cookie holds.
type session struct {
	ID      string    `json:"sid"` // random; names the session for CSRF and sign-out
	Token   string    `json:"tok"` // the user's ARM bearer token
	Expires time.Time `json:"exp"` // never later than the token's expiry
}

// sessions seals and opens session cookies and derives CSRF tokens. Keys
// come from the instance's persisted secret, so sessions survive a restart
// of the same instance and mean nothing to another one.
type sessions struct {
	aead    cipher.AEAD
	csrfKey []byte
	now     func() time.Time
	name    string // the session cookie's name
	signin  string // the sign-in nonce cookie's name

	mu      sync.Mutex
	revoked map[string]time.Time // signed-out session ids until their expiry
}

func newSessions(secret []byte, now func() time.Time) (*sessions, error) {
	if len(secret) < 32 {
		return nil, errors.New("portal: SessionKey must be at least 32 bytes")
	}
	block, err := aes.NewCipher(derive(secret, "seal"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	tag := hex.EncodeToString(derive(secret, "cookie-name")[:4])
	return &sessions{
		aead: aead, csrfKey: derive(secret, "csrf"), now: now, revoked: map[string]time.Time{},
		name: cookiePrefix + tag, signin: cookiePrefix + "signin_" + tag,
	}, nil
}

// derive returns a 32-byte key for one purpose, so the sealing and CSRF
// keys are independent although they come from one secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("acremu-portal/" + purpose))
	return m.Sum(nil)
}

func randomID() string {
	var b [18]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// seal encrypts and authenticates s into a cookie value.
func (ss *sessions) seal(s session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, ss.aead.NonceSize(), ss.aead.NonceSize()+len(plain)+ss.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(ss.aead.Seal(nonce, nonce, plain, sealLabel)), nil
}

// open returns the session in a cookie value, or errNoSession when the
// value was not sealed by this instance, was altered, has expired or was
// signed out.
func (ss *sessions) open(v string) (*session, error) {
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < ss.aead.NonceSize() {
		return nil, errNoSession
	}
	n := ss.aead.NonceSize()
	plain, err := ss.aead.Open(nil, raw[:n], raw[n:], sealLabel)
	if err != nil {
		return nil, errNoSession
	}
	var s session
	if err := json.Unmarshal(plain, &s); err != nil || s.ID == "" || s.Token == "" {
		return nil, errNoSession
	}
	if !ss.now().Before(s.Expires) || ss.isRevoked(s.ID) {
		return nil, errNoSession
	}
	return &s, nil
}

// fromRequest opens the request's session cookie.
func (ss *sessions) fromRequest(r *http.Request) (*session, error) {
	c, err := r.Cookie(ss.name)
	if err != nil {
		return nil, errNoSession
	}
	return ss.open(c.Value)
}

// revoke makes a signed-out session unusable even if its cookie was kept.
// Entries are dropped once the session would have expired anyway.
func (ss *sessions) revoke(s *session) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	for id, exp := range ss.revoked {
		if !now.Before(exp) {
			delete(ss.revoked, id)
		}
	}
	ss.revoked[s.ID] = s.Expires
}

func (ss *sessions) isRevoked(id string) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	_, ok := ss.revoked[id]
	return ok
}

// csrf is the CSRF token of a session (or, with purpose "signin", of a
// sign-in form): an HMAC the browser cannot compute, checked against the
// form's csrf field.
func (ss *sessions) csrf(purpose, id string) string {
	m := hmac.New(sha256.New, ss.csrfKey)
	m.Write([]byte(purpose + "\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (ss *sessions) checkCSRF(purpose, id, got string) bool {
	want := ss.csrf(purpose, id)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// cookie builds a portal cookie that lives for ttl; an empty value deletes
// the cookie.
func cookie(r *http.Request, name, value string, ttl time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     Prefix + "/",
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil,
	}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.MaxAge = max(1, int(ttl.Seconds()))
	}
	return c
}
