# 002_crash.pl: an immediate shutdown in the middle of a stream of committed
# inserts (with deletes and VACUUMs in between) loses no index entry.
#
# No checkpoint happens after the tables are created, so recovery replays
# the build (log_newpage_range) as well as every insert and vacuum record.
# An unlogged table's ivf index comes back empty (from its init fork) and
# usable.
use strict;
use warnings FATAL => 'all';

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use IvfTap;
use Time::HiRes qw(time);

my $dims = 16;
$IvfTap::dims = $dims;
my $batch_rows = 5;
my $batches = 3000;    # far more than run before the crash
my $crash_after = 200;    # acknowledged batches before the immediate stop

my @cases = (
	{ table => 'k_sq8', quantizer => 'sq8', lists => 6, with => "quantizer = 'sq8'" },
	{ table => 'k_pq', quantizer => 'pq', lists => 4, with => "quantizer = 'pq', pq_m = 8" },
);



# Both checks, named after the table and the moment.
sub check_index
{
	my ($node, $c, $when) = @_;
	my ($t, $lists) = @$c{qw(table lists)};
	my ($found, $rows) = split /\|/, index_count($node, $t, '<->', $lists);
	cmp_ok($rows, '>', 0, "$t $when: table has rows");
	is($found, $rows, "$t $when: index scan returns every non-null row once");
	is(missing_via_index($node, $t, '<->', $lists), '0 missing: ',
		"$t $when: every row is its own nearest neighbour through the index");
}

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
wal_level = replica
checkpoint_timeout = '1h'
max_wal_size = '1GB'
});
$node->start;
my $before_build = $node->safe_psql('postgres', 'SELECT pg_current_wal_insert_lsn()');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_ivf');

for my $c (@cases)
{
	my ($t, $lists, $with) = @$c{qw(table lists with)};
	$node->safe_psql('postgres', qq{
CREATE TABLE $t (id int PRIMARY KEY, batch int, v vector($dims));
SELECT setseed(0.5);
INSERT INTO $t (id, batch, v)
SELECT i, 0, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series(1, 1500) i, generate_series(1, $dims) j GROUP BY i;
CREATE INDEX ${t}_v_idx ON $t USING ivf (v vector_l2_ops) WITH (lists = $lists, $with);});
	$c->{built_size} = $node->safe_psql('postgres', "SELECT pg_relation_size('${t}_v_idx')");
}

$node->safe_psql('postgres', qq{
CREATE UNLOGGED TABLE u_flat (id int PRIMARY KEY, v vector($dims));
SELECT setseed(0.6);
INSERT INTO u_flat
SELECT i, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series(1, 300) i, generate_series(1, $dims) j GROUP BY i;
CREATE INDEX u_flat_v_idx ON u_flat USING ivf (v vector_l2_ops) WITH (lists = 4, quantizer = 'flat');});

check_index($node, $_, 'after build') for @cases;

# One psql session: each batch is one autocommitted statement inserting the
# same rows into both tables (the last row of every 10th batch has a NULL
# vector), acknowledged by an \echo once committed; every 50 batches some
# older rows are deleted and both tables vacuumed.
my $script = "SELECT setseed(0.25);\n";
for my $b (1 .. $batches)
{
	my $first = 100000 + ($b - 1) * $batch_rows;
	$script .= qq{WITH n AS (
	INSERT INTO k_sq8 (id, batch, v)
	SELECT $first + i, $b,
		CASE WHEN i = $batch_rows - 1 AND $b % 10 = 0 THEN NULL
		ELSE array_agg((random() - 0.5)::real ORDER BY j)::vector($dims) END
	FROM generate_series(0, $batch_rows - 1) i, generate_series(1, $dims) j GROUP BY i
	RETURNING *)
INSERT INTO k_pq SELECT * FROM n;
\\echo committed $b
};
	if ($b % 50 == 0)
	{
		$script .= qq{DELETE FROM k_sq8 WHERE id % 3 = 0 AND batch BETWEEN $b - 49 AND $b - 10;
DELETE FROM k_pq WHERE id % 3 = 0 AND batch BETWEEN $b - 49 AND $b - 10;
VACUUM k_sq8, k_pq;
};
	}
}
my $script_file = $node->basedir . '/inserts.sql';
append_to_file($script_file, $script);

my ($out, $err) = ('', '');
my $loader = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-h', $node->host, '-p', $node->port, '-d', 'postgres', '-f', $script_file
	],
	'>', \$out, '2>', \$err);
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
$loader->pump until $out =~ /^committed $crash_after$/m || time > $deadline || !$loader->pumpable;
like($out, qr/^committed $crash_after$/m, "$crash_after batches committed before the crash");

$node->stop('immediate');
$loader->finish;
my @acked = $out =~ /^committed (\d+)$/mg;
my $acked = @acked ? $acked[-1] : 0;
cmp_ok($acked, '<', $batches, "crash happened mid-way (after batch $acked of $batches)");
unlike($err, qr/ERROR:/, 'no SQL error before the crash');
note "loader stderr: $err";

my $log_offset = -s $node->logfile;
$node->start;
my ($redo) = substr(slurp_file($node->logfile), $log_offset) =~ /redo starts at ([0-9A-F]+\/[0-9A-F]+)/;
ok(defined $redo && $node->safe_psql('postgres', "SELECT '$redo'::pg_lsn <= '$before_build'::pg_lsn") eq 't',
	'recovery replayed the index builds too (redo started before them)');

for my $c (@cases)
{
	my $t = $c->{table};
	is($node->safe_psql('postgres',
			"SELECT count(DISTINCT batch) FROM $t WHERE batch BETWEEN 1 AND $acked"),
		$acked, "$t: all $acked acknowledged batches survived the crash");
	cmp_ok($node->safe_psql('postgres', "SELECT pg_relation_size('${t}_v_idx')"),
		'>', $c->{built_size}, "$t: inserts before the crash added index pages");
	check_index($node, $c, 'after crash recovery');
}

# The recovered index keeps working: more rows, a delete and a vacuum.
$node->safe_psql('postgres', qq{
SELECT setseed(0.75);
INSERT INTO k_sq8 (id, batch, v)
SELECT 900000 + i, -1, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series(1, 400) i, generate_series(1, $dims) j GROUP BY i;
INSERT INTO k_pq SELECT * FROM k_sq8 WHERE batch = -1;
DELETE FROM k_sq8 WHERE id % 7 = 0;
DELETE FROM k_pq WHERE id % 7 = 0;
VACUUM k_sq8, k_pq;});
check_index($node, $_, 'after recovery, inserts and vacuum') for @cases;

# The unlogged table was reset; its index is empty, then takes new rows.
is($node->safe_psql('postgres', 'SELECT count(*) FROM u_flat'), '0', 'unlogged table is empty after the crash');
is(index_count($node, 'u_flat', '<->', 4), '0|0', 'unlogged index is empty after the crash');
$node->safe_psql('postgres', qq{
SELECT setseed(0.9);
INSERT INTO u_flat
SELECT i, array_agg((random() - 0.5)::real ORDER BY j)::vector($dims)
FROM generate_series(1, 300) i, generate_series(1, $dims) j GROUP BY i;});
check_index($node, { table => 'u_flat', lists => 4 }, 'after reset and new inserts');

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal/, 'no backend terminated by a signal');
unlike($log, qr/PANIC/, 'no PANIC in the server log');

$node->stop;
done_testing();
