#!/bin/sh
# Entry point of the lab's client containers: fetch acremu's CA over plain
# HTTP (crane then trusts https://acremu:5000 through SSL_CERT_FILE), then
# idle so that commands can be run here with `docker compose exec`.
set -u
ca=${SSL_CERT_FILE:-$HOME/acremu-ca.crt}
url=${ACREMU_URL:-http://acremu:5000}/_acremu/ca.crt
tries=0
until wget -q -O "$ca.part" "$url"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then
    echo "lab-client: cannot fetch $url" >&2
    exit 1
  fi
  sleep 1
done
mv "$ca.part" "$ca"
echo "lab-client: $(hostname) trusts the acremu CA from $url"
trap 'exit 0' TERM INT
while :; do
  sleep 3600 &
  wait $!
done
