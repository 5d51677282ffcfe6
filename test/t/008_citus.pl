# 008_citus.pl: pg_ivf on Citus, a coordinator and two workers on loopback.
# Skipped where Citus (extension citus) is not installed in this PostgreSQL:
# Debian 12 does not package it, so CI skips this file.
#
# The extension is created on the coordinator only (Citus creates it on the
# workers); the index on the distributed table is built on every shard.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use IvfTap;

my $dims = 16;
my $rows = 8000;
my $lists = 10;

my $coord = PostgreSQL::Test::Cluster->new('coordinator');
$coord->init;
$coord->start;
if ($coord->safe_psql('postgres',
		"SELECT count(*) FROM pg_available_extensions WHERE name = 'citus'") ne '1')
{
	$coord->stop;
	plan skip_all => "Citus (extension citus) is not installed in this PostgreSQL";
}
$coord->stop;

my @nodes = ($coord, map { PostgreSQL::Test::Cluster->new("worker$_") } 1 .. 2);
$_->init for @nodes[1 .. 2];
for my $node (@nodes)
{
	$node->append_conf('postgresql.conf', "shared_preload_libraries = 'citus'\nmax_connections = 40\n");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
}
# the test nodes listen on Unix sockets only: a socket directory is a host name to libpq
$coord->safe_psql('postgres', "SELECT citus_set_coordinator_host('" . $coord->host . "', " . $coord->port . ")");
$coord->safe_psql('postgres', "SELECT citus_add_node('" . $_->host . "', " . $_->port . ")") for @nodes[1 .. 2];

# SQL inserting rows first..last of seeded random vectors into $table.
sub rows_sql
{
	my ($table, $first, $last, $seed) = @_;
	return qq{
SELECT setseed($seed);
INSERT INTO $table (id, v)
SELECT i, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series($first, $last) i, generate_series(1, $dims) j GROUP BY i;};
}

# Runs $sql on the coordinator; returns (stdout, stderr), dying on an error.
sub coord_psql
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $coord->psql('postgres', $sql);
	die "psql failed ($ret): $err" if $ret != 0;
	return ($out, $err);
}

my ($out, $err) = coord_psql(qq{
CREATE EXTENSION pg_ivf;
CREATE TABLE items (id bigint PRIMARY KEY, v vector($dims));
SELECT create_distributed_table('items', 'id', shard_count := 4);
} . rows_sql('items', 1, $rows, 0.5) . qq{
CREATE INDEX items_v_idx ON items USING ivf (v vector_l2_ops) WITH (lists = $lists);});
is($coord->safe_psql('postgres',
		"SELECT string_agg(result, ',') FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'pg_ivf'\$\$)"),
	'0.2.0,0.2.0', 'CREATE EXTENSION on the coordinator reaches both workers');
unlike($err, qr/untrained/, "no untrained NOTICE for the coordinator's empty shell table");

# the shell's index is refused, with a hint that works as written
($out, $err) = ($coord->psql('postgres', "SELECT * FROM ivf_index_info('items_v_idx')"))[1, 2];
like($err, qr/ERROR:  ivf index "items_v_idx" is on the Citus distributed table public\.items/,
	'ivf_index_info on the distributed index says it is distributed');
my ($hint) = $err =~ /HINT:  Describe the shard indexes with (SELECT .*);$/m;
ok(defined $hint, 'the hint gives a command naming run_command_on_shards')
  and like($hint, qr/run_command_on_shards/, 'the command uses run_command_on_shards');
