//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// azCLI runs the real Azure CLI against one acremu instance. It is set up
// exactly as a user would: eval "$(acremu az-login ...)" in bash, whose
// resulting environment every later az call inherits. A Python audit hook
// (testdata/azaudit/sitecustomize.py) logs every name lookup and connection
// attempt of az and of the Python processes it starts, and blocks anything
// that is not loopback; the test fails if az tried to reach anything else.
type azCLI struct {
	t        *testing.T
	env      []string
	auditLog string
	// LoginOutput is what the eval of az-login's lines printed.
	LoginOutput string
}

// Environment variables that would let the caller's own az or proxy set-up
// leak into the test.
var azEnvDrop = regexp.MustCompile(`^(AZURE_[A-Z_]*|AZ_[A-Z_]*|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|SSL_CERT_FILE|PYTHON[A-Z_]*|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|DOCKER_CONFIG|HOME)=`)

// newAzCLI logs az in to in with acremu az-login. extraEnv (e.g. a
// DOCKER_CONFIG shared with the docker CLI) is added to az's environment.
func newAzCLI(t *testing.T, in *instance, extraEnv ...string) *azCLI {
	t.Helper()
	_, err := exec.LookPath("az")
	require.NoError(t, err, "the Azure CLI is not installed (scripts/test-deps.sh installs it)")
	hookDir, err := filepath.Abs(filepath.Join("testdata", "azaudit"))
	require.NoError(t, err)
	tmp := t.TempDir()
	az := &azCLI{t: t, auditLog: filepath.Join(tmp, "az-network-audit.log")}

	var base []string
	for _, kv := range os.Environ() {
		if !azEnvDrop.MatchString(kv) {
			base = append(base, kv)
		}
	}
	base = append(base,
		"HOME="+filepath.Join(tmp, "home"),
		"PYTHONPATH="+hookDir,
		"PYTHONDONTWRITEBYTECODE=1", // no __pycache__ in the source tree
		"ACREMU_AZ_AUDIT_LOG="+az.auditLog,
		"ACREMU_BIN="+acremuBinary(t),
		"ACREMU_SERVER="+fmt.Sprintf("https://127.0.0.1:%d", in.Port),
		"ACREMU_AZ_DIR="+filepath.Join(tmp, "azconfig"),
	)
	base = append(base, extraEnv...)
	require.NoError(t, os.MkdirAll(filepath.Join(tmp, "home"), 0o700))

	// The README's path, verbatim apart from the flags: eval the lines in
	// bash, then dump the environment the user's shell would now have.
	envFile := filepath.Join(tmp, "env")
	script := `out=$("$ACREMU_BIN" az-login --server "$ACREMU_SERVER" --config-dir "$ACREMU_AZ_DIR") || exit 97
eval "$out" || exit 98
env -0 > "$1"`
	login := runCommand(t, command{name: "bash", args: []string{"-c", script, "bash", envFile}, environ: base, timeout: 2 * time.Minute})
	require.NoError(t, login.Err, "eval \"$(acremu az-login)\" failed\nstdout:\n%s\nstderr:\n%s", login.Stdout, login.Stderr)
	az.LoginOutput = login.Stdout
	raw, err := os.ReadFile(envFile)
	require.NoError(t, err)
	for _, kv := range strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00") {
		// Bash's own bookkeeping is not part of what a user exports.
		if !strings.HasPrefix(kv, "_=") && !strings.HasPrefix(kv, "SHLVL=") && !strings.HasPrefix(kv, "PWD=") && !strings.HasPrefix(kv, "OLDPWD=") {
			az.env = append(az.env, kv)
		}
	}
	t.Cleanup(az.checkAudit)
	return az
}

