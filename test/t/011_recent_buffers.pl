# 011_recent_buffers.pl: scans pin index pages through a backend-local map of
# block -> shared buffer (ReadRecentBuffer, src/pg/ivfpage.cpp).  With a buffer
# pool far smaller than the index, most remembered buffers hold other pages by
# the next scan (of this index, its table or another relation), and REINDEX
# gives the index a new file with the same block numbers.  In one session,
# round after round, the index's answers with every list probed equal the
# exact ones; an index on a temporary table (local buffers) too.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use IvfTap;

my $dims = 64;
$IvfTap::dims = $dims;
my $lists = 20;

my $node = PostgreSQL::Test::Cluster->new('recent');
$node->init;
# 32 buffers (256 kB) against an index of ~1 MB and a table of ~4 MB
$node->append_conf('postgresql.conf', "shared_buffers = 256kB\nmax_connections = 10\n");
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_ivf;
SELECT setseed(0.42);
CREATE TABLE t (id int PRIMARY KEY, v vector($dims));
INSERT INTO t SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, $dims) WHERE i > 0)::vector
FROM generate_series(1, 12000) i;
CREATE INDEX t_v_idx ON t USING ivf (v vector_l2_ops) WITH (lists = $lists);
CREATE TABLE other AS SELECT i, repeat('x', 500) AS pad FROM generate_series(1, 3000) i;
CREATE TABLE q (qid int, v vector($dims));
INSERT INTO q SELECT j, (SELECT array_agg(random() - 0.5) FROM generate_series(1, $dims) WHERE j > 0)::vector
FROM generate_series(1, 20) j;});
cmp_ok($node->safe_psql('postgres', q{SELECT pg_relation_size('t_v_idx') / 8192}), '>', 3 * 32,
	'the index is several times the buffer pool');

# Ids of each query's 10 nearest rows of `tbl`, by the plan the settings give.
sub answers_sql
{
	my ($tbl) = @_;
	return qq{SELECT qid, (SELECT array_agg(id ORDER BY d, id) FROM
		(SELECT id, v <-> q.v AS d FROM $tbl ORDER BY v <-> q.v LIMIT 10) s) AS ids FROM q};
}

# Queries whose index answer differs from the exact one (run in the session).
sub mismatches_sql
{
	my ($tbl, $truth) = @_;
	return qq{SET enable_seqscan = off; SET enable_indexscan = on; SET ivf.probes = $lists;
SELECT count(*) FROM (} . answers_sql($tbl) . qq{) a JOIN $truth USING (qid) WHERE a.ids IS DISTINCT FROM $truth.ids;};
}

$node->safe_psql('postgres', 'SET enable_indexscan = off; CREATE TABLE truth AS ' . answers_sql('t'));
my $evict = q{SELECT count(*) FROM other; SELECT count(*) FROM t;};
my $out = $node->safe_psql('postgres', join("\n",
	mismatches_sql('t', 'truth'),
	mismatches_sql('t', 'truth'),
	$evict,
	mismatches_sql('t', 'truth'),
	q{REINDEX INDEX t_v_idx;},
	mismatches_sql('t', 'truth'),
	q{DELETE FROM t WHERE id % 3 = 0; VACUUM t;},
	q{SET enable_indexscan = off; CREATE TABLE truth2 AS } . answers_sql('t') . ';',
	mismatches_sql('t', 'truth2'),
	$evict,
	mismatches_sql('t', 'truth2'),
	q{CREATE TEMP TABLE tt AS SELECT * FROM t;
	  CREATE INDEX ON tt USING ivf (v vector_l2_ops) WITH (lists = 20);},
	mismatches_sql('tt', 'truth2'),
	$evict,
	mismatches_sql('tt', 'truth2')));
my @counts = grep { /^\d+$/ } split /\n/, $out;
# the eviction rounds print two counts each: drop them
my @mism = @counts[0, 1, 4, 5, 6, 9, 10, 13];
is(scalar(@counts), 14, 'every round ran');
is(join(',', @mism), '0,0,0,0,0,0,0,0',
	'the index answers as the exact scan in every round: repeated, after eviction, after REINDEX, after VACUUM, on a temporary table');

check_log($node);
done_testing();
