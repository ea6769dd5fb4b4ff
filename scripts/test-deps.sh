#!/usr/bin/env bash
# Installs and starts what the end-to-end suites need on a fresh Debian 12
# machine: the docker engine, the Azure CLI, skopeo, Chromium, iproute2 and
# jq (and docker-compose, busybox-static for the compose lab) from Debian,
# a running docker daemon, and crane, oras and regctl
# through the Go module proxy (scripts/install-clients.sh). Safe to run
# repeatedly.
set -euo pipefail

need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v az >/dev/null || need+=(azure-cli)
command -v skopeo >/dev/null || need+=(skopeo)
command -v chromium >/dev/null || need+=(chromium)
command -v ip >/dev/null || need+=(iproute2)
command -v jq >/dev/null || need+=(jq)
command -v unshare >/dev/null || need+=(util-linux)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then need+=(docker-compose); fi
# The compose lab's client image is FROM scratch: it needs a static busybox.
case "$(ldd /bin/busybox 2>&1)" in *'=>'* | *'No such file'*) need+=(busybox-static) ;; esac
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # With recommends, as the suites were developed: Chromium then gets its
  # fonts, and docker.io its usual companions.
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
  mkdir -p /var/log
  nohup dockerd >/var/log/acremu-test-dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -50 /var/log/acremu-test-dockerd.log; exit 1; }
fi

# The Go-based registry clients, at the versions in scripts/clients.env.
bash "$(dirname "$0")/install-clients.sh"
