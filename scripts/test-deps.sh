#!/usr/bin/env bash
# Installs and starts what the end-to-end suites need on a fresh Debian 12
# machine: the docker engine, the Azure CLI, skopeo, Chromium, iproute2 and
# jq (and docker-compose, busybox-static for the compose lab) from Debian,
# a running docker daemon, and crane, oras and regctl
# through the Go module proxy (scripts/install-clients.sh). It then builds,
# once, what the end-to-end tests would otherwise build under their time
# limits: the OCI conformance suite (scripts/build-conformance.sh) and the
# compose lab's images (lab/build-offline.sh). Safe to run repeatedly; the
# Go build cache (outside the repository) makes later runs quick.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# step prints what is about to happen; done_step how long it took.
step() { step_start=$SECONDS; echo "test-deps: $*"; }
done_step() { echo "test-deps:   done in $((SECONDS - step_start))s"; }

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
  step "starting dockerd (log: /var/log/acremu-test-dockerd.log)"
  mkdir -p /var/log
  nohup dockerd >/var/log/acremu-test-dockerd.log 2>&1 &
  dockerd_pid=$!
  # Its first start on a new, busy machine sets up /var/lib/docker and
  # containerd; give it minutes, but stop waiting as soon as it has exited.
  for i in $(seq 1 300); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    [ $((i % 30)) -ne 0 ] || echo "test-deps:   still waiting for dockerd (${i}s)"
    sleep 1
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start:"; tail -50 /var/log/acremu-test-dockerd.log; exit 1; }
  done_step
fi

# The Go-based registry clients, at the versions in scripts/clients.env.
step "registry clients (scripts/install-clients.sh)"
bash "$root/scripts/install-clients.sh"
done_step

# The OCI conformance suite, which e2e/conformance_suite_test.go runs.
step "OCI conformance suite (scripts/build-conformance.sh)"
bash "$root/scripts/build-conformance.sh" >/dev/null
done_step

# The compose lab's images, FROM scratch, under the tags e2e/compose_lab_test.go
# looks for; the test rebuilds them from the current source under its own tags,
# which then only takes seconds.
step "compose lab images (lab/build-offline.sh)"
ACREMU_IMAGE=acremu:e2e ACREMU_LAB_CLIENT_IMAGE=acremu-lab-client:e2e bash "$root/lab/build-offline.sh"
done_step
# The Azure SDKs for JavaScript that e2e/jssdk_test.go runs, at the exact
# versions in e2e/testdata/jssdk/package-lock.json, into its node_modules
# (gitignored). Needs Node 20 or later and npm.
step "JavaScript SDKs (npm ci in e2e/testdata/jssdk)"; command -v npm >/dev/null || { echo "npm not found: install Node.js 20 or later"; exit 1; }; (cd "$root/e2e/testdata/jssdk" && npm ci --no-audit --no-fund --loglevel=error); done_step
step "Terraform azurerm provider, ~30 min the first time (scripts/build-terraform-provider.sh)"; bash "$root/scripts/build-terraform-provider.sh"; done_step
