# 001_replica.pl: ivf indexes built, inserted into and vacuumed on a primary
# give the same k-NN answers on a streaming standby, through the index.
#
# Everything (extension, tables, builds) happens after the base backup, so
# the standby sees the index only through WAL: log_newpage_range for the
# build, GenericXLog records for inserts, new pages and vacuum.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use IvfTap;

my $dims = 16;
$IvfTap::dims = $dims;

# One table per quantizer, each with a different operator class.  Sizes are
# chosen so that the rows inserted after the build overflow the lists' last
# build-time pages (sq8 holds 291 entries a page, pq with pq_m = 8 408,
# flat 107), so inserts link new pages.
my @cases = (
	{ table => 'r_sq8', quantizer => 'sq8', opclass => 'vector_l2_ops', op => '<->',
	  lists => 10, with => "quantizer = 'sq8'" },
	{ table => 'r_pq', quantizer => 'pq', opclass => 'vector_ip_ops', op => '<#>',
	  lists => 5, with => "quantizer = 'pq', pq_m = 8" },
	{ table => 'r_flat', quantizer => 'flat', opclass => 'vector_cosine_ops', op => '<=>',
	  lists => 10, with => "quantizer = 'flat'" },
);

# SQL inserting rows first..last with seeded random vectors in [-0.5, 0.5).
sub rows_sql
{
	my ($table, $first, $last, $seed) = @_;
	return qq{
SELECT setseed($seed);
INSERT INTO $table (id, v)
SELECT i, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series($first, $last) i, generate_series(1, $dims) j
GROUP BY i;};
}




my ($primary, $standby) = primary_and_standby();

# Query vectors, replicated like everything else.
$primary->safe_psql('postgres', qq{
CREATE TABLE queries (id int PRIMARY KEY, v vector($dims));
SELECT setseed(0.77);
INSERT INTO queries
SELECT i, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series(1, 4) i, generate_series(1, $dims) j GROUP BY i;});
my @queries = split /\n/,
  $primary->safe_psql('postgres', 'SELECT v FROM queries ORDER BY id');
is(scalar(@queries), 4, 'four query vectors');

# Build, then insert (filling lists past their build-time pages), delete,
# vacuum and insert again, so that every kind of WAL record is replayed.
for my $c (@cases)
{
	my ($t, $q, $opc, $lists, $with) = @$c{qw(table quantizer opclass lists with)};
	$primary->safe_psql('postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, v vector($dims));
} . rows_sql($t, 1, 2000, 0.11) . qq{
CREATE INDEX ${t}_v_idx ON $t USING ivf (v $opc) WITH (lists = $lists, $with);});
	$c->{built_size} = $primary->safe_psql('postgres', "SELECT pg_relation_size('${t}_v_idx')");
	$primary->safe_psql('postgres', rows_sql($t, 2001, 3500, 0.22) . qq{
INSERT INTO $t (id, v) SELECT i, NULL FROM generate_series(3501, 3510) i;
DELETE FROM $t WHERE id % 5 = 0;
VACUUM $t;
} . rows_sql($t, 4001, 4400, 0.33));
}

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');

