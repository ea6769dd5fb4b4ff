// Command bench compares acremu with bare distribution v3.1.2 and with the
// machine's limit for serving a file (http.ServeContent of the blob file),
// all on loopback, and prints one table. scripts/bench.sh builds the two
// servers and runs it; `make bench` and `make bench-smoke` call that script.
//
// Targets are measured in interleaved rounds (A B C, B C A, …) so that
// machine noise hits all of them alike, and every comparison is the median
// of the per-round ratios. No result is asserted: speed belongs in the
// table, not in a test.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

// options are the command's flags.
type options struct {
	acremu    string // acremu binary
	registry  string // bare distribution binary (cmd/registry v3.1.2)
	out       string // markdown file to update; "" prints only
	rounds    int
	rateDur   time.Duration // per target and round, for request-rate tests
	conns     int           // keep-alive connections of the request-rate tests
	blobMiB   int
	blobGets  int // full blob GETs per target and round
	startRuns int
	maxRegs   int // largest registry count of the start-up test
	rules     int // rule changes measured
	smoke     bool
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("bench: ")
	var o options
	var serveFile, serveAddr string
	flag.StringVar(&o.acremu, "acremu", "", "acremu `binary`")
	flag.StringVar(&o.registry, "registry", "", "bare distribution `binary` (cmd/registry v3.1.2)")
	flag.StringVar(&o.out, "out", "", "markdown `file` whose generated section is replaced with the results")
	flag.IntVar(&o.rounds, "rounds", 7, "interleaved rounds")
	flag.DurationVar(&o.rateDur, "rate-duration", time.Second, "`duration` of one request-rate run")
	flag.IntVar(&o.conns, "conns", 8, "keep-alive connections of a request-rate run")
	flag.IntVar(&o.blobMiB, "blob-mib", 64, "blob size in MiB")
	flag.IntVar(&o.blobGets, "blob-gets", 16, "full blob GETs per target and round")
	flag.IntVar(&o.startRuns, "startup-runs", 3, "start-ups measured per registry count")
	flag.IntVar(&o.maxRegs, "registries", 1000, "largest registry count of the start-up test (also 1 and 100)")
	flag.IntVar(&o.rules, "rule-changes", 50, "rule changes measured")
	flag.BoolVar(&o.smoke, "smoke", false, "tiny sizes and one round: checks that the benchmark still runs")
	flag.StringVar(&serveFile, "serve-file", "", "internal: serve this `file` with http.ServeContent on -addr")
	flag.StringVar(&serveAddr, "addr", "", "internal: address for -serve-file")
	flag.Parse()

	if serveFile != "" {
		log.Fatal(serveContent(serveFile, serveAddr))
	}
	if o.acremu == "" || o.registry == "" {
		log.Fatal("-acremu and -registry are required (scripts/bench.sh builds both)")
	}
	if o.smoke {
		o.rounds, o.rateDur, o.conns = 1, 100*time.Millisecond, 2
		o.blobMiB, o.blobGets, o.startRuns, o.maxRegs, o.rules = 1, 2, 1, 10, 3
	}
	res, err := run(o)
	if err != nil {
		log.Fatal(err)
	}
	table := res.table()
	fmt.Println(res.machine.String())
	fmt.Println(table)
	if o.out != "" {
		if err := writeDoc(o.out, res.machine.String()+"\n"+table); err != nil {
			log.Fatal(err)
		}
		fmt.Println("updated", o.out)
	}
}

// serveContent is the limit: a plain file server of one file, run as a
// process of its own like the two registries.
func serveContent(file, addr string) error {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(file)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "", time.Time{}, f)
	})
	return http.ListenAndServe(addr, h)
}

// run starts the servers and measures everything.
func run(o options) (*results, error) {
	res := &results{opts: o, machine: describeMachine()}
	work, err := os.MkdirTemp("", "acremu-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()

	log.Print("starting acremu, bare distribution and the file server")
	acr, err := startAcremu(o.acremu, work+"/acremu", nil)
	if err != nil {
		return nil, err
	}
	procs = append(procs, acr.proc)
	dist, err := startDistribution(o.registry, work+"/distribution")
	if err != nil {
		return nil, err
	}
	procs = append(procs, dist.proc)
	if err := acr.lockDown(); err != nil {
		return nil, err
	}

	img, err := newImage(o.blobMiB<<20, 1)
	if err != nil {
		return nil, err
	}
	for _, t := range []*target{acr.target, dist.target} {
		if err := t.pushImage(img); err != nil {
			return nil, fmt.Errorf("%s: push: %w", t.name, err)
		}
	}
	limit, err := startFileServer(dist.blobFile(img.layerDigest))
	if err != nil {
		return nil, err
	}
	procs = append(procs, limit.proc)
	for _, t := range []*target{acr.target, dist.target, limit} {
		if err := t.verifyBlob(img); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
	}

	log.Print("request rates")
	pair := []*target{acr.target, dist.target}
	trio := []*target{acr.target, dist.target, limit}
	res.v2 = interleave(o.rounds, pair, func(t *target) (float64, error) { return t.rate(o, t.v2Request()) })
	res.head = interleave(o.rounds, pair, func(t *target) (float64, error) { return t.rate(o, t.manifestRequest(http.MethodHead)) })
	res.get = interleave(o.rounds, pair, func(t *target) (float64, error) { return t.rate(o, t.manifestRequest(http.MethodGet)) })
	log.Print("blob GETs")
	res.blob1 = interleave(o.rounds, trio, func(t *target) (float64, error) { return t.blobGets(img, 1, o.blobGets) })
	res.blob8 = interleave(o.rounds, trio, func(t *target) (float64, error) { return t.blobGets(img, 8, o.blobGets) })
	log.Print("pushes")
	seed := uint64(100)
	var layer *image
	res.push = interleave(o.rounds, pair, func(t *target) (float64, error) {
		if t == pair[0] || layer == nil { // a new layer per round, the same for both
			seed++
			if layer, err = newImage(o.blobMiB<<20, seed); err != nil {
				return 0, err
			}
		}
		return t.pushLayer(layer)
	})
	for _, m := range []*measure{res.v2, res.head, res.get, res.blob1, res.blob8, res.push} {
		if m.err != nil {
			return nil, m.err
		}
	}

	log.Print("rule changes")
	if res.ruleChange, res.ruleNext, err = acr.ruleChanges(o.rules); err != nil {
		return nil, err
	}
	for _, p := range procs {
		p.stop()
	}
	procs = nil

	log.Print("start-up and memory")
	if err := measureStartup(o, work+"/startup", res); err != nil {
		return nil, err
	}
	if res.inProcess, err = inProcessStart(o.startRuns * 3); err != nil {
		return nil, err
	}
	return res, nil
}

// interleave runs f for every target in every round, rotating the order
// each round, and keeps the values per target.
func interleave(rounds int, targets []*target, f func(*target) (float64, error)) *measure {
	m := &measure{values: make([][]float64, len(targets))}
	for r := range rounds {
		for i := range targets {
			k := (i + r) % len(targets)
			v, err := f(targets[k])
			if err != nil {
				m.err = fmt.Errorf("%s: %w", targets[k].name, err)
				return m
			}
			m.values[k] = append(m.values[k], v)
		}
	}
	return m
}

// discard is io.Discard without ReadFrom, so the caller's buffer is used.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

var _ io.Writer = discard{}

// waitHealthy polls url until it answers 200.
func waitHealthy(ctx context.Context, url string) error {
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not healthy: %v", url, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}
