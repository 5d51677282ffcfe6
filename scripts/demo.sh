#!/usr/bin/env bash
# `make demo`: on a fresh Debian/Ubuntu machine, installs what pg_ivf needs,
# builds and installs it, starts a throwaway cluster (run by a non-root user)
# that stays up, loads Fashion-MNIST, builds an ivf index with its progress
# shown and prints recall@10 and latency per ivf.probes. `make demo-stop`
# stops and removes the cluster.
set -eu -o pipefail
cd "$(dirname "$0")/.."
DEMO_DIR=${PG_IVF_DEMO_DIR:-/tmp/pg_ivf_demo}
export PG_IVF_DEMO_DIR=$DEMO_DIR
MAKE=${MAKE:-make}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "need root for: $* (no sudo found)"; return 1; fi
}

# Runs an install script; as a non-root user only asks for root when it reports missing packages.
ensure() {
  if [ "$(id -u)" = 0 ]; then bash "$@"
  else bash "$@" >/dev/null 2>&1 || as_root bash "$@"; fi
}

echo "== 1/4 dependencies (Debian packages)"
ensure scripts/install-deps.sh --bench

echo "== 2/4 build and install"
$MAKE -s -j2
if [ -w "$(pg_config --pkglibdir)" ]; then $MAKE -s install; else as_root $MAKE -s install; fi

echo "== 3/4 throwaway cluster"
[ -f "$DEMO_DIR/state" ] && bash scripts/demo-stop.sh
. scripts/cluster.sh
mkdir -p "$DEMO_DIR"
cluster_start "$DEMO_DIR/cluster" maintenance_work_mem=1GB shared_buffers=1GB
{
  echo "CLUSTER_DIR=$CLUSTER_DIR"
  echo "PGHOST=$PGHOST"
  echo "PGPORT=$PGPORT"
  echo "PGUSER=$PGUSER"
} >"$DEMO_DIR/state"
echo "cluster in $CLUSTER_DIR, port $PGPORT (server log: $CLUSTER_DIR/server.log)"

echo "== 4/4 Fashion-MNIST: load, index, query"
/usr/bin/python3 bench/demo.py "$@"

cat <<MSG

The cluster is still running. Connect with:
  psql -h $PGHOST -p $PGPORT -U $PGUSER postgres
and try, for example:
  SET ivf.probes = 8;
  SELECT id, v <-> (SELECT v FROM fashion_mnist_queries WHERE id = 0) AS dist
  FROM fashion_mnist ORDER BY v <-> (SELECT v FROM fashion_mnist_queries WHERE id = 0) LIMIT 10;
  SELECT * FROM ivf_index_info('fashion_mnist_ivf_sq8');
Benchmarks against this cluster: /usr/bin/python3 bench/run.py --dataset fashion-mnist (see bench/README.md)
Stop and remove it with: make demo-stop
MSG
