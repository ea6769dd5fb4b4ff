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
	"runtime"
	"runtime/debug"
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
	allBuckets     = [][]byte{bucketMeta, bucketGroups, bucketRegs, bucketSecrets, bucketScopeMaps, bucketTokens}
	errWrongSchema = errors.New("store: unsupported schema version")
)

// Store is an open state file. It is safe for concurrent use; writers are
// serialized by bbolt, so read-modify-write inside Update never loses an update.
type Store struct {
	db      *bolt.DB
	tempDir string // removed on Close when the store is ephemeral
}

// DefaultLockTimeout is how long Open waits for another process to release
// the state file.
const DefaultLockTimeout = 2 * time.Second

// ErrLocked matches (errors.Is) the error Open returns when another process
// holds the state file for longer than the lock timeout.
var ErrLocked = errors.New("locked by another acremu process")

// Option adjusts how Open opens a state file.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for another process that holds
// the state file before it fails with ErrLocked; d <= 0 means
// DefaultLockTimeout. Open tries at least once however small d is.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.lockTimeout = d
		}
	}
}

// Open opens the state file at path, creating it if needed. A missing or
// empty (0-byte) file becomes a new, empty store: a caller that must not
// start over (because the data directory holds what an earlier run left)
// checks for that before calling Open.
//
// A damaged file is refused with a *DamagedError (errors.Is ErrDamaged):
// the meta pages are checked before bbolt maps the file, then the whole
// tree is read once under recover and debug.SetPanicOnFault, so that a
// truncated or overwritten file is a one-line error rather than a SIGBUS
// or a panic. A file held by another process is ErrLocked.
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	existed, err := checkFile(path)
	if err != nil {
		return nil, err
	}
	db, err := openGuarded(path, o.lockTimeout, existed)
	if err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// openGuarded opens the bbolt file, reads every page reachable from its
// root (for an existing file) and creates the buckets, with faults on the
// memory map turned into panics and every panic into a *DamagedError.
// After a panic the file is closed, which releases its lock; a mapping
// bbolt made before it panicked stays (bbolt returns no handle to unmap
// it).
func openGuarded(path string, lockTimeout time.Duration, existed bool) (db *bolt.DB, err error) {
	var file *os.File
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			if db != nil {
				closeQuietly(db)
			} else if file != nil {
				file.Close()
			}
			db, err = nil, damaged(path, "%s", panicReason(v))
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("store: state file %s is %w (waited %v): stop that process, or use another data directory", path, ErrLocked, lockTimeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, damaged(path, "%v", err)
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if existed {
		if err := db.View(walk); err != nil {
			db.Close()
			return nil, damaged(path, "%v", err)
		}
	}
	if err := initDB(db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// walk reads every bucket, key and value, so that a page that is not
// where the tree says faults (or trips one of bbolt's own panics) here,
// under openGuarded's recover, rather than in a later request.
func walk(tx *bolt.Tx) error {
	var sink byte
	var visit func(b *bolt.Bucket, depth int) error
	visit = func(b *bolt.Bucket, depth int) error {
		if depth > maxBucketDepth {
			return errors.New("buckets nested too deeply")
		}
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				if child := b.Bucket(k); child != nil {
					return visit(child, depth+1)
				}
			}
			for _, x := range v { // touch every page of an overflowing value
				sink ^= x
			}
			return nil
		})
	}
	err := tx.ForEach(func(name []byte, b *bolt.Bucket) error { return visit(b, 1) })
	_ = sink
	return err
}

// maxBucketDepth bounds the nesting walk follows: acremu nests none, and a
// cycle in a damaged file must not recurse forever.
const maxBucketDepth = 16

// panicReason describes a recovered panic in one line.
func panicReason(v any) string {
	if re, ok := v.(runtime.Error); ok {
		var fault interface{ Addr() uintptr }
		if errors.As(re, &fault) {
			return "read fault in the memory-mapped file"
		}
		return "bbolt: " + re.Error()
	}
	return fmt.Sprintf("bbolt: %v", v)
}

func closeQuietly(db *bolt.DB) {
	defer func() { _ = recover() }()
	_ = db.Close()
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

// initDB creates the buckets of a new file and checks the schema version
// of an existing one.
func initDB(db *bolt.DB) error {
	return db.Update(func(tx *bolt.Tx) error {
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
