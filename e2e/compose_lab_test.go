//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// lab is one docker-compose.yml project brought up by a test.
type lab struct {
	t       *testing.T
	compose []string // "docker-compose" or "docker compose"
	project string
	env     []string // image names, published port, subnet
	net     string   // first three octets of the lab subnet
	port    int      // published acremu port on 127.0.0.1
	ids     map[string]string
}

// labServices are the services of docker-compose.yml.
var labServices = []string{"acremu", "vm-allowed", "vm-denied"}

// startLab builds the lab's images offline, brings the compose project up
// under a unique name, and waits until every service is healthy. Cleanup
// takes the project down with its volume and removes the images.
func startLab(t *testing.T) *lab {
	t.Helper()
	newDocker(t) // fails early when the daemon is not running
	suffix := randomSuffix(t)
	l := &lab{
		t:       t,
		compose: composeCommand(t),
		project: "acremu-e2e-" + suffix,
		net:     freeLabNet(t),
		port:    freePort(t),
		ids:     map[string]string{},
	}
	images := []string{"acremu-e2e:" + suffix, "acremu-lab-client-e2e:" + suffix}
	l.env = []string{
		"ACREMU_IMAGE=" + images[0],
		"ACREMU_LAB_CLIENT_IMAGE=" + images[1],
		fmt.Sprintf("ACREMU_LAB_PORT=%d", l.port),
		"ACREMU_LAB_NET=" + l.net,
	}

	requireDepsLabImages(t)
	t.Cleanup(func() {
		runCommand(t, command{name: "docker", args: append([]string{"rmi", "-f"}, images...)})
	})
	build := l.run(labBuildLimit, "bash", filepath.Join("..", "lab", "build-offline.sh")).MustSucceed(t)
	t.Logf("lab/build-offline.sh took %v:\n%s", build.Elapsed.Round(time.Second), build.Combined)

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lab logs:\n%s", l.composeRun("logs", "--no-color").Combined)
		}
		if down := l.composeRun("down", "-v", "--remove-orphans"); !down.OK() {
			t.Errorf("compose down: %s", down)
		}
	})
	l.composeRun("up", "-d").MustSucceed(t)
	for _, s := range labServices {
		l.ids[s] = strings.TrimSpace(l.composeRun("ps", "-q", s).MustSucceed(t).Stdout)
		require.NotEmpty(t, l.ids[s], "no container for %s", s)
	}
	l.waitHealthy(labHealthyLimit)
	return l
}

// depsLabImages are the tags scripts/test-deps.sh (make deps) builds the lab
// images under. Building them there compiles acremu and crane statically
// with a cold Go cache, which can take many minutes on a new, busy machine;
// startLab then rebuilds from the current source in seconds.
var depsLabImages = []string{"acremu:e2e", "acremu-lab-client:e2e"}

const (
	// labBuildLimit bounds lab/build-offline.sh in startLab. After make deps
	// it relinks acremu and reuses docker's layer cache; the limit leaves room
	// for recompiling everything should the Go build cache be gone.
	labBuildLimit = 20 * time.Minute
	// labComposeLimit bounds one compose command; `up` waits for acremu's
	// healthcheck (2s interval, 30 retries).
	labComposeLimit = 5 * time.Minute
	// labHealthyLimit bounds the wait for all services to be healthy after
	// `up`; the clients' healthcheck allows 60 retries 2s apart.
	labHealthyLimit = 3 * time.Minute
)

// requireDepsLabImages fails with what to do when make deps has not built
// the lab images on this machine.
func requireDepsLabImages(t *testing.T) {
	t.Helper()
	for _, image := range depsLabImages {
		if r := runCommand(t, command{name: "docker", args: []string{"image", "inspect", "--format", "{{.Id}}", image}}); !r.OK() {
			t.Fatalf("image %s is missing: run `make deps` (scripts/test-deps.sh builds the compose lab images once per machine)\n%s", image, r.Combined)
		}
	}
}

// composeCommand is ACREMU_COMPOSE when set, else Debian's docker-compose,
// else the docker compose plugin.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if c := strings.Fields(os.Getenv("ACREMU_COMPOSE")); len(c) > 0 {
		return c
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	if runCommand(t, command{name: "docker", args: []string{"compose", "version"}}).OK() {
		return []string{"docker", "compose"}
	}
	t.Fatal("neither docker-compose nor the docker compose plugin is installed (make test installs docker-compose)")
	return nil
}

// freeLabNet picks a /24 in 172.30.0.0/16 that no docker network and no
// local interface uses, so the test can run next to a user's own lab.
func freeLabNet(t *testing.T) string {
	t.Helper()
	var used []netip.Prefix
	ids := runCommand(t, command{name: "docker", args: []string{"network", "ls", "-q"}}).MustSucceed(t).Stdout
	if f := strings.Fields(ids); len(f) > 0 {
		subnets := runCommand(t, command{name: "docker", args: append([]string{"network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, f...)}).MustSucceed(t).Stdout
		for _, s := range strings.Fields(subnets) {
			if p, err := netip.ParsePrefix(s); err == nil {
				used = append(used, p)
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			used = append(used, p.Masked())
		}
	}
	start := 100 + os.Getpid()%100
	for i := 0; i < 150; i++ {
		third := 100 + (start-100+i)%150
		candidate := netip.MustParsePrefix(fmt.Sprintf("172.30.%d.0/24", third))
		free := true
		for _, p := range used {
			if p.Overlaps(candidate) {
				free = false
				break
			}
		}
		if free {
			return fmt.Sprintf("172.30.%d", third)
		}
	}
	t.Fatal("no free /24 in 172.30.100.0-172.30.249.0")
	return ""
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// run runs a command with the lab's environment.
func (l *lab) run(timeout time.Duration, name string, args ...string) result {
	l.t.Helper()
	return runCommand(l.t, command{name: name, args: args, env: l.env, timeout: timeout})
}

// composeRun runs the compose CLI on the repository's docker-compose.yml.
func (l *lab) composeRun(args ...string) result {
	l.t.Helper()
	full := append(append(append([]string(nil), l.compose[1:]...),
		"-p", l.project, "-f", filepath.Join("..", "docker-compose.yml")), args...)
	return l.run(labComposeLimit, l.compose[0], full...)
}

// sh runs a shell script in a service's container, as `docker compose exec`
// would (docker exec is quicker than starting the compose CLI).
func (l *lab) sh(service, script string) result {
	l.t.Helper()
	return l.run(2*time.Minute, "docker", "exec", l.ids[service], "sh", "-c", "set -o pipefail; "+script)
}

func (l *lab) mustSh(service, script string) string {
	l.t.Helper()
	return l.sh(service, script).MustSucceed(l.t).Combined
}

// inspect formats a service's container with a docker inspect template.
// It is polled, so it logs nothing.
func (l *lab) inspect(service, format string) string {
	l.t.Helper()
	r := runCommand(l.t, command{name: "docker", args: []string{"inspect", "--format", format, l.ids[service]}, quiet: true})
	return strings.TrimSpace(r.MustSucceed(l.t).Combined)
}

func (l *lab) waitHealthy(timeout time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var pending []string
		for _, s := range labServices {
			if st := l.inspect(s, "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"); st != "running healthy" {
				pending = append(pending, s+": "+st)
			}
		}
		if len(pending) == 0 {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("lab not healthy after %v: %s", timeout, strings.Join(pending, ", "))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// host is the acremu front end as the host reaches it (the published port).
func (l *lab) host() *instance { return &instance{t: l.t, Port: l.port} }
