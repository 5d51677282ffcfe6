#!/usr/bin/env bash
# `make upgradecheck`, and the last stage of `make check`: a database of the
# released pg_ivf 0.1.0 carried over to this build.
#
# In a private copy of the PostgreSQL that $PG_CONFIG names: builds and
# installs 0.1.0 from this repository's history (tag v0.1.0, else its commit),
# creates the tables and ivf indexes of test/upgrade/setup.sql (every quantizer
# and metric, rows changed after the build), records the answers with every
# list probed and takes a pg_dump; then installs this build over it, restarts,
# runs ALTER EXTENSION pg_ivf UPDATE and checks that
#   - the 0.1.0 indexes answer as before and as the exact scan, also after
#     inserts, deletes and VACUUM with the new library (test/upgrade/dml.sql);
#   - a split of a 0.1.0 index shares no list (its pages carry no chain
#     stamps) and writes them all with stamps, the next split shares lists;
#   - the extension's objects (test/upgrade/catalog.sql) equal those of a
#     fresh CREATE EXTENSION pg_ivf, shown as a diff when they do not;
#   - the pg_dump of the 0.1.0 database restores into this version with the
#     same answers.
# Prints "ok - ..." / "not ok - ..." per check, then
# "upgrade: N passed, N failed, N skipped".  UPGRADE_KEEP=1 keeps the temp dir
# (logs, answers, catalog listings, the dump, server.log).
set -u -o pipefail
cd "$(dirname "$0")/.."

OLD_VERSION=0.1.0
OLD_COMMIT=7a9e69b			# the 0.1.0 release
LISTS=20					# lists of every index in setup.sql: probes = LISTS probes all
QUANTIZERS="sq8 pq flat"
METRICS="l2:<-> ip:<#> cosine:<=>"
MAKE=${MAKE:-make}
SRC_PG_CONFIG=${PG_CONFIG:-pg_config}

passed=0 failed=0 skipped=0
summary() { echo "upgrade: $passed passed, $failed failed, $skipped skipped"; }
ok() { passed=$((passed + 1)); echo "ok - $*"; }
not_ok() { failed=$((failed + 1)); echo "not ok - $*"; }
# A setup step failed: what it printed, then stop (later checks would only repeat it).
abort() { not_ok "$1"; [ -f "${2:-}" ] && tail -40 "$2"; summary; exit 1; }
# check_same NAME FILE_A LABEL_A FILE_B LABEL_B: equal files pass; otherwise the diff is shown.
check_same() {
  if diff -u --label "$3" "$2" --label "$5" "$4" >"$tmp/diff.out"; then ok "$1"; return 0; fi
  not_ok "$1"; head -80 "$tmp/diff.out"; return 1
}