my $shards = $coord->safe_psql('postgres', qq{
SELECT count(*) || '|' || sum((result::json->0->>'rows')::int) || '|' || bool_and((result::json->0->>'trained')::bool)
FROM ($hint) s;});
is($shards, "4|$rows|true", "the hint's command shows 4 trained shard indexes holding every row");
like(($coord->psql('postgres', "SELECT * FROM ivf_list_sizes('items_v_idx')"))[2],
	qr/run_command_on_shards\('public\.items', \$\$SELECT json_agg\(i\) FROM ivf_list_sizes\(/,
	'ivf_list_sizes on the distributed index points at its shards');

# ORDER BY ... LIMIT runs on every shard through its ivf index
# a literal: Citus plans a subquery on a distributed table as a join
my $q = "'" . $coord->safe_psql('postgres', 'SELECT v FROM items WHERE id = 7') . "'";
like($coord->safe_psql('postgres', "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v <-> '[" . join(',', (0.1) x $dims) . "]' LIMIT 10"),
	qr/Index Scan using items_v_idx_\d+ on items_\d+/, 'the k-NN query uses the shard indexes');

# EXPLAIN ANALYZE through Citus (pg_ivf's ProcessUtility and ExecutorEnd hooks
# chained with Citus's): it runs and its JSON is valid.  Citus explains each
# task on its worker inside a function, not an EXPLAIN statement, so the nested
# worker plans carry no ivf counters (README).
my $knn = "SELECT id FROM items ORDER BY v <-> '[" . join(',', (0.1) x $dims) . "]' LIMIT 10";
is($coord->safe_psql('postgres', qq{
DO \$\$ DECLARE doc text; BEGIN
	EXECUTE \$q\$EXPLAIN (ANALYZE, FORMAT JSON) $knn\$q\$ INTO doc;
	PERFORM doc::json;
END \$\$;
SELECT 'valid'}), 'valid', 'EXPLAIN (ANALYZE, FORMAT JSON) of the k-NN query is valid JSON');
like($coord->safe_psql('postgres', "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) $knn"),
	qr/Index Scan using items_v_idx_\d+ on items_\d+/, 'EXPLAIN ANALYZE shows a shard index scan');

# the index's probes option reaches the shards: one list per shard returns fewer rows than all
my $per_shard_probes = sub {
	return $coord->safe_psql('postgres', qq{
SELECT string_agg(result, ',' ORDER BY shardid) FROM run_command_on_shards('items',
	\$\$SELECT (ivf_index_info(('items_v_idx_' || substring('%s' from '_(\\d+)"?\$'))::regclass)).probes\$\$)});
};
my $reached = "SELECT count(*) FROM (SELECT id FROM items ORDER BY v <-> '[" . join(',', (0.1) x $dims) . "]' LIMIT $rows) s";
$coord->safe_psql('postgres', 'ALTER INDEX items_v_idx SET (probes = 1)');
is($per_shard_probes->(), '1,1,1,1', 'ALTER INDEX SET (probes = 1) reaches every shard index');
my $one = $coord->safe_psql('postgres', $reached);
ok($one > 0 && $one < $rows, "probes = 1: the shards return only their nearest list's rows ($one)");
$coord->safe_psql('postgres', "ALTER INDEX items_v_idx SET (probes = $lists)");
is($per_shard_probes->(), join(',', ($lists) x 4), "ALTER INDEX SET (probes = $lists) reaches every shard index");
is($coord->safe_psql('postgres', $reached), $rows, "probes = lists: every row");
is($coord->safe_psql('postgres', "SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY v <-> $q LIMIT 10) s"),
	$coord->safe_psql('postgres', "SELECT array_agg(id) FROM (SELECT id FROM items ORDER BY (v <-> $q) + 0 LIMIT 10) s"),
	'probes = lists: the top 10 across shards is the exact one');

# two wide columns, one kept in the row: the shards keep its storage and take rows
($out, $err) = coord_psql(q{
CREATE TABLE wide (id bigint PRIMARY KEY, a vector(1100), b vector(1100));
ALTER TABLE wide ALTER COLUMN b SET STORAGE main;
SELECT create_distributed_table('wide', 'id', shard_count := 4);
INSERT INTO wide SELECT i, x::vector(1100), x::vector(1100)
FROM (SELECT i, array_agg(random()::real) AS x FROM generate_series(1, 40) i, generate_series(1, 1100) j GROUP BY i) s;
SELECT count(*) FROM wide;});
is((split /\n/, $out)[-1], '40', 'a table with two vector(1100) columns, one STORAGE main, distributes and takes rows');
is($coord->safe_psql('postgres', q{
SELECT string_agg(DISTINCT result, ',') FROM run_command_on_shards('wide',
	$$SELECT attstorage::text FROM pg_attribute WHERE attrelid = '%s'::regclass AND attname = 'b'$$)}),
	'm', "the shards keep the column's STORAGE main");

# a table whose index was built empty, then distributed: every shard index is
# untrained, and the first query says so through Citus
($out, $err) = coord_psql(qq{
SET client_min_messages = warning;
CREATE TABLE early (id bigint PRIMARY KEY, v vector($dims));
CREATE INDEX early_v_idx ON early USING ivf (v vector_l2_ops) WITH (lists = $lists);
} . rows_sql('early', 1, $rows, 0.7) . q{
SELECT create_distributed_table('early', 'id', shard_count := 4);
SELECT truncate_local_data_after_distributing_table('early');});
($out, $err) = coord_psql("SELECT count(*) FROM (SELECT id FROM early ORDER BY v <-> $q LIMIT 10) s");
is($out, '10', 'the untrained shard indexes answer');
like($err, qr/WARNING:  ivf index "early_v_idx_\d+" is untrained but holds at least \d+ rows/,
	'a WARNING from the shards reaches the client');
coord_psql('REINDEX INDEX early_v_idx');
($out, $err) = coord_psql("SELECT count(*) FROM (SELECT id FROM early ORDER BY v <-> $q LIMIT 10) s");
is($err, '', 'after REINDEX on the coordinator: no WARNING');

check_log($_) for @nodes;
done_testing();
