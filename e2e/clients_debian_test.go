//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// newSkopeoClient sets up skopeo with a private auth file. skopeo always
// tries HTTPS first: with --tls-verify=false it does not verify acremu's
// certificate; with verify (overTLS) it trusts acremu's CA from a
// --cert-dir holding ca.crt.
func newSkopeoClient(t *testing.T, in *instance, overTLS bool) *registryClient {
	host := in.Host()
	name := "skopeo"
	c := newClientCLI(t, "skopeo")
	auth := filepath.Join(c.home, "auth.json")
	c.env = append(c.env, "REGISTRY_AUTH_FILE="+auth)
	// The signature policy is the system's business, not this test's.
	c.pre = []string{"--insecure-policy"}
	tls := func(prefix string) []string { return []string{"--" + prefix + "tls-verify=false"} }
	if overTLS {
		name = "skopeo-https"
		certs := t.TempDir()
		ca, err := os.ReadFile(filepath.Join(in.DataDir, "ca.crt"))
		if err == nil {
			err = os.WriteFile(filepath.Join(certs, "ca.crt"), ca, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		tls = func(prefix string) []string { return []string{"--" + prefix + "cert-dir", certs} }
	}
	repo := name + "/hello"
	ref := func(tag string) string { return "docker://" + host + "/" + repo + ":" + tag }
	// run runs a skopeo command with the auth file and TLS flags (prefix
	// "src-" or "dest-" for copy).
	run := func(command, tlsPrefix string, rest ...string) cmdResult {
		return c.run(slices.Concat([]string{command, "--authfile", auth}, tls(tlsPrefix), rest)...)
	}
	return &registryClient{
		name: name,
		repo: repo,
		login: func(t *testing.T, user, password string) cmdResult {
			return run("login", "", "-u", user, "-p", password, host)
		},
		push: func(t *testing.T, tag string) cmdResult {
			layout := t.TempDir()
			if err := writeOCILayout(layout, tag, clientContent(name, tag)); err != nil {
				return cmdResult{err: err}
			}
			return run("copy", "dest-", "oci:"+layout+":"+tag, ref(tag))
		},
		tags: func(t *testing.T, _ string) cmdResult {
			r := run("list-tags", "", "docker://"+host+"/"+repo)
			if r.err == nil {
				r.data, r.err = jsonTags([]byte(r.data))
			}
			return r
		},
		pull: func(t *testing.T, tag string) cmdResult {
			out := filepath.Join(t.TempDir(), "image")
			r := run("copy", "src-", ref(tag), "dir:"+out)
			if r.err == nil {
				r.data, r.err = fileFromDirImage(out)
			}
			return r
		},
		delete: func(t *testing.T, tag string) cmdResult {
			return run("delete", "", ref(tag))
		},
		// A failed /v2/ ping is all skopeo reports, with the status alone.
		denied: map[string]string{"": `pinging container registry {host}: invalid status code from registry 403 \(Forbidden\)`},
	}
}

// newDockerClient drives the docker CLI and daemon with a private docker
// config. The daemon speaks HTTPS to localhost without verifying (localhost
// is an insecure registry to it). It has no tag listing and no delete.
func newDockerClient(t *testing.T, host string) *registryClient {
	const name = "docker"
	repo := name + "/hello"
	c := newClientCLI(t, "docker")
	c.env = append(c.env, "DOCKER_CONFIG="+filepath.Join(c.home, ".docker"))
	if r := c.run("info", "--format", "{{.ServerVersion}}"); r.err != nil {
		t.Fatalf("the docker daemon is not running (scripts/test-deps.sh starts it):\n%s", r.out)
	}
	ref := func(tag string) string { return host + "/" + repo + ":" + tag }
	t.Cleanup(func() {
		for _, tag := range []string{"v1", "v2", "v3"} {
			c.run("rmi", "-f", ref(tag))
		}
	})
	return &registryClient{
		name: name,
		repo: repo,
		login: func(t *testing.T, user, password string) cmdResult {
			return c.run("login", "-u", user, "-p", password, host)
		},
		push: func(t *testing.T, tag string) cmdResult {
			rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
			if err := os.WriteFile(rootfs, tarWithFile(clientContent(name, tag)), 0o644); err != nil {
				return cmdResult{err: err}
			}
			if r := c.run("import", rootfs, ref(tag)); r.err != nil {
				return r
			}
			return c.run("push", ref(tag))
		},
		pull: func(t *testing.T, tag string) cmdResult {
			c.run("rmi", "-f", ref(tag))
			r := c.run("pull", ref(tag))
			if r.err != nil {
				return r
			}
			// Read the file back out of the pulled image.
			created := c.run("create", ref(tag), "/none")
			if created.err != nil {
				return created
			}
			id := strings.TrimSpace(created.data)
			defer c.run("rm", id)
			cp := c.run("cp", id+":/"+clientFile, "-")
			if cp.err != nil {
				return cp
			}
			r.data, r.err = fileFromTar([]byte(cp.data))
			return r
		},
		denied: map[string]string{
			"":      `denied: {denied}`,
			"login": `login attempt to https?://{host}/v2/ failed with status: 403 Forbidden`,
		},
	}
}
