#!/usr/bin/env bash
# Builds the lab's two images without pulling anything: acremu from
# Dockerfile.offline and the client from lab/Dockerfile.offline, both FROM
# scratch over static binaries built here (acremu with CGO_ENABLED=0, crane
# at the version pinned in scripts/clients.env) and Debian's busybox-static.
# docker-compose.yml then finds the images and builds nothing.
#
# The slow part on a new machine is compiling: Go's build cache (go env
# GOCACHE, by default under ~/.cache, outside the repository) and the crane
# in .tools/bin make later runs take seconds. `make deps` runs this once
# (scripts/test-deps.sh), so the end-to-end tests only rebuild what changed.
# Each step is printed with the seconds it took.
#
# Environment:
#   ACREMU_IMAGE             acremu image tag (default acremu:lab)
#   ACREMU_LAB_CLIENT_IMAGE  client image tag (default acremu-lab-client:lab)
#   ACREMU_BIN               use this static acremu binary instead of building one
#   CRANE                    use this static crane binary instead of .tools/bin/crane
#   BUSYBOX                  static busybox (default /bin/busybox, from busybox-static)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../scripts/clients.env
. "$root/scripts/clients.env"
acremu_image=${ACREMU_IMAGE:-acremu:lab}
client_image=${ACREMU_LAB_CLIENT_IMAGE:-acremu-lab-client:lab}
busybox=${BUSYBOX:-/bin/busybox}

die() { echo "build-offline: $*" >&2; exit 1; }

# step prints what is about to happen; done_step how long it took.
step() { step_start=$SECONDS; echo "build-offline: $*"; }
done_step() { echo "build-offline:   done in $((SECONDS - step_start))s"; }

# An empty image has no C library, so every binary in it must be static.
require_static() {
  [ -x "$1" ] || die "$1 is missing${2:+ ($2)}"
  case "$(ldd "$1" 2>&1)" in
    *'=>'*) die "$1 is dynamically linked${2:+ ($2)}" ;;
  esac
}

started=$SECONDS
require_static "$busybox" "apt-get install busybox-static"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/acremu/empty" "$stage/client"

if [ -n "${ACREMU_BIN:-}" ]; then
  cp "$ACREMU_BIN" "$stage/acremu/acremu"
else
  version=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || echo dev)
  step "building acremu $version (static; Go build cache $(go env GOCACHE))"
  (cd "$root" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$stage/acremu/acremu" ./cmd/acremu)
  done_step
fi
require_static "$stage/acremu/acremu" "build it with CGO_ENABLED=0"

crane=${CRANE:-$root/.tools/bin/crane}
if [ -z "${CRANE:-}" ] && [ "$(go version -m "$crane" 2>/dev/null | awk '$1 == "mod" { print $3; exit }')" != "$CRANE_VERSION" ]; then
  step "installing crane $CRANE_VERSION into $(dirname "$crane") (static; downloads modules on first use)"
  # Outside the repository, so no go.mod or go.work of ours is consulted.
  (cd / && GOWORK=off GOBIN="$(dirname "$crane")" CGO_ENABLED=0 go install "$CRANE_MODULE@$CRANE_VERSION")
  done_step
fi
require_static "$crane" "build it with CGO_ENABLED=0"
cp "$crane" "$stage/client/crane"
cp "$busybox" "$stage/client/busybox"
cp -p "$root/lab/passwd" "$root/lab/group" "$root/lab/lab-client.sh" "$stage/client/"

step "docker build $acremu_image (FROM scratch)"
docker build -q -f "$root/Dockerfile.offline" -t "$acremu_image" "$stage/acremu" >/dev/null
done_step
step "docker build $client_image (FROM scratch)"
docker build -q -f "$root/lab/Dockerfile.offline" -t "$client_image" "$stage/client" >/dev/null
done_step
echo "built $acremu_image and $client_image in $((SECONDS - started))s"
