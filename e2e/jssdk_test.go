//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

// jssdkDir is the Node project the JavaScript SDK test runs; `npm ci`
// there (scripts/test-deps.sh) installs the pinned SDKs.
const jssdkDir = "testdata/jssdk"

// jsStep is one line of the script's output: the step's name, what it saw,
// or the error it stopped at.
type jsStep struct {
	Step    string         `json:"step"`
	Error   *jsError       `json:"error"`
	Stack   string         `json:"stack"`
	raw     map[string]any // the whole line
	logLine string         // the line as logged, without passwords
}

var passwordField = regexp.MustCompile(`"password":"[^"]*"`)

// jsError is how the script reports a failure (a RestError's fields).
type jsError struct {
	Name       string `json:"name"`
	Message    string `json:"message"`
	StatusCode int    `json:"statusCode"`
	Code       string `json:"code"`
	ErrorCode  string `json:"errorCode"`
}

// get decodes the field at a dotted path of the step's line into v.
func (s jsStep) get(t *testing.T, path string, v any) {
	t.Helper()
	var cur any = s.raw
	for _, k := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		require.True(t, ok, "step %q: %s is not an object in %v", s.Step, path, s.raw)
		cur, ok = m[k]
		require.True(t, ok, "step %q: no %s in %v", s.Step, path, s.raw)
	}
	b, err := json.Marshal(cur)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, v), "step %q: %s", s.Step, path)
}

func (s jsStep) str(t *testing.T, path string) string {
	t.Helper()
	var v string
	s.get(t, path, &v)
	return v
}

func (s jsStep) strs(t *testing.T, path string) []string {
	t.Helper()
	var v []string
	s.get(t, path, &v)
	return v
}

func (s jsStep) boolean(t *testing.T, path string) bool {
	t.Helper()
	var v bool
	s.get(t, path, &v)
	return v
}

func (s jsStep) err(t *testing.T, path string) jsError {
	t.Helper()
	var v jsError
	s.get(t, path, &v)
	return v
}

// jsRun is the running script: its steps as they arrive, its stdin.
type jsRun struct {
	steps  chan jsStep
	stdin  io.WriteCloser
	stderr *syncBuffer
	exit   error // how the script exited, once steps is closed
}

// next waits for the script's next step, which must be want and must have
// succeeded.
func (r *jsRun) next(t *testing.T, want string) jsStep {
	t.Helper()
	select {
	case s, ok := <-r.steps:
		if !ok {
			t.Fatalf("step %q: the script ended without it: %v\nstderr:\n%s", want, r.exit, r.stderr.String())
		}
		if s.Error != nil {
			t.Fatalf("step %q failed: %s %s (status %d, code %q)\n%s\nstderr:\n%s",
				s.Step, s.Error.Name, s.Error.Message, s.Error.StatusCode, s.Error.Code, s.Stack, r.stderr.String())
		}
		require.Equal(t, want, s.Step, "the script's steps are out of order")
		t.Logf("%s: %s", s.Step, s.logLine)
		return s
	case <-time.After(3 * time.Minute):
		t.Fatalf("step %q: no output from the script in 3 minutes\nstderr:\n%s", want, r.stderr.String())
	}
	return jsStep{}
}

// requireNodeSDKs returns node's path once node and the SDKs are installed.
func requireNodeSDKs(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed (Node 20 or later is needed): %v", err)
	}
	if _, err := os.Stat(filepath.Join(jssdkDir, "node_modules", "@azure", "container-registry")); err != nil {
		t.Fatalf("the JavaScript SDKs are not installed (%v): run `make deps` (scripts/test-deps.sh runs npm ci in e2e/%s)", err, jssdkDir)
	}
	return node
}

