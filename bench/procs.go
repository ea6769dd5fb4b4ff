package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"
)

// proc is a server process started by the benchmark.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(name string, args []string, env []string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr // the banner on stdout is not needed
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// stop ends the process with SIGTERM (SIGKILL after 10 s) and waits.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// rssMiB is the process's resident memory.
func (p *proc) rssMiB() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// acremuServer is an acremu process with its default registry.
type acremuServer struct {
	*target
	port    int
	arm     *armClient
	startup time.Duration // from process start to the first healthy answer
}

// startAcremu starts acremu with state in dir, its default registry on the
// front end, and waits until it is healthy. extra are more flags.
func startAcremu(bin, dir string, extra []string) (*acremuServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--data-dir", dir, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--log-level", "error"}, extra...)
	start := time.Now()
	p, err := startProc(bin, args, nil)
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitHealthy(ctx, base+"/_acremu/health"); err != nil {
		p.stop()
		return nil, err
	}
	a := &acremuServer{
		target:  &target{name: "acremu", base: base, host: fmt.Sprintf("localhost:%d", port), proc: p},
		port:    port,
		arm:     &armClient{base: base},
		startup: time.Since(start),
	}
	return a, nil
}

// lockDown sets the default registry to default action Deny with an IP
// rule for the client's NAT address, as a locked-down registry runs, and
// takes a bearer token for the benchmark's repository.
func (a *acremuServer) lockDown() error {
	if err := a.arm.setRules(defaultRegistry, true); err != nil {
		return err
	}
	pw, err := a.arm.password(defaultRegistry)
	if err != nil {
		return err
	}
	tok, err := a.target.acrToken(defaultRegistry, pw, "repository:"+repo+":pull,push")
	if err != nil {
		return err
	}
	a.auth = "Bearer " + tok
	return nil
}

// distributionServer is bare distribution with filesystem storage.
type distributionServer struct {
	*target
	root string
}

const distributionConfig = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:%d
  secret: bench
`

func startDistribution(bin, dir string) (*distributionServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	root := filepath.Join(dir, "storage")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, distributionConfig, root, port), 0o600); err != nil {
		return nil, err
	}
	p, err := startProc(bin, []string{"serve", cfg}, []string{"OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none"})
	if err != nil {
		return nil, err
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := waitHealthy(ctx, base+"/v2/"); err != nil {
		p.stop()
		return nil, err
	}
	return &distributionServer{target: &target{name: "distribution", base: base, host: fmt.Sprintf("127.0.0.1:%d", port), proc: p}, root: root}, nil
}

// blobFile is the data file distribution keeps for d.
func (d *distributionServer) blobFile(dg digest.Digest) string {
	hex := dg.Encoded()
	return filepath.Join(d.root, "docker/registry/v2/blobs", dg.Algorithm().String(), hex[:2], hex, "data")
}

// startFileServer serves file with http.ServeContent from a process of
// this binary.
func startFileServer(file string) (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := startProc(self, []string{"-serve-file", file, "-addr", addr}, nil)
	if err != nil {
		return nil, err
	}
	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := waitHealthy(ctx, base+"/"); err != nil {
		p.stop()
		return nil, err
	}
	return &target{name: "ServeContent", base: base, host: addr, proc: p, plainFile: true}, nil
}

// machine describes where the benchmark ran.
type machine struct {
	cpu    string
	cores  int
	goVer  string
	kernel string
	date   string
}

func describeMachine() machine {
	m := machine{cpu: "unknown", cores: runtime.NumCPU(), goVer: runtime.Version(), date: time.Now().UTC().Format("2006-01-02")}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	return m
}

func (m machine) String() string {
	return fmt.Sprintf("Machine: %s, %d cores, Linux %s, %s, %s/%s; measured %s.",
		m.cpu, m.cores, m.kernel, m.goVer, runtime.GOOS, runtime.GOARCH, m.date)
}
