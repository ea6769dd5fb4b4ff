package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// sampleFile writes a state file with enough records to span many data
// pages, one value overflowing onto several pages, and returns its path,
// page size and high water mark.
func sampleFile(t *testing.T) (path string, pageSize, pgid int64) {
	t.Helper()
	s, path := openTemp(t)
	require.NoError(t, s.Update(func(tx *Tx) error {
		for i := range 300 {
			r := Registry{Subscription: "sub", ResourceGroup: "rg", Name: fmt.Sprintf("registry%03d", i),
				Passwords: [2]string{strings.Repeat("p", 400), strings.Repeat("q", 400)}}
			if err := tx.PutRegistry(r); err != nil {
				return err
			}
		}
		return tx.PutSecret("big", bytes.Repeat([]byte{7}, 5*os.Getpagesize()))
	}))
	// One more transaction, so that the older meta page, to which bbolt
	// falls back when the newer is damaged, also names all the records.
	require.NoError(t, s.Update(func(tx *Tx) error { return tx.PutSecret("last", []byte("x")) }))
	require.NoError(t, s.Close())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	m0, problem := parseMeta(b)
	require.Empty(t, problem)
	m1, problem := parseMeta(b[m0.pageSize:])
	require.Empty(t, problem)
	return path, int64(m0.pageSize), int64(max(m0.pgid, m1.pgid))
}

func truncate(size int64) func(t *testing.T, path string, pageSize, pgid int64) {
	return func(t *testing.T, path string, pageSize, pgid int64) {
		require.NoError(t, os.Truncate(path, size))
	}
}

// overwrite replaces n bytes at off with what fill makes.
func overwrite(t *testing.T, path string, off, n int64, fill func([]byte)) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	require.NoError(t, err)
	defer f.Close()
	b := make([]byte, n)
	fill(b)
	_, err = f.WriteAt(b, off)
	require.NoError(t, err)
}

func random(seed uint64) func([]byte) {
	return func(b []byte) {
		r := rand.New(rand.NewPCG(seed, seed))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
	}
}

func zero([]byte) {}

// editMetas applies edit to both meta pages, keeping their checksums valid
// when fixSum is set.
func editMetas(edit func(meta []byte), fixSum bool) func(t *testing.T, path string, pageSize, pgid int64) {
	return func(t *testing.T, path string, pageSize, pgid int64) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, off := range []int64{0, pageSize} {
			m := b[off : off+metaSize]
			edit(m)
			if fixSum {
				h := fnv.New64a()
				h.Write(m[pageHeaderSize:metaSumOff])
				binary.LittleEndian.PutUint64(m[metaSumOff:], h.Sum64())
			}
		}
		require.NoError(t, os.WriteFile(path, b, 0o600))
	}
}

