# What the TAP tests share: a primary streaming to a standby, every row
# reachable through an ivf index, ivf_index_info, a server log free of crashes.
package IvfTap;

use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

our @EXPORT = qw(missing_via_index index_count check_log primary_and_standby info start_maintenance insert_and_scan
  open_old_scan old_scan_rest cancel_paused_maintenance);

# Dimension of the test tables' vectors; each test sets it.
our $dims = 16;

# Ids of rows not returned as their own nearest neighbour through the index
# with every list probed ("N missing: ids"); '<#>' has no such property.
sub missing_via_index
{
	my ($node, $table, $op, $lists) = @_;
	return $node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SET ivf.probes = $lists;
SELECT count(*) || ' missing: ' || coalesce(array_to_string((array_agg(r.id ORDER BY r.id))[1:20], ','), '')
FROM $table r LEFT JOIN LATERAL (
	SELECT s.id, s.v $op r.v AS d FROM $table s ORDER BY s.v $op r.v LIMIT 1) nn ON true
WHERE r.v IS NOT NULL AND (nn.id IS NULL OR (nn.id <> r.id AND nn.d > 1e-6));});
}

# "rows via index|non-null rows" with every list probed.
sub index_count
{
	my ($node, $table, $op, $lists) = @_;
	return $node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SET ivf.probes = $lists;
-- every probed row: PQ's automatic depth leaves out rows a LIMIT 10 does not need
SET ivf.iterative_scan = strict_order;
SELECT (SELECT count(*) FROM (SELECT id FROM $table
			ORDER BY v $op array_fill(0.25::real, ARRAY[$dims])::vector($dims) LIMIT 100000000) s)
	|| '|' || (SELECT count(v) FROM $table);});
}

# The node's log shows no backend killed by a signal and no PANIC.
sub check_log
{
	my ($node) = @_;
	my $log = slurp_file($node->logfile);
	unlike($log, qr/terminated by signal/, $node->name . ': no backend terminated by a signal');
	unlike($log, qr/PANIC/, $node->name . ': no PANIC in the server log');
}

# A primary (with $conf appended to its postgresql.conf) streaming to a
# standby, both started, pg_ivf created on the primary.
sub primary_and_standby
{
	my ($conf) = @_;
	my $primary = PostgreSQL::Test::Cluster->new('primary');
	$primary->init(allows_streaming => 1);
	$primary->append_conf('postgresql.conf', $conf) if defined $conf;
	$primary->start;
	$primary->backup('base');
	my $standby = PostgreSQL::Test::Cluster->new('standby');
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->start;
	$primary->safe_psql('postgres', 'CREATE EXTENSION pg_ivf');
	return ($primary, $standby);
}

# Columns $cols of ivf_index_info for index ${t}_idx.
sub info
{
	my ($node, $t, $cols) = @_;
	return $node->safe_psql('postgres', "SELECT $cols FROM ivf_index_info('${t}_idx')");
}

# Starts ivf_maintain($index) in background session $session with
# A session on $node holding a cursor over table $t through its index (one
# list probed, then further lists by relaxed_order iterative scan) in a
# REPEATABLE READ snapshot, its first $first rows fetched: a scan older than
# what a test does next.
sub open_old_scan
{
	my ($node, $t, $dims, $first) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_safe(qq{SET enable_seqscan = off;
SET ivf.probes = 1;
SET ivf.iterative_scan = relaxed_order;
BEGIN ISOLATION LEVEL REPEATABLE READ;
DECLARE c CURSOR FOR SELECT id FROM $t ORDER BY v <-> array_fill(0::real, ARRAY[$dims])::vector;
FETCH $first FROM c;});
	return $session;
}

# The rest of an old standby scan (open_old_scan) after the primary freed and
# reused the structure it reads: a clear error, or exactly the $rows rows it
# could still see, never fewer. Ends the session.
sub old_scan_rest
{
	my ($session, $rows, $what) = @_;
	my ($out, $ret) = $session->query('FETCH ALL FROM c');
	if ($ret)
	{
		like($session->{stderr}, qr/was re-trained and its old block \d+ reused while this query ran|is not a data page/,
			"$what fails with a clear error");
	}
	else
	{
		is(scalar(split(/\n/, $out)), $rows, "$what returns every row it could see");
	}
	note "$what: ret $ret, " . ($ret ? $session->{stderr} : 'rows');
	$session->quit;
}

# ivf.maintain_pause_ms = $pause_ms (a pause at each of its pause points, for
# a test to crash, cancel, insert or scan there); returns once it started.
sub start_maintenance
{
	my ($session, $index, $pause_ms) = @_;
	$session->query_until(qr/started/, qq{SET ivf.maintain_pause_ms = $pause_ms;
\\echo started
SELECT ivf_maintain('$index');
});
}

# Starts maintenance of $index in $session paused during its copy, cancels
# it there and checks that "$what" was cancelled within 2 s; $session stays
# usable (its stderr cleared).
sub cancel_paused_maintenance
{
	my ($node, $session, $index, $what) = @_;
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	my $log_offset = -s $node->logfile;
	start_maintenance($session, $index, 600000);
	$node->wait_for_log(qr/ivf maintenance of index "$index" pauses during its copy/, $log_offset);
	my $start = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$session->query('SELECT 1');
	my $elapsed = time - $start;
	like($session->{stderr}, qr/canceling statement due to user request/, "$what was cancelled");
	note "cancel: error after $elapsed s";
	cmp_ok($elapsed, '<', 2.0, 'it stopped within 2 s of the cancel');
	$session->{stderr} = '';
}

# 30 rounds, each an INSERT from $insert_sql->($round) in one session and the
# 10 nearest rows of table $t through its index (probes 2) in another; returns
# the rounds whose scan did not give 10 rows in order.
sub insert_and_scan
{
	my ($node, $t, $insert_sql) = @_;
	my $writer = $node->background_psql('postgres', on_error_stop => 0);
	my $reader = $node->background_psql('postgres', on_error_stop => 0);
	$reader->query_safe('SET enable_seqscan = off; SET ivf.probes = 2; SET client_min_messages = error');
	my $bad = 0;
	for my $round (1 .. 30)
	{
		$writer->query_safe($insert_sql->($round));
		my $got = $reader->query_safe(qq{
SELECT count(*) || ' ' || bool_and(d >= coalesce(prev, 0)) FROM (
	SELECT d, lag(d) OVER (ORDER BY n) AS prev FROM (
		SELECT row_number() OVER () AS n, d FROM (
			SELECT v <-> array_fill(1::real, ARRAY[$dims])::vector AS d FROM $t
			ORDER BY v <-> array_fill(1::real, ARRAY[$dims])::vector LIMIT 10) s) s) s});
		$bad++ if $got ne '10 true';
		select(undef, undef, undef, 0.15);
	}
	$writer->quit;
	$reader->quit;
	return $bad;
}

1;
