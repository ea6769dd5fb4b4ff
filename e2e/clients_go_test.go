//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// newCraneClient sets up crane with a private docker config. crane's
// `auth login` only writes that config, so it runs here once and the
// matrix has no login step for crane. crane treats localhost as insecure: it
// tries HTTPS, and falls back to plain HTTP when the certificate does not
// verify. With overTLS, SSL_CERT_FILE trusts acremu's CA, so every request
// must stay on HTTPS (checked on crane's verbose request log).
func newCraneClient(t *testing.T, tools map[string]string, in *instance, overTLS bool, user, password string) *registryClient {
	host := in.Host()
	name, scheme := "crane", "http"
	c := newClientCLI(t, tools["crane"])
	c.env = append(c.env, "DOCKER_CONFIG="+filepath.Join(c.home, ".docker"))
	if overTLS {
		name, scheme = "crane-https", "https"
		c.env = append(c.env, "SSL_CERT_FILE="+filepath.Join(in.DataDir, "ca.crt"))
		c.pre = []string{"--verbose"}
	}
	c.mustRun(t, "auth", "login", host, "-u", user, "-p", password)
	repo := name + "/hello"
	ref := func(tag string) string { return host + "/" + repo + ":" + tag }
	// onTLS checks that a command spoke HTTPS and the certificate verified.
	// A refused ping makes crane try plain HTTP as well, so only commands
	// that succeeded must have stayed on HTTPS.
	onTLS := func(t *testing.T, r result) result {
		if overTLS {
			assert.Contains(t, r.Combined, "--> GET https://"+host+"/v2/", "no HTTPS request in crane's log")
			assert.NotContains(t, r.Combined, "x509:", "acremu's certificate did not verify")
			if r.Err == nil {
				assert.NotContains(t, r.Combined, "http://"+host, "crane fell back to plain HTTP")
			}
		}
		return r
	}
	return &registryClient{
		name: name,
		repo: repo,
		push: func(t *testing.T, tag string) result {
			layer := filepath.Join(t.TempDir(), "layer.tar")
			if err := os.WriteFile(layer, tarWithFile(clientContent(name, tag)), 0o644); err != nil {
				return result{Err: err}
			}
			// No base image: crane starts from an empty one.
			return onTLS(t, c.run(t, "append", "-f", layer, "-t", ref(tag)))
		},
		tags: func(t *testing.T, _ string) (result, string) {
			r := onTLS(t, c.run(t, "ls", host+"/"+repo))
			return r, r.Stdout
		},
		pull: func(t *testing.T, tag string) (result, string) {
			r := onTLS(t, c.run(t, "export", ref(tag), "-"))
			return withData(r, func() (string, error) { return fileFromTar([]byte(r.Stdout)) })
		},
		delete: func(t *testing.T, tag string) result { return onTLS(t, c.run(t, "delete", ref(tag))) },
		denied: map[string]string{"": `GET ` + scheme + `://{host}/v2/: DENIED: {denied}`},
	}
}

// newOrasClient sets up oras with a private registry config. oras speaks
// plain HTTP to localhost without being told.
func newOrasClient(t *testing.T, tools map[string]string, host string) *registryClient {
	const name, repo = "oras", "oras/hello"
	c := newClientCLI(t, tools["oras"])
	config := filepath.Join(c.home, "oras-config.json")
	c.env = append(c.env, "DOCKER_CONFIG="+filepath.Join(c.home, ".docker"))
	ref := func(tag string) string { return host + "/" + repo + ":" + tag }
	return &registryClient{
		name: name,
		repo: repo,
		login: func(t *testing.T, user, password string) result {
			return c.run(t, "login", "--registry-config", config, "-u", user, "-p", password, host)
		},
		push: func(t *testing.T, tag string) result {
			// oras stores the path it is given as the file's title, so push
			// a relative name from the working directory.
			if err := os.WriteFile(filepath.Join(c.home, clientFile), []byte(clientContent(name, tag)), 0o644); err != nil {
				return result{Err: err}
			}
			return c.run(t, "push", "--registry-config", config, ref(tag), clientFile)
		},
		tags: func(t *testing.T, _ string) (result, string) {
			r := c.run(t, "repo", "tags", "--registry-config", config, host+"/"+repo)
			return r, r.Stdout
		},
		pull: func(t *testing.T, tag string) (result, string) {
			out := t.TempDir()
			r := c.run(t, "pull", "--registry-config", config, "-o", out, ref(tag))
			return withData(r, func() (string, error) {
				b, err := os.ReadFile(filepath.Join(out, clientFile))
				return string(b), err
			})
		},
		delete: func(t *testing.T, tag string) result {
			return c.run(t, "manifest", "delete", "--force", "--registry-config", config, ref(tag))
		},
		// A refused HEAD has no body, so oras reports the bare status.
		denied: map[string]string{
			"":       `Error response from registry: denied: {denied}`,
			"push":   `Error response from registry: HEAD "http://{host}/v2/oras/hello/manifests/[^"]+": response status code 403: Forbidden`,
			"delete": `Error response from registry: HEAD "http://{host}/v2/oras/hello/manifests/v1": response status code 403: Forbidden`,
		},
	}
}

// newRegctlClient sets up regctl with a private config, plain HTTP for the
// host (`registry set --tls disabled`; --skip-check because an anonymous
// ping gets the 401 challenge, which regctl reports as a failure).
func newRegctlClient(t *testing.T, tools map[string]string, host string) *registryClient {
	const name, repo = "regctl", "regctl/hello"
	c := newClientCLI(t, tools["regctl"])
	c.env = append(c.env, "REGCTL_CONFIG="+filepath.Join(c.home, "regctl.json"), "DOCKER_CONFIG="+filepath.Join(c.home, ".docker"))
	c.mustRun(t, "registry", "set", "--tls", "disabled", "--skip-check", host)
	ref := func(tag string) string { return host + "/" + repo + ":" + tag }
	return &registryClient{
		name: name,
		repo: repo,
		login: func(t *testing.T, user, password string) result {
			return c.run(t, "registry", "login", "-u", user, "-p", password, host)
		},
		push: func(t *testing.T, tag string) result {
			if err := os.WriteFile(filepath.Join(c.home, clientFile), []byte(clientContent(name, tag)), 0o644); err != nil {
				return result{Err: err}
			}
			return c.run(t, "artifact", "put", "--artifact-type", "application/vnd.acremu.test.v1", "-f", clientFile, ref(tag))
		},
		tags: func(t *testing.T, _ string) (result, string) {
			r := c.run(t, "tag", "ls", host+"/"+repo)
			return r, r.Stdout
		},
		pull: func(t *testing.T, tag string) (result, string) {
			r := c.run(t, "artifact", "get", ref(tag))
			return r, r.Stdout
		},
		// tag delete removes the tag alone, even where several share a manifest.
		delete: func(t *testing.T, tag string) result { return c.run(t, "tag", "delete", ref(tag)) },
		// regctl calls every 401 and 403 "unauthorized" and prints the body
		// as sent, apostrophes escaped.
		denied: map[string]string{
			"":       `request failed: unauthorized \[http 403\]: \{"errors":\[\{"code":"DENIED","message":"client with IP \\u0027203\.0\.113\.10\\u0027 is not allowed access\.`,
			"login":  `failed to ping registry {host}: request failed: unauthorized \[http 403\]: \{"errors":\[\{"code":"DENIED"`,
			"delete": `failed to request manifest head {host}/regctl/hello:v1: request failed: unauthorized \[http 403\]`,
		},
	}
}
