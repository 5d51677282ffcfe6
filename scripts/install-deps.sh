#!/usr/bin/env bash
# Installs what building and testing pg_ivf needs on Debian 12 / Ubuntu (run as root).
#   --bench  also what `make demo` and bench/ need: Debian's Python with numpy,
#            psycopg2, FAISS and matplotlib, and the Fashion-MNIST data set.
set -eu
pkgs="build-essential postgresql-15 postgresql-server-dev-15 libgtest-dev libbenchmark-dev libipc-run-perl perl"
if [ "${1:-}" = "--bench" ]; then
  pkgs="$pkgs python3 python3-numpy python3-psycopg2 python3-faiss python3-matplotlib dataset-fashion-mnist"
fi
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing packages:$missing (run this script as root)"; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
