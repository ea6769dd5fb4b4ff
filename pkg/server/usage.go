package server

import (
	"io/fs"
	"path/filepath"

	"github.com/acremu/acremu/pkg/mgmt"
	"github.com/acremu/acremu/pkg/store"
)

var _ mgmt.UsageReporter = (*hooks)(nil)

// UsedBytes is the size of the files in rec's storage directory, which
// listUsages reports as the Size usage (0 for in-memory storage).
func (h *hooks) UsedBytes(rec store.Registry) int64 {
	dir := (*Server)(h).storageDir(rec)
	if dir == "" {
		return 0
	}
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
