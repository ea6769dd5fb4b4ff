#!/usr/bin/env bash
# Builds the Terraform azurerm provider from the Go module proxy, once per
# machine, for e2e/terraform_test.go, and lays it out as a Terraform
# filesystem mirror with a CLI configuration file that uses it.
#
# The Go module proxy serves only one version of the provider (a pseudo-version
# of its main branch; tagged versions are refused), pinned below. The first
# build takes about 30 minutes on 2 cores, peaks at about 4.5 GiB of memory and
# adds about 8 GB to the Go module and build caches; later runs find the
# binary and return at once. Set ACREMU_TERRAFORM_REBUILD=1 to build again.
#
# Layout, under ${ACREMU_TERRAFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acremu/terraform}:
#   bin/terraform-provider-azurerm                         the built binary
#   mirror/registry.terraform.io/hashicorp/azurerm/<version>/<os>_<arch>/
#     terraform-provider-azurerm_v<version>                a copy Terraform installs
#   terraformrc                                            TF_CLI_CONFIG_FILE for the mirror
#
# Usage: scripts/build-terraform-provider.sh
set -euo pipefail

module=github.com/hashicorp/terraform-provider-azurerm
version=v1.44.1-0.20260824201233-fae580791926
label=${version#v}
cache=${ACREMU_TERRAFORM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acremu/terraform}
bin=$cache/bin/terraform-provider-azurerm
platform=$(go env GOOS)_$(go env GOARCH)
mirror=$cache/mirror
provider_dir=$mirror/registry.terraform.io/hashicorp/azurerm/$label/$platform

log() { echo "build-terraform-provider: $*"; }

if [ ! -x "$bin" ] || [ ! -s "$bin.version" ] || [ "$(cat "$bin.version")" != "$module@$version" ] || [ "${ACREMU_TERRAFORM_REBUILD:-}" = 1 ]; then
  log "building $module@$version (about 30 min on 2 cores, 4.5 GiB memory, 8 GB of Go caches)"
  mkdir -p "$cache/bin" "$cache/tmp"
  start=$SECONDS
  # Outside any module, so no go.mod is touched; GOBIN into the cache.
  (cd "$cache/tmp" && GOWORK=off GOBIN=$cache/bin GOFLAGS=-buildvcs=false go install "$module@$version") &
  build=$!
  # A progress line every minute while the build runs.
  (
    while kill -0 "$build" 2>/dev/null; do
      sleep 60
      kill -0 "$build" 2>/dev/null && log "still building ($(((SECONDS - start) / 60)) min)"
    done
  ) &
  ticker=$!
  status=0
  wait "$build" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    log "go install failed (exit $status) after $((SECONDS - start))s"
    exit "$status"
  fi
  printf '%s@%s\n' "$module" "$version" >"$bin.version"
  log "built in $((SECONDS - start))s: $bin"
else
  log "already built: $bin ($(cat "$bin.version"))"
fi

# The filesystem mirror Terraform installs the provider from.
mkdir -p "$provider_dir"
target=$provider_dir/terraform-provider-azurerm_v$label
if [ ! -e "$target" ] || ! cmp -s "$bin" "$target"; then
  ln -f "$bin" "$target" 2>/dev/null || cp -f "$bin" "$target"
fi
cat >"$cache/terraformrc" <<CONFIG
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/azurerm"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/azurerm"]
  }
}
disable_checkpoint = true
CONFIG
log "mirror: $mirror (hashicorp/azurerm $label); TF_CLI_CONFIG_FILE=$cache/terraformrc"
