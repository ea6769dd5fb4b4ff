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
	run := func(t *testing.T, command, tlsPrefix string, rest ...string) result {
		return c.run(t, slices.Concat([]string{command, "--authfile", auth}, tls(tlsPrefix), rest)...)
	}
	return &registryClient{
		name: name,
		repo: repo,
		login: func(t *testing.T, user, password string) result {
			return run(t, "login", "", "-u", user, "-p", password, host)
		},
		push: func(t *testing.T, tag string) result {
			layout := t.TempDir()
			if err := writeOCILayout(layout, tag, clientContent(name, tag)); err != nil {
				return result{Err: err}
			}
			return run(t, "copy", "dest-", "oci:"+layout+":"+tag, ref(tag))
		},
		tags: func(t *testing.T, _ string) (result, string) {
			r := run(t, "list-tags", "", "docker://"+host+"/"+repo)
			return withData(r, func() (string, error) { return jsonTags([]byte(r.Stdout)) })
		},
		pull: func(t *testing.T, tag string) (result, string) {
			out := filepath.Join(t.TempDir(), "image")
			r := run(t, "copy", "src-", ref(tag), "dir:"+out)
			return withData(r, func() (string, error) { return fileFromDirImage(out) })
		},
		delete: func(t *testing.T, tag string) result {
			return run(t, "delete", "", ref(tag))
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
	if r := c.run(t, "info", "--format", "{{.ServerVersion}}"); r.Err != nil {
		t.Fatalf("the docker daemon is not running (scripts/test-deps.sh starts it):\n%s", r.Combined)
	}
	ref := func(tag string) string { return host + "/" + repo + ":" + tag }
	t.Cleanup(func() {
		for _, tag := range []string{"v1", "v2", "v3"} {
			c.run(t, "rmi", "-f", ref(tag))
		}
	})
	return &registryClient{
		name: name,
		repo: repo,
		login: func(t *testing.T, user, password string) result {
			return c.run(t, "login", "-u", user, "-p", password, host)
		},
		push: func(t *testing.T, tag string) result {
			rootfs := filepath.Join(t.TempDir(), "rootfs.tar")
			if err := os.WriteFile(rootfs, tarWithFile(clientContent(name, tag)), 0o644); err != nil {
				return result{Err: err}
			}
			if r := c.run(t, "import", rootfs, ref(tag)); r.Err != nil {
				return r
			}
			return c.run(t, "push", ref(tag))
		},
		pull: func(t *testing.T, tag string) (result, string) {
			c.run(t, "rmi", "-f", ref(tag))
			r := c.run(t, "pull", ref(tag))
			if r.Err != nil {
				return r, ""
			}
			// Read the file back out of the pulled image.
			created := c.run(t, "create", ref(tag), "/none")
			if created.Err != nil {
				return created, ""
			}
			id := strings.TrimSpace(created.Stdout)
			defer c.run(t, "rm", id)
			cp := c.run(t, "cp", id+":/"+clientFile, "-")
			if cp.Err != nil {
				return cp, ""
			}
			return withData(r, func() (string, error) { return fileFromTar([]byte(cp.Stdout)) })
		},
		denied: map[string]string{
			"":      `denied: {denied}`,
			"login": `login attempt to https?://{host}/v2/ failed with status: 403 Forbidden`,
		},
	}
}