// Getenv returns a variable of az's environment.
func (az *azCLI) Getenv(key string) string {
	for _, kv := range az.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// run runs az with args in az's environment; a non-zero exit is a result,
// not being able to run az at all fails the test.
func (az *azCLI) run(t *testing.T, args ...string) result {
	t.Helper()
	res := runCommand(t, command{name: "az", args: args, environ: az.env, timeout: 3 * time.Minute})
	var exit *exec.ExitError
	if res.Err != nil && !errors.As(res.Err, &exit) {
		t.Fatalf("%s: %v", res.Line, res.Err)
	}
	return res
}

// ok runs az and requires exit 0.
func (az *azCLI) ok(t *testing.T, args ...string) result {
	t.Helper()
	return az.run(t, args...).MustSucceed(t)
}

// json runs az with JSON output, requires exit 0 and decodes stdout into a
// generic value.
func (az *azCLI) json(t *testing.T, args ...string) jsonValue {
	t.Helper()
	res := az.ok(t, append(args, "--output", "json")...)
	var v any
	require.NoError(t, json.Unmarshal([]byte(res.Stdout), &v), res.String())
	return jsonValue{v}
}

// fail runs az and requires a non-zero exit code.
func (az *azCLI) fail(t *testing.T, args ...string) result {
	t.Helper()
	return az.run(t, args...).MustFail(t)
}

// armError requires az to fail with an ARM error printed as ACR prints
// it: "(Code) Message", then "Code: Code" and "Message: Message".
func (az *azCLI) armError(t *testing.T, code, message string, args ...string) result {
	t.Helper()
	res := az.fail(t, args...)
	require.Contains(t, res.Stderr, "("+code+") "+message, res.String())
	require.Contains(t, res.Stderr, "Code: "+code, res.String())
	require.Contains(t, res.Stderr, "Message: "+message, res.String())
	return res
}

// checkAudit fails the test if az tried to reach anything but loopback, or
// if the hook never ran (an empty log proves nothing).
func (az *azCLI) checkAudit() {
	t := az.t
	a, err := readAudit(az.auditLog)
	if err != nil {
		t.Errorf("az network audit: %v", err)
		return
	}
	if a.processes == 0 || a.loopbackConnects == 0 {
		t.Errorf("az network audit: the hook logged %d processes and %d loopback connections; it did not watch az", a.processes, a.loopbackConnects)
	}
	if len(a.blocked) > 0 {
		t.Errorf("az tried to reach the network beyond loopback:\n%s", strings.Join(a.blocked, "\n"))
	}
	t.Logf("az network audit: %d az processes, %d loopback connections, nothing else", a.processes, a.loopbackConnects)
}

// audit is what the hook's log says.
type audit struct {
	processes, loopbackConnects int
	blocked                     []string // lines of attempts beyond loopback
}

func readAudit(path string) (audit, error) {
	var a audit
	raw, err := os.ReadFile(path)
	if err != nil {
		return a, fmt.Errorf("no log (the audit hook did not load): %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 3 {
			return a, fmt.Errorf("malformed line %q", sc.Text())
		}
		switch f[0] {
		case "start":
			a.processes++
		case "ok":
			if f[1] == "socket.connect" && strings.HasPrefix(f[2], "127.0.0.1:") {
				a.loopbackConnects++
			}
		default:
			a.blocked = append(a.blocked, sc.Text())
		}
	}
	return a, sc.Err()
}

// TestAzAuditHookBlocksTheNetwork shows that the hook the az tests rely on
// sees and stops what they must never do: reaching beyond loopback.
func TestAzAuditHookBlocksTheNetwork(t *testing.T) {
	hookDir, err := filepath.Abs(filepath.Join("testdata", "azaudit"))
	require.NoError(t, err)
	log := filepath.Join(t.TempDir(), "audit.log")
	tests := []struct {
		name, code string
		blocked    bool
	}{
		{"name lookup", `socket.getaddrinfo("dc.services.visualstudio.com", 443)`, true},
		{"connect by address", `socket.create_connection(("192.0.2.1", 443), timeout=1)`, true},
		{"loopback", `socket.getaddrinfo("localhost", 443); socket.getaddrinfo("127.0.0.1", 443)`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := readAudit(log)
			py := runCommand(t, command{name: "python3", args: []string{"-c", "import socket; " + tc.code},
				env: []string{"PYTHONPATH=" + hookDir, "PYTHONDONTWRITEBYTECODE=1", "ACREMU_AZ_AUDIT_LOG=" + log}})
			after, err := readAudit(log)
			require.NoError(t, err)
			require.Equal(t, before.processes+1, after.processes, "the hook loaded")
			if tc.blocked {
				require.Error(t, py.Err, py.Combined)
				require.Contains(t, py.Combined, "only loopback is allowed")
				require.Len(t, after.blocked, len(before.blocked)+1)
			} else {
				require.NoError(t, py.Err, py.Combined)
				require.Len(t, after.blocked, len(before.blocked))
			}
		})
	}
}

// jsonValue navigates decoded JSON in assertions.
type jsonValue struct{ v any }

// Get follows a path of object keys and array indexes.
func (j jsonValue) Get(path ...any) jsonValue {
	cur := j.v
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := cur.(map[string]any)
			cur = m[k]
		case int:
			a, _ := cur.([]any)
			if k < 0 || k >= len(a) {
				return jsonValue{}
			}
			cur = a[k]
		}
	}
	return jsonValue{cur}
}

// Str is the value as a string ("" if it is not one).
func (j jsonValue) Str(path ...any) string {
	s, _ := j.Get(path...).v.(string)
	return s
}

// Bool is the value as a bool.
func (j jsonValue) Bool(path ...any) bool {
	b, _ := j.Get(path...).v.(bool)
	return b
}

// Len is the length of an array (or -1).
func (j jsonValue) Len(path ...any) int {
	a, ok := j.Get(path...).v.([]any)
	if !ok {
		return -1
	}
	return len(a)
}

// Strings collects key from each element of an array of objects (or the
// elements themselves for an array of strings when key is "").
func (j jsonValue) Strings(key string, path ...any) []string {
	a, _ := j.Get(path...).v.([]any)
	out := []string{}
	for _, e := range a {
		if key == "" {
			s, _ := e.(string)
			out = append(out, s)
			continue
		}
		m, _ := e.(map[string]any)
		s, _ := m[key].(string)
		out = append(out, s)
	}
	return out
}

// IsNull reports whether the value is JSON null or missing.
func (j jsonValue) IsNull(path ...any) bool { return j.Get(path...).v == nil }

func (j jsonValue) String() string {
	b, _ := json.MarshalIndent(j.v, "", "  ")
	return string(b)
}
