package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/acremu/acremu/pkg/server"
)

const healthcheckUsage = `Usage: acremu healthcheck [flags]

Exits 0 when the acremu listening on --listen answers GET /_acremu/health
with 200, 1 otherwise. It reads the same ACREMU_LISTEN as acremu serve, so a
container's healthcheck follows its listen address.
`

// healthcheckOptions are the parsed flags of `acremu healthcheck`.
type healthcheckOptions struct {
	listen  *listFlag
	timeout time.Duration
}

func healthcheckFlags() (*flag.FlagSet, *healthcheckOptions) {
	o := &healthcheckOptions{listen: newListFlag(server.DefaultConfig().Listen...)}
	fs := newCommandFlags("acremu healthcheck", healthcheckUsage)
	fs.Var(o.listen, "listen", "`address` acremu serve listens on (the first is probed; 0.0.0.0 and :: mean this host)")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Second, "give up after this `duration`")
	return fs, o
}

// healthcheck probes a running acremu's /_acremu/health. It exists for
// container healthchecks: the acremu image has no shell and no curl.
func healthcheck(args []string) int {
	fs, o := healthcheckFlags()
	if status, ok := parseCommandFlags(fs, args, ignoreArguments); !ok {
		return status
	}
	if len(o.listen.values) == 0 {
		fmt.Fprintln(os.Stderr, "acremu healthcheck: --listen is empty")
		return 2
	}
	u, err := healthURL(o.listen.values[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "acremu healthcheck:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	if err := probe(ctx, u); err != nil {
		fmt.Fprintln(os.Stderr, "acremu healthcheck:", err)
		return 1
	}
	return 0
}

// healthURL is the plain-HTTP health URL of a listen address; wildcard
// hosts are probed over loopback.
func healthURL(listen string) (string, error) {
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return "", fmt.Errorf("--listen %q: %v", listen, err)
	}
	return "http://" + dialable(listen) + "/_acremu/health", nil
}

func probe(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d", u, resp.StatusCode)
	}
	return nil
}
