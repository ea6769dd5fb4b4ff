//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// netns is a network namespace the test created, joined to the root
// namespace by a veth pair: Addr inside, HostAddr on the root side, both in
// one /24 and nothing else configured.
type netns struct {
	Name     string
	Addr     string // inside the namespace
	HostAddr string // the root namespace's end of the link
}

// requireNetnsPrivileges skips unless the test may create network
// namespaces: it runs as root and iproute2's ip is installed.
func requireNetnsPrivileges(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2's ip is not installed")
	}
}

// ipCmd runs ip with args and requires success.
func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	runCommand(t, command{name: "ip", args: args, timeout: time.Minute}).MustSucceed(t)
}

// newNetns creates namespace name (link names from short, at most 4 bytes) with a veth pair to the root namespace:
// subnet is the first three octets of a /24 ("10.77.1"); the namespace
// gets .2, the root side .1. routes are further destinations (CIDRs) the
// namespace reaches through the root side. The namespace (and with it the
// pair) is deleted at cleanup.
func newNetns(t *testing.T, name, short, subnet string, routes ...string) *netns {
	t.Helper()
	n := &netns{Name: name, Addr: subnet + ".2", HostAddr: subnet + ".1"}
	// Fail early, and clearly, if the addresses are taken on this machine.
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && strings.HasPrefix(ipn.IP.String(), subnet+".") {
			t.Fatalf("%s is already configured on this machine; the test needs %s.0/24 for itself", ipn, subnet)
		}
	}
	// Interface names: at most 15 bytes, unique per test process.
	host, peer := fmt.Sprintf("%sh%d", short, os.Getpid()%100000), fmt.Sprintf("%sn%d", short, os.Getpid()%100000)
	runCommand(t, command{name: "ip", args: []string{"netns", "del", name}}) // a leftover of an earlier, killed run
	ipCmd(t, "netns", "add", name)
	t.Cleanup(func() {
		if del := runCommand(t, command{name: "ip", args: []string{"netns", "del", name}}); !del.OK() {
			t.Errorf("%s", del)
		}
		// The pair goes with the namespace; remove the root end if it stayed.
		runCommand(t, command{name: "ip", args: []string{"link", "del", host}})
	})
	ipCmd(t, "link", "add", host, "type", "veth", "peer", "name", peer)
	ipCmd(t, "link", "set", peer, "netns", name)
	ipCmd(t, "addr", "add", n.HostAddr+"/24", "dev", host)
	ipCmd(t, "link", "set", host, "up")
	ipCmd(t, "-n", name, "addr", "add", n.Addr+"/24", "dev", peer)
	ipCmd(t, "-n", name, "link", "set", peer, "up")
	ipCmd(t, "-n", name, "link", "set", "lo", "up")
	for _, r := range routes {
		ipCmd(t, "-n", name, "route", "add", r, "via", n.HostAddr)
	}
	return n
}

// craneIn is crane run inside ns with its own configuration (HOME and
// DOCKER_CONFIG private to this client). --insecure lets it reach a
// registry by address: acremu's certificate names localhost only.
func craneIn(t *testing.T, ns *netns) *clientCLI {
	t.Helper()
	dir, err := filepath.Abs(toolsBin)
	require.NoError(t, err)
	crane := filepath.Join(dir, "crane")
	_, err = os.Stat(crane)
	require.NoError(t, err, "crane is not installed: run scripts/install-clients.sh (make deps)")
	c := newClientCLI(t, "ip")
	c.env = append(c.env, "DOCKER_CONFIG="+filepath.Join(c.home, ".docker"))
	c.pre = []string{"netns", "exec", ns.Name, crane, "--insecure"}
	return c
}

// setnsTrap is setns(2)'s system call number; package syscall does not
// name it on every architecture.
var setnsTrap = map[string]uintptr{"amd64": 308, "arm64": 268, "riscv64": 268, "386": 346, "arm": 375, "ppc64le": 350, "s390x": 339}

// setns moves the calling thread into the network namespace open as f.
func setns(f *os.File) error {
	trap, ok := setnsTrap[runtime.GOARCH]
	if !ok {
		return fmt.Errorf("setns: unknown system call number on %s", runtime.GOARCH)
	}
	if _, _, e := syscall.Syscall(trap, f.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		return e
	}
	return nil
}

// HTTPClient is an HTTP client whose connections are opened inside the
// namespace: the dialing goroutine's thread enters it for the socket()
// and connect() calls only, and the socket stays in it afterwards.
func (n *netns) HTTPClient(t *testing.T) *http.Client {
	t.Helper()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer self.Close()
		target, err := os.Open("/run/netns/" + n.Name)
		if err != nil {
			runtime.UnlockOSThread()
			return nil, err
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread()
			return nil, fmt.Errorf("setns %s: %w", n.Name, err)
		}
		d := net.Dialer{Timeout: 30 * time.Second}
		conn, derr := d.DialContext(ctx, network, addr)
		if err := setns(self); err != nil {
			// Leave the thread locked: it dies with this goroutine
			// instead of serving others from the wrong namespace.
			if conn != nil {
				conn.Close()
			}
			return nil, fmt.Errorf("back from %s: %w", n.Name, err)
		}
		runtime.UnlockOSThread()
		return conn, derr
	}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}
