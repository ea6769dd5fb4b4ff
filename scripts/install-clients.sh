#!/usr/bin/env bash
# Installs the Go-based registry clients pinned in scripts/clients.env
# (crane, oras, regctl) into .tools/bin with `go install`, statically linked
# (CGO_ENABLED=0). A binary already built from the pinned version is kept,
# so running this again costs nothing.
#
# Usage: scripts/install-clients.sh [bin-dir]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.tools/bin}
# shellcheck source=clients.env
. "$root/scripts/clients.env"
mkdir -p "$bin"

# installed prints the module version a Go binary was built from.
installed() {
  [ -x "$1" ] || return 0
  go version -m "$1" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

install() { # tool module version
  local tool=$1 module=$2 version=$3
  if [ "$(installed "$bin/$tool")" = "$version" ]; then
    return 0
  fi
  echo "installing $tool $version"
  # Outside the repository, so no go.mod or go.work of ours is consulted.
  (cd / && GOWORK=off GOBIN="$bin" CGO_ENABLED=0 go install "$module@$version")
  [ "$(installed "$bin/$tool")" = "$version" ] || {
    echo "install-clients: $bin/$tool is not $module@$version" >&2
    exit 1
  }
}

install crane "$CRANE_MODULE" "$CRANE_VERSION"
install oras "$ORAS_MODULE" "$ORAS_VERSION"
install regctl "$REGCTL_MODULE" "$REGCTL_VERSION"
