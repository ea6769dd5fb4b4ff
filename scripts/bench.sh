#!/usr/bin/env bash
# Builds acremu, the benchmark command (bench/) and bare distribution
# v3.1.2's cmd/registry into a cache outside the repository, then runs the
# benchmark. distribution comes from the Go module proxy and is built once
# per machine. Arguments go to the benchmark: -smoke for the short run CI
# does, -out docs/benchmarks.md to update the docs (make bench does), -h
# for the rest.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
CACHE=${ACREMU_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acremu-bench}
DIST=github.com/distribution/distribution/v3/cmd/registry
DIST_VERSION=v3.1.2
mkdir -p "$CACHE"

if [ ! -x "$CACHE/registry-$DIST_VERSION" ]; then
	echo "bench: building $DIST@$DIST_VERSION (once per machine)"
	tmp=$(mktemp -d "$CACHE/build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && GOBIN="$tmp" GOFLAGS= $GO install "$DIST@$DIST_VERSION")
	mv "$tmp/registry" "$CACHE/registry-$DIST_VERSION"
fi
CGO_ENABLED=0 $GO build -o "$CACHE/acremu" ./cmd/acremu
$GO build -o "$CACHE/acremu-bench" ./bench

"$CACHE/acremu-bench" -acremu "$CACHE/acremu" -registry "$CACHE/registry-$DIST_VERSION" "$@"