func TestOpenDamagedFile(t *testing.T) {
	ps := int64(os.Getpagesize())
	tests := []struct {
		name   string
		damage func(t *testing.T, path string, pageSize, pgid int64)
		want   string // "" opens; else a substring of the one-line *DamagedError
	}{
		{"intact", func(*testing.T, string, int64, int64) {}, ""},
		{"first meta zeroed: bbolt uses the second", func(t *testing.T, path string, pageSize, pgid int64) {
			overwrite(t, path, 0, pageSize, zero)
		}, ""},
		{"second meta zeroed: bbolt uses the first", func(t *testing.T, path string, pageSize, pgid int64) {
			overwrite(t, path, pageSize, pageSize, zero)
		}, ""},
		{"both metas zeroed", func(t *testing.T, path string, pageSize, pgid int64) {
			overwrite(t, path, 0, 2*pageSize, zero)
		}, "(no valid meta page: not a bbolt file, or its first pages were overwritten)"},
		{"truncated to a few bytes", truncate(10), "(no valid meta page: file shorter than a meta page)"},
		{"truncated within the first page", truncate(100), "(truncated to 100 bytes, needs "},
		{"truncated to one page", truncate(ps), fmt.Sprintf("(truncated to %d bytes, needs ", ps)},
		{"truncated just short of two pages", truncate(2*ps - 1), fmt.Sprintf("(truncated to %d bytes, needs ", 2*ps-1)},
		{"truncated in the middle of the data pages", func(t *testing.T, path string, pageSize, pgid int64) {
			require.NoError(t, os.Truncate(path, pgid/2*pageSize))
		}, "needs "},
		{"truncated by one page below the high water mark", func(t *testing.T, path string, pageSize, pgid int64) {
			require.NoError(t, os.Truncate(path, (pgid-1)*pageSize))
		}, "needs "},
		{"truncated in the middle of a page", func(t *testing.T, path string, pageSize, pgid int64) {
			require.NoError(t, os.Truncate(path, pgid*pageSize+pageSize/2))
		}, "is not a multiple of its page size"},
		{"garbage", func(t *testing.T, path string, pageSize, pgid int64) {
			overwrite(t, path, 0, pgid*pageSize, random(1))
		}, "(no valid meta page: not a bbolt file"},
		{"garbage in the data pages", func(t *testing.T, path string, pageSize, pgid int64) {
			overwrite(t, path, 2*pageSize, (pgid-2)*pageSize, random(2))
		}, "is damaged (bbolt: "},
		{"zeroed data pages", func(t *testing.T, path string, pageSize, pgid int64) {
			overwrite(t, path, 2*pageSize, (pgid-2)*pageSize, zero)
		}, "is damaged ("},
		{"other bbolt version", editMetas(func(m []byte) { binary.LittleEndian.PutUint32(m[metaVersionOff:], 3) }, true),
			"(no valid meta page: bbolt format version 3, expected 2)"},
		{"meta checksum mismatch", editMetas(func(m []byte) { m[metaPgidOff]++ }, false),
			"(no valid meta page: meta page checksum mismatch)"},
		{"meta beyond the end of the file", editMetas(func(m []byte) { binary.LittleEndian.PutUint64(m[metaPgidOff:], 1<<20) }, true),
			fmt.Sprintf("needs %d)", (1<<20)*ps)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, pageSize, pgid := sampleFile(t)
			tt.damage(t, path, pageSize, pgid)
			s, err := Open(path, WithLockTimeout(time.Millisecond))
			if tt.want == "" {
				require.NoError(t, err)
				defer s.Close()
				var regs []Registry
				require.NoError(t, s.View(func(tx *Tx) (err error) { regs, err = tx.Registries("", ""); return }))
				require.Len(t, regs, 300)
				return
			}
			require.Error(t, err)
			require.ErrorIs(t, err, ErrDamaged)
			msg := err.Error()
			require.Contains(t, msg, tt.want)
			require.True(t, strings.HasPrefix(msg, "state file "+path+" is damaged ("), msg)
			require.True(t, strings.HasSuffix(msg, "): restore it from a backup, or move it away to start over"), msg)
			require.NotContains(t, msg, "\n")
		})
	}
}

// The checks before bbolt maps the file catch truncation; behind them,
// a read past the end of the mapping is a recovered fault, not a SIGBUS.
func TestOpenGuardedRecoversFaults(t *testing.T) {
	path, pageSize, _ := sampleFile(t)
	require.NoError(t, os.Truncate(path, 3*pageSize)) // bbolt maps 8 pages at least
	db, err := openGuarded(path, time.Second, true)
	require.Nil(t, db)
	require.ErrorIs(t, err, ErrDamaged)
	require.ErrorContains(t, err, "(read fault in the memory-mapped file)")

	// The lock went with the file: the next open is not told it is locked.
	_, err = Open(path, WithLockTimeout(time.Millisecond))
	require.ErrorIs(t, err, ErrDamaged)
}

func TestOpenEmptyFileIsNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acremu.db")
	require.NoError(t, os.WriteFile(path, nil, 0o600))
	exists, err := checkFile(path)
	require.NoError(t, err)
	require.False(t, exists, "an empty file holds no state")
	s, err := Open(path)
	require.NoError(t, err)
	defer s.Close()
	var regs []Registry
	require.NoError(t, s.View(func(tx *Tx) (err error) { regs, err = tx.Registries("", ""); return }))
	require.Empty(t, regs)
}

func TestOpenLockTimeout(t *testing.T) {
	s, path := openTemp(t)
	tests := []struct {
		name    string
		timeout time.Duration
		min     time.Duration // it waited at least this long (no upper bound: machines can be busy)
	}{
		{"fails at once", time.Nanosecond, 0},
		{"waits for the timeout", 300 * time.Millisecond, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			_, err := Open(path, WithLockTimeout(tt.timeout))
			took := time.Since(start)
			require.ErrorIs(t, err, ErrLocked)
			require.ErrorContains(t, err, "state file "+path+" is locked by another acremu process")
			require.NotContains(t, err.Error(), "\n")
			require.GreaterOrEqual(t, took, tt.min)
		})
	}

	t.Run("succeeds once released", func(t *testing.T) {
		// Released while the second Open waits (it polls the lock).
		time.AfterFunc(200*time.Millisecond, func() { s.Close() })
		s2, err := Open(path, WithLockTimeout(time.Minute))
		require.NoError(t, err)
		require.NoError(t, s2.Close())
	})
}
