#!/usr/bin/env bash
# Installs what building and testing pg_ivf needs on Debian 12 / Ubuntu (run as root).
set -eu
pkgs="build-essential postgresql-15 postgresql-server-dev-15 libopenblas-serial-dev
      libgtest-dev libbenchmark-dev libipc-run-perl perl"
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing packages:$missing (run this script as root)"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian's postgresql package starts a cluster of its own; our tests never use it.
