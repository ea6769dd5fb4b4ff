package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acremu/acremu/pkg/server"
)

// versionCheckSeed stops az from checking for updates on the internet.
const versionCheckSeed = `{"versions":{"azure-cli":{"local":"2.45.0","pypi":"2.45.0"},"core":{"local":"2.45.0","pypi":"2.45.0"},"telemetry":{"local":"1.0.8","pypi":"1.0.8"}},"update_time":"2099-01-01 00:00:00.000000"}`

type azLoginOptions struct {
	server, configDir, cloud, acrSuffix string
	tenant, clientID, clientSecret      string
}

const azLoginUsage = `Usage: eval "$(acremu az-login [flags])"

Prints shell lines that give the Azure CLI a private configuration directory,
trust acremu's CA, switch off telemetry, error recommendations and the update
check (all of which would reach the internet), register and select a cloud
whose Resource Manager and ADFS authority are acremu, and log in with the
development service principal. The CA is downloaded from the running acremu.
Running it again (say, after acremu moved to another port) updates the cloud
in place. The eval's exit status is az login's.
`

func azLoginFlags() (*flag.FlagSet, *azLoginOptions) {
	o := &azLoginOptions{}
	home, _ := os.UserHomeDir()
	fs := newCommandFlags("acremu az-login", azLoginUsage)
	fs.StringVar(&o.server, "server", "https://127.0.0.1:5000", "`URL` of a running acremu front end (https; plain HTTP on the same port is used to fetch its CA)")
	fs.StringVar(&o.configDir, "config-dir", filepath.Join(home, ".acremu", "az"), "private Azure CLI configuration `directory` (AZURE_CONFIG_DIR)")
	fs.StringVar(&o.cloud, "cloud", "acremu", "`name` of the cloud registered with az")
	fs.StringVar(&o.acrSuffix, "acr-suffix", ".azurecr.io", "value for az's ACR login-server suffix (only used to strip it from -n)")
	fs.StringVar(&o.tenant, "tenant", server.DefaultTenant, "tenant `id` to log in with")
	fs.StringVar(&o.clientID, "client-id", server.DefaultClientID, "service principal client `id`")
	fs.StringVar(&o.clientSecret, "client-secret", server.DefaultClientSecret, "service principal `secret`")
	return fs, o
}

func azLogin(args []string) int {
	fs, o := azLoginFlags()
	if status, ok := parseCommandFlags(fs, args, ignoreArguments); !ok {
		return status
	}
	script, err := o.script(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "acremu az-login:", err)
		return 1
	}
	fmt.Print(script)
	return 0
}

// script fetches the CA into the config directory and returns the lines.
// Each az call costs a second or two, so the common case (a fresh
// directory) runs three: register, set, login; an existing registration of
// the cloud is updated in place instead, so re-running after acremu moved
// to another port works.
func (o *azLoginOptions) script(ctx context.Context) (string, error) {
	u, err := url.Parse(strings.TrimSuffix(o.server, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" {
		return "", fmt.Errorf("--server %q: want https://HOST:PORT (az requires HTTPS)", o.server)
	}
	dir, err := filepath.Abs(o.configDir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	caPath := filepath.Join(dir, "acremu-ca.crt")
	if err := fetchCA(ctx, "http://"+u.Host+"/_acremu/ca.crt", caPath); err != nil {
		return "", err
	}
	base := "https://" + u.Host
	q := shellQuote
	endpoints := fmt.Sprintf("--endpoint-resource-manager %s --endpoint-active-directory %s --endpoint-active-directory-resource-id %s --endpoint-active-directory-graph-resource-id %s --suffix-acr-login-server-endpoint %s",
		q(base+"/"), q(base+"/adfs"), q(base+"/"), q(base+"/graph/"), q(o.acrSuffix))
	var b strings.Builder
	fmt.Fprintf(&b, "export AZURE_CONFIG_DIR=%s\n", q(dir))
	fmt.Fprintf(&b, "export REQUESTS_CA_BUNDLE=%s\n", q(caPath))
	// Each of these would otherwise make az reach the internet.
	b.WriteString("export AZURE_CORE_COLLECT_TELEMETRY=false AZURE_CORE_ERROR_RECOMMENDATION=off AZURE_CORE_SURVEY_MESSAGE=false AZURE_CORE_NO_COLOR=true\n")
	fmt.Fprintf(&b, "printf '%%s\\n' %s > \"$AZURE_CONFIG_DIR/versionCheck.json\"\n", q(versionCheckSeed))
	// --only-show-errors keeps az's "switched cloud, now log in" warnings
	// out of the user's shell; real errors still show.
	fmt.Fprintf(&b, "{ az cloud register --name %[1]s %[2]s >/dev/null 2>&1 || az cloud update --name %[1]s %[2]s --only-show-errors >/dev/null; } &&\n", q(o.cloud), endpoints)
	fmt.Fprintf(&b, "az cloud set --name %s --only-show-errors >/dev/null &&\n", q(o.cloud))
	fmt.Fprintf(&b, "az login --service-principal -u %s -p %s --tenant %s --only-show-errors >/dev/null &&\n", q(o.clientID), q(o.clientSecret), q(o.tenant))
	fmt.Fprintf(&b, "echo %s\n", q("az is logged in to acremu at "+base+" (AZURE_CONFIG_DIR="+dir+")"))
	return b.String(), nil
}

func fetchCA(ctx context.Context, caURL, dest string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, caURL, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch acremu's CA (is acremu running?): %w", err)
	}
	defer resp.Body.Close()
	pem, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(pem), "BEGIN CERTIFICATE") {
		return fmt.Errorf("fetch %s: status %d (with --tls-cert, point REQUESTS_CA_BUNDLE at your own CA)", caURL, resp.StatusCode)
	}
	return os.WriteFile(dest, pem, 0o644)
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@%+,", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
