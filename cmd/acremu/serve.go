package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/acremu/acremu/pkg/firewall"
	"github.com/acremu/acremu/pkg/server"
)

// serveOptions are the parsed flags of `acremu serve`.
type serveOptions struct {
	cfg            server.Config
	listen         *listFlag
	nat            *listFlag
	trustedProxies *listFlag
	privateNets    *listFlag
	vnets          *listFlag
	trustedSvcNets *listFlag
	registryPorts  string
	logLevel       string
	logFormat      string
}

const serveUsage = "Usage: acremu serve [flags]\n\nRuns the registries' data plane, the ARM API and the token endpoints in one process.\n"

func serveFlags() (*flag.FlagSet, *serveOptions) {
	d := server.DefaultConfig()
	o := &serveOptions{
		cfg:            d,
		listen:         newListFlag(d.Listen...),
		nat:            newListFlag("127.0.0.0/8=203.0.113.10", "::1=203.0.113.10"),
		trustedProxies: newListFlag(),
		privateNets:    newListFlag(),
		vnets:          newListFlag(),
		trustedSvcNets: newListFlag(),
	}
	fs := newCommandFlags("acremu serve", serveUsage)
	c := &o.cfg
	fs.StringVar(&c.DataDir, "data-dir", d.DataDir, "directory for the state file, images, keys and the generated CA")
	fs.BoolVar(&c.InMemory, "in-memory", false, "keep nothing on disk (state is lost at exit)")
	fs.Var(o.listen, "listen", "front-end `address` (repeatable); every port speaks plain HTTP and TLS")
	fs.StringVar(&c.PublicHost, "public-host", d.PublicHost, "host `name` put into reported addresses (loginServer, realms)")
	fs.StringVar(&c.DefaultRegistry, "default-registry", d.DefaultRegistry, "registry created at first start and served on the front end (empty: none)")
	fs.StringVar(&o.registryPorts, "registry-ports", d.RegistryPorts.String(), "port `range` for the other registries, one port each ('0': a free port the system picks for each)")
	fs.StringVar(&c.Domain, "domain", "", "route registries by name: loginServer <name>.`DOMAIN` (instead of a port each)")
	fs.StringVar(&c.Subscription, "subscription", d.Subscription, "subscription `id` of the development identity")
	fs.StringVar(&c.Tenant, "tenant", d.Tenant, "tenant `id` of the development identity")
	fs.StringVar(&c.ClientID, "client-id", d.ClientID, "service principal client `id`")
	fs.StringVar(&c.ClientSecret, "client-secret", d.ClientSecret, "service principal `secret`")
	fs.Var(o.nat, "nat", "`CIDR=IP`: clients from CIDR appear to the firewall as public IP (repeatable; replaces the default; 'none' for no NAT)")
	fs.Var(o.trustedProxies, "trusted-proxy", "`CIDR` of peers allowed to report the client address (X-Forwarded-For, Forwarded, PROXY protocol; repeatable)")
	fs.BoolVar(&c.AllowAnyTrustedProxy, "allow-any-trusted-proxy", false, "accept --trusted-proxy ranges that cover everyone (0.0.0.0/0, ::/0): any client may then name its own address")
	fs.Var(o.vnets, "vnet", "`NAME=CIDR`: sources in CIDR are in the virtual network NAME, which private endpoints connect to registries (repeatable)")
	fs.Var(o.trustedSvcNets, "trusted-service-network", "`CIDR` of sources that stand for trusted Azure services: with a managed identity token they pass the rules of registries that allow trusted services (repeatable)")
	fs.Var(o.privateNets, "private-network", "removed: use --vnet NAME=CIDR and a private endpoint to each registry")
	fs.DurationVar(&c.RuleDelay, "rule-delay", 0, "rule changes reach the data plane after this `duration` (imitates ACR's propagation)")
	fs.DurationVar(&c.UploadPurgeAge, "upload-purge-age", 0, "remove unfinished blob uploads older than this `duration` (0: 168h; negative: never)")
	fs.DurationVar(&c.UploadPurgeInterval, "upload-purge-interval", 0, "look for unfinished uploads this often (0: 24h)")
	fs.DurationVar(&c.DenyLogInterval, "deny-log-interval", 0, "after a client's first firewall denial, log at most one line per client per `duration`, and a summary of the count once the client stops (0: 10s; negative: every denial; counters stay exact)")
	fs.IntVar(&c.MaxIPRules, "max-ip-rules", d.MaxIPRules, "IP rules allowed per registry")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate `file` to serve instead of one from the acremu CA")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	fs.StringVar(&o.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	return fs, o
}

