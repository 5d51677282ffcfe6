# 006_format_version.pl: an ivf index whose meta page has a format version
# this library does not read (newer than IVF_VERSION, or older than 0.1.0's
# version 1) fails every access -- query, insert, VACUUM, ivf_index_info --
# with one ERROR naming the index and the REINDEX INDEX command that fixes
# it; after that REINDEX the index answers again.  (Indexes 0.1.0 built are
# read by scripts/upgrade-check.sh.)
use strict;
use warnings FATAL => 'all';

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use FindBin;
use lib $FindBin::RealBin;
use IvfTap;

my $dims = 8;
$IvfTap::dims = $dims;
my $lists = 4;
my $version_offset = 24 + 4;    # page header (MAXALIGNed), then IvfMetaPageData's magic

my $node = PostgreSQL::Test::Cluster->new('format');
$node->init;
$node->start;
# A name that needs quoting, so the hint must quote it.
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_ivf;
SELECT setseed(0.3);
CREATE TABLE t (id int PRIMARY KEY, v vector($dims));
INSERT INTO t SELECT i, (SELECT array_agg(random() - 0.5) FROM generate_series(1, $dims) WHERE i > 0)::vector
FROM generate_series(1, 400) i;
CREATE INDEX "Fmt Idx" ON t USING ivf (v vector_l2_ops) WITH (lists = $lists);});

# Writes `version` into the meta page with the server stopped.
sub set_version
{
	my ($version) = @_;
	my $file = $node->data_dir . '/'
	  . $node->safe_psql('postgres', q{SELECT pg_relation_filepath('"Fmt Idx"')});
	$node->stop;
	open(my $fh, '+<:raw', $file) or die "open $file: $!";
	seek($fh, $version_offset, 0) or die "seek: $!";
	print $fh pack('V', $version);
	close($fh) or die "close: $!";
	$node->start;
}

my $query = qq{SET enable_seqscan = off;
SELECT id FROM t ORDER BY v <-> array_fill(0.1::real, ARRAY[$dims])::vector LIMIT 3;};
my %access = (
	'query'          => $query,
	'insert'         => qq{INSERT INTO t VALUES (1000, array_fill(0.2::real, ARRAY[$dims])::vector)},
	'VACUUM'         => q{DELETE FROM t WHERE id <= 10; VACUUM t},
	'ivf_index_info' => q{SELECT lists FROM ivf_index_info('"Fmt Idx"')});

for my $version (99, 0)
{
	set_version($version);
	for my $what (sort keys %access)
	{
		my ($ret, $out, $err) = $node->psql('postgres', $access{$what});
		isnt($ret, 0, "version $version, $what: fails");
		like($err,
			qr/ERROR:  ivf index "Fmt Idx" has on-disk format version $version, which this pg_ivf cannot read/,
			"version $version, $what: the error names the index and its version");
		like($err, qr/HINT:  Rebuild the index with REINDEX INDEX public\."Fmt Idx"\./,
			"version $version, $what: the hint gives the REINDEX command");
	}
	$node->safe_psql('postgres', 'REINDEX INDEX public."Fmt Idx"');
	is(index_count($node, 't', '<->', $lists), join('|', ($node->safe_psql('postgres',
		'SELECT count(v) FROM t')) x 2), "version $version: after REINDEX the index returns every row");
	is($node->safe_psql('postgres', "SET ivf.probes = $lists; $query"),
		$node->safe_psql('postgres', "SET enable_indexscan = off; SET enable_bitmapscan = off; $query"),
		"version $version: after REINDEX the index answers as the exact scan");
}

check_log($node);
$node->stop;
done_testing();
