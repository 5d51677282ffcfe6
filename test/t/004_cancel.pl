# 004_cancel.pl: a long CREATE INDEX ... USING ivf stops promptly when
# cancelled, by statement_timeout or by pg_cancel_backend() during k-means,
# leaves no index behind, and the same backend then builds one normally.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $dims = 128;
my $rows = 40000;
my $timeout = 1.0;    # seconds of statement_timeout
my $grace = 2.0;      # allowed delay between the cancel and the error

# Without a cancel this takes about 4 s on 2 cores: 1000 lists on uniform
# noise, where Lloyd iterations (up to 1000) take long to settle.
my $slow_build = qq{CREATE INDEX big_v_idx ON big USING ivf (v vector_l2_ops) WITH (lists = 1000)};
my $slow_settings = qq{SET ivf.kmeans_iterations = 1000;
SET ivf.build_threads = 2;};

# "ivf indexes on big|relations named big_v_idx"
sub leftovers
{
	my ($node) = @_;
	return $node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			JOIN pg_am a ON a.oid = c.relam
		WHERE i.indrelid = 'big'::regclass AND a.amname = 'ivf')
	|| '|' || (SELECT count(*) FROM pg_class WHERE relname = 'big_v_idx');});
}

my $node = PostgreSQL::Test::Cluster->new('cancel');
$node->init;
$node->start;
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_ivf;
CREATE TABLE big (id int PRIMARY KEY, v vector($dims));
SELECT setseed(0.5);
INSERT INTO big
SELECT i, array_agg((random() - 0.5)::real)::vector($dims)
FROM generate_series(1, $rows) i, generate_series(1, $dims) j GROUP BY i;
VACUUM ANALYZE big;});

# 1. statement_timeout, in a session that is then reused.
my $session = $node->background_psql('postgres', on_error_stop => 0);
$session->query_safe(qq{$slow_settings
SET statement_timeout = '${timeout}s';});
my $start = time;
my ($out, $ret) = $session->query($slow_build);
my $elapsed = time - $start;
my $err = $session->{stderr};
$session->{stderr} = '';
is($ret, 1, 'CREATE INDEX under statement_timeout fails');
like($err, qr/canceling statement due to statement timeout/, 'with the statement timeout error');
note "statement_timeout cancel: error after $elapsed s: $err";
cmp_ok($elapsed, '<', $timeout + $grace, "stopped within $grace s of the ${timeout}s timeout");
is(leftovers($node), '0|0', 'no index left after the timeout');
is($session->query_safe('SELECT 1'), '1', 'the cancelled backend still serves queries');

# 2. pg_cancel_backend from another session once k-means is running.
$session->query_safe('RESET statement_timeout');
my $pid = $session->query_safe('SELECT pg_backend_pid()');
$session->query_until(qr/start/, "\\echo start\n$slow_build;\n");
ok( $node->poll_query_until('postgres', qq{
SELECT phase = 'building index: performing k-means'
FROM pg_stat_progress_create_index WHERE pid = $pid}),
	'build reports the k-means phase in pg_stat_progress_create_index');
$start = time;
is($node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)"), 't', 'cancel request sent');
ok( $node->poll_query_until('postgres', qq{
SELECT state = 'idle' FROM pg_stat_activity WHERE pid = $pid}),
	'the cancelled backend goes idle');
$elapsed = time - $start;
note "pg_cancel_backend: idle after $elapsed s";
cmp_ok($elapsed, '<', $grace, "k-means stopped within $grace s of pg_cancel_backend");
($out, $ret) = $session->query('SELECT 1');
is($out, '1', 'the cancelled backend still serves queries');
like($session->{stderr}, qr/canceling statement due to user request/, 'CREATE INDEX failed with the user-request cancel error');
$session->{stderr} = '';
is(leftovers($node), '0|0', 'no index left after pg_cancel_backend');

# 3. The same backend then builds an index that works.
$session->query_safe(q{SET ivf.kmeans_iterations = 5;
CREATE INDEX big_v_idx ON big USING ivf (v vector_l2_ops) WITH (lists = 20);});
is(leftovers($node), '1|1', 'CREATE INDEX after the cancels succeeds');
is($node->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_v_idx'::regclass"),
	't', 'the new index is valid');
my $query = "array_fill(0.1::real, ARRAY[$dims])::vector($dims)";
like($node->safe_psql('postgres', qq{
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM big ORDER BY v <-> $query LIMIT 5;}),
	qr/Index Scan using big_v_idx on big/, 'the new index is used');
is($node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SET ivf.probes = 20;
SELECT count(*) FROM (SELECT id FROM big ORDER BY v <-> $query LIMIT 100000000) s;}),
	$rows, 'the new index returns every row');
is($node->safe_psql('postgres', qq{
SET enable_seqscan = off;
SET ivf.probes = 20;
SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY v <-> $query LIMIT 5) s;}),
	$node->safe_psql('postgres', qq{
SET enable_indexscan = off;
SELECT array_agg(id) FROM (SELECT id FROM big ORDER BY v <-> $query LIMIT 5) s;}),
	'the new index with every list probed gives the exact top 5');
$session->quit;

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal/, 'no backend terminated by a signal');
unlike($log, qr/PANIC/, 'no PANIC in the server log');

$node->stop;
done_testing();
