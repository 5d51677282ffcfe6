# 010_truncate.pl: TRUNCATE keeps an ivf index's trained model (issue 11),
# on a streaming standby and through crash recovery.
#
# The tables are created after the base backup, so the standby gets the
# build, the TRUNCATE's new index file (log_newpage_range of the carried
# model) and the inserts only through WAL.  Then the primary stops in
# immediate mode right after TRUNCATE + inserts committed, with no
# checkpoint since: recovery replays them.  An unlogged table's index keeps
# the model at TRUNCATE, and a crash resets it to its init fork (untrained,
# as before).
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
my $lists = 20;

my @cases = (
	{ table => 'c_sq8', with => "lists = $lists" },
	{ table => 'c_pq', with => "lists = $lists, quantizer = 'pq', pq_m = 4" },
);

# SQL loading 2,000 rows in 20 separated clusters (cluster c around 10 * c on coordinate c % 16 + 1).
sub rows_sql
{
	my ($table, $seed) = @_;
	return qq{
SELECT setseed($seed);
INSERT INTO $table (id, v)
SELECT i, array_agg((10.0 * (i % 20) * (j = (i % 20) % $dims + 1)::int + 5 * (i % 20 / $dims) + random() - 0.5)::real
	ORDER BY j)::vector($dims)
FROM generate_series(1, 2000) i, generate_series(1, $dims) j GROUP BY i;};
}

# "lists|trained|model_carried|list_max" of an index.
sub state
{
	my ($node, $index) = @_;
	return $node->safe_psql('postgres',
		"SELECT lists || '|' || trained || '|' || model_carried || '|' || list_max FROM ivf_index_info('$index')");
}

# Ids and distances of the 10 nearest rows to 4 query vectors: through the
# index with every list probed, or (exact) by a sequential scan.
sub answers
{
	my ($node, $table, $exact) = @_;
	my $plan = $exact ? 'SET enable_indexscan = off; SET enable_bitmapscan = off;'
	  : "SET enable_seqscan = off; SET ivf.probes = $lists;";
	return $node->safe_psql('postgres', qq{
$plan
SELECT string_agg(a, ' ' ORDER BY c) FROM (
	SELECT c, (SELECT string_agg(id || ':' || round((v <-> q)::numeric, 4), ',')
			   FROM (SELECT id, v FROM $table ORDER BY v <-> q LIMIT 10) s) AS a
	FROM (SELECT c, array_agg((10.0 * c * (j = c % $dims + 1)::int + 0.2)::real ORDER BY j)::vector($dims) AS q
		  FROM generate_series(0, 19, 6) c, generate_series(1, $dims) j GROUP BY c) qs) x;});
}

my ($primary, $standby) = primary_and_standby(qq{
checkpoint_timeout = '1h'
max_wal_size = '1GB'
});
for my $c (@cases)
{
	my ($t, $with) = @$c{qw(table with)};
	$primary->safe_psql('postgres', "CREATE TABLE $t (id int, v vector($dims));" . rows_sql($t, 0.3)
		  . "CREATE INDEX ${t}_idx ON $t USING ivf (v vector_l2_ops) WITH ($with);");
	my ($lists_before, $trained, $carried, $max_before) = split /\|/, state($primary, "${t}_idx");
	is("$lists_before|$trained|$carried", "$lists|true|false", "$t: built trained with $lists lists");

	# TRUNCATE and reload in one transaction: the model is carried, no NOTICE
	my ($ret, $out, $err) = $primary->psql('postgres', "BEGIN; TRUNCATE $t;" . rows_sql($t, 0.3) . 'COMMIT;');
	is($ret, 0, "$t: TRUNCATE and reload commit");
	unlike($err, qr/untrained/, "$t: no untrained NOTICE at TRUNCATE");
	is(state($primary, "${t}_idx"), "$lists|true|true|$max_before",
		"$t: after TRUNCATE the reloaded rows fill the carried lists as before");
	$c->{answers} = answers($primary, $t);
	is($c->{answers}, answers($primary, $t, 1), "$t: primary answers as the sequential scan");
}

# an unlogged table's index keeps the model at TRUNCATE too
$primary->safe_psql('postgres', "CREATE UNLOGGED TABLE c_unlogged (id int, v vector($dims));"
	  . rows_sql('c_unlogged', 0.4)
	  . "CREATE INDEX c_unlogged_idx ON c_unlogged USING ivf (v vector_l2_ops) WITH (lists = $lists);"
	  . "TRUNCATE c_unlogged;" . rows_sql('c_unlogged', 0.4));
like(state($primary, 'c_unlogged_idx'), qr/^$lists\|true\|true\|/, 'unlogged: TRUNCATE keeps the model');

$primary->wait_for_catchup($standby, 'replay');
for my $c (@cases)
{
	my $t = $c->{table};
	like(state($standby, "${t}_idx"), qr/^$lists\|true\|true\|/, "$t standby: the carried model replicated");
	is(answers($standby, $t), $c->{answers}, "$t standby: answers as the primary");
	my ($found, $rows) = split /\|/, index_count($standby, $t, '<->', $lists);
	is("$found|$rows", "2000|2000", "$t standby: every row through the index");
}

# crash right after the committed TRUNCATE + inserts: recovery replays them
$primary->stop('immediate');
$primary->start;
for my $c (@cases)
{
	my $t = $c->{table};
	like(state($primary, "${t}_idx"), qr/^$lists\|true\|true\|/, "$t after crash: the carried model is back");
	my ($found, $rows) = split /\|/, index_count($primary, $t, '<->', $lists);
	is("$found|$rows", "2000|2000", "$t after crash: every row through the index");
	is(missing_via_index($primary, $t, '<->', $lists), '0 missing: ',
		"$t after crash: every row is its own nearest neighbour through the index");
	is(answers($primary, $t), $c->{answers}, "$t after crash: answers as before the crash");
}
# the unlogged index came back from its init fork: empty, untrained, usable
is(state($primary, 'c_unlogged_idx'), '1|false|false|0', 'unlogged after crash: reset to its init fork');
$primary->safe_psql('postgres', rows_sql('c_unlogged', 0.4));
is(index_count($primary, 'c_unlogged', '<->', 1), '2000|2000', 'unlogged after crash: takes rows again');

check_log($primary);
check_log($standby);
$standby->stop;
$primary->stop;
done_testing();
