package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/auth"
	"github.com/distribution/distribution/v3/registry/handlers"
	registrymiddleware "github.com/distribution/distribution/v3/registry/middleware/registry"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // registers the driver
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"   // registers the driver
	storagemiddleware "github.com/distribution/distribution/v3/registry/storage/driver/middleware"
	"github.com/sirupsen/logrus"
)

// accessControllerName is the name this package registers with
// distribution's global access-controller table.
const accessControllerName = "acremu-acr"

// catalogMaxEntries is the largest catalog page: distribution's default
// when configured from YAML. A literal Configuration leaves it at zero,
// which lists nothing and refuses any n above zero.
const catalogMaxEntries = 1000

var (
	setupOnce sync.Once
	setupErr  error
)

// setupDistribution registers the access controller and the driver tap and
// routes distribution's logrus output, once per process. These are
// process-wide tables in distribution and logrus, which is why this is not
// per Registry.
func setupDistribution() error {
	setupOnce.Do(func() {
		setupErr = errors.Join(
			auth.Register(accessControllerName, newAccessController),
			storagemiddleware.Register(driverTapName, driverTap),
			registrymiddleware.Register(catalogFilterName, newCatalogFilter),
		)
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.ErrorLevel)
		logrus.AddHook(slogHook{})
	})
	return setupErr
}

// newApp builds the distribution application of r, following the
// embedding recipe: storage at opts.StorageDir (or in memory), deletes on,
// redirects and distribution's upload purger off, a persisted HTTP secret,
// manifests with foreign-layer URLs accepted, r as the access controller,
// and the driver tap that hands r the storage driver distribution uses.
// NewApp panics on bad configuration; the panic becomes an error. With
// filesystem storage, acremu's own upload purger (purge.go) runs until the
// application shuts down.
func newApp(r *Registry, opts Options) (app *handlers.App, err error) {
	if err := setupDistribution(); err != nil {
		return nil, err
	}
	purgeAge, purgeInterval, purge, err := purgeSettings(opts)
	if err != nil {
		return nil, err
	}
	storage := configuration.Storage{
		"delete":      configuration.Parameters{"enabled": true},
		"redirect":    configuration.Parameters{"disable": true},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		"cache":       configuration.Parameters{"blobdescriptor": "inmemory"},
	}
	if opts.StorageDir == "" {
		storage["inmemory"] = configuration.Parameters{}
	} else {
		if err := os.MkdirAll(opts.StorageDir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
		storage["filesystem"] = configuration.Parameters{"rootdirectory": opts.StorageDir}
	}
	cfg := &configuration.Configuration{Storage: storage}
	cfg.HTTP.Secret = opts.HTTPSecret
	cfg.Validation.Manifests.URLs.Allow = []string{".*"}
	cfg.Catalog.MaxEntries = catalogMaxEntries
	cfg.Auth = configuration.Auth{accessControllerName: configuration.Parameters{accessControllerOption: r}}
	cfg.Middleware = map[string][]configuration.Middleware{
		"storage":  {{Name: driverTapName, Options: configuration.Parameters{accessControllerOption: r}}},
		"registry": {{Name: catalogFilterName, Options: configuration.Parameters{accessControllerOption: r}}},
	}

	defer func() {
		if v := recover(); v != nil {
			app, err = nil, fmt.Errorf("distribution: %v", v)
		}
	}()
	app = handlers.NewApp(context.Background(), cfg)
	if purge && opts.StorageDir != "" {
		// The App is a context that Shutdown cancels.
		startUploadPurger(app, r.driver, purgeAge, purgeInterval, r.now, r.log)
	}
	return app, nil
}

// slogHook forwards distribution's error-level log entries to slog. Most of
// them report ordinary client errors ("response completed with error" for a
// 404 manifest), so they go out at Debug; only server-side failures (status
// 500 and up, or no response status at all) are logged as errors.
type slogHook struct{}

func (slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel}
}

func (slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelError
	if status, ok := e.Data["http.response.status"].(int); ok && status < 500 {
		level = slog.LevelDebug
	}
	ctx := context.Background()
	logger := slog.Default()
	if !logger.Enabled(ctx, level) {
		return nil
	}
	attrs := make([]any, 0, 2*len(forwardedFields)+2)
	attrs = append(attrs, "component", "distribution")
	for _, k := range forwardedFields {
		if v, ok := e.Data[k]; ok {
			attrs = append(attrs, k, v)
		}
	}
	logger.Log(ctx, level, e.Message, attrs...)
	return nil
}

// forwardedFields are the distribution log fields worth keeping.
var forwardedFields = []string{
	"err.code", "err.message", "err.detail", "error",
	"http.request.method", "http.request.uri", "http.response.status", "vars.name",
}
