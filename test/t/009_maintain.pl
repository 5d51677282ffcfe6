# 009_maintain.pl: an index's maintenance (self-training, ivfmaint.cpp) is
# crash-safe, replicated, online and cancellable.  A primary with
# wal_consistency_checking = generic and a streaming standby:
#  - an immediate stop in the middle of the copy leaves the old model live
#    with every row; the next maintenance reclaims the orphan pages;
#  - an immediate stop just after the swap leaves the new model live with
#    every row; the replaced model is freed later;
#  - inserts and scans in other sessions during a maintenance: no error, no
#    lost row;
#  - pg_cancel_backend stops a maintenance within a second, the index keeps
#    working and a later maintenance succeeds;
#  - the standby answers like the primary, and a standby query older than
#    the freeing of a replaced model (no hot_standby_feedback) fails with an
#    error or returns every row, never fewer;
#  - autovacuum trains an index built empty once rows arrive.
# The developer setting ivf.maintain_pause_ms pauses a maintenance at logged
# points (during its copy, before and after its swap), so the crashes and the
# cancel happen where intended.
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

# SQL inserting rows first..last into table $t: 40 clusters, seeded noise.
sub rows_sql
{
	my ($t, $first, $last) = @_;
	return qq{
INSERT INTO $t (id, v)
SELECT i, array_agg(((CASE WHEN j = i % 16 + 1 THEN 4 * (i % 40 / 16 + 1) ELSE 0 END)
					 + sin(i * 7.13 + j * 3.71))::real ORDER BY j)::vector($dims)
FROM generate_series($first, $last) i, generate_series(1, $dims) j GROUP BY i;};
}

# A table with an index built empty (untrained, one list) and $n rows.
sub empty_indexed_table
{
	my ($node, $t, $n) = @_;
	$node->safe_psql('postgres', qq{
SET client_min_messages = warning;
CREATE TABLE $t (id int PRIMARY KEY, v vector($dims)) WITH (autovacuum_enabled = off);
CREATE INDEX ${t}_idx ON $t USING ivf (v vector_l2_ops);} . rows_sql($t, 1, $n));
}

my ($primary, $standby) = primary_and_standby(qq{wal_consistency_checking = 'generic'
autovacuum = off});

# 1. crash in the middle of the copy
empty_indexed_table($primary, 'a', 3000);
my $session = $primary->background_psql('postgres', on_error_stop => 0);
my $log_offset = -s $primary->logfile;
start_maintenance($session, 'a_idx', 600000);
$primary->wait_for_log(qr/ivf maintenance of index "a_idx" pauses during its copy/, $log_offset);
my $crash_size = $primary->safe_psql('postgres', "SELECT pg_relation_size('a_idx')");
$primary->stop('immediate');
# its server is gone: psql may already have exited
eval { $session->quit };
$primary->start;
is(info($primary, 'a', 'lists || trained::text || maintenance'), '1falsereclaim',
	'crash during the copy: the old model is live, orphans are to reclaim');
is(index_count($primary, 'a', '<->', 1), '3000|3000', 'crash during the copy: every row through the index');
my $result = $primary->safe_psql('postgres', "SELECT ivf_maintain('a_idx')");
like($result, qr/^reclaimed [1-9]\d* pages of an interrupted maintenance; train: 3 lists trained/,
	'the next maintenance reclaims the orphans, then trains');
note "after the crash: $result";
my ($reclaimed) = $result =~ /^reclaimed (\d+)/;
# the new lists take the reclaimed pages; only the new parameter and directory pages extend the index
cmp_ok($primary->safe_psql('postgres', "SELECT pg_relation_size('a_idx')") - $crash_size, '<', $reclaimed * 8192,
	'the reclaimed pages are reused: the index grew by less than they hold');
is(index_count($primary, 'a', '<->', 3), '3000|3000', 'trained: every row through the index');
is(missing_via_index($primary, 'a', '<->', 3), '0 missing: ', 'trained: every row finds itself');

# 2. crash just after the swap
empty_indexed_table($primary, 'b', 2500);
$session = $primary->background_psql('postgres', on_error_stop => 0);
$log_offset = -s $primary->logfile;
start_maintenance($session, 'b_idx', 2000);
$primary->wait_for_log(qr/ivf maintenance of index "b_idx" pauses after its swap/, $log_offset);
$primary->stop('immediate');
# its server is gone: psql may already have exited
eval { $session->quit };
$primary->start;
is(info($primary, 'b', 'lists || trained::text || maintenances'), '2true1',
	'crash after the swap: the new model is live');
is(index_count($primary, 'b', '<->', 2), '2500|2500', 'crash after the swap: every row through the index');
is(missing_via_index($primary, 'b', '<->', 2), '0 missing: ', 'crash after the swap: every row finds itself');
$primary->safe_psql('postgres', 'SELECT txid_current()');
$primary->safe_psql('postgres', 'VACUUM b');
is(info($primary, 'b', 'maintenance'), 'none', 'VACUUM freed the replaced model');

