# 013_mips_rank.pl: an inner-product index built before the lists' ranking
# vectors (src/core/mips.h; meta mips_rank = 0, no vectors read from the
# parameter stream) keeps working: ranked by its centroids, exact with every
# list probed and under strict_order, and it takes inserts and VACUUM; a
# REINDEX gives it ranking vectors.  The older meta page is made by clearing
# mips_rank of a new index with the server stopped.
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use IvfTap;

$IvfTap::dims = 2;
my $node = PostgreSQL::Test::Cluster->new('mips_rank');
$node->init;
$node->start;
# sql/ivf_mips.sql's case: list A holds 40 rows of inner product 3 with
# [1,0]; the other list's centroid points away, its 4 largest rows give 4.5
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_ivf;
CREATE TABLE t (id int, v vector(2));
INSERT INTO t SELECT i, ARRAY[3, i * 0.01]::vector FROM generate_series(1, 40) i;
INSERT INTO t SELECT 100 + i, ARRAY[-1, 3 + i * 0.01]::vector FROM generate_series(1, 40) i;
INSERT INTO t SELECT 200 + i, '[4.5,6]' FROM generate_series(1, 4) i;
CREATE INDEX t_ip ON t USING ivf (v vector_ip_ops) WITH (lists = 2);});

my $top = q{SET enable_seqscan = off; SET ivf.probes = 1;
SELECT v <#> '[1,0]' FROM t ORDER BY v <#> '[1,0]' LIMIT 1;};
# each query's 10 smallest distances (rows tie, so not their ids)
my $queries = q{SELECT string_agg((SELECT string_agg(d::text, ',' ORDER BY d) FROM
	(SELECT v <#> q AS d FROM t ORDER BY v <#> q LIMIT 10) s), ' ')
	FROM unnest(ARRAY['[1,0]', '[1,0.5]', '[-1,1]', '[0,-1]', '[0.2,3]']::vector[]) q;};
my $exact = $node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $queries");

# mips_rank is followed by IvfMetaPageData's last field, chain_stamps (1 in
# a new index): two int32 ending at the struct's end (pd_lower).  Reads
# both, or writes $value into mips_rank, with the server stopped.
sub mips_rank_field
{
	my ($value) = @_;
	my $file = $node->data_dir . '/' . $node->safe_psql('postgres', q{SELECT pg_relation_filepath('t_ip')});
	$node->stop;
	open(my $fh, '+<:raw', $file) or die "open $file: $!";
	my $header;
	read($fh, $header, 24) == 24 or die "read: $!";
	my $at = unpack('v', substr($header, 12, 2)) - 8;    # pd_lower
	seek($fh, $at, 0) or die "seek: $!";
	my $field;
	read($fh, $field, 8) == 8 or die "read: $!";
	if (defined $value)
	{
		seek($fh, $at, 0) or die "seek: $!";
		print $fh pack('V', $value);
	}
	close($fh) or die "close: $!";
	$node->start;
	return join(',', unpack('VV', $field));
}

is($node->safe_psql('postgres', $top), '-4.5', 'new index: one probed list finds the top row');
is(mips_rank_field(0), '1,1', 'new index: mips_rank is 1 (and the field is where this test looks)');

# the index as built before ranking vectors
is($node->safe_psql('postgres', $top), '-3', 'older meta: ranked by centroids, list A first');
is($node->safe_psql('postgres', "SET enable_seqscan = off; SET ivf.probes = 2; $queries"), $exact,
	'older meta: every list probed equals the exact scan');
is($node->safe_psql('postgres', "SET enable_seqscan = off; SET ivf.probes = 1;
	SET ivf.iterative_scan = strict_order; $queries"), $exact, 'older meta: strict_order from one list is exact');
$node->safe_psql('postgres', q{INSERT INTO t VALUES (300, '[2,2]'); DELETE FROM t WHERE id = 1; VACUUM t;});
$exact = $node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $queries");
is($node->safe_psql('postgres', "SET enable_seqscan = off; SET ivf.probes = 2; $queries"), $exact,
	'older meta: after an insert and VACUUM, every list probed equals the exact scan');
is(mips_rank_field(), '0,1', 'older meta: VACUUM left mips_rank 0');

$node->safe_psql('postgres', 'REINDEX INDEX t_ip');
is($node->safe_psql('postgres', $top), '-4.5', 'after REINDEX: ranked by ranking vectors again');
is($node->safe_psql('postgres', "SET enable_seqscan = off; SET ivf.probes = 2; $queries"), $exact,
	'after REINDEX: every list probed equals the exact scan');

check_log($node);
$node->stop;
done_testing();
