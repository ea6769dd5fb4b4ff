//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	subscription = "11111111-1111-1111-1111-111111111111"
	clientID     = "33333333-3333-3333-3333-333333333333"
	clientSecret = "acremu-dev-secret"
	natAddr      = "203.0.113.10"
	armAPI       = "2022-02-01-preview"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// acremuBinary builds cmd/acremu once per test process.
func acremuBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "acremu-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "acremu")
		build := runCommand(t, command{name: "go", args: []string{"build", "-o", binPath, "../cmd/acremu"}, env: []string{"CGO_ENABLED=0"}})
		if build.Err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", build.Err, build.Combined)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// freePort returns a TCP port that was free a moment ago on 127.0.0.1. Only
// for a port that has to be known before it is bound: one published by
// docker, or one shared by several listen addresses.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// instance is one running acremu process.
type instance struct {
	t       *testing.T
	args    []string
	DataDir string
	// Listeners are the front-end addresses as bound, in --listen order;
	// Port is the first one's port.
	Listeners []string
	Port      int
	cmd       *exec.Cmd
	logs      *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAcremu runs acremu serve with a fresh data dir, plus extra flags.
// The front end and every registry listen on ports the system picks, so
// there is nothing to race for; the banner says which.
func startAcremu(t *testing.T, extra ...string) *instance {
	t.Helper()
	in := &instance{t: t, DataDir: t.TempDir()}
	in.args = append([]string{"serve",
		"--data-dir", in.DataDir,
		"--listen", "127.0.0.1:0",
		"--registry-ports", "0",
	}, extra...)
	in.start()
	t.Cleanup(in.stop)
	return in
}

func (in *instance) start() {
	t := in.t
	t.Helper()
	in.logs = &syncBuffer{}
	in.cmd = exec.Command(acremuBinary(t), in.args...)
	in.cmd.Stderr = in.logs
	stdout, err := in.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, in.cmd.Start())
	// The banner lists the bound front-end addresses first; stdout is read
	// to its end so that acremu never blocks writing it.
	bound := make(chan []string, 1)
	go func() {
		var addrs []string
		sent := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sent {
				continue
			}
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				addrs = append(addrs, m[1])
			} else if len(addrs) > 0 {
				bound <- addrs
				sent = true
			}
		}
		if !sent {
			bound <- addrs // acremu exited
		}
	}()
	select {
	case in.Listeners = <-bound:
	case <-time.After(30 * time.Second):
		t.Fatalf("acremu printed no listening address in 30s; logs:\n%s", in.logs.String())
	}
	if len(in.Listeners) == 0 {
		t.Fatalf("acremu exited without listening; logs:\n%s", in.logs.String())
	}
	_, port, err := net.SplitHostPort(in.Listeners[0])
	require.NoError(t, err)
	in.Port, err = strconv.Atoi(port)
	require.NoError(t, err)
	in.waitHealthy()
}

// listeningLine is the banner's line for one bound front-end address.
var listeningLine = regexp.MustCompile(`^  listening +(\S+) `)

func (in *instance) waitHealthy() {
	t := in.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(in.URL("/_acremu/health"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("acremu did not become healthy; logs:\n%s", in.logs.String())
}

// kill9 kills acremu without any chance to clean up.
func (in *instance) kill9() {
	in.cmd.Process.Signal(syscall.SIGKILL)
	in.cmd.Wait()
}

// restart starts acremu again with the same flags and data dir, on the
// front-end addresses it had bound: clients (the docker daemon's stored
// login, for one) find it where they left it.
func (in *instance) restart() {
	listener := 0
	for i := 0; i+1 < len(in.args) && listener < len(in.Listeners); i++ {
		if in.args[i] == "--listen" {
			in.args[i+1] = in.Listeners[listener]
			listener++
		}
	}
	in.start()
}

func (in *instance) stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	in.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { in.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		in.cmd.Process.Kill()
		<-done
	}
	if in.t.Failed() {
		in.t.Logf("acremu logs:\n%s", in.logs.String())
	}
}

// Host is the front end's host:port.
func (in *instance) Host() string { return fmt.Sprintf("localhost:%d", in.Port) }

// URL is a plain-HTTP URL on the front end.
func (in *instance) URL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", in.Port, path)
}

// CAPool trusts acremu's CA.
func (in *instance) CAPool() *x509.CertPool {
	pem, err := os.ReadFile(filepath.Join(in.DataDir, "ca.crt"))
	require.NoError(in.t, err)
	p := x509.NewCertPool()
	require.True(in.t, p.AppendCertsFromPEM(pem))
	return p
}

// TLSClient is an HTTPS client that trusts acremu.
func (in *instance) TLSClient() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: in.CAPool()}}}
}

// armToken gets an ARM token for the development service principal.
func (in *instance) armToken() string {
	t := in.t
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {"https://management.azure.com/.default"}}
	resp, err := http.PostForm(in.URL("/adfs/oauth2/token"), form)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, 200, resp.StatusCode, string(body))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(body, &tok))
	return tok.AccessToken
}

// arm sends an authenticated ARM request and returns status and body.
func (in *instance) arm(method, path string, body any) (int, []byte) {
	t := in.t
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequest(method, in.URL(path+sep+"api-version="+armAPI), rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+in.armToken())
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func registryPath(rg, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerRegistry/registries/%s", subscription, rg, name)
}

// patchRegistry PATCHes a registry and requires 200.
func (in *instance) patchRegistry(rg, name string, body any) map[string]any {
	in.t.Helper()
	status, out := in.arm("PATCH", registryPath(rg, name), body)
	require.Equal(in.t, 200, status, string(out))
	var m map[string]any
	require.NoError(in.t, json.Unmarshal(out, &m))
	return m
}

// adminPassword returns the registry's first admin password.
func (in *instance) adminPassword(rg, name string) string {
	in.t.Helper()
	status, out := in.arm("POST", registryPath(rg, name)+"/listCredentials", nil)
	require.Equal(in.t, 200, status, string(out))
	var creds struct {
		Passwords []struct{ Name, Value string } `json:"passwords"`
	}
	require.NoError(in.t, json.Unmarshal(out, &creds))
	return creds.Passwords[0].Value
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return json.Unmarshal(b, v)
}

// requireCreatePolled fails t unless the create of registry name was
// followed by exactly one poll of the Azure-AsyncOperation URL it
// answered with, and that poll was answered 200: the client took ACR's
// long-running-operation path and found the operation finished at once,
// so it waited for no poll interval. The access log line of a poll may
// land a moment after the client saw the answer, hence the wait.
func (in *instance) requireCreatePolled(t *testing.T, name string) {
	t.Helper()
	poll := regexp.MustCompile(`(?i)msg="arm request" method=GET path=\S*/registries/` + regexp.QuoteMeta(name) +
		`/operationStatuses/registries-[0-9a-f-]{36} status=(\d+)`)
	var statuses []string
	require.Eventually(t, func() bool {
		statuses = statuses[:0]
		for _, m := range poll.FindAllStringSubmatch(in.logs.String(), -1) {
			statuses = append(statuses, m[1])
		}
		return len(statuses) > 0
	}, 10*time.Second, 20*time.Millisecond, "no poll of the create of %s in acremu's access log", name)
	require.Equal(t, []string{"200"}, statuses, "polls of the create of %s", name)
}
