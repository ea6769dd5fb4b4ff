//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

// command is one process for runCommand to run to its end.
type command struct {
	name string
	args []string
	// environ is the whole environment; nil inherits this process's.
	environ []string
	// env is added to environ, overriding it.
	env   []string
	dir   string
	stdin io.Reader // nil: no input
	// timeout kills the process; each suite sets its own, sized for a cold,
	// busy 2-core machine. Zero means no limit.
	timeout time.Duration
	// quiet keeps a polled command out of the log.
	quiet bool
}

// result is what a command left behind.
type result struct {
	Line     string // the command line, for messages
	Stdout   string
	Stderr   string
	Combined string // stdout and stderr interleaved as written
	// ExitCode is the process's exit status; -1 when it did not exit by
	// itself (not started, killed at the timeout).
	ExitCode int
	Err      error // nil exactly when the command ran and exited 0
	Elapsed  time.Duration
}

// OK reports whether the command exited 0.
func (r result) OK() bool { return r.Err == nil }

func (r result) String() string {
	status := fmt.Sprintf("exit %d after %v", r.ExitCode, r.Elapsed.Round(10*time.Millisecond))
	if r.Err != nil {
		status += ": " + r.Err.Error()
	}
	return fmt.Sprintf("%s (%s)\n%s", r.Line, status, r.Combined)
}

// MustSucceed fails the test unless the command exited 0.
func (r result) MustSucceed(t testing.TB) result {
	t.Helper()
	require.NoError(t, r.Err, "%s", r)
	return r
}

// MustFail fails the test unless the command ran and exited non-zero.
func (r result) MustFail(t testing.TB) result {
	t.Helper()
	require.NotEqual(t, 0, r.ExitCode, "%s succeeded:\n%s", r.Line, r.Combined)
	return r
}

// exec builds c's process; ctx bounds it.
func (c command) exec(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.name, c.args...)
	env := c.environ
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string(nil), env...), c.env...)
	cmd.Dir = c.dir
	cmd.Stdin = c.stdin
	return cmd
}

// runCommand runs c to its end and logs its command line, exit status and
// the tail of its output to t.
func runCommand(t testing.TB, c command) result {
	t.Helper()
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	defer cancel()
	cmd := c.exec(ctx)
	var stdout, stderr bytes.Buffer
	var combined syncBuffer // stdout and stderr are copied by two goroutines
	cmd.Stdout = io.MultiWriter(&stdout, &combined)
	cmd.Stderr = io.MultiWriter(&stderr, &combined)
	start := time.Now()
	err := cmd.Run()
	r := result{
		Line:     commandLine(c.name, c.args),
		Stdout:   stdout.String(),
		Stderr:   stderr.String(),
		Combined: combined.String(),
		ExitCode: -1,
		Elapsed:  time.Since(start),
	}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil && err != nil:
		r.Err = fmt.Errorf("killed after the %v time limit: %w", c.timeout, err)
	case err != nil:
		r.Err = err
	}
	if errors.As(err, &exit) {
		r.ExitCode = exit.ExitCode()
	} else if err == nil {
		r.ExitCode = 0
	}
	if !c.quiet {
		t.Logf("$ %s → exit %d in %v%s", r.Line, r.ExitCode, r.Elapsed.Round(10*time.Millisecond), logTail(r.Combined))
	}
	return r
}

// commandLine renders name and args for a log, quoting what needs it.
func commandLine(name string, args []string) string {
	parts := []string{name}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$;&|<>()*?") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// logTailLines is how much of a command's output the log keeps: enough to
// see what went wrong, little enough that a pulled tar or a conformance
// report does not flood the log (a failure message carries it all).
const logTailLines = 15

// logTail is the end of out for a log line, or a note that it is binary.
func logTail(out string) string {
	out = strings.TrimRight(out, "\n")
	switch {
	case out == "":
		return ""
	case !utf8.ValidString(out) || strings.ContainsRune(out, 0):
		return fmt.Sprintf(" (%d bytes of binary output)", len(out))
	}
	lines := strings.Split(out, "\n")
	if n := len(lines) - logTailLines; n > 0 {
		lines = append([]string{fmt.Sprintf("… %d lines before", n)}, lines[n:]...)
	}
	return "\n  " + strings.Join(lines, "\n  ")
}
