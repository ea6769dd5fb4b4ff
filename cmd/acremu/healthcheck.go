package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/acremu/acremu/pkg/server"
)

// healthcheck probes a running acremu's /_acremu/health. It exists for
// container healthchecks: the acremu image has no shell and no curl.
func healthcheck(args []string) int {
	fs := flag.NewFlagSet("acremu healthcheck", flag.ContinueOnError)
	listen := newListFlag(server.DefaultConfig().Listen...)
	fs.Var(listen, "listen", "`address` acremu serve listens on (the first is probed; 0.0.0.0 and :: mean this host)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this `duration`")
	fs.Usage = usage(fs, `Usage: acremu healthcheck [flags]

Exits 0 when the acremu listening on --listen answers GET /_acremu/health
with 200, 1 otherwise. It reads the same ACREMU_LISTEN as acremu serve, so a
container's healthcheck follows its listen address.
`)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := applyEnv(fs); err != nil {
		fmt.Fprintln(os.Stderr, "acremu healthcheck:", err)
		return 2
	}
	if len(listen.values) == 0 {
		fmt.Fprintln(os.Stderr, "acremu healthcheck: --listen is empty")
		return 2
	}
	u, err := healthURL(listen.values[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "acremu healthcheck:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
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