// startJSSDK runs the Node script against in, with acremu's CA trusted
// and no proxy, and returns it running.
func startJSSDK(t *testing.T, ctx context.Context, in *instance, repo, tag string) *jsRun {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "NODE_OPTIONS", "NODE_EXTRA_CA_CERTS":
			continue
		}
		env = append(env, kv)
	}
	// The script answers step by step on stdout and waits for its stdin, so
	// it is started here, not run to its end by runCommand.
	cmd := command{name: requireNodeSDKs(t), args: []string{"main.mjs"}, dir: jssdkDir, environ: env, env: []string{
		"NODE_EXTRA_CA_CERTS=" + filepath.Join(in.DataDir, "ca.crt"),
		"NO_PROXY=127.0.0.1,localhost",
		fmt.Sprintf("ACREMU_ARM=https://127.0.0.1:%d", in.Port),
		"ACREMU_TENANT=" + tenant,
		"ACREMU_CLIENT_ID=" + clientID,
		"ACREMU_CLIENT_SECRET=" + clientSecret,
		"ACREMU_SUBSCRIPTION=" + subscription,
		"ACREMU_RULE=" + natAddr,
		"ACREMU_REPO=" + repo,
		"ACREMU_TAG=" + tag,
	}}.exec(ctx)
	r := &jsRun{steps: make(chan jsStep, 32), stderr: &syncBuffer{}}
	cmd.Stderr = r.stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	r.stdin, err = cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var s jsStep
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				fmt.Fprintf(r.stderr, "not a step: %s\n", sc.Text())
				continue
			}
			_ = json.Unmarshal(sc.Bytes(), &s.raw)
			s.logLine = passwordField.ReplaceAllString(sc.Text(), `"password":"…"`)
			r.steps <- s
		}
		r.exit = cmd.Wait()
		close(r.steps)
	}()
	t.Cleanup(func() {
		r.stdin.Close()
		if cmd.Process != nil {
			cmd.Process.Kill()
		}
	})
	return r
}

