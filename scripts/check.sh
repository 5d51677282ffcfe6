#!/usr/bin/env bash
# `make check`: unit tests, build + install, pg_regress on a throwaway
# cluster, the TAP tests, then the upgrade from 0.1.0; ends with one summary
# line of all counts.
set -u -o pipefail
cd "$(dirname "$0")/.."
. scripts/cluster.sh

MAKE=${MAKE:-make}
PGXS_DIR=$(dirname "$("$PG_CONFIG" --pgxs)")/../..
log=$(mktemp -d /tmp/pg_ivf_check.XXXXXX)
chmod 755 "$log"
trap 'cluster_stop; rm -rf "$log"' EXIT
passed=0 failed=0 skipped=0
status=0

# Runs one GoogleTest binary through its make target and adds its counts; a
# run that reports neither passes nor failures (a build error) is one failure.
run_gtest() {  # make target, what it tests
  local out="$log/$1.out" p f s
  if $MAKE -s "$1" 2>&1 | tee "$out"; then :; else status=1; fi
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
  s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  [ -z "$p" ] && [ -z "$f" ] && { echo "$2 did not run"; failed=$((failed + 1)); status=1; }
  return 0
}

echo "== unit tests (GoogleTest)"
run_gtest unit "unit tests"

echo "== GPU tests (kernels simulated on the CPU; device tests are skipped without a GPU)"
run_gtest check-gpu "GPU tests"

echo "== build and install"
if ! { $MAKE -s -j2 && $MAKE -s install; } >"$log/build.out" 2>&1; then
  cat "$log/build.out"; echo "build failed"; echo "check: $passed passed, $((failed + 1)) failed, $skipped skipped"; exit 1
fi

echo "== regression tests (pg_regress) on a throwaway cluster"
# GPUs are hidden from the server so the expected outputs (build_device, ivf_gpu) hold on any machine;
# the GPU path is tested by check-gpu above.
CUDA_VISIBLE_DEVICES= cluster_start "" || { echo "check: $passed passed, $((failed + 1)) failed, $skipped skipped"; exit 1; }
tests=$($MAKE -s --no-print-directory print-regress 2>/dev/null)
rm -rf build/regress && mkdir -p build/regress
"$PGXS_DIR/src/test/regress/pg_regress" --inputdir=. --outputdir=build/regress \
  --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
  --dbname=contrib_regression $tests 2>&1 | tee "$log/regress.out"
p=$(grep -cE '\.\.\. ok' "$log/regress.out")
f=$(grep -cE '\.\.\. FAILED' "$log/regress.out")
passed=$((passed + p)); failed=$((failed + f))
[ "$f" -gt 0 ] && { status=1; [ -f build/regress/regression.diffs ] && head -200 build/regress/regression.diffs; }
[ "$p" -eq 0 ] && { echo "regression tests did not run"; status=1; failed=$((failed + 1)); }

echo "== pg_ivf_pgvector regression tests (need pgvector's extension vector)"
# pgvector is not packaged for every platform, so these run only where its
# extension is installed into this PostgreSQL, and count as skipped otherwise.
pgv_tests=$($MAKE -s --no-print-directory print-regress-pgvector 2>/dev/null)
pgv_count=$(wc -w <<<"$pgv_tests")
if [ "$("$PGBIN/psql" -X -At -d postgres -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'")" = 1 ]; then
  rm -rf build/regress-pgvector && mkdir -p build/regress-pgvector
  "$PGXS_DIR/src/test/regress/pg_regress" --inputdir=test/pgvector --outputdir=build/regress-pgvector \
    --bindir="$PGBIN" --host="$PGHOST" --port="$PGPORT" --user=postgres \
    --dbname=pgvector_regression --load-extension=vector --load-extension=pg_ivf_pgvector \
    $pgv_tests 2>&1 | tee "$log/regress-pgvector.out"
  p=$(grep -cE '\.\.\. ok' "$log/regress-pgvector.out")
  f=$(grep -cE '\.\.\. FAILED' "$log/regress-pgvector.out")
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" -gt 0 ] && { status=1; [ -f build/regress-pgvector/regression.diffs ] && head -200 build/regress-pgvector/regression.diffs; }
  [ "$p" -eq 0 ] && { echo "pg_ivf_pgvector regression tests did not run"; status=1; failed=$((failed + 1)); }
else
  echo "pgvector (extension vector) is not installed in this PostgreSQL: skipping $pgv_count pg_ivf_pgvector regression tests"
  skipped=$((skipped + pgv_count))
fi
grep -q "terminated by signal" "$CLUSTER_DIR/server.log" && { echo "server crashed during regression tests:"; grep -B5 -A5 "terminated by signal" "$CLUSTER_DIR/server.log"; status=1; failed=$((failed + 1)); }
cluster_stop

if ls test/t/*.pl >/dev/null 2>&1; then
  echo "== TAP tests (prove)"
  tapdir="$log/tap"
  mkdir -p "$tapdir" && cp -r test/t "$tapdir/t"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$tapdir"
  (cd "$tapdir" && as_pg env TESTDIR="$tapdir" PATH="$PGBIN:$PATH" PGUSER= PGHOST= PGPORT= \
      PERL5LIB="$PGXS_DIR/src/test/perl" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
      prove --ext .pl --timer t/) 2>&1 | tee "$log/tap.out"
  p=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log/tap.out")
  # a file that skips itself (007_pgvector.pl without pgvector) counts as one skipped test
  skipped=$((skipped + $(grep -c ' skipped: ' "$log/tap.out")))
  if grep -q '^Result: PASS' "$log/tap.out"; then passed=$((passed + ${p:-0}));
  else
    status=1; failed=$((failed + 1))
    for f in "$tapdir"/tmp_check/log/*; do echo "---- $f"; tail -50 "$f"; done 2>/dev/null
  fi
fi

echo "== upgrade from 0.1.0 (scripts/upgrade-check.sh)"
bash scripts/upgrade-check.sh 2>&1 | tee "$log/upgrade.out"
counts=$(sed -n 's/^upgrade: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$log/upgrade.out" | tail -1)
if [ -n "$counts" ]; then
  read -r p f s <<<"$counts"
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  [ "$f" -gt 0 ] && status=1
else
  echo "upgrade test did not finish"; failed=$((failed + 1)); status=1
fi

echo "check: $passed passed, $failed failed, $skipped skipped"
exit $status
