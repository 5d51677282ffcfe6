# 005_free_pages.pl: the WAL of VACUUM freeing pages (unlinking an emptied
# page, an emptied head, a list left with no page) and of inserts taking
# free pages back (a new tail, a list's first page) replays on a streaming
# standby byte for byte (wal_consistency_checking), and the standby then
# answers through the index like the primary; under this churn the index
# keeps its built size.
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
my $lists = 4;

# SQL inserting rows first..last with seeded random vectors in [-0.5, 0.5).
sub rows_sql
{
	my ($first, $last, $seed) = @_;
	return qq{
SELECT setseed($seed);
INSERT INTO f (id, v)
SELECT i, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series($first, $last) i, generate_series(1, $dims) j
GROUP BY i;};
}

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
# every generic WAL record carries full page images the standby compares
# its replayed pages with
$primary->append_conf('postgresql.conf', "wal_consistency_checking = 'generic'\n");
$primary->start;
$primary->backup('base');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# flat entries of 16 dimensions: 107 a page, so 3000 rows fill about 7 pages a list
$primary->safe_psql('postgres', qq{
CREATE EXTENSION pg_ivf;
CREATE TABLE f (id int PRIMARY KEY, v vector($dims)) WITH (autovacuum_enabled = off);
} . rows_sql(1, 3000, 0.1) . qq{
CREATE INDEX f_v_idx ON f USING ivf (v vector_l2_ops) WITH (lists = $lists, quantizer = 'flat');});
my $built = $primary->safe_psql('postgres', "SELECT pg_relation_size('f_v_idx')");

# The oldest half goes: the lists' first pages empty (heads and the pages
# after them are freed); new rows take them back as new tails.
$primary->safe_psql('postgres', qq{
DELETE FROM f WHERE id <= 1500;
VACUUM f;
} . rows_sql(3001, 4500, 0.2));
cmp_ok($primary->safe_psql('postgres', "SELECT pg_relation_size('f_v_idx')"), '<=', $built * 1.1,
	'half replaced: the index keeps its built size');

# Everything goes: every list is left without a page, then starts again.
$primary->safe_psql('postgres', qq{
DELETE FROM f;
VACUUM f;});
is($primary->safe_psql('postgres', "SELECT sum(pages) FROM ivf_list_sizes('f_v_idx')"), '0',
	'an emptied index keeps no list page');
$primary->safe_psql('postgres', rows_sql(5001, 8000, 0.3));
cmp_ok($primary->safe_psql('postgres', "SELECT pg_relation_size('f_v_idx')"), '<=', $built * 1.1,
	'all replaced: the index keeps its built size');

$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', 'SELECT count(*) FROM f'), '3000', 'standby replayed every change');

my $sql = "SET enable_seqscan = off;\nSET ivf.probes = 2;\n";
$sql .= "SELECT id, v <-> array_fill(${_}::real, ARRAY[$dims])::vector FROM f"
  . " ORDER BY v <-> array_fill(${_}::real, ARRAY[$dims])::vector LIMIT 10;\n"
  for (-0.25, 0, 0.125, 0.3);
is($standby->safe_psql('postgres', $sql), $primary->safe_psql('postgres', $sql),
	'standby answers equal the primary\'s');
is(index_count($standby, 'f', '<->', $lists), '3000|3000', 'standby index returns every row once');
is(missing_via_index($standby, 'f', '<->', $lists), '0 missing: ',
	'standby finds every row as its own nearest neighbour');

# The free space map is not WAL-logged: pages VACUUM freed just before a crash
# are missing from it afterwards.  The next VACUUM that has nothing to remove
# finds them again, so new rows do not grow the index.
$standby->stop;
$primary->safe_psql('postgres', qq{
DELETE FROM f WHERE id <= 6500;
VACUUM f;});
my $before_crash = $primary->safe_psql('postgres', "SELECT pg_relation_size('f_v_idx')");
$primary->stop('immediate');
$primary->start;
$primary->safe_psql('postgres', 'VACUUM f;' . rows_sql(8001, 9500, 0.4));
cmp_ok($primary->safe_psql('postgres', "SELECT pg_relation_size('f_v_idx')"), '<=', $before_crash,
	'after a crash, VACUUM gives the freed pages back to the inserts');
is(index_count($primary, 'f', '<->', $lists), '3000|3000', 'after the crash the index returns every row once');

$primary->stop;
check_log($primary);
check_log($standby);
unlike(slurp_file($standby->logfile), qr/inconsistent page/, 'standby found no inconsistent page');
done_testing();
