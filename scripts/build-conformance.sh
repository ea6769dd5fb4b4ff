#!/usr/bin/env bash
# Builds the OCI distribution-spec conformance suite (the Go module and
# version pinned in scripts/clients.env, from the Go module proxy) into
# .tools/oci-conformance and prints the binary's path. A binary of the
# pinned version already there is reused; set OCI_CONFORMANCE_REBUILD=1 to
# fetch and build again. The version built is written next to the binary
# (.tools/oci-conformance.version).
#
# Usage: scripts/build-conformance.sh [output-binary]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.tools/oci-conformance}
# shellcheck source=clients.env
. "$root/scripts/clients.env"
module=$CONFORMANCE_MODULE

if [ -x "$out" ] && [ "$(cat "$out.version" 2>/dev/null)" = "$module@$CONFORMANCE_VERSION" ] && [ "${OCI_CONFORMANCE_REBUILD:-}" != 1 ]; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Outside any module, so the download touches no go.mod; the module cache
# copy is read-only, hence the writable copy before building.
meta=$(cd "$work" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$module@$CONFORMANCE_VERSION")
dir=$(printf '%s\n' "$meta" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
version=$(printf '%s\n' "$meta" | sed -n 's/^[[:space:]]*"Version": "\(.*\)",\{0,1\}$/\1/p')
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "build-conformance: cannot download $module@$CONFORMANCE_VERSION:" >&2
  printf '%s\n' "$meta" >&2
  exit 1
fi

cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
mkdir -p "$(dirname "$out")"
(cd "$work/src" && GOWORK=off GOFLAGS=-mod=mod CGO_ENABLED=0 go build -o "$out.tmp" .)
mv "$out.tmp" "$out"
printf '%s@%s\n' "$module" "$version" >"$out.version"
echo "$out"
