// Package token mints and verifies the JWTs acremu hands out: ARM access
// tokens from the ADFS-style endpoint, and ACR refresh and access tokens from
// a registry's /oauth2 endpoints. All are ES256, signed by one key that is
// generated once and persisted, so tokens survive a restart and tokens of
// another acremu instance are rejected.
package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Grant types carried in the grant_type claim, as in ACR's tokens.
const (
	GrantARM     = "client_credentials" // ARM/ADFS access token
	GrantRefresh = "refresh_token"      // ACR refresh token
	GrantAccess  = "access_token"       // ACR access token
)

// Issuer is the name in every token's iss claim.
const Issuer = "Azure Container Registry"

// ErrInvalid wraps every verification failure.
var ErrInvalid = errors.New("token: invalid")

// Access is one entry of an access token's access claim, Docker's scope
// model: type "repository" or "registry", a name, and actions.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Permissions is an ACR refresh token's permissions claim: ARM-style action
// patterns, where "*" means every action.
type Permissions struct {
	Actions    []string `json:"actions"`
	NotActions []string `json:"notActions"`
}

// Claims are the claims acremu writes and reads.
type Claims struct {
	jwt.RegisteredClaims
	GrantType string `json:"grant_type"`
	// Registry is the ID of the registry that issued an ACR token; it
	// accepts no token issued by another, whatever the audience says.
	Registry string `json:"acremu_registry,omitempty"`
	// Credential is the fingerprint of the credential an ACR token was
	// issued for (the admin user's password or a repository-scoped
	// token's password): the token is honoured only while the registry
	// still holds that credential, enabled and unexpired. Tokens of
	// identities (exchanged, managed, anonymous) carry none.
	Credential string `json:"acremu_credential,omitempty"`
	Tenant     string `json:"tenant,omitempty"`
	AppID      string `json:"appid,omitempty"`
	// TenantID and ObjectID are Entra's tid and oid claims of ARM tokens:
	// the tenant and the service principal's object id. Clients such as
	// the Terraform azurerm provider read them instead of calling
	// Microsoft Graph.
	TenantID string `json:"tid,omitempty"`
	ObjectID string `json:"oid,omitempty"`
	// ManagedIdentity is Entra's xms_mirid claim: the resource id of the
	// managed identity a token was issued to. ACR tokens exchanged from
	// such a token carry it on, so a registry can tell a trusted service.
	ManagedIdentity string       `json:"xms_mirid,omitempty"`
	Access          []Access     `json:"access,omitempty"`
	Permissions     *Permissions `json:"permissions,omitempty"`
	Version         string       `json:"version,omitempty"`
}

// Signer signs and verifies tokens with one ECDSA P-256 key.
type Signer struct {
	key *ecdsa.PrivateKey
	kid string
	jwk JWK
	now func() time.Time
}

// GenerateKey returns a new P-256 private key in PEM (PKCS#8) form.
func GenerateKey() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// NewSigner parses a PEM key made by GenerateKey. now may be nil (time.Now).
func NewSigner(keyPEM []byte, now func() time.Time) (*Signer, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New("token: signing key is not PEM")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("token: signing key: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("token: signing key is not ECDSA")
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	point, err := key.PublicKey.ECDH()
	if err != nil || key.Curve != elliptic.P256() {
		return nil, errors.New("token: signing key is not a P-256 key")
	}
	b := point.Bytes() // 0x04 || X || Y, 32 bytes each
	sum := sha256.Sum256(pub)
	if now == nil {
		now = time.Now
	}
	enc := base64.RawURLEncoding.EncodeToString
	kid := enc(sum[:12])
	jwk := JWK{Kty: "EC", Use: "sig", Kid: kid, Alg: jwt.SigningMethodES256.Alg(), Crv: "P-256", X: enc(b[1:33]), Y: enc(b[33:])}
	return &Signer{key: key, kid: kid, jwk: jwk, now: now}, nil
}

// Sign fills iat, nbf, exp (now+ttl), iss and jti, and signs c.
func (s *Signer) Sign(c Claims, ttl time.Duration) (string, error) {
	now := s.now()
	c.Issuer = Issuer
	c.IssuedAt = jwt.NewNumericDate(now)
	c.NotBefore = jwt.NewNumericDate(now.Add(-time.Second))
	c.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	if c.ID == "" {
		var b [16]byte
		rand.Read(b[:])
		c.ID = base64.RawURLEncoding.EncodeToString(b[:])
	}
	if c.Version == "" {
		c.Version = "1.0"
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, wireClaims{Claims: c, Audience: wireAudience(c.Audience)})
	t.Header["kid"] = s.kid
	return t.SignedString(s.key)
}

// wireClaims is Claims as signed: aud is a string when there is one
// audience, as Entra and ACR issue it (clients such as go-azure-sdk parse
// it as a string only), and an array otherwise. Its Audience field hides
// the embedded one for encoding/json; jwt.ClaimStrings reads both forms.
type wireClaims struct {
	Claims
	Audience any `json:"aud,omitempty"`
}

func wireAudience(aud jwt.ClaimStrings) any {
	switch len(aud) {
	case 0:
		return nil
	case 1:
		return aud[0]
	}
	return []string(aud)
}

// JWK is a public key in JSON Web Key form (RFC 7517, RFC 7518 §6.2).
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// JWKS is a JSON Web Key Set, what an OpenID provider's jwks_uri serves.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK returns the verification key: the signing key's public half,
// with the kid every token's header names.
func (s *Signer) PublicJWK() JWK { return s.jwk }

// Verify checks signature, expiry, issuer, grant type and (when audience is
// not empty) the audience, and returns the claims.
func (s *Signer) Verify(raw, grantType, audience string) (*Claims, error) {
	var c Claims
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(s.now),
		jwt.WithLeeway(5 * time.Second),
	}
	if audience != "" {
		opts = append(opts, jwt.WithAudience(audience))
	}
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return &s.key.PublicKey, nil }, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.GrantType != grantType {
		return nil, fmt.Errorf("%w: grant type %q, want %q", ErrInvalid, c.GrantType, grantType)
	}
	return &c, nil
}