// config turns the parsed flags into a server configuration.
func (o *serveOptions) config() (server.Config, error) {
	c := o.cfg
	var errs []error
	c.Listen = o.listen.values
	pr, err := server.ParsePortRange(o.registryPorts)
	if err != nil {
		errs = append(errs, err)
	}
	c.RegistryPorts = pr
	c.NAT = nil
	for _, v := range o.nat.values {
		n, err := firewall.ParseNAT(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--nat: %w", err))
			continue
		}
		c.NAT = append(c.NAT, n)
	}
	parse := func(flagName string, values []string) []netip.Prefix {
		var out []netip.Prefix
		for _, v := range values {
			p, err := firewall.ParsePrefix(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("--%s %q: %v", flagName, v, err))
				continue
			}
			out = append(out, p)
		}
		return out
	}
	c.TrustedProxies = parse("trusted-proxy", o.trustedProxies.values)
	if len(o.privateNets.values) > 0 {
		errs = append(errs, errors.New("--private-network is no longer supported: it admitted private sources to every registry. "+
			"Declare the network with --vnet NAME=CIDR and create a private endpoint from it to each registry (see docs/network-access.md)"))
	}
	for _, v := range o.vnets.values {
		vn, err := firewall.ParseVNet(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%w", err))
			continue
		}
		c.VNets = append(c.VNets, vn)
	}
	c.TrustedServiceNetworks = parse("trusted-service-network", o.trustedSvcNets.values)
	return c, errors.Join(errs...)
}

func newLogger(level, format string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func serve(args []string) int {
	fs, o := serveFlags()
	if status, ok := parseCommandFlags(fs, args, refuseArguments); !ok {
		return status
	}
	cfg, err := o.config()
	if err == nil {
		cfg.Logger, err = newLogger(o.logLevel, o.logFormat, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "acremu serve:", err)
		return 2
	}
	slog.SetDefault(cfg.Logger)

	srv, err := server.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "acremu serve:", err)
		return 1
	}
	srv.Start()
	printBanner(os.Stdout, cfg, srv.Info())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Close(shutdownCtx); err != nil {
		cfg.Logger.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

func printBanner(w io.Writer, cfg server.Config, info server.Info) {
	fmt.Fprintf(w, "acremu %s: Azure Container Registry emulator with an enforcing firewall\n", version)
	for _, l := range info.Listeners {
		fmt.Fprintf(w, "  listening       %s (HTTP and HTTPS on the same port)\n", l)
	}
	switch {
	case info.CAPath != "":
		fmt.Fprintf(w, "  CA certificate  %s (also at %s)\n", info.CAPath, info.CAURL)
	case info.CAURL != "":
		fmt.Fprintf(w, "  CA certificate  %s (in memory)\n", info.CAURL)
	}
	if cfg.InMemory {
		fmt.Fprintln(w, "  state           in memory (lost at exit)")
	} else {
		fmt.Fprintf(w, "  state           %s\n", cfg.DataDir)
	}
	fmt.Fprintf(w, "  subscription    %s\n  tenant          %s\n  client id       %s\n  client secret   %s\n",
		cfg.Subscription, cfg.Tenant, cfg.ClientID, cfg.ClientSecret)
	for _, n := range cfg.NAT {
		fmt.Fprintf(w, "  NAT             clients from %s appear as %s\n", n.From, n.To)
	}
	if d := info.Default; d != nil {
		fmt.Fprintf(w, "  registry        %s at %s\n  admin user      %s\n  password        %s\n  password2       %s\n",
			d.Name, d.LoginServer, d.Username, d.Passwords[0], d.Passwords[1])
		front := dialable(info.Listeners[0])
		fmt.Fprintf(w, "\nNext:\n  docker login %s -u %s -p %s\n", d.LoginServer, d.Username, d.Passwords[0])
		fmt.Fprintf(w, "  curl http://%s/_acremu/whoami          # your address as the firewall sees it\n", front)
		fmt.Fprintf(w, "  open http://%s/portal/                  # the portal: Networking blade, access keys\n", front)
		fmt.Fprintf(w, "  eval \"$(acremu az-login --server https://%s)\"  # then: az acr update -n %s --default-action Deny\n",
			front, d.Name)
	}
}

// dialable turns a listening address into one a local client can use: a
// wildcard host (0.0.0.0, [::], empty) becomes 127.0.0.1, which a [::]
// listener also accepts (Go's wildcard sockets are dual-stack) and which
// exists even where IPv6 is off. The banner and the health check both use it.
func dialable(listenAddr string) string {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return listenAddr
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