# 3. inserts and scans during a maintenance
empty_indexed_table($primary, 'c', 2000);
$session = $primary->background_psql('postgres', on_error_stop => 0);
start_maintenance($session, 'c_idx', 1500);
my $bad = insert_and_scan($primary, 'c', sub {
	my ($round) = @_;
	my $first = 2000 + ($round - 1) * 100 + 1;
	return rows_sql('c', $first, $first + 99);
});
$result = $session->query_safe('SELECT 1');
like($result, qr/train: \d+ lists trained on \d+ rows, \d+ rows re-assigned/, 'the maintenance ended');
is($bad, 0, 'scans during the maintenance: 10 rows in order each time');
is(index_count($primary, 'c', '<->', 100), '5000|5000', 'inserts during the maintenance: every row through the index');
is(missing_via_index($primary, 'c', '<->', 100), '0 missing: ', 'every row finds itself');

# 4. cancel
empty_indexed_table($primary, 'd', 2000);
cancel_paused_maintenance($primary, $session, 'd_idx', 'the maintenance');
is(index_count($primary, 'd', '<->', 1), '2000|2000', 'after the cancel: every row through the index');
$primary->safe_psql('postgres', rows_sql('d', 2001, 2100));
$session->query_safe('RESET ivf.maintain_pause_ms');
like($session->query_safe("SELECT ivf_maintain('d_idx')"),
	qr/^reclaimed [1-9]\d* pages of an interrupted maintenance; train: 2 lists/, 'a later maintenance succeeds');
is(index_count($primary, 'd', '<->', 2), '2100|2100', 'then every row through the index');
$session->quit;

# 5. the standby answers like the primary
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
for my $t ('a', 'b', 'c', 'd')
{
	my $sql = "SET enable_seqscan = off;\nSET ivf.probes = 2;\n";
	$sql .= "SELECT id, v <-> array_fill(${_}::real, ARRAY[$dims])::vector FROM $t"
	  . " ORDER BY v <-> array_fill(${_}::real, ARRAY[$dims])::vector LIMIT 10;\n"
	  for (0, 1, 2.5, 4);
	is($standby->safe_psql('postgres', $sql), $primary->safe_psql('postgres', $sql),
		"standby: table $t answers like the primary");
	is(info($standby, $t, 'lists || trained::text'), info($primary, $t, 'lists || trained::text'),
		"standby: table $t has the primary's model");
}
is(index_count($standby, 'c', '<->', 100), '5000|5000', 'standby: every row through the index');

# 6. a standby query older than the freeing of a replaced model (no
# hot_standby_feedback): it errors or still returns every row, never fewer
empty_indexed_table($primary, 'e', 2000);
$primary->safe_psql('postgres', "SELECT ivf_maintain('e_idx')");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $old = open_old_scan($standby, 'e', $dims, 1);
# the rows double: re-trained with 4 lists; the 2-list model is freed and its pages reused
$primary->safe_psql('postgres', rows_sql('e', 2001, 4000));
like($primary->safe_psql('postgres', "SELECT ivf_maintain('e_idx')"), qr/retrain: 4 lists/, 'rows doubled: re-trained');
$primary->safe_psql('postgres', 'SELECT txid_current()');
like($primary->safe_psql('postgres', "SELECT ivf_maintain('e_idx')"), qr/^freed [1-9]\d* pages/, 'the old model freed');
$primary->safe_psql('postgres', rows_sql('e', 4001, 6000));
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
old_scan_rest($old, 1999, 'the old standby query');

# 7. autovacuum trains an index built empty once rows arrive (its insert-triggered run calls amvacuumcleanup)
$primary->safe_psql('postgres', qq{ALTER SYSTEM SET autovacuum = on;
ALTER SYSTEM SET autovacuum_naptime = 1;
SELECT pg_reload_conf();
SET client_min_messages = warning;
CREATE TABLE f (id int PRIMARY KEY, v vector($dims));
CREATE INDEX f_idx ON f USING ivf (v vector_l2_ops);} . rows_sql('f', 1, 3000));
ok($primary->poll_query_until('postgres', "SELECT trained FROM ivf_index_info('f_idx')"),
	'autovacuum trained the index');
is(info($primary, 'f', 'lists::text || maintenances'), '31', 'autovacuum: 3 lists, one maintenance');
is(index_count($primary, 'f', '<->', 3), '3000|3000', 'autovacuum: every row through the index');
like(slurp_file($primary->logfile), qr/LOG:  ivf index "f_idx": train: 3 lists trained on/,
	'autovacuum logs the maintenance it ran');

check_log($primary);
check_log($standby);
done_testing();
