#!/usr/bin/perl
# gen_mmdb.pl - build the small MaxMind DB test databases of the geoip
# transform (test-City.mmdb, test-ASN.mmdb) into the directory given as the
# first argument (default: this script's directory).  Needs
# MaxMind::DB::Writer (Debian: libmaxmind-db-writer-perl).  The output is
# deterministic (fixed build epoch; run with PERL_HASH_SEED=0
# PERL_PERTURB_KEYS=0, as tests/unit/test_geoip.c and
# tests/diff/test_geoip.sh do) so that the committed files can be checked
# against a fresh build.
#
# Coordinates are exact in binary (k/2^n) so that they print the same from a
# float or a double.
# The networks cover the hosts of tests/data/sample.pcap: some with every
# field, some without postal code, location or country, and some not at all.
use strict;
use warnings;
use File::Basename qw(dirname);
use MaxMind::DB::Writer::Tree;

my $out = $ARGV[0] // dirname(__FILE__);

my %types = (
    city                           => 'map',
    continent                      => 'map',
    country                        => 'map',
    registered_country             => 'map',
    location                       => 'map',
    postal                         => 'map',
    names                          => 'map',
    en                             => 'utf8_string',
    code                           => 'utf8_string',
    iso_code                       => 'utf8_string',
    geoname_id                     => 'uint32',
    latitude                       => 'double',
    longitude                      => 'double',
    accuracy_radius                => 'uint16',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

sub tree {
    my ($type, $desc) = @_;
    my $t = MaxMind::DB::Writer::Tree->new(
        ip_version               => 6,
        record_size              => 24,
        database_type            => $type,
        languages                => ['en'],
        description              => { en => $desc },
        remove_reserved_networks => 0,
        map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]" },
    );
    $t->_set_build_epoch(1700000000);
    return $t;
}

sub city {
    my (%a) = @_;
    my %r;
    $r{country} = { iso_code => $a{cc}, names => { en => $a{name} // $a{cc} } }
        if $a{cc};
    $r{postal} = { code => $a{po} } if defined $a{po};
    $r{location} = { latitude => $a{lat}, longitude => $a{lon}, accuracy_radius => 10 }
        if defined $a{lat};
    $r{city} = { names => { en => $a{city} } } if $a{city};
    return \%r;
}

my $c = tree('GeoLite2-City', 'pmacct test City database');
# IPv4 (stored as ::a.b.c.d, where libmaxminddb looks IPv4 addresses up)
$c->insert_network('10.0.0.0/24',     city(cc => 'IT', po => '00100', lat => 41.875, lon => 12.5, city => 'Rome'));
$c->insert_network('192.168.1.0/25',  city(cc => 'DE', po => '10115', lat => 52.5, lon => 13.375, city => 'Berlin'));
$c->insert_network('8.8.8.0/24',      city(cc => 'US', po => '94043', lat => 37.375, lon => -122.0625));
$c->insert_network('203.0.113.0/25',  city(cc => 'JP', lat => 35.6875, lon => 139.6875));
$c->insert_network('203.0.113.128/25', city(cc => 'AU'));
$c->insert_network('198.51.100.0/24', city(lat => -33.875, lon => 151.25));
# IPv6
$c->insert_network('2001:db8::/48',   city(cc => 'FR', po => '75001', lat => 48.875, lon => 2.375));
$c->insert_network('2001:db8:1::/48', city(cc => 'NL'));
$c->write_tree(do { open my $fh, '>:raw', "$out/test-City.mmdb" or die "$out/test-City.mmdb: $!"; $fh });

my $a = tree('GeoLite2-ASN', 'pmacct test ASN database');
$a->insert_network('10.0.0.0/8',      { autonomous_system_number => 64512, autonomous_system_organization => 'Test Private' });
$a->insert_network('8.8.8.0/24',      { autonomous_system_number => 15169, autonomous_system_organization => 'Test Google' });
$a->insert_network('203.0.113.0/24',  { autonomous_system_number => 64500, autonomous_system_organization => 'Test Net 3' });
$a->insert_network('2001:db8::/32',   { autonomous_system_number => 64496, autonomous_system_organization => 'Test v6' });
$a->write_tree(do { open my $fh, '>:raw', "$out/test-ASN.mmdb" or die "$out/test-ASN.mmdb: $!"; $fh });
