# 012_split.pl: re-balancing by a local split (ivfsplit.cpp) is crash-safe,
# replicated, online and cancellable.  Each table is built with 32 lists on
# one region, then rows of a new region pile up in one list, so
# ivf_maintain splits it.  A primary with wal_consistency_checking =
# generic and a streaming standby:
#  - an immediate stop in the middle of a split's copy leaves the old model
#    live with every row; the next maintenance reclaims, then splits;
#  - an immediate stop just after its swap leaves the split model live with
#    every row;
#  - inserts and scans in other sessions during a split: no error, no lost row;
#  - unchanged lists are shared: the new model reads their chains, which the
#    retired model reads too;
#  - a scan that started before the split (open cursor), then inserts that
#    link new pages to shared chains and a VACUUM, still returns every row
#    of its snapshot; the retired structure is then reclaimed (shared chains
#    stay) and the standby answers like the primary before and after;
#  - a standby query (no hot_standby_feedback) older than a split that
#    shares lists reads on while the retired structure is kept and inserts
#    link pages to the shared chains; after the primary reclaims the retired
#    structure and new rows reuse its pages (shared chains and the split's
#    chains take them), it fails with the 40001 error or returns every row
#    it could see, never fewer;
#  - pg_cancel_backend stops a split within 2 s, the index keeps working and
#    a later maintenance splits;
#  - the standby answers like the primary after the splits.
# ivf.maintain_pause_ms pauses a maintenance at logged points.
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

# SQL inserting rows first..last of clusters c = i % $mod + $base into $t:
# clusters 0..31 in one region, 32..35 in another along the first axis.
sub rows_sql
{
	my ($t, $first, $last, $base, $mod) = @_;
	return qq{
INSERT INTO $t (id, v)
SELECT i, array_agg(((CASE WHEN j = (i % $mod + $base) % 16 + 1 THEN 4 * ((i % $mod + $base) % 32 / 16 + 1) ELSE 0 END)
					 + (CASE WHEN i % $mod + $base >= 32 AND j = 1 THEN 30 ELSE 0 END)
					 + sin(i * 7.13 + j * 3.71))::real ORDER BY j)::vector($dims)
FROM generate_series($first, $last) i, generate_series(1, $dims) j GROUP BY i;};
}

# New-region rows first..last.
sub drift_sql
{
	my ($t, $first, $last) = @_;
	return rows_sql($t, $first, $last, 32, 4);
}

# A table whose index (32 lists, trained on 3,200 rows) needs a split after 1,000 drifted rows.
sub drifted_table
{
	my ($node, $t) = @_;
	$node->safe_psql('postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, v vector($dims)) WITH (autovacuum_enabled = off);}
	  . rows_sql($t, 1, 3200, 0, 32) . qq{
CREATE INDEX ${t}_idx ON $t USING ivf (v vector_l2_ops) WITH (lists = 32);}
	  . drift_sql($t, 3201, 4200));
	is(info($node, $t, 'maintenance'), 'split', "table $t: the index needs a split");
}

my ($primary, $standby) = primary_and_standby(qq{wal_consistency_checking = 'generic'
autovacuum = off});

# 1. crash in the middle of a split's copy
drifted_table($primary, 'a');
my $session = $primary->background_psql('postgres', on_error_stop => 0);
my $log_offset = -s $primary->logfile;
start_maintenance($session, 'a_idx', 600000);
$primary->wait_for_log(qr/ivf maintenance of index "a_idx" pauses during its copy/, $log_offset);
$primary->stop('immediate');
eval { $session->quit };
$primary->start;
is(info($primary, 'a', 'lists || maintenance'), '32reclaim', 'crash during the copy: the old model is live');
is(index_count($primary, 'a', '<->', 32), '4200|4200', 'crash during the copy: every row through the index');
my $result = $primary->safe_psql('postgres', "SELECT ivf_maintain('a_idx')");
like($result, qr/^reclaimed [1-9]\d* pages of an interrupted maintenance; split: 1 list split and \d+ neighbours? re-trained with it, \d+ new lists/,
	'the next maintenance reclaims the orphans, then splits');
