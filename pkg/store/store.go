// Package store keeps acremu's state in one bbolt file: subscriptions'
// resource groups, registries with their credentials and network rules, and
// the secrets (signing keys, HTTP secret) that must survive a restart.
//
// Records are JSON values in buckets keyed by lower-cased names, because ARM
// names are case-insensitive while their original spelling must be echoed
// back. Every change is one bbolt transaction: bbolt fsyncs on commit, so an
// acknowledged change survives kill -9 and a torn write never becomes visible.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is written into every new file and checked on open.
const SchemaVersion = 1

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("store: not found")

var (
	bucketMeta     = []byte("meta")
	bucketGroups   = []byte("resourceGroups")
	bucketRegs     = []byte("registries")
	bucketSecrets  = []byte("secrets")
	keySchema      = []byte("schemaVersion")
	allBuckets     = [][]byte{bucketMeta, bucketGroups, bucketRegs, bucketSecrets}
	errWrongSchema = errors.New("store: unsupported schema version")
)

// Store is an open state file. It is safe for concurrent use; writers are
// serialized by bbolt, so read-modify-write inside Update never loses an update.
type Store struct {
	db      *bolt.DB
	tempDir string // removed on Close when the store is ephemeral
}

// Open opens (creating if needed) the state file at path.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("store: %s is locked by another acremu process", path)
		}
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OpenEphemeral opens a store in a fresh temporary directory that Close
// removes: state lives only as long as the process.
func OpenEphemeral() (*Store, error) {
	dir, err := os.MkdirTemp("", "acremu-mem-")
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s, err := Open(filepath.Join(dir, "acremu.db"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.tempDir = dir
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keySchema)
		if v == nil {
			return meta.Put(keySchema, []byte(fmt.Sprint(SchemaVersion)))
		}
		if string(v) != fmt.Sprint(SchemaVersion) {
			return fmt.Errorf("%w %s (this acremu supports %d)", errWrongSchema, v, SchemaVersion)
		}
		return nil
	})
}

// Close closes the file (and removes it if the store is ephemeral).
func (s *Store) Close() error {
	err := s.db.Close()
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
	return err
}

// View runs fn in a read-only transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Update runs fn in a read-write transaction; fn's error rolls it back.
func (s *Store) Update(fn func(*Tx) error) error {
	return s.db.Update(func(tx *bolt.Tx) error { return fn(&Tx{tx: tx}) })
}

// Tx is a transaction handle with typed accessors.
type Tx struct{ tx *bolt.Tx }

func key(parts ...string) []byte { return []byte(strings.ToLower(strings.Join(parts, "/"))) }

func (t *Tx) get(bucket, k []byte, v any) error {
	raw := t.tx.Bucket(bucket).Get(k)
	if raw == nil {
		return ErrNotFound
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("store: decode %s/%s: %w", bucket, k, err)
	}
	return nil
}

func (t *Tx) put(bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode: %w", err)
	}
	return t.tx.Bucket(bucket).Put(k, raw)
}

func (t *Tx) del(bucket, k []byte) error {
	if t.tx.Bucket(bucket).Get(k) == nil {
		return ErrNotFound
	}
	return t.tx.Bucket(bucket).Delete(k)
}

// ResourceGroup returns the group sub/name (case-insensitive).
func (t *Tx) ResourceGroup(sub, name string) (ResourceGroup, error) {
	var g ResourceGroup
	return g, t.get(bucketGroups, key(sub, name), &g)
}

// PutResourceGroup creates or replaces a group.
func (t *Tx) PutResourceGroup(g ResourceGroup) error {
	return t.put(bucketGroups, key(g.Subscription, g.Name), g)
}

// DeleteResourceGroup removes a group record (not its registries).
func (t *Tx) DeleteResourceGroup(sub, name string) error {
	return t.del(bucketGroups, key(sub, name))
}

// ResourceGroups lists the groups of a subscription, sorted by name.
func (t *Tx) ResourceGroups(sub string) ([]ResourceGroup, error) {
	var out []ResourceGroup
	prefix := key(sub, "")
	c := t.tx.Bucket(bucketGroups).Cursor()
	for k, v := c.Seek(prefix); k != nil && strings.HasPrefix(string(k), string(prefix)); k, v = c.Next() {
		var g ResourceGroup
		if err := json.Unmarshal(v, &g); err != nil {
			return nil, fmt.Errorf("store: decode group %s: %w", k, err)
		}
		out = append(out, g)
	}
	return out, nil
}

// Registry returns the registry with the given name. Registry names are
// global (they are DNS names in ACR), so the name alone identifies it.
func (t *Tx) Registry(name string) (Registry, error) {
	var r Registry
	return r, t.get(bucketRegs, key(name), &r)
}

// PutRegistry creates or replaces a registry.
func (t *Tx) PutRegistry(r Registry) error {
	if r.Name == "" {
		return errors.New("store: registry without a name")
	}
	return t.put(bucketRegs, key(r.Name), r)
}

// DeleteRegistry removes a registry record.
func (t *Tx) DeleteRegistry(name string) error { return t.del(bucketRegs, key(name)) }

// Registries lists registries, sorted by lower-cased name. Empty sub or rg
// match everything; both compare case-insensitively.
func (t *Tx) Registries(sub, rg string) ([]Registry, error) {
	var out []Registry
	err := t.tx.Bucket(bucketRegs).ForEach(func(k, v []byte) error {
		var r Registry
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("store: decode registry %s: %w", k, err)
		}
		if (sub == "" || strings.EqualFold(sub, r.Subscription)) && (rg == "" || strings.EqualFold(rg, r.ResourceGroup)) {
			out = append(out, r)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, err
}

// Secret returns a named secret, or ErrNotFound.
func (t *Tx) Secret(name string) ([]byte, error) {
	v := t.tx.Bucket(bucketSecrets).Get([]byte(name))
	if v == nil {
		return nil, ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

// PutSecret stores a named secret.
func (t *Tx) PutSecret(name string, value []byte) error {
	return t.tx.Bucket(bucketSecrets).Put([]byte(name), value)
}

// SecretOrCreate returns the secret name, creating it with gen on first use
// in the same transaction, so concurrent starters agree on one value.
func (s *Store) SecretOrCreate(name string, gen func() ([]byte, error)) ([]byte, error) {
	var out []byte
	err := s.Update(func(tx *Tx) error {
		v, err := tx.Secret(name)
		if err == nil {
			out = v
			return nil
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		if out, err = gen(); err != nil {
			return err
		}
		return tx.PutSecret(name, out)
	})
	return out, err
}
