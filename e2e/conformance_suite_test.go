//go:build e2e

package e2e

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	conformanceOnce sync.Once
	conformanceBin  string
	conformanceErr  error
)

// conformanceBinary builds the OCI conformance suite once per machine
// (scripts/build-conformance.sh caches it in .tools/) and returns its path.
func conformanceBinary(t *testing.T) string {
	t.Helper()
	conformanceOnce.Do(func() {
		build := runCommand(t, command{name: "bash", args: []string{filepath.Join("..", "scripts", "build-conformance.sh")}, timeout: 5 * time.Minute})
		if build.Err != nil {
			conformanceErr = fmt.Errorf("scripts/build-conformance.sh: %v\n%s", build.Err, build.Stderr)
			return
		}
		lines := strings.Split(strings.TrimSpace(build.Stdout), "\n")
		conformanceBin = lines[len(lines)-1]
	})
	require.NoError(t, conformanceErr)
	return conformanceBin
}

// conformanceVersion is the module version the binary was built from.
func conformanceVersion(bin string) string {
	b, err := os.ReadFile(bin + ".version")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// conformanceRun is one run of the suite.
type conformanceRun struct {
	Summary map[string]int // the stdout summary: Pass, FAIL, Skip, Disabled, Error, Total
	Rows    []string       // API and data rows of the summary that did not pass
	JUnit   junitCounts
	Stdout  string
	Elapsed time.Duration
}

// junitCounts are the junit test cases by status, with the names of the
// passed and failed ones (a name may repeat: the suite reuses names per
// data set). Names are without the suite's "OCI Conformance Test/" prefix.
type junitCounts struct {
	Passed, Failed, Skipped, Errored int
	PassedNames, FailedNames         map[string]int
}

// runConformance runs the suite against registry (host:port, plain HTTP)
// with the given extra OCI_* settings, in a scratch directory. The suite
// exits 1 whenever anything fails, so the exit status is not an error
// here; a run that printed no summary is.
func runConformance(t *testing.T, bin, registry, user, password string, extra ...string) conformanceRun {
	t.Helper()
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCI_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"OCI_REGISTRY="+registry, "OCI_TLS=disabled",
		"OCI_USERNAME="+user, "OCI_PASSWORD="+password,
		"OCI_RESULTS_DIR="+results, "OCI_LOG=error",
	)
	env = append(env, extra...)

	suite := runCommand(t, command{name: bin, environ: env, dir: dir, timeout: 5 * time.Minute})
	run := conformanceRun{Stdout: suite.Stdout, Elapsed: suite.Elapsed}
	run.Summary, run.Rows = parseConformanceSummary(run.Stdout)
	require.Contains(t, run.Summary, "Pass", "no summary from the conformance suite (exit: %v)\nstderr:\n%s\nstdout:\n%s", suite.Err, suite.Stderr, run.Stdout)

	f, err := os.Open(filepath.Join(results, "junit.xml"))
	require.NoError(t, err)
	defer f.Close()
	run.JUnit, err = parseJUnit(f)
	require.NoError(t, err)
	return run
}

var summaryLine = regexp.MustCompile(`^  (\w[\w ]*?)\.+:\s+(\S+)$`)

// parseConformanceSummary reads the block after "OCI Conformance Result":
// the counts by status, then the API and data rows whose status is not
// Pass (or Disabled, which is configuration).
func parseConformanceSummary(stdout string) (map[string]int, []string) {
	counts := map[string]int{}
	var rows []string
	section := ""
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "OCI Conformance Result:"):
			section = "counts"
			continue
		case line == "API conformance:":
			section = "API"
			continue
		case line == "Data conformance:":
			section = "Data"
			continue
		case section == "":
			continue
		}
		m := summaryLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if section == "counts" {
			if n, err := strconv.Atoi(m[2]); err == nil {
				counts[m[1]] = n
			}
		} else if m[2] != "Pass" && m[2] != "Disabled" {
			rows = append(rows, fmt.Sprintf("%s %s: %s", section, m[1], m[2]))
		}
	}
	return counts, rows
}

func parseJUnit(r io.Reader) (junitCounts, error) {
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name   string `xml:"name,attr"`
				Status string `xml:"status,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return junitCounts{}, fmt.Errorf("junit.xml: %w", err)
	}
	c := junitCounts{PassedNames: map[string]int{}, FailedNames: map[string]int{}}
	for _, s := range doc.Suites {
		for _, tc := range s.Cases {
			name := strings.TrimPrefix(tc.Name, "OCI Conformance Test/")
			switch tc.Status {
			case "passed":
				c.Passed++
				c.PassedNames[name]++
			case "skipped":
				c.Skipped++
			case "failure":
				c.Failed++
				c.FailedNames[name]++
			default:
				c.Errored++
				c.FailedNames[name]++
			}
		}
	}
	return c, nil
}

// logConformance prints a run's counts and, with details, the summary rows
// that did not pass and the failed junit test cases.
func logConformance(t *testing.T, label string, run conformanceRun, details bool) {
	t.Helper()
	s, j := run.Summary, run.JUnit
	t.Logf("%s: suite summary %d passed / %d failed / %d skipped / %d disabled / %d errors of %d; junit %d passed / %d failed / %d skipped / %d errors; %.1fs",
		label, s["Pass"], s["FAIL"], s["Skip"], s["Disabled"], s["Error"], s["Total"],
		j.Passed, j.Failed, j.Skipped, j.Errored, run.Elapsed.Seconds())
	if !details {
		return
	}
	if len(run.Rows) > 0 {
		t.Logf("%s: rows not passing:\n  %s", label, strings.Join(run.Rows, "\n  "))
	}
	if len(j.FailedNames) > 0 {
		names := make([]string, 0, len(j.FailedNames))
		for n, k := range j.FailedNames {
			names = append(names, fmt.Sprintf("%s ×%d", n, k))
		}
		sort.Strings(names)
		t.Logf("%s: failed junit test cases:\n  %s", label, strings.Join(names, "\n  "))
	}
}

// conformanceBaseline reads e2e/testdata/conformance-baseline.txt: the
// least acremu must pass, as "key value" lines ("passed", the suite
// summary's Pass count, and "junit-passed").
func conformanceBaseline(t *testing.T) map[string]int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "conformance-baseline.txt"))
	require.NoError(t, err)
	out := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " ")
		require.True(t, ok, "baseline line %q", line)
		n, err := strconv.Atoi(strings.TrimSpace(v))
		require.NoError(t, err, "baseline line %q", line)
		out[k] = n
	}
	require.Contains(t, out, "passed")
	require.Contains(t, out, "junit-passed")
	return out
}

// exchange is one request that went through a recordingProxy.
type exchange struct {
	Method, Path string
	Status       int
	Body         string
}

// recordingProxy forwards every request unchanged to target and records
// each request with the response it got, so a test can account for all of
// a client's traffic.
type recordingProxy struct {
	*httptest.Server
	mu  sync.Mutex
	log []exchange
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &recordingProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u) },
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(strings.NewReader(string(body)))
			p.mu.Lock()
			p.log = append(p.log, exchange{resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, string(body)})
			p.mu.Unlock()
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.mu.Lock()
			p.log = append(p.log, exchange{r.Method, r.URL.Path, http.StatusBadGateway, err.Error()})
			p.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.Server = httptest.NewServer(rp)
	t.Cleanup(p.Close)
	return p
}

func (p *recordingProxy) exchanges() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]exchange(nil), p.log...)
}

// hostPort is the proxy's address as localhost:port.
func (p *recordingProxy) hostPort() string {
	u, _ := url.Parse(p.URL)
	return "localhost:" + u.Port()
}
