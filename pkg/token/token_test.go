package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func newSigner(t *testing.T, now func() time.Time) *Signer {
	t.Helper()
	key, err := GenerateKey()
	require.NoError(t, err)
	s, err := NewSigner(key, now)
	require.NoError(t, err)
	return s
}

func TestVerify(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	s := newSigner(t, clock)
	other := newSigner(t, clock)
	later := newSigner(t, func() time.Time { return now.Add(2 * time.Hour) })

	refresh, err := s.Sign(Claims{GrantType: GrantRefresh, RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{"reg.example"}}}, time.Hour)
	require.NoError(t, err)
	foreign, err := other.Sign(Claims{GrantType: GrantRefresh, RegisteredClaims: jwt.RegisteredClaims{Audience: jwt.ClaimStrings{"reg.example"}}}, time.Hour)
	require.NoError(t, err)

	tests := []struct {
		name     string
		signer   *Signer
		raw      string
		grant    string
		audience string
		wantErr  bool
	}{
		{"valid", s, refresh, GrantRefresh, "reg.example", false},
		{"any audience", s, refresh, GrantRefresh, "", false},
		{"wrong audience", s, refresh, GrantRefresh, "other.example", true},
		{"wrong grant", s, refresh, GrantAccess, "reg.example", true},
		{"other instance's key", s, foreign, GrantRefresh, "", true},
		{"expired", later, refresh, GrantRefresh, "", true},
		{"garbage", s, "not-a-jwt", GrantRefresh, "", true},
		{"empty", s, "", GrantRefresh, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.signer.Verify(tt.raw, tt.grant, tt.audience)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrInvalid)
				return
			}
			require.NoError(t, err)
			require.Equal(t, Issuer, c.Issuer)
			require.NotEmpty(t, c.ID)
		})
	}
}

func TestSignerSharesKeyAcrossRestarts(t *testing.T) {
	key, err := GenerateKey()
	require.NoError(t, err)
	a, err := NewSigner(key, nil)
	require.NoError(t, err)
	b, err := NewSigner(key, nil)
	require.NoError(t, err)
	raw, err := a.Sign(Claims{GrantType: GrantAccess, Access: []Access{{Type: "repository", Name: "x", Actions: []string{"pull"}}}}, time.Minute)
	require.NoError(t, err)
	c, err := b.Verify(raw, GrantAccess, "")
	require.NoError(t, err)
	require.Equal(t, []Access{{Type: "repository", Name: "x", Actions: []string{"pull"}}}, c.Access)
}

func TestNewSignerRejectsBadKeys(t *testing.T) {
	for name, key := range map[string][]byte{
		"empty":   nil,
		"not pem": []byte("hello"),
		"bad der": []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewSigner(key, nil)
			require.Error(t, err)
		})
	}
}

func TestAudienceWireForm(t *testing.T) {
	s := newSigner(t, nil)
	tests := []struct {
		name string
		aud  jwt.ClaimStrings
		want any // aud as JSON decodes it; nil = absent
	}{
		{"one audience is a string", jwt.ClaimStrings{"https://management.azure.com/"}, "https://management.azure.com/"},
		{"two are an array", jwt.ClaimStrings{"a", "b"}, []any{"a", "b"}},
		{"none is absent", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := s.Sign(Claims{GrantType: GrantARM, RegisteredClaims: jwt.RegisteredClaims{Audience: tt.aud}}, time.Hour)
			require.NoError(t, err)
			var m map[string]any
			parts := strings.Split(raw, ".")
			payload, err := base64.RawURLEncoding.DecodeString(parts[1])
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(payload, &m))
			require.Equal(t, tt.want, m["aud"])
			// Verify reads either form back.
			c, err := s.Verify(raw, GrantARM, "")
			require.NoError(t, err)
			require.Equal(t, len(tt.aud), len(c.Audience))
			if len(tt.aud) == 1 {
				_, err = s.Verify(raw, GrantARM, tt.aud[0])
				require.NoError(t, err)
			}
		})
	}
}

func TestPublicJWKVerifies(t *testing.T) {
	s := newSigner(t, nil)
	raw, err := s.Sign(Claims{GrantType: GrantARM, TenantID: "t", ObjectID: "o"}, time.Hour)
	require.NoError(t, err)
	k := s.PublicJWK()
	require.Equal(t, "EC", k.Kty)
	require.Equal(t, "P-256", k.Crv)
	require.Equal(t, "ES256", k.Alg)
	// Rebuild the key from the JWK alone, as a relying party does.
	x, err := base64.RawURLEncoding.DecodeString(k.X)
	require.NoError(t, err)
	y, err := base64.RawURLEncoding.DecodeString(k.Y)
	require.NoError(t, err)
	require.Len(t, x, 32)
	require.Len(t, y, 32)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	require.NoError(t, err)
	var c Claims
	tok, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return pub, nil })
	require.NoError(t, err)
	require.Equal(t, k.Kid, tok.Header["kid"])
	require.Equal(t, "t", c.TenantID)
	require.Equal(t, "o", c.ObjectID)
}
