//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// terraformProviderVersion is the azurerm provider version label
// scripts/build-terraform-provider.sh builds and lays out in its mirror.
const terraformProviderVersion = "1.44.1-0.20260824201233-fae580791926"

// terraformMirror returns the filesystem mirror the build script fills, or
// fails the test with how to fill it.
func terraformMirror(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("ACREMU_TERRAFORM_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			require.NoError(t, err)
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "acremu", "terraform")
	}
	mirror := filepath.Join(cache, "mirror")
	bin := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "azurerm", terraformProviderVersion, "linux_amd64",
		"terraform-provider-azurerm_v"+terraformProviderVersion)
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the Terraform azurerm provider is not built (%v): run `make deps` (scripts/build-terraform-provider.sh, about 30 minutes the first time)", err)
	}
	return mirror
}

// terraformEnv runs terraform in one working directory against acremu.
type terraformEnv struct {
	t   *testing.T
	dir string
	env []string
}

func (tf *terraformEnv) run(timeout time.Duration, args ...string) result {
	tf.t.Helper()
	return runCommand(tf.t, command{name: "terraform", args: args, env: tf.env, dir: tf.dir, timeout: timeout})
}

// must runs terraform, fails the test on a non-zero exit and returns what
// it printed.
func (tf *terraformEnv) must(timeout time.Duration, args ...string) string {
	tf.t.Helper()
	return tf.run(timeout, args...).MustSucceed(tf.t).Combined
}

// requireNoChanges runs terraform plan -detailed-exitcode, which exits 0
// only when the configuration and acremu's state agree.
func (tf *terraformEnv) requireNoChanges(vars ...string) {
	tf.t.Helper()
	plan := tf.run(5*time.Minute, append([]string{"plan", "-detailed-exitcode", "-input=false", "-no-color"}, vars...)...)
	require.Equal(tf.t, 0, plan.ExitCode, "terraform plan is not empty: %s", plan)
}

// newTerraform prepares a working directory with mainTF, the provider
// pinned to the mirror's version, and a CLI configuration that installs it
// from the mirror only.
func newTerraform(t *testing.T, in *instance, mirror, mainTF string) *terraformEnv {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.tf"), []byte(mainTF), 0o644))
	versions := fmt.Sprintf(`terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "= %s"
    }
  }
}
`, terraformProviderVersion)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "versions.tf"), []byte(versions), 0o644))
	cliConfig := filepath.Join(dir, "terraformrc")
	require.NoError(t, os.WriteFile(cliConfig, []byte(fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/hashicorp/azurerm"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/azurerm"]
  }
}
disable_checkpoint = true
`, mirror)), 0o644))
	tf := &terraformEnv{t: t, dir: dir, env: []string{
		"TF_CLI_CONFIG_FILE=" + cliConfig,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
		"SSL_CERT_FILE=" + filepath.Join(in.DataDir, "ca.crt"),
		"TF_DATA_DIR=" + filepath.Join(dir, ".terraform"),
	}}
	tf.must(2*time.Minute, "init", "-input=false", "-no-color")
	return tf
}

// TestTerraform applies a resource group and a Premium registry whose
// network_rule_set admits one IP range with the real azurerm provider, and
// proves with the docker daemon that the rule Terraform set is the rule
// the registry enforces: the rule admits, a changed rule and disabled
// public access deny with ACR's message. After every apply, plan is empty.
func TestTerraform(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Fatalf("terraform is not installed: %v", err)
	}
	mirror := terraformMirror(t)
	in := startAcremu(t)
	d := newDocker(t)

	main, err := os.ReadFile(filepath.Join("testdata", "terraform", "main.tf"))
	require.NoError(t, err)
	tf := newTerraform(t, in, mirror, string(main))
	host := fmt.Sprintf("-var=metadata_host=localhost:%d", in.Port)
	vars := func(ipRange string, public bool) []string {
		return []string{host, "-var=ip_range=" + ipRange, fmt.Sprintf("-var=public_network_access_enabled=%t", public)}
	}
	apply := func(ipRange string, public bool) {
		t.Helper()
		tf.must(10*time.Minute, append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, vars(ipRange, public)...)...)
		tf.requireNoChanges(vars(ipRange, public)...)
	}

	apply(natAddr+"/32", true)
	in.requireCreatePolled(t, "tfregistry01")

	var outputs map[string]struct {
		Value string `json:"value"`
	}
	require.NoError(t, json.Unmarshal([]byte(tf.must(time.Minute, "output", "-json")), &outputs))
	loginServer, user, password := outputs["login_server"].Value, outputs["admin_username"].Value, outputs["admin_password"].Value
	require.NotEmpty(t, loginServer)
	require.NotEmpty(t, password)
	image := loginServer + "/terraform/hello:v1"
	d.importImage(image, "hello from terraform\n")
	d.must("tag", image, localCopy(image))

	login := func() result {
		d.run("logout", loginServer)
		return d.run("login", loginServer, "-u", user, "-p", password)
	}
	requireAdmitted := func(t *testing.T) { d.requireAdmitted(t, login, image) }
	requireDenied := func(t *testing.T) { d.requireDenied(t, login, loginServer, image) }

	t.Run("the rule Terraform set admits", requireAdmitted)
	t.Run("a changed rule denies", func(t *testing.T) {
		apply("198.51.100.7/32", true)
		requireDenied(t)
	})
	t.Run("the rule restored admits", func(t *testing.T) {
		apply(natAddr+"/32", true)
		requireAdmitted(t)
	})
	t.Run("public access disabled denies", func(t *testing.T) {
		apply(natAddr+"/32", false)
		requireDenied(t)
	})
	t.Run("import the default registry", func(t *testing.T) {
		// The registry acremu creates at start, described as it is.
		imp := newTerraform(t, in, mirror, strings.Replace(`variable "metadata_host" {
  type = string
}

provider "azurerm" {
  features {}
  metadata_host   = var.metadata_host
  tenant_id       = "22222222-2222-2222-2222-222222222222"
  subscription_id = "SUB"
  client_id       = "33333333-3333-3333-3333-333333333333"
  client_secret   = "acremu-dev-secret"
}

resource "azurerm_resource_group" "rg" {
  name     = "acremu"
  location = "eastus"
}

resource "azurerm_container_registry" "acr" {
  name                = "myregistry"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  sku                 = "Premium"
  admin_enabled       = true
}
`, "SUB", subscription, 1))
		group := "/subscriptions/" + subscription + "/resourceGroups/acremu"
		imp.must(5*time.Minute, "import", "-input=false", "-no-color", host, "azurerm_resource_group.rg", group)
		imp.must(5*time.Minute, "import", "-input=false", "-no-color", host, "azurerm_container_registry.acr",
			group+"/providers/Microsoft.ContainerRegistry/registries/myregistry")
		imp.requireNoChanges(host)
	})
	t.Run("destroy", func(t *testing.T) {
		tf.must(10*time.Minute, append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, vars(natAddr+"/32", false)...)...)
		status, body := in.arm(http.MethodGet, "/subscriptions/"+subscription+"/resourceGroups/tf-rg?api-version=2021-04-01", nil)
		require.Equal(t, http.StatusNotFound, status, "%s", body)
	})
}
