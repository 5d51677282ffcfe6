#!/usr/bin/env bash
# `make demo-stop`: stops the cluster `make demo` left running and removes it.
set -eu
cd "$(dirname "$0")/.."
DEMO_DIR=${PG_IVF_DEMO_DIR:-/tmp/pg_ivf_demo}
. scripts/cluster.sh
CLUSTER_DIR=
[ -f "$DEMO_DIR/state" ] && CLUSTER_DIR=$(sed -n 's/^CLUSTER_DIR=//p' "$DEMO_DIR/state")
# a demo that died before writing its state still leaves its cluster here
[ -z "$CLUSTER_DIR" ] && [ -d "$DEMO_DIR/cluster" ] && CLUSTER_DIR=$DEMO_DIR/cluster
if [ -z "$CLUSTER_DIR" ]; then echo "no demo cluster found under $DEMO_DIR"; exit 0; fi
cluster_stop
rm -rf "$DEMO_DIR"
echo "demo cluster stopped and removed"
