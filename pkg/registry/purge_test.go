package registry

import (
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePurges replaces the purger's ticker and completion hooks for the
// test: ticks drives the purges, purged receives each one's deletions,
// and started counts the purgers started.
type fakePurges struct {
	ticks   chan time.Time
	purged  chan []string
	started atomic.Int32
	period  atomic.Int64 // interval of the last purger started
}

func newFakePurges(t *testing.T) *fakePurges {
	f := &fakePurges{ticks: make(chan time.Time), purged: make(chan []string, 1)}
	oldTicker, oldPurged := purgeTicker, uploadsPurged
	purgeTicker = func(d time.Duration) (<-chan time.Time, func()) {
		f.started.Add(1)
		f.period.Store(int64(d))
		return f.ticks, func() {}
	}
	uploadsPurged = func(deleted []string) { f.purged <- deleted }
	t.Cleanup(func() { purgeTicker, uploadsPurged = oldTicker, oldPurged })
	return f
}

// await returns the deletions of the next purge.
func (f *fakePurges) await(t *testing.T) []string {
	t.Helper()
	select {
	case d := <-f.purged:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no purge")
		return nil
	}
}

func (f *fakePurges) tick(t *testing.T) []string {
	t.Helper()
	f.ticks <- time.Time{}
	return f.await(t)
}

func TestUploadPurge(t *testing.T) {
	f := newFakePurges(t)
	dir := t.TempDir()
	var ahead atomic.Int64 // how far the registry's clock runs ahead
	e := newEnv(t, defaultConfig(), func(o *Options) {
		o.StorageDir = dir
		o.UploadPurgeAge = time.Hour
		o.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	})
	assert.Empty(t, f.await(t), "the purge at start finds nothing")
	assert.Equal(t, int64(defaultUploadPurgeInterval), f.period.Load())

	start := func() string {
		r := e.do(http.MethodPost, "/v2/hello/blobs/uploads/", nil, admin)
		require.Equal(t, http.StatusAccepted, r.status, r.body)
		u, err := url.Parse(r.header.Get("Location"))
		require.NoError(t, err)
		return u.Path
	}
	status := func(upload string) int { return e.do(http.MethodGet, upload, nil, admin).status }
	// backdate moves an upload's start, which distribution writes with the
	// wall clock into its startedat file.
	backdate := func(upload string, by time.Duration) {
		file := filepath.Join(dir, "docker/registry/v2/repositories/hello/_uploads", path.Base(upload), "startedat")
		_, err := os.Stat(file)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, []byte(time.Now().Add(-by).UTC().Format(time.RFC3339)), 0o600))
	}

	abandoned := start()
	require.Equal(t, http.StatusNoContent, status(abandoned))
	assert.Empty(t, f.tick(t), "younger than the age")
	assert.Equal(t, http.StatusNoContent, status(abandoned))

	backdate(abandoned, 61*time.Minute)
	fresh := start()
	deleted := f.tick(t)
	require.Len(t, deleted, 1, "older than the age")
	assert.Equal(t, path.Base(abandoned), path.Base(deleted[0]))
	assert.Equal(t, http.StatusNotFound, status(abandoned))
	assert.Equal(t, http.StatusNoContent, status(fresh))

	ahead.Store(int64(61 * time.Minute))
	assert.Len(t, f.tick(t), 1, "older by the registry's clock")
	assert.Equal(t, http.StatusNotFound, status(fresh))
}

func TestUploadPurgeSettings(t *testing.T) {
	tests := []struct {
		name         string
		storage      bool // filesystem rather than in-memory storage
		age, every   time.Duration
		wantErr      string
		wantPurger   bool
		wantInterval time.Duration
	}{
		{name: "defaults", storage: true, wantPurger: true, wantInterval: defaultUploadPurgeInterval},
		{name: "own interval", storage: true, age: time.Minute, every: time.Second, wantPurger: true, wantInterval: time.Second},
		{name: "disabled", storage: true, age: -1},
		{name: "disabled with an interval", storage: true, age: -1, every: time.Second},
		{name: "in-memory storage", storage: false},
		{name: "negative interval", storage: true, every: -time.Second, wantErr: "negative upload purge interval -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakePurges(t)
			opts := Options{HTTPSecret: "s", Signer: testSigner, Logger: quietLogger(), UploadPurgeAge: tt.age, UploadPurgeInterval: tt.every}
			if tt.storage {
				opts.StorageDir = t.TempDir()
			}
			cfg := defaultConfig()
			cfg.ID, cfg.LoginServer = "id", "myreg.azurecr.io"
			reg, err := New(opts, cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			defer reg.Close()
			if tt.wantPurger {
				f.await(t)
				assert.Equal(t, int32(1), f.started.Load())
				assert.Equal(t, int64(tt.wantInterval), f.period.Load())
			} else {
				assert.Zero(t, f.started.Load())
			}
		})
	}
}
