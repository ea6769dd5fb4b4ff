package registry

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// Upload purging defaults: distribution's (registry/handlers/app.go
// uploadPurgeDefaultConfig).
const (
	defaultUploadPurgeAge      = 168 * time.Hour
	defaultUploadPurgeInterval = 24 * time.Hour
)

// purgeTicker makes the purger's ticker; a test replaces it to drive the
// purges.
var purgeTicker = func(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// uploadsPurged is called after every purge with the upload directories
// it deleted; a test replaces it to await a purge.
var uploadsPurged = func(deleted []string) {}

// purgeSettings resolves Options' purge fields: zero means the default, a
// negative age disables purging.
func purgeSettings(opts Options) (age, interval time.Duration, enabled bool, err error) {
	age, interval = opts.UploadPurgeAge, opts.UploadPurgeInterval
	if interval < 0 {
		return 0, 0, false, fmt.Errorf("negative upload purge interval %v", interval)
	}
	if age < 0 {
		return 0, 0, false, nil
	}
	if age == 0 {
		age = defaultUploadPurgeAge
	}
	if interval == 0 {
		interval = defaultUploadPurgeInterval
	}
	return age, interval, true, nil
}

// startUploadPurger deletes the uploads that were started more than age
// ago and never finished: once at start (an emulator seldom lives for a
// whole interval) and then every interval, until ctx ends.
//
// It stands in for distribution's own purger, which is configured off: that
// one waits a random 0 to 59 minutes before its first run and reads the
// wall clock, while this one uses the registry's clock and can be driven
// by a test. Both call storage.PurgeUploads, which judges an upload by its
// startedat file.
func startUploadPurger(ctx context.Context, d storagedriver.StorageDriver, age, interval time.Duration, now func() time.Time, log *slog.Logger) {
	tick, stop := purgeTicker(interval)
	purged := uploadsPurged
	go func() {
		defer stop()
		for {
			var deleted []string
			var errs []error
			// Before the first push there is nothing to walk.
			if _, err := d.Stat(ctx, repositoriesRoot); !isPathNotFound(err) {
				deleted, errs = storage.PurgeUploads(ctx, d, now().Add(-age), true)
			}
			if len(deleted) > 0 {
				log.Info("purged abandoned uploads", "count", len(deleted), "olderThan", age)
			}
			if len(errs) > 0 && ctx.Err() == nil {
				log.Warn("upload purge failed", "errors", len(errs), "first", errs[0])
			}
			purged(deleted)
			select {
			case <-tick:
			case <-ctx.Done():
				return
			}
		}
	}()
}