note "after the crash: $result";
like($result, qr/, [1-9]\d* shared \(/, 'the split shares unchanged lists');
my $lists = info($primary, 'a', 'lists');
cmp_ok($lists, '>', 32, 'split: more lists');
is(index_count($primary, 'a', '<->', $lists), '4200|4200', 'split: every row through the index');
is(missing_via_index($primary, 'a', '<->', $lists), '0 missing: ', 'split: every row finds itself');

# 2. crash just after the swap
drifted_table($primary, 'b');
$session = $primary->background_psql('postgres', on_error_stop => 0);
$log_offset = -s $primary->logfile;
start_maintenance($session, 'b_idx', 2000);
$primary->wait_for_log(qr/ivf maintenance of index "b_idx" pauses after its swap/, $log_offset);
$primary->stop('immediate');
eval { $session->quit };
$primary->start;
$lists = info($primary, 'b', 'lists');
cmp_ok($lists, '>', 32, 'crash after the swap: the split model is live');
is(info($primary, 'b', 'maintenances'), '1', 'crash after the swap: one maintenance');
is(index_count($primary, 'b', '<->', $lists), '4200|4200', 'crash after the swap: every row through the index');
is(missing_via_index($primary, 'b', '<->', $lists), '0 missing: ', 'crash after the swap: every row finds itself');
# rows of the old region go to shared chains, read through the new directory
$primary->safe_psql('postgres', rows_sql('b', 4201, 8200, 0, 32));
is(index_count($primary, 'b', '<->', $lists), '8200|8200', 'crash after the swap: rows added to shared lists found');

# 3. inserts (into the growing region and elsewhere) and scans during a split
drifted_table($primary, 'c');
$session = $primary->background_psql('postgres', on_error_stop => 0);
start_maintenance($session, 'c_idx', 1500);
my $bad = insert_and_scan($primary, 'c', sub {
	my ($round) = @_;
	my $first = 4200 + ($round - 1) * 50 + 1;
	return $round % 2 ? drift_sql('c', $first, $first + 49) : rows_sql('c', $first, $first + 49, 0, 32);
});
$result = $session->query_safe('SELECT 1');
like($result, qr/split: 1 list split/, 'the split ended');
is($bad, 0, 'scans during the split: 10 rows in order each time');
$lists = info($primary, 'c', 'lists');
is(index_count($primary, 'c', '<->', $lists), '5700|5700', 'inserts during the split: every row through the index');
is(missing_via_index($primary, 'c', '<->', $lists), '0 missing: ', 'every row finds itself');

# 4. a scan that started before the split reads every row of its snapshot,
# while inserts link new pages to the chains the split shared (they carry
# the chains' stamps, which the old scan accepts) and go into the new lists,
# and VACUUM runs
drifted_table($primary, 'd');
my $old = open_old_scan($primary, 'd', $dims, 5);
$result = $primary->safe_psql('postgres', "SELECT ivf_maintain('d_idx')");
like($result, qr/^split: .*, [1-9]\d* shared \(/, 'split under an open cursor, sharing unchanged lists');
my $pages = $primary->safe_psql('postgres', "SELECT sum(pages) FROM ivf_list_sizes('d_idx')");
$primary->safe_psql('postgres', drift_sql('d', 4201, 4600) . rows_sql('d', 4601, 20600, 0, 32));
cmp_ok($primary->safe_psql('postgres', "SELECT sum(pages) FROM ivf_list_sizes('d_idx')"), '>', $pages + 32,
	'inserts linked new pages to the lists');
$primary->safe_psql('postgres', 'DELETE FROM d WHERE id % 50 = 0');
like($primary->safe_psql('postgres', "SELECT ivf_maintain('d_idx')"), qr/^waiting: /,
	'the retired structure stays while the old scan may read it');
$primary->safe_psql('postgres', 'VACUUM d');
$primary->safe_psql('postgres', 'VACUUM d');
my ($out, $ret) = $old->query('FETCH ALL FROM c');
is($ret, 0, 'the old scan goes on without error');
is(scalar(split(/\n/, $out)), 4195, 'the old scan returns every row of its snapshot');
$old->query_safe('COMMIT');
$old->quit;
$lists = info($primary, 'd', 'lists');
is(index_count($primary, 'd', '<->', $lists), '20188|20188', 'after the old scan: every row through the index');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is(index_count($standby, 'd', '<->', $lists), '20188|20188', 'standby, retired structure kept: every row through the index');
like($primary->safe_psql('postgres', "SELECT ivf_maintain('d_idx')"), qr/^freed [1-9]\d* pages of the model replaced last/,
	'the retired structure is reclaimed once no scan can read it');
$lists = info($primary, 'd', 'lists');
is(index_count($primary, 'd', '<->', $lists), '20188|20188', 'after the reclaim: every row through the index');
is(missing_via_index($primary, 'd', '<->', $lists), '0 missing: ', 'after the reclaim: every row finds itself');
# freed pages are taken by new rows
$primary->safe_psql('postgres', rows_sql('d', 20601, 22600, 0, 32) . drift_sql('d', 22601, 23000));
is(index_count($primary, 'd', '<->', $lists), '22588|22588', 'rows added after the reclaim found');

# 5. a standby query older than a split that shares lists (no
# hot_standby_feedback, so the primary does not wait for it): while the
# retired structure is kept it reads the retired directory, the shared chains
# (with pages inserts linked to them since, which keep the chains' older
# stamp) and the rewritten lists' old chains; once the primary reclaims the
# retired structure and new rows take its freed pages, it errors or still
# returns every row it could see, never fewer
drifted_table($primary, 'f');
$primary->safe_psql('postgres', 'CREATE EXTENSION pageinspect');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $standby_old = open_old_scan($standby, 'f', $dims, 1);
like($primary->safe_psql('postgres', "SELECT ivf_maintain('f_idx')"), qr/^split: .*, [1-9]\d* shared \(/,
	'standby query before a split: the split shares unchanged lists');
# pages of f_idx (pageinspect) of page_type $type (in the special space's
# third 16-bit word: 4 data, 5 free) whose chain stamp s satisfies $cond
# (s >> 17 is the birth field: 1 for chains of the build, 2 for the first
# maintenance's; s & 131071 the list)
my $f_pages = sub {
	my ($type, $cond, $blocks) = @_;
	return $primary->safe_psql('postgres', qq{
SELECT coalesce(string_agg(b::text, ',' ORDER BY b), '') FROM }
		  . ($blocks // "generate_series(1, pg_relation_size('f_idx') / current_setting('block_size')::int - 1)")
		  . qq{ b, LATERAL get_raw_page('f_idx', b) r
WHERE get_byte(r, (page_header(r)).special + 4) + 256 * get_byte(r, (page_header(r)).special + 5) = $type}
		  . (defined $cond ? " AND (SELECT $cond FROM (SELECT (page_header(r)).prune_xid::text::bigint AS s) s)" : ''));
};
my @built = split(/,/, $f_pages->(4, 's >> 17 = 1'));
# rows of the old region go to the shared chains (new pages keep their stamp),
# new-region rows to rewritten and new lists
$primary->safe_psql('postgres', rows_sql('f', 4201, 8200, 0, 32) . drift_sql('f', 8201, 8600));
cmp_ok(scalar(split(/,/, $f_pages->(4, 's >> 17 = 1'))), '>', scalar(@built), 'inserts linked pages to the shared chains');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
($out, $ret) = $standby_old->query('FETCH 2000 FROM c');
is($ret, 0, 'standby query older than the split, retired structure kept: no error');
is(scalar(split(/\n/, $out)), 2000, 'standby query older than the split, retired structure kept: rows go on');
# the primary has no snapshot older than the swap: the retired structure is freed
$primary->safe_psql('postgres', 'SELECT txid_current()');
like($primary->safe_psql('postgres', "SELECT ivf_maintain('f_idx')"), qr/^freed [1-9]\d* pages of the model replaced last/,
	'the retired structure of the split is reclaimed');
my $freed = $f_pages->(5);
my $blocks = $primary->safe_psql('postgres', "SELECT pg_relation_size('f_idx') / current_setting('block_size')::int");
note "freed blocks: $freed of $blocks";
# new rows, a few per list at a time, take them: shared chains and the new
# chains of rewritten lists (the old lists' numbers, birth field 2)
for my $round (0 .. 9)
{
	my $first = 8601 + $round * 600;
	$primary->safe_psql('postgres', rows_sql('f', $first, $first + 499, 0, 32) . drift_sql('f', $first + 500, $first + 599));
}
my $in_shared = $f_pages->(4, 's >> 17 = 1', "unnest('{$freed}'::int[])");
my $in_rewritten = $f_pages->(4, 's >> 17 = 2 AND s & 131071 < 32', "unnest('{$freed}'::int[])");
note "freed blocks reused by shared chains: $in_shared; by rewritten lists: $in_rewritten; index now "
  . $primary->safe_psql('postgres', "SELECT pg_relation_size('f_idx') / current_setting('block_size')::int") . ' blocks';
isnt($in_shared, '', 'freed pages taken by shared chains');
isnt($in_rewritten, '', 'freed pages taken by rewritten lists');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
old_scan_rest($standby_old, 4200 - 2001, 'the standby query older than the split');
$lists = info($primary, 'f', 'lists');
is(index_count($primary, 'f', '<->', $lists), '14600|14600', 'after the reuse: every row through the index');
is(missing_via_index($primary, 'f', '<->', $lists), '0 missing: ', 'after the reuse: every row finds itself');

# 6. cancel of a split
drifted_table($primary, 'e');
$session = $primary->background_psql('postgres', on_error_stop => 0);
cancel_paused_maintenance($primary, $session, 'e_idx', 'the split');
is(index_count($primary, 'e', '<->', 32), '4200|4200', 'after the cancel: every row through the index');
$session->query_safe('RESET ivf.maintain_pause_ms');
like($session->query_safe("SELECT ivf_maintain('e_idx')"),
	qr/^reclaimed [1-9]\d* pages of an interrupted maintenance; split: 1 list split/, 'a later maintenance splits');
$lists = info($primary, 'e', 'lists');
is(index_count($primary, 'e', '<->', $lists), '4200|4200', 'then every row through the index');
$session->quit;

# 7. the standby answers like the primary
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
for my $t ('a', 'b', 'c', 'd', 'e', 'f')
{
	my $sql = "SET enable_seqscan = off;\nSET ivf.probes = 2;\n";
	$sql .= "SELECT id, v <-> array_fill(${_}::real, ARRAY[$dims])::vector FROM $t"
	  . " ORDER BY v <-> array_fill(${_}::real, ARRAY[$dims])::vector LIMIT 10;\n"
	  for (0, 1, 2.5, 4, 30);
	is($standby->safe_psql('postgres', $sql), $primary->safe_psql('postgres', $sql),
		"standby: table $t answers like the primary");
	is(info($standby, $t, 'lists'), info($primary, $t, 'lists'), "standby: table $t has the primary's model");
}
$lists = info($standby, 'c', 'lists');
is(index_count($standby, 'c', '<->', $lists), '5700|5700', 'standby: every row through the index');

check_log($primary);
check_log($standby);
done_testing();
