package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
)

// ErrDamaged matches (errors.Is) every error Open returns for a state file
// that exists but cannot be used: truncated, overwritten, or not a bbolt
// file at all. The concrete error is a *DamagedError.
var ErrDamaged = errors.New("store: state file is damaged")

// DamagedError reports a state file that is damaged. Its message is one
// line that names the file, says what is wrong and what to do.
type DamagedError struct {
	Path   string
	Reason string // e.g. "truncated to 8192 bytes, needs 16384"
}

var _ error = (*DamagedError)(nil)

func (e *DamagedError) Error() string {
	return fmt.Sprintf("state file %s is damaged (%s): restore it from a backup, or move it away to start over", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

func damaged(path, format string, args ...any) error {
	return &DamagedError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// The on-disk layout of a bbolt meta page (go.etcd.io/bbolt
// internal/common: page and meta). Pages 0 and 1 are the two meta pages;
// each names the page size and the high water mark, the first page id no
// page of that transaction uses. bbolt writes data pages, syncs, then
// writes one meta page, and only ever grows the file, so in an intact file
// both valid metas fit within the file.
const (
	boltMagic   = 0xED0CDAED
	boltVersion = 2

	pageHeaderSize = 16 // id uint64, flags uint16, count uint16, overflow uint32
	metaMagicOff   = pageHeaderSize + 0
	metaVersionOff = pageHeaderSize + 4
	metaPageSzOff  = pageHeaderSize + 8
	metaPgidOff    = pageHeaderSize + 40 // after flags, root bucket (16 bytes) and freelist
	metaSumOff     = pageHeaderSize + 56
	metaSize       = metaSumOff + 8

	minPageSize = 1024    // bbolt probes the second meta from 1 KiB …
	maxPageSize = 1 << 24 // … to 16 MiB
)

// meta is the part of a meta page the check needs.
type meta struct {
	pageSize uint32
	pgid     uint64 // high water mark
}

// metaProblem tells why a meta page is unusable; "" means it is valid.
type metaProblem string

// parseMeta decodes the meta page at the start of b (at least metaSize
// bytes), checking bbolt's magic, version and checksum.
func parseMeta(b []byte) (meta, metaProblem) {
	le := binary.LittleEndian
	if le.Uint32(b[metaMagicOff:]) != boltMagic {
		return meta{}, "no bbolt magic number"
	}
	if v := le.Uint32(b[metaVersionOff:]); v != boltVersion {
		return meta{}, metaProblem(fmt.Sprintf("bbolt format version %d, expected %d", v, boltVersion))
	}
	h := fnv.New64a()
	h.Write(b[pageHeaderSize:metaSumOff])
	if h.Sum64() != le.Uint64(b[metaSumOff:]) {
		return meta{}, "meta page checksum mismatch"
	}
	m := meta{pageSize: le.Uint32(b[metaPageSzOff:]), pgid: le.Uint64(b[metaPgidOff:])}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
		return meta{}, metaProblem(fmt.Sprintf("invalid page size %d", m.pageSize))
	}
	return m, ""
}

// checkFile inspects the state file at path before bbolt maps it into
// memory, where a page past the end of a truncated file is a SIGBUS rather
// than an error. It reports whether the file exists with content (a
// missing or empty file is a new store) and returns a *DamagedError when
// neither meta page is valid or a valid one refers past the end of the
// file.
func checkFile(path string) (exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	size := fi.Size()
	if size == 0 {
		return false, nil
	}
	if !fi.Mode().IsRegular() {
		return true, fmt.Errorf("store: %s is not a regular file", path)
	}

	read := func(off int64) []byte {
		b := make([]byte, metaSize)
		if n, err := f.ReadAt(b, off); n < metaSize && (err == nil || err == io.EOF) {
			return nil
		}
		return b
	}
	// The first meta page is at 0 and names the page size, so the second
	// is at that offset. If the first is unusable, probe the offsets bbolt
	// probes, the OS page size first.
	var metas []meta
	var problem metaProblem
	m0, p0 := meta{}, metaProblem("file shorter than a meta page")
	if b := read(0); b != nil {
		m0, p0 = parseMeta(b)
	}
	offsets := []int64{int64(os.Getpagesize())}
	if p0 == "" {
		metas = append(metas, m0)
		offsets = []int64{int64(m0.pageSize)}
	} else {
		problem = p0
		for sz := int64(minPageSize); sz <= maxPageSize; sz <<= 1 {
			if sz != offsets[0] {
				offsets = append(offsets, sz)
			}
		}
	}
	for _, off := range offsets {
		if off >= size {
			continue
		}
		b := read(off)
		if b == nil {
			continue
		}
		m1, p1 := parseMeta(b)
		if p1 == "" && int64(m1.pageSize) == off {
			metas = append(metas, m1)
			break
		}
		if p0 == "" && p1 != "" {
			problem = p1 // the second meta is damaged; the first may do
		}
	}
	if len(metas) == 0 {
		if p0 == "no bbolt magic number" {
			return true, damaged(path, "no valid meta page: not a bbolt file, or its first pages were overwritten")
		}
		return true, damaged(path, "no valid meta page: %s", problem)
	}

	// Every valid meta must fit: bbolt picks the one with the higher
	// transaction id, and the other is the fallback.
	pageSize := int64(metas[0].pageSize)
	for _, m := range metas[1:] {
		if int64(m.pageSize) != pageSize {
			return true, damaged(path, "meta pages disagree on the page size (%d and %d)", pageSize, m.pageSize)
		}
	}
	need := 2 * pageSize
	for _, m := range metas {
		if m.pgid > uint64(maxFileSize/pageSize) {
			return true, damaged(path, "meta page refers to page %d", m.pgid)
		}
		need = max(need, int64(m.pgid)*pageSize)
	}
	if size < need {
		return true, damaged(path, "truncated to %d bytes, needs %d", size, need)
	}
	if size%pageSize != 0 {
		return true, damaged(path, "size %d bytes is not a multiple of its page size %d", size, pageSize)
	}
	return true, nil
}

// maxFileSize bounds the high water mark a meta may claim (bbolt's own
// limit on amd64 is 256 TiB).
const maxFileSize = 1 << 48
