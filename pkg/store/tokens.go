package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scope maps and tokens are children of a registry, keyed by the
// registry's ID (never its name) and their own lower-cased name, so a
// registry deleted and created again under the same name starts without
// the old one's tokens. Records of a deleted registry are left behind and
// removed by PurgeRegistryAuth.
var (
	bucketScopeMaps = []byte("scopeMaps")
	bucketTokens    = []byte("tokens")
)

// ScopeMap is a user-defined scope map (system scope maps are built in and
// never stored).
type ScopeMap struct {
	RegistryID  string   `json:"registryId"`
	Name        string   `json:"name"` // spelling as created
	Description string   `json:"description,omitempty"`
	Actions     []string `json:"actions"` // exactly as sent, e.g. repositories/hello/content/read

	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
	LastModifiedBy string    `json:"lastModifiedBy"`
}

// TokenPassword is one of a token's two passwords. Only a SHA-256 hash of
// the value is kept: ACR shows a password once, when it is generated.
type TokenPassword struct {
	Name      string     `json:"name"` // password1, password2
	Hash      string     `json:"hash"` // hex SHA-256 of the value
	CreatedAt time.Time  `json:"createdAt"`
	Expiry    *time.Time `json:"expiry,omitempty"`
}

// Token is a repository-scoped token: a username (its name) with up to two
// passwords, whose permissions are those of one scope map.
type Token struct {
	RegistryID string          `json:"registryId"`
	Name       string          `json:"name"`     // spelling as created; the username
	ScopeMap   string          `json:"scopeMap"` // the scope map's name, as stored or built in
	Status     string          `json:"status"`   // enabled, disabled
	Passwords  []TokenPassword `json:"passwords,omitempty"`

	CreatedAt      time.Time `json:"createdAt"`
	CreatedBy      string    `json:"createdBy"`
	LastModifiedAt time.Time `json:"lastModifiedAt"`
	LastModifiedBy string    `json:"lastModifiedBy"`
}

// ScopeMap returns the scope map name of registry regID (case-insensitive).
func (t *Tx) ScopeMap(regID, name string) (ScopeMap, error) {
	var m ScopeMap
	return m, t.get(bucketScopeMaps, key(regID, name), &m)
}

// PutScopeMap creates or replaces a scope map.
func (t *Tx) PutScopeMap(m ScopeMap) error {
	if m.RegistryID == "" || m.Name == "" {
		return errors.New("store: scope map without a registry or a name")
	}
	return t.put(bucketScopeMaps, key(m.RegistryID, m.Name), m)
}

// DeleteScopeMap removes a scope map.
func (t *Tx) DeleteScopeMap(regID, name string) error {
	return t.del(bucketScopeMaps, key(regID, name))
}

// ScopeMaps lists the scope maps of registry regID, sorted by lower-cased name.
func (t *Tx) ScopeMaps(regID string) ([]ScopeMap, error) {
	var out []ScopeMap
	return out, t.children(bucketScopeMaps, regID, func(v []byte) error {
		var m ScopeMap
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
}

// Token returns the token name of registry regID (case-insensitive).
func (t *Tx) Token(regID, name string) (Token, error) {
	var tok Token
	return tok, t.get(bucketTokens, key(regID, name), &tok)
}

// PutToken creates or replaces a token.
func (t *Tx) PutToken(tok Token) error {
	if tok.RegistryID == "" || tok.Name == "" {
		return errors.New("store: token without a registry or a name")
	}
	return t.put(bucketTokens, key(tok.RegistryID, tok.Name), tok)
}

// DeleteToken removes a token.
func (t *Tx) DeleteToken(regID, name string) error {
	return t.del(bucketTokens, key(regID, name))
}

// Tokens lists the tokens of registry regID, sorted by lower-cased name.
func (t *Tx) Tokens(regID string) ([]Token, error) {
	var out []Token
	return out, t.children(bucketTokens, regID, func(v []byte) error {
		var tok Token
		if err := json.Unmarshal(v, &tok); err != nil {
			return err
		}
		out = append(out, tok)
		return nil
	})
}

// PurgeRegistryAuth removes the scope maps and tokens of every registry
// whose ID is not in live, and returns how many records it removed.
func (t *Tx) PurgeRegistryAuth(live map[string]bool) (int, error) {
	n := 0
	for _, name := range [][]byte{bucketScopeMaps, bucketTokens} {
		b := t.tx.Bucket(name)
		var dead [][]byte
		if err := b.ForEach(func(k, _ []byte) error {
			id, _, _ := strings.Cut(string(k), "/")
			if !live[id] {
				dead = append(dead, append([]byte(nil), k...))
			}
			return nil
		}); err != nil {
			return n, err
		}
		for _, k := range dead {
			if err := b.Delete(k); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// children decodes every record of bucket under the registry regID, in key order.
func (t *Tx) children(bucket []byte, regID string, fn func(v []byte) error) error {
	prefix := key(regID, "")
	c := t.tx.Bucket(bucket).Cursor()
	for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
		if err := fn(v); err != nil {
			return fmt.Errorf("store: decode %s/%s: %w", bucket, k, err)
		}
	}
	return nil
}
