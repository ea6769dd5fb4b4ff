package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/acremu/acremu/pkg/server"
)

// startupDomain routes registries by name, so that 1,000 of them need no
// ports.
const startupDomain = "bench.test"

// measureStartup grows one data directory to 1, 100 and o.maxRegs
// registries (created through ARM) and restarts acremu on it o.startRuns
// times per count, from process start to the first healthy answer.
func measureStartup(o options, dir string, res *results) error {
	counts := []int{1, 100, o.maxRegs}
	if o.maxRegs < 100 {
		counts = []int{1, o.maxRegs}
	}
	extra := []string{"--domain", startupDomain}
	a, err := startAcremu(o.acremu, dir, extra) // first start: creates the state
	if err != nil {
		return err
	}
	have := 1
	for _, n := range counts {
		start := time.Now()
		if err := createRegistries(a.arm, have, n); err != nil {
			a.proc.stop()
			return err
		}
		if n > have {
			log.Printf("created %d registries through ARM in %v", n-have, time.Since(start).Round(time.Millisecond))
		}
		have = n
		a.proc.stop()
		var runs []time.Duration
		for run := range o.startRuns {
			if a, err = startAcremu(o.acremu, dir, extra); err != nil {
				return err
			}
			runs = append(runs, a.startup)
			if run < o.startRuns-1 {
				a.proc.stop()
			}
		}
		time.Sleep(time.Second) // idle
		rss, err := a.proc.rssMiB()
		if err != nil {
			a.proc.stop()
			return err
		}
		res.startup = append(res.startup, startupResult{registries: n, runs: runs, rssMiB: rss})
	}
	a.proc.stop()
	return nil
}

// createRegistries creates registries bench0001… until there are want in
// all (the default registry counts), four requests at a time.
func createRegistries(arm *armClient, have, want int) error {
	if _, err := arm.bearer(); err != nil {
		return err
	}
	names := make(chan string)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range names {
				if err := arm.createRegistry(name); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := have; i < want; i++ {
		select {
		case names <- fmt.Sprintf("bench%04d", i):
		case err = <-errs:
			break feed
		}
	}
	close(names)
	wg.Wait()
	close(errs)
	if err == nil {
		err = <-errs
	}
	return err
}

// inProcessStart starts acremu in this process (in memory, as tests do)
// runs times and returns the durations from server.New to the first
// healthy answer.
func inProcessStart(runs int) ([]time.Duration, error) {
	var out []time.Duration
	for range runs {
		cfg := server.DefaultConfig()
		cfg.InMemory = true
		cfg.Listen = []string{"127.0.0.1:0"}
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		start := time.Now()
		s, err := server.New(cfg)
		if err != nil {
			return nil, err
		}
		s.Start()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = waitHealthy(ctx, fmt.Sprintf("http://127.0.0.1:%d/_acremu/health", s.FrontPort()))
		out = append(out, time.Since(start))
		cancel()
		_ = s.Close(context.Background())
		if err != nil {
			return nil, err
		}
	}
	slices.Sort(out)
	return out, nil
}
