#!/usr/bin/env bash
# Installs, from Debian's packages, whatever surge needs to build, test and benchmark that is not
# already present. Idempotent and quick when everything is there: it asks dpkg first and only calls
# apt-get for what is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  clang libclang-rt-14-dev clang-format clang-tidy
  libgtest-dev libgmock-dev libbenchmark-dev
  libabsl-dev libsimdjson-dev libboost-dev libtomlplusplus-dev
  curl procps bc python3
  iproute2
  nats-server libnats-dev
  etcd-server etcd-client
  libxgboost-dev libhnswlib-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
