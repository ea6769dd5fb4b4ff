package token

import (
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
