package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acremu/acremu/pkg/server"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

// caServer serves a CA at /_acremu/ca.crt (or fails with status) and
// returns the https URL az-login is given for it.
func caServer(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_acremu/ca.crt" || status != http.StatusOK {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		w.Write([]byte(testCA))
	}))
	t.Cleanup(srv.Close)
	return "https://" + srv.Listener.Addr().String()
}

func azOptions(serverURL, dir string) *azLoginOptions {
	return &azLoginOptions{server: serverURL, configDir: dir, cloud: "acremu", acrSuffix: ".azurecr.io",
		tenant: server.DefaultTenant, clientID: server.DefaultClientID, clientSecret: server.DefaultClientSecret}
}

func TestAzLoginScriptErrors(t *testing.T) {
	good := caServer(t, http.StatusOK)
	tests := []struct {
		name, server, want string
	}{
		{"plain http", strings.Replace(good, "https", "http", 1), "az requires HTTPS"},
		{"no host", "https://", "want https://HOST:PORT"},
		{"a path", good + "/adfs", "want https://HOST:PORT"},
		{"not running", "https://127.0.0.1:1", "is acremu running?"},
		{"no CA", caServer(t, http.StatusNotFound), "status 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := azOptions(tc.server, t.TempDir()).script(context.Background())
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestAzLoginScriptRunsInBash evaluates the printed lines in bash with a
// stand-in az that records its arguments, so the quoting, the order of the
// calls and the exit status are what a user's eval gets.
func TestAzLoginScriptRunsInBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	srv := caServer(t, http.StatusOK)
	base := srv // https://127.0.0.1:PORT
	tests := []struct {
		name string
		// registered: the cloud exists already, so "az cloud register" fails.
		registered bool
		// loginFails: "az login" exits 1.
		loginFails bool
		wantCalls  []string
		wantExit   int
	}{
		{name: "fresh profile", wantCalls: []string{"cloud register", "cloud set", "login"}},
		{name: "cloud already registered", registered: true, wantCalls: []string{"cloud register", "cloud update", "cloud set", "login"}},
		{name: "login fails", loginFails: true, wantCalls: []string{"cloud register", "cloud set", "login"}, wantExit: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir := filepath.Join(tmp, "az config 'dir'") // needs quoting
			script, err := azOptions(base, dir).script(context.Background())
			require.NoError(t, err)

			bin := filepath.Join(tmp, "bin")
			require.NoError(t, os.Mkdir(bin, 0o755))
			log := filepath.Join(tmp, "calls")
			fakeAz := `#!/bin/sh
printf '%s\n' "$*" >> "$AZ_CALLS"
printf 'CONFIG=%s CA=%s TELEMETRY=%s RECOMMEND=%s\n' "$AZURE_CONFIG_DIR" "$REQUESTS_CA_BUNDLE" "$AZURE_CORE_COLLECT_TELEMETRY" "$AZURE_CORE_ERROR_RECOMMENDATION" >> "$AZ_CALLS"
case "$1 $2" in
"cloud register") [ -n "$REGISTERED" ] && exit 1 ;;
"login "*) [ -n "$LOGIN_FAILS" ] && exit 1 ;;
esac
exit 0
`
			require.NoError(t, os.WriteFile(filepath.Join(bin, "az"), []byte(fakeAz), 0o755))
			cmd := exec.Command("bash", "-c", `eval "$1"`, "bash", script)
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "AZ_CALLS="+log)
			if tc.registered {
				cmd.Env = append(cmd.Env, "REGISTERED=1")
			}
			if tc.loginFails {
				cmd.Env = append(cmd.Env, "LOGIN_FAILS=1")
			}
			out, err := cmd.CombinedOutput()
			if tc.wantExit == 0 {
				require.NoError(t, err, string(out))
				require.Equal(t, "az is logged in to acremu at "+base+" (AZURE_CONFIG_DIR="+dir+")\n", string(out))
			} else {
				require.Error(t, err)
				require.Empty(t, string(out))
			}

			raw, err := os.ReadFile(log)
			require.NoError(t, err)
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			var calls []string
			for i := 0; i < len(lines); i += 2 {
				f := strings.Fields(lines[i])
				calls = append(calls, strings.Join(f[:2], " "))
				if f[0] == "login" {
					calls[len(calls)-1] = "login"
					require.Equal(t, "login --service-principal -u "+server.DefaultClientID+" -p "+server.DefaultClientSecret+" --tenant "+server.DefaultTenant+" --only-show-errors", lines[i])
				}
				if f[0] == "cloud" && (f[1] == "register" || f[1] == "update") {
					require.Equal(t, f[1]+" --name acremu --endpoint-resource-manager "+base+"/ --endpoint-active-directory "+base+"/adfs"+
						" --endpoint-active-directory-resource-id "+base+"/ --endpoint-active-directory-graph-resource-id "+base+"/graph/"+
						" --suffix-acr-login-server-endpoint .azurecr.io", strings.TrimSuffix(strings.Join(f[1:], " "), " --only-show-errors"))
				}
				// Every az call already runs in the private, offline profile.
				require.Equal(t, "CONFIG="+dir+" CA="+filepath.Join(dir, "acremu-ca.crt")+" TELEMETRY=false RECOMMEND=off", lines[i+1])
			}
			require.Equal(t, tc.wantCalls, calls)

			ca, err := os.ReadFile(filepath.Join(dir, "acremu-ca.crt"))
			require.NoError(t, err)
			require.Equal(t, testCA, string(ca))
			seed, err := os.ReadFile(filepath.Join(dir, "versionCheck.json"))
			require.NoError(t, err)
			require.Equal(t, versionCheckSeed+"\n", string(seed))
		})
	}
}
