# 007_pgvector.pl: pg_ivf_pgvector on pgvector's vector and halfvec columns,
# through WAL on a streaming standby, and pgvector's own indexes in sessions
# that loaded pg_ivf.so first.  Skipped where pgvector is not installed.
#
# The extensions, tables and indexes are created after the base backup, so
# the standby sees the ivf indexes (one per quantizer, vector and halfvec)
# only through WAL: the build, inserts past the build-time pages, VACUUM.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use IvfTap;

my $dims = 16;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
if ($primary->safe_psql('postgres',
		"SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'") ne '1')
{
	$primary->stop;
	plan skip_all => "pgvector (extension vector) is not installed in this PostgreSQL";
}
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# column, operator class, operator, reloptions: every quantizer and metric
my @cases = (
	[ 'v', 'vector_l2_ops', '<->', "quantizer = 'sq8'" ],
	[ 'v', 'vector_cosine_ops', '<=>', "quantizer = 'pq', pq_m = 4" ],
	[ 'h', 'halfvec_l2_ops', '<->', "quantizer = 'flat'" ],
	[ 'h', 'halfvec_ip_ops', '<#>', "quantizer = 'sq8'" ],
	[ 'h', 'halfvec_cosine_ops', '<=>', "quantizer = 'pq', pq_m = 4" ],
);

# SQL inserting rows first..last with seeded random vectors in both columns.
sub rows_sql
{
	my ($first, $last, $seed) = @_;
	return qq{
SELECT setseed($seed);
INSERT INTO items (id, v, h)
SELECT i, x::vector($dims), x::vector($dims)::halfvec($dims)
FROM (SELECT i, array_agg((random() - 0.5)::real ORDER BY j) AS x
	  FROM generate_series($first, $last) i, generate_series(1, $dims) j GROUP BY i) s;};
}

$primary->safe_psql('postgres', qq{
CREATE EXTENSION vector;
CREATE EXTENSION pg_ivf_pgvector;
CREATE TABLE items (id int PRIMARY KEY, v vector($dims), h halfvec($dims));
} . rows_sql(1, 1500, 0.11));
my $i = 0;
for my $c (@cases)
{
	my ($col, $opc, $op, $with) = @$c;
	$primary->safe_psql('postgres',
		"CREATE INDEX ivf_$i ON items USING ivf ($col $opc) WITH (lists = 6, $with)");
	$i++;
}
$primary->safe_psql('postgres', rows_sql(2001, 3500, 0.22) . qq{
DELETE FROM items WHERE id % 5 = 0;
VACUUM items;
} . rows_sql(4001, 4400, 0.33));
my $rows = $primary->safe_psql('postgres', 'SELECT count(*) FROM items');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

my @queries = map { $_ * 37 + 1 } 0 .. 3;
$i = 0;
for my $c (@cases)
{
	my ($col, $opc, $op) = @$c;
	my $sql = "SET enable_seqscan = off;\nSET ivf.probes = 6;\n";
	$sql .= "SELECT id, $col $op (SELECT $col FROM items WHERE id = $_) FROM items "
	  . "ORDER BY $col $op (SELECT $col FROM items WHERE id = $_) LIMIT 10;\n" for @queries;
	my $exact = "SET enable_indexscan = off;\nSET enable_bitmapscan = off;\n" . $sql;
	my $plan = $standby->safe_psql('postgres', "SET enable_seqscan = off;\n"
		  . "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY $col $op (SELECT $col FROM items WHERE id = 1) LIMIT 10");
	like($plan, qr/Index Scan using ivf_$i on items/, "$opc: standby plans its ivf index scan");
	my $on_primary = $primary->safe_psql('postgres', $sql);
	my @r = split /\n/, $on_primary;
	is(scalar(@r), 40, "$opc: 10 rows per query on the primary");
	is($standby->safe_psql('postgres', $sql), $on_primary, "$opc: standby answers equal the primary's");
	is($on_primary, $primary->safe_psql('postgres', $exact),
		"$opc: every list probed gives the sequential scan's rows and distances");
	$i++;
}
is(index_count_col($standby, 'h', '<->', $dims), "$rows|$rows",
	'halfvec: the standby index returns every row once');

# pgvector's indexes in a session that loaded pg_ivf.so before vector.so:
# its cosine operator classes then normalize with pg_ivf's l2_normalize
# (docs/ARCHITECTURE.md), and must still build, insert and answer.
my $session = qq{
LOAD 'pg_ivf';
SELECT count(*) FROM pg_am WHERE amname = 'ivf';
CREATE INDEX hnsw_h ON items USING hnsw (h halfvec_cosine_ops);
CREATE INDEX hnsw_v ON items USING hnsw (v vector_cosine_ops);
CREATE INDEX ivfflat_v ON items USING ivfflat (v vector_cosine_ops) WITH (lists = 4);
} . rows_sql(5001, 5100, 0.44) . qq{
DROP INDEX ivf_1, ivf_4;
SET enable_seqscan = off;
SET hnsw.ef_search = 200;
SET ivfflat.probes = 4;
SELECT count(*) FROM (SELECT id FROM items ORDER BY v <=> (SELECT v FROM items WHERE id = 5001) LIMIT 20) s;
SELECT (SELECT id FROM items ORDER BY v <=> (SELECT v FROM items WHERE id = 5002) LIMIT 1);
DROP INDEX hnsw_v;
SELECT (SELECT id FROM items ORDER BY v <=> (SELECT v FROM items WHERE id = 5003) LIMIT 1);
SELECT (SELECT id FROM items ORDER BY h <=> (SELECT h FROM items WHERE id = 5004) LIMIT 1);};
is($primary->safe_psql('postgres', $session), "1\n\n20\n5002\n5003\n5004",  # the empty line: setseed
	"pgvector's hnsw and ivfflat work in a session that loaded pg_ivf.so first");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', "SET enable_seqscan = off;\nSET hnsw.ef_search = 200;\n"
	  . "SELECT id FROM items ORDER BY h <=> (SELECT h FROM items WHERE id = 5004) LIMIT 1"),
	'5004', "standby: pgvector's hnsw beside ivf");

check_log($primary);
check_log($standby);
done_testing();

# "rows via index|non-null rows" for column $col with every list probed.
sub index_count_col
{
	my ($node, $col, $op, $d) = @_;
	return $node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SET ivf.probes = 6;
SELECT (SELECT count(*) FROM (SELECT id FROM items
			ORDER BY $col $op array_fill(0.25::real, ARRAY[$d])::vector($d)::halfvec($d) LIMIT 100000000) s)
	|| '|' || (SELECT count($col) FROM items);});
}