for my $c (@cases)
{
	my ($t, $q, $op, $lists) = @$c{qw(table quantizer op lists)};

	cmp_ok($standby->safe_psql('postgres', "SELECT pg_relation_size('${t}_v_idx')"),
		'>', $c->{built_size}, "$q: inserts after the build added pages to the index");
	my $plan = $standby->safe_psql('postgres', qq{
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM $t ORDER BY v $op '$queries[0]' LIMIT 10;});
	like($plan, qr/Index Scan using ${t}_v_idx on $t/, "$q: standby plans an ivf index scan");

	# 3510 + 400 rows, 702 deleted; 8 of the rest have NULL vectors
	is($standby->safe_psql('postgres', "SELECT count(*), count(v) FROM $t"), '3208|3200',
		"$q: standby has every row");

	# Approximate (3 lists) and exhaustive probing; same pages, same answers.
	for my $probes (3, $lists)
	{
		my $sql = "SET enable_seqscan = off;\nSET ivf.probes = $probes;\n";
		$sql .= "SELECT id, v $op '$_' FROM $t ORDER BY v $op '$_' LIMIT 10;\n"
		  for @queries;
		my $on_primary = $primary->safe_psql('postgres', $sql);
		my $on_standby = $standby->safe_psql('postgres', $sql);
		my @rows = split /\n/, $on_primary;
		is(scalar(@rows), 40, "$q, probes = $probes: 10 rows per query on the primary");
		is($on_standby, $on_primary, "$q, probes = $probes: standby answers equal the primary's");
	}

	# With every list probed the re-ranked answer is exact.
	my $exact_sql = "SET enable_indexscan = off;\n";
	$exact_sql .= "SELECT id, v $op '$_' FROM $t ORDER BY v $op '$_' LIMIT 10;\n"
	  for @queries;
	my $index_sql = "SET enable_seqscan = off;\nSET ivf.probes = $lists;\n";
	$index_sql .= "SELECT id, v $op '$_' FROM $t ORDER BY v $op '$_' LIMIT 10;\n"
	  for @queries;
	is($standby->safe_psql('postgres', $index_sql),
		$standby->safe_psql('postgres', $exact_sql),
		"$q: standby with probes = lists equals the exact answer");

	is(index_count($standby, $t, $op, $lists), '3200|3200',
		"$q: standby index returns every non-null row once");
	is(missing_via_index($standby, $t, $op, $lists), '0 missing: ',
		"$q: standby finds every row as its own nearest neighbour")
	  unless $op eq '<#>';
}

# The probes index option travels with the index: set on the primary (no
# rebuild, no session setting on the standby), it is what the standby's scans
# probe.  With ivf.iterative_scan off an index scan returns only the rows of
# the probed lists, so one probe returns one list's rows.
my $rows_sql = qq{
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM r_sq8 ORDER BY v <-> '$queries[0]' LIMIT 100000) s;};
my $one_list = $primary->safe_psql('postgres', "SET ivf.probes = 1;
$rows_sql");
cmp_ok($one_list, '<', 3200, 'probes 1 returns the rows of one list, not all');
$primary->safe_psql('postgres', 'ALTER INDEX r_sq8_v_idx SET (probes = 1)');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', "SELECT probes FROM ivf_index_info('r_sq8_v_idx')"), '1',
	'standby: ivf_index_info shows the probes option set on the primary');
is($standby->safe_psql('postgres', $rows_sql), $one_list,
	'standby: a scan without a session setting probes as the index option says');
is($standby->safe_psql('postgres', "SET ivf.probes = 10;
$rows_sql"), '3200',
	'standby: a session setting still wins over the option');
$primary->safe_psql('postgres', 'ALTER INDEX r_sq8_v_idx RESET (probes)');

# The lookup query really goes through the index for the inner side.
my $lateral_plan = $standby->safe_psql('postgres', q{
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT r.id FROM r_sq8 r LEFT JOIN LATERAL (
	SELECT s.id FROM r_sq8 s ORDER BY s.v <-> r.v LIMIT 1) nn ON true;});
like($lateral_plan, qr/Index Scan using r_sq8_v_idx on r_sq8 s/,
	'self-lookup query scans the ivf index on its inner side');

# The recall calibration reaches the standby through WAL: ivf_calibrate on the
# primary rewrites the meta page's calibration (GenericXLog, fields beyond
# 0.1.0's meta data included), and the standby's target_recall chooses probes
# from it.
my $calib_sql = "SET ivf.target_recall = 0.95;
SELECT probes, calibrated_recall, calibrated_rows FROM ivf_index_info('r_sq8_v_idx')";
my $calib_before = $primary->safe_psql('postgres', $calib_sql);
$primary->safe_psql('postgres', "INSERT INTO r_sq8 SELECT id + 100000, v FROM r_sq8 WHERE id <= 400;
SELECT ivf_calibrate('r_sq8_v_idx')");
my $calib_after = $primary->safe_psql('postgres', $calib_sql);
isnt($calib_after, $calib_before, 'ivf_calibrate recalibrated the primary after inserts');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', $calib_sql), $calib_after,
	'standby: the calibration ivf_calibrate wrote on the primary');

check_log($primary);
check_log($standby);

$standby->stop;
$primary->stop;
done_testing();