// TestJavaScriptSDK runs the Azure SDKs for JavaScript (@azure/identity,
// @azure/arm-resources, @azure/arm-containerregistry and
// @azure/container-registry, pinned in testdata/jssdk/package-lock.json)
// against acremu over HTTPS: a client-secret credential at acremu's
// authority, a Premium registry behind Deny and an IP rule, an invalid rule
// refused, credentials and replications listed, an image's repository, tags
// and manifest read and locked through the data plane in AAD mode,
// anonymous listing, public access disabled, and deletion. The script prints
// one JSON line per step; each subtest asserts one.
func TestJavaScriptSDK(t *testing.T) {
	requireNodeSDKs(t)
	in := startAcremu(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	const rg, reg, repo, tag = "jssdkrg", "jssdkregistry", "team/app", "v1"
	js := startJSSDK(t, ctx, in, repo, tag)
	var loginServer, digest string

	t.Run("token", func(t *testing.T) {
		s := js.next(t, "token")
		for _, authority := range []string{"adfs", "tenant"} {
			require.Equal(t, fmt.Sprintf("https://127.0.0.1:%d", in.Port), s.str(t, authority+".aud"), authority)
			require.Equal(t, clientID, s.str(t, authority+".appid"), authority)
			require.Equal(t, tenant, s.str(t, authority+".tid"), authority)
			require.True(t, s.boolean(t, authority+".expiresInFuture"), authority)
		}
	})

	t.Run("resource group", func(t *testing.T) {
		s := js.next(t, "resource group")
		require.Equal(t, rg, s.str(t, "name"))
		require.Equal(t, "eastus", s.str(t, "location"))
		require.Equal(t, "Succeeded", s.str(t, "provisioningState"))
	})

	t.Run("create a Premium registry", func(t *testing.T) {
		s := js.next(t, "create a Premium registry")
		require.True(t, s.boolean(t, "nameAvailable"))
		require.Equal(t, registryPath(rg, reg), s.str(t, "registry.id"))
		require.Equal(t, reg, s.str(t, "registry.name"))
		require.Equal(t, "Microsoft.ContainerRegistry/registries", s.str(t, "registry.type"))
		require.Equal(t, "Premium", s.str(t, "registry.sku"))
		require.Equal(t, "Premium", s.str(t, "registry.tier"))
		require.Equal(t, "Succeeded", s.str(t, "registry.provisioningState"), "read after the poll, not the 201's Creating")
		in.requireCreatePolled(t, reg)
		require.True(t, s.boolean(t, "registry.adminUserEnabled"))
		require.False(t, s.boolean(t, "registry.anonymousPullEnabled"))
		require.Equal(t, "Enabled", s.str(t, "registry.publicNetworkAccess"))
		require.Equal(t, "Allow", s.str(t, "registry.defaultAction"))
		require.Empty(t, s.strs(t, "registry.ipRules"))
		loginServer = s.str(t, "registry.loginServer")
		require.Regexp(t, loginServerPattern, loginServer)
	})

	t.Run("Deny and an IP rule", func(t *testing.T) {
		s := js.next(t, "Deny and an IP rule")
		for _, view := range []string{"updated", "got"} {
			require.Equal(t, "Deny", s.str(t, view+".defaultAction"), view)
			require.Equal(t, []string{"Allow:" + natAddr}, s.strs(t, view+".ipRules"), view)
		}
	})

	t.Run("an invalid IP rule is refused", func(t *testing.T) {
		s := js.next(t, "an invalid IP rule is refused")
		e := s.err(t, "refusal")
		require.Equal(t, "RestError", e.Name, e.Message)
		require.Equal(t, 400, e.StatusCode, e.Message)
		require.Equal(t, "InvalidIpRule", e.Code, e.Message)
		require.Contains(t, e.Message, "192.168.1.0/24")
		require.Equal(t, []string{"Allow:" + natAddr}, s.strs(t, "after.ipRules"), "a refused update changes nothing")
	})

	t.Run("list credentials", func(t *testing.T) {
		s := js.next(t, "list credentials")
		require.Equal(t, reg, s.str(t, "username"))
		var pw []struct {
			Name   string
			Length int
		}
		s.get(t, "passwords", &pw)
		require.Len(t, pw, 2)
		require.Equal(t, "password", pw[0].Name)
		require.Equal(t, "password2", pw[1].Name)
		require.Positive(t, pw[0].Length)
		require.Positive(t, pw[1].Length)
	})

	t.Run("list replications", func(t *testing.T) {
		s := js.next(t, "list replications")
		var reps []struct{ Name, Location, Type, ProvisioningState string }
		s.get(t, "replications", &reps)
		require.Len(t, reps, 1, "the home region")
		require.Equal(t, "eastus", reps[0].Name)
		require.Equal(t, "eastus", reps[0].Location)
		require.Equal(t, "Microsoft.ContainerRegistry/registries/replications", reps[0].Type)
		require.Equal(t, "Succeeded", reps[0].ProvisioningState)
	})

	t.Run("push an image with the admin user", func(t *testing.T) {
		s := js.next(t, "push")
		// Without the image the script's next steps fail and say so;
		// closing its stdin stops it waiting.
		defer func() {
			if t.Failed() {
				js.stdin.Close()
			}
		}()
		require.Equal(t, loginServer, s.str(t, "loginServer"))
		img, err := random.Image(1024, 2)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		digest = d.String()
		ref, err := name.NewTag(loginServer + "/" + repo + ":" + tag)
		require.NoError(t, err)
		require.NoError(t, remote.Write(ref, img,
			remote.WithAuth(&authn.Basic{Username: s.str(t, "username"), Password: s.str(t, "password")}),
			remote.WithTransport(in.TLSClient().Transport)))
		_, err = io.WriteString(js.stdin, "pushed\n")
		require.NoError(t, err)
		require.Equal(t, "pushed", js.next(t, "push").str(t, "pushed"))
	})

	t.Run("data plane with the AAD credential", func(t *testing.T) {
		s := js.next(t, "data plane with the AAD credential")
		require.Equal(t, []string{repo}, s.strs(t, "repositories"))
		require.Equal(t, repo, s.str(t, "repository.name"))
		require.Equal(t, loginServer, s.str(t, "repository.registryLoginServer"))
		var counts struct{ TagCount, ManifestCount int }
		s.get(t, "repository", &counts)
		require.Equal(t, 1, counts.TagCount)
		require.Equal(t, 1, counts.ManifestCount)
		require.True(t, s.boolean(t, "repository.canWrite"))

		var tags []struct{ Name, RepositoryName, Digest string }
		s.get(t, "tags", &tags)
		require.Len(t, tags, 1)
		require.Equal(t, tag, tags[0].Name)
		require.Equal(t, repo, tags[0].RepositoryName)
		require.Equal(t, digest, tags[0].Digest)

		require.Equal(t, digest, s.str(t, "manifest.digest"))
		require.Equal(t, repo, s.str(t, "manifest.repositoryName"))
		require.Equal(t, []string{tag}, s.strs(t, "manifest.tags"))
		for _, p := range []string{"canWrite", "canDelete", "canRead", "canList"} {
			require.True(t, s.boolean(t, "manifest."+p), p)
		}
		var size int
		s.get(t, "manifest.sizeInBytes", &size)
		require.Positive(t, size)

		var manifests []struct {
			Digest string
			Tags   []string
		}
		s.get(t, "manifests", &manifests)
		require.Len(t, manifests, 1)
		require.Equal(t, digest, manifests[0].Digest)
		require.Equal(t, []string{tag}, manifests[0].Tags)
	})

	t.Run("manifest properties: lock and unlock", func(t *testing.T) {
		s := js.next(t, "manifest properties: lock and unlock")
		for view, canWrite := range map[string]bool{"locked": false, "lockedRead": false, "unlocked": true, "unlockedRead": true} {
			require.Equal(t, digest, s.str(t, view+".digest"), view)
			require.Equal(t, canWrite, s.boolean(t, view+".canWrite"), view)
			for _, p := range []string{"canDelete", "canRead", "canList"} {
				require.True(t, s.boolean(t, view+"."+p), "%s %s", view, p)
			}
		}
	})

	t.Run("anonymous access", func(t *testing.T) {
		s := js.next(t, "anonymous access")
		e := s.err(t, "refused")
		require.Equal(t, 401, e.StatusCode, "anonymous pull not yet enabled: %s", e.Message)
		require.Contains(t, e.Message, "UNAUTHORIZED")
		require.True(t, s.boolean(t, "anonymousPullEnabled"))
		require.Equal(t, []string{repo}, s.strs(t, "repositories"))
		require.Equal(t, []string{tag}, s.strs(t, "tags"))
	})

	t.Run("public network access Disabled", func(t *testing.T) {
		s := js.next(t, "public network access Disabled")
		require.Equal(t, "Disabled", s.str(t, "disabled"))
		e := s.err(t, "denied")
		require.Equal(t, 403, e.StatusCode, e.Message)
		require.Contains(t, e.Message, "DENIED")
		require.Contains(t, e.Message, "is not allowed access")
		require.Equal(t, "Enabled", s.str(t, "enabled"))
		require.Equal(t, []string{repo}, s.strs(t, "repositories"), "admitted again by the rule")
	})

	t.Run("delete the registry, then the group", func(t *testing.T) {
		s := js.next(t, "delete")
		e := s.err(t, "registryGone")
		require.Equal(t, 404, e.StatusCode, e.Message)
		require.Equal(t, "ResourceNotFound", e.Code, e.Message)
		e = s.err(t, "groupGone")
		require.Equal(t, 404, e.StatusCode, e.Message)
		require.Equal(t, "ResourceGroupNotFound", e.Code, e.Message)
	})

	t.Run("only loopback was dialed", func(t *testing.T) {
		s := js.next(t, "loopback only")
		dialed := s.strs(t, "dialed")
		require.NotEmpty(t, dialed)
		for _, h := range dialed {
			require.Contains(t, []string{"127.0.0.1", "localhost", "::1"}, h)
		}
		select {
		case s, ok := <-js.steps:
			require.False(t, ok, "a step after the last: %v", s.raw)
			require.NoError(t, js.exit, js.stderr.String())
		case <-time.After(time.Minute):
			t.Fatal("the script did not exit")
		}
	})
}
