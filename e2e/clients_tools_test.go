//go:build e2e

package e2e

import (
	"bufio"
	"debug/buildinfo"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clientsEnv is where the versions of the Go-based clients are pinned;
// scripts/install-clients.sh installs exactly these into toolsBin.
const (
	clientsEnv = "../scripts/clients.env"
	toolsBin   = "../.tools/bin"
)

// clientTools returns the absolute paths of crane, oras and regctl, after
// checking each was built from the version pinned in clients.env.
func clientTools(t *testing.T) map[string]string {
	t.Helper()
	pins := readPins(t)
	dir, err := filepath.Abs(toolsBin)
	require.NoError(t, err)
	tools := map[string]string{}
	for _, tool := range []string{"crane", "oras", "regctl"} {
		key := strings.ToUpper(tool)
		path := filepath.Join(dir, tool)
		info, err := buildinfo.ReadFile(path)
		require.NoError(t, err, "%s is not installed: run scripts/install-clients.sh (make deps)", tool)
		want := pins[key+"_MODULE"]
		require.True(t, strings.HasPrefix(want, info.Main.Path), "%s is built from %s, not %s", path, info.Main.Path, want)
		require.Equal(t, pins[key+"_VERSION"], info.Main.Version, "%s: run scripts/install-clients.sh (make deps)", path)
		t.Logf("%s %s", tool, info.Main.Version)
		tools[tool] = path
	}
	for _, tool := range []string{"skopeo", "docker"} {
		r := runCommand(t, command{name: tool, args: []string{"--version"}})
		require.NoError(t, r.Err, "%s (install with scripts/test-deps.sh): %s", tool, r.Combined)
	}
	return tools
}

// readPins parses the KEY=VALUE lines of clients.env.
func readPins(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(clientsEnv)
	require.NoError(t, err)
	defer f.Close()
	pins := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			pins[k] = v
		}
	}
	require.NoError(t, sc.Err())
	return pins
}

// clientCLI runs one client binary with a private environment (its own
// configuration and credential files) and fixed leading arguments.
type clientCLI struct {
	bin  string
	pre  []string // arguments before every command's own
	env  []string // added to the process environment, overriding it
	home string   // a private HOME, also the working directory
}

// newClientCLI gives bin a fresh private HOME.
func newClientCLI(t *testing.T, bin string, env ...string) *clientCLI {
	home := t.TempDir()
	return &clientCLI{bin: bin, home: home, env: append([]string{"HOME=" + home, "XDG_CONFIG_HOME=" + home + "/.config", "XDG_RUNTIME_DIR=" + home + "/run"}, env...)}
}

// clientCommandLimit bounds one client command.
const clientCommandLimit = 2 * time.Minute

// run runs the client in its private HOME.
func (c *clientCLI) run(t testing.TB, args ...string) result {
	t.Helper()
	return runCommand(t, command{name: c.bin, args: append(slices.Clone(c.pre), args...), env: c.env, dir: c.home, timeout: clientCommandLimit})
}

// mustRun runs a set-up command that has to succeed.
func (c *clientCLI) mustRun(t testing.TB, args ...string) result {
	t.Helper()
	return c.run(t, args...).MustSucceed(t)
}