# The current version and its upgrade script must agree with the Makefile.
new_version=$(sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" pg_ivf.control)
make_version=$(sed -n 's/^EXTVERSION *= *//p' Makefile)
upgrade_script=src/sql/upgrade/pg_ivf--$OLD_VERSION--$new_version.sql
if [ "$new_version" = "$make_version" ] && [ -f "$upgrade_script" ]; then
  ok "version $new_version in pg_ivf.control and the Makefile, $upgrade_script exists"
else
  not_ok "pg_ivf.control says '$new_version', the Makefile '$make_version'; $upgrade_script must exist"
fi

old_commit=$(git rev-parse -q --verify "v$OLD_VERSION^{commit}" 2>/dev/null ||
             git rev-parse -q --verify "$OLD_COMMIT^{commit}" 2>/dev/null)
if [ -z "$old_commit" ]; then
  skipped=$((skipped + 1))
  echo "skipped: $OLD_VERSION (commit $OLD_COMMIT) is not in this clone's history (not a git clone," \
    "or a shallow one: git fetch --unshallow)"
  summary; exit $((failed > 0))
fi

tmp=$(mktemp -d /tmp/pg_ivf_upgrade.XXXXXX)
chmod 755 "$tmp"
cleanup() {
  [ -n "${CLUSTER_DIR:-}" ] && cp "$CLUSTER_DIR/server.log" "$tmp/server.log" 2>/dev/null
  cluster_stop 2>/dev/null
  if [ -n "${UPGRADE_KEEP:-}" ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
# The builds below must not see the make that runs `make check` (its jobserver, its PG_CONFIG).
unset MAKEFLAGS MFLAGS MAKELEVEL

# A private PostgreSQL: its directories copied under $tmp/pg at the same
# relative places, so pg_config and the server find them from their own path.
for d in bindir pkglibdir sharedir includedir pkgincludedir includedir-server; do
  src=$("$SRC_PG_CONFIG" --$d) || abort "$SRC_PG_CONFIG --$d"
  [ -d "$tmp/pg$src" ] || { mkdir -p "$tmp/pg${src%/*}" && cp -a "$src" "$tmp/pg${src%/*}/"; } || abort "copy $src"
done
chmod -R a+rX "$tmp/pg"
PG_CONFIG=$tmp/pg$("$SRC_PG_CONFIG" --bindir)/pg_config
[ "$("$PG_CONFIG" --sharedir)" = "$tmp/pg$("$SRC_PG_CONFIG" --sharedir)" ] ||
  abort "the copy of PostgreSQL in $tmp/pg is not relocatable ($PG_CONFIG --sharedir: $("$PG_CONFIG" --sharedir))"
rm -f "$("$PG_CONFIG" --pkglibdir)"/pg_ivf*.so "$("$PG_CONFIG" --sharedir)"/extension/pg_ivf*
export PG_CONFIG
. scripts/cluster.sh

# 0.1.0 without its CUDA module (NVCC=): queries never use the GPU.
echo "== build and install $OLD_VERSION (${old_commit:0:12}) into $tmp/pg"
mkdir -p "$tmp/old"
git archive "$old_commit" | tar -x -C "$tmp/old" || abort "git archive $old_commit"
(cd "$tmp/old" && $MAKE -s -j2 NVCC= PG_CONFIG="$PG_CONFIG" && $MAKE -s install NVCC= PG_CONFIG="$PG_CONFIG") \
  >"$tmp/old-build.log" 2>&1 || abort "build and install $OLD_VERSION" "$tmp/old-build.log"

CUDA_VISIBLE_DEVICES= cluster_start "$tmp/cluster" >"$tmp/cluster.log" 2>&1 || abort "start a cluster" "$tmp/cluster.log"
psql_db() { local db=$1; shift; "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }

# answers DB MODE: per index, the 10 nearest ids of every query and the md5 of
# all the ids its scan returns, with every list probed; MODE index (the plan
# must use the index) or exact (no index).
answers() {
  local db=$1 mode=$2 q m op idx gucs plan sql
  for q in $QUANTIZERS; do
    for m in $METRICS; do
      op=${m#*:} idx=t_${q}_${m%%:*}
      # ivf.pq_rerank above the row count keeps every probed PQ row (0.2.0's default re-ranks a depth)
      if [ "$mode" = index ]; then gucs="SET enable_seqscan = off; SET enable_sort = off; SET ivf.probes = $LISTS; SET ivf.pq_rerank = 2147483647;"
      else gucs="SET enable_indexscan = off; SET enable_bitmapscan = off;"; fi
      local top="SELECT '$idx', qid, ARRAY(SELECT id FROM t_$q ORDER BY v $op queries.v LIMIT 10) FROM queries ORDER BY qid"
      local all="SELECT '$idx', 'all', md5(string_agg(id::text, ',' ORDER BY id)), count(*) FROM (SELECT id FROM t_$q
                 WHERE v IS NOT NULL ORDER BY v $op array_fill(0.25::real, ARRAY[16])::vector LIMIT 100000000) s"
      if [ "$mode" = index ]; then
        for sql in "$top" "$all"; do
          plan=$(psql_db "$db" -c "$gucs" -c "EXPLAIN (COSTS OFF) $sql") || return 1
          grep -q "Index Scan using $idx " <<<"$plan" || { echo "$idx: not used by: $sql"; echo "$plan"; return 1; }
        done
      fi
      psql_db "$db" -c "$gucs" -c "$top" -c "$all" || return 1
    done
  done
}

# check_answers NAME DB: the indexes answer as the exact scan (and $3, a file of
# earlier answers, when given).
check_answers() {
  answers "$2" index >"$tmp/index.out" 2>&1 || abort "$1: index answers" "$tmp/index.out"
  answers "$2" exact >"$tmp/exact.out" 2>&1 || abort "$1: exact answers" "$tmp/exact.out"
  check_same "$1: every index answers as the exact scan (all lists probed)" \
    "$tmp/exact.out" "exact scan" "$tmp/index.out" "index scans"
  [ -n "${3:-}" ] && check_same "$1: answers as with $OLD_VERSION" "$3" "$OLD_VERSION" "$tmp/index.out" "now"
}

# every_new_row_found DB: rows inserted with the new library are their own
# nearest neighbour through every l2 and cosine index.
every_new_row_found() {
  local q m missing
  for q in $QUANTIZERS; do
    for m in '<->' '<=>'; do
      missing=$(psql_db "$1" -c "SET enable_seqscan = off; SET ivf.probes = $LISTS;" -c "
        SELECT string_agg(r.id::text, ',') FROM t_$q r, LATERAL (
          SELECT s.id, s.v $m r.v AS d FROM t_$q s ORDER BY s.v $m r.v LIMIT 1) nn
        WHERE r.id > 3000 AND nn.id <> r.id AND nn.d > 1e-6") || return 1
      [ -z "$missing" ] || { echo "t_$q $m: rows not found by the index: $missing"; return 1; }
    done
  done
}

echo "== $OLD_VERSION: tables, indexes, answers, pg_dump"
"$PGBIN/createdb" upgraded && psql_db upgraded -f test/upgrade/setup.sql >"$tmp/setup.log" 2>&1 ||
  abort "$OLD_VERSION: test/upgrade/setup.sql" "$tmp/setup.log"
check_answers "$OLD_VERSION" upgraded
cp "$tmp/index.out" "$tmp/old-answers.out"
"$PGBIN/pg_dump" -d upgraded -f "$tmp/old.dump.sql" 2>"$tmp/dump.log" || abort "pg_dump of $OLD_VERSION" "$tmp/dump.log"

echo "== install this build over it, restart"
$MAKE -s install NVCC= PG_CONFIG="$PG_CONFIG" >"$tmp/new-build.log" 2>&1 || abort "build and install this tree" "$tmp/new-build.log"
as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/data" -l "$CLUSTER_DIR/server.log" -w -t 60 restart >"$tmp/restart.log" 2>&1 ||
  abort "restart with the new library" "$CLUSTER_DIR/server.log"

# The new library must serve the old SQL objects until the UPDATE.
v=$(psql_db upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_ivf'")
[ "$v" = "$OLD_VERSION" ] && ok "before UPDATE the database is at $OLD_VERSION" || not_ok "extversion before UPDATE: '$v'"
check_answers "new library, $OLD_VERSION objects" upgraded "$tmp/old-answers.out"

echo "== ALTER EXTENSION pg_ivf UPDATE"
psql_db upgraded -c "ALTER EXTENSION pg_ivf UPDATE" >"$tmp/update.log" 2>&1 ||
  abort "ALTER EXTENSION pg_ivf UPDATE" "$tmp/update.log"
v=$(psql_db upgraded -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_ivf'")
[ "$v" = "$new_version" ] && ok "ALTER EXTENSION pg_ivf UPDATE: $OLD_VERSION -> $v" || not_ok "extversion after UPDATE: '$v'"
check_answers "updated" upgraded "$tmp/old-answers.out"
info=$(psql_db upgraded -c "SELECT string_agg(format('%s %s %s', i, x.quantizer, x.metric), ', ' ORDER BY i)
  FROM unnest(ARRAY['t_sq8_l2', 't_pq_ip', 't_flat_cosine']) i, ivf_index_info(i::regclass) x" 2>&1)
[ "$info" = "t_flat_cosine flat cosine, t_pq_ip pq ip, t_sq8_l2 sq8 l2" ] &&
  ok "updated: ivf_index_info reads the $OLD_VERSION indexes" || not_ok "updated: ivf_index_info: $info"
# a $OLD_VERSION index has no recall calibration: ivf.target_recall falls back to probes, with a WARNING
out=$(psql_db upgraded -c "SET ivf.target_recall = 0.9; SET enable_seqscan = off" \
  -c "SELECT count(*) FROM (SELECT id FROM t_sq8 ORDER BY v <-> (SELECT v FROM queries WHERE qid = 1) LIMIT 5) s" \
  -c "SELECT format('%s %s', coalesce(calibrated_recall::text, 'none'), probes) FROM ivf_index_info('t_sq8_l2')" 2>&1)
echo "$out" | grep -q 'WARNING:  ivf index "t_sq8_l2" has no recall calibration' && echo "$out" | grep -qx '5' &&
  echo "$out" | grep -qx 'none 8' && ok "updated: target_recall on a $OLD_VERSION index: WARNING, default probes" ||
  not_ok "updated: target_recall on a $OLD_VERSION index: $out"

psql_db upgraded -f test/upgrade/dml.sql >"$tmp/dml.log" 2>&1 && ok "updated: INSERT, DELETE, VACUUM on the $OLD_VERSION indexes" ||
  abort "updated: test/upgrade/dml.sql" "$tmp/dml.log"
check_answers "after DML" upgraded
every_new_row_found upgraded >"$tmp/found.out" 2>&1 && ok "after DML: every new row is found through the l2 and cosine indexes" ||
  { not_ok "after DML: new rows through the index"; cat "$tmp/found.out"; }
n=$(psql_db upgraded -c "SELECT count(*) FROM unnest(ARRAY['sq8', 'pq', 'flat']) q, unnest(ARRAY['l2', 'ip', 'cosine']) m,
  ivf_index_info(format('t_%s_%s', q, m)::regclass) x WHERE x.calibrated_recall > 0" 2>&1)
[ "$n" = 9 ] && ok "after DML: VACUUM calibrated the $OLD_VERSION indexes" || not_ok "after DML: calibrated indexes: $n"

# A $OLD_VERSION index's pages carry no chain stamps (src/core/stamp.h): its first split shares no list
# and writes every list with stamps; the next split shares unchanged lists. Rows of a new region pile
# up in one list of t_flat_l2 each time; every row stays findable with all lists probed.
drift() {  # drift FIRST LAST CENTRE: rows near (CENTRE, ..., CENTRE), then one maintenance
  psql_db upgraded -c "INSERT INTO t_flat SELECT i, (SELECT array_agg($3 + (random() - 0.5) / 10)
    FROM generate_series(1, 16) WHERE i > 0)::vector FROM generate_series($1, $2) i" \
    -c "SELECT ivf_maintain('t_flat_l2')" 2>&1
}
all_found() {
  psql_db upgraded -c "SET enable_seqscan = off" \
    -c "SELECT set_config('ivf.probes', lists::text, false) FROM ivf_index_info('t_flat_l2')" \
    -c "SELECT (SELECT count(*) FROM (SELECT id FROM t_flat ORDER BY v <-> (SELECT v FROM queries WHERE qid = 1)
                LIMIT 100000) s) = (SELECT count(v) FROM t_flat)" 2>&1 | tail -1
}
out=$(drift 5001 6200 2)
echo "$out" | grep -q 'split: .*, 0 shared (' && ok "updated: a split of a $OLD_VERSION index shares no list" ||
  not_ok "updated: first split of a $OLD_VERSION index: $out"
[ "$(all_found)" = t ] && ok "updated: after the split every row is found" || not_ok "updated: rows lost by the first split"
psql_db upgraded -c "SELECT ivf_maintain('t_flat_l2')" >/dev/null 2>&1
out=$(drift 6201 7900 -2)
echo "$out" | grep -q 'split: .*, [1-9][0-9]* shared (' && ok "updated: the next split shares unchanged lists" ||
  not_ok "updated: second split: $out"
[ "$(all_found)" = t ] && ok "updated: after the second split every row is found" || not_ok "updated: rows lost by the second split"

echo "== catalog: updated database against a fresh CREATE EXTENSION"
"$PGBIN/createdb" fresh && psql_db fresh -c "CREATE EXTENSION pg_ivf" >"$tmp/fresh.log" 2>&1 ||
  abort "CREATE EXTENSION pg_ivf $new_version" "$tmp/fresh.log"
psql_db fresh -f test/upgrade/catalog.sql >"$tmp/catalog-fresh.out" 2>&1 || abort "catalog of the fresh database" "$tmp/catalog-fresh.out"
psql_db upgraded -f test/upgrade/catalog.sql >"$tmp/catalog-upgraded.out" 2>&1 || abort "catalog of the updated database" "$tmp/catalog-upgraded.out"
check_same "the extension's objects after UPDATE equal a fresh install ($(wc -l <"$tmp/catalog-fresh.out") lines)" \
  "$tmp/catalog-fresh.out" "fresh CREATE EXTENSION pg_ivf" "$tmp/catalog-upgraded.out" "$OLD_VERSION + ALTER EXTENSION pg_ivf UPDATE" ||
  echo "(- lines: only in a fresh install, + lines: only after the UPDATE; src/sql/*.sql and $upgrade_script must agree)"

echo "== pg_dump of $OLD_VERSION restored into $new_version"
"$PGBIN/createdb" restored && psql_db restored -f "$tmp/old.dump.sql" >"$tmp/restore.log" 2>&1 ||
  abort "restore the $OLD_VERSION dump" "$tmp/restore.log"
check_answers "restored" restored "$tmp/old-answers.out"

if grep -q "terminated by signal" "$CLUSTER_DIR/server.log"; then
  not_ok "server log: a backend was terminated by a signal"; grep -B5 -A5 "terminated by signal" "$CLUSTER_DIR/server.log"
else ok "server log: no backend terminated by a signal"; fi

summary
exit $((failed > 0))
