# A hash of 300,000 keys for test_dropin.c: perl on alloclab must print what
# it prints on glibc (only sorted or order-free figures are printed, since
# Perl randomises hash order). Run as: perl hash.pl
use strict;
use warnings;

my %h;
my $x = 12345;
sub next_rand { $x = ($x * 1103515245 + 12345) % 2147483648; return $x; }

for my $i (1 .. 300_000) {
    my $r = next_rand();
    $h{"k$i-" . ($i * 7 % 1000)} = "v" x (1 + $r % 40) . $i;
}
print "keys ", scalar(keys %h), "\n";
my ($len, $sum) = (0, 0);
while (my ($k, $v) = each %h) {
    $len += length($v);
    $sum += length($k);
}
print "values $len keys $sum\n";

for my $i (1 .. 300_000) {
    delete $h{"k$i-" . ($i * 7 % 1000)} if $i % 3 == 0;
}
print "after delete ", scalar(keys %h), "\n";

my @sorted = sort grep { substr($_, 1, 1) eq "1" } keys %h;   # a third of them
print "first @sorted[0 .. 4]\n";
print "last @sorted[-3 .. -1]\n";

my %by_len;
push @{ $by_len{ length $h{$_} } }, $_ for @sorted;
for my $l (sort { $a <=> $b } keys %by_len) {
    next unless $l % 8 == 0;
    my $list = $by_len{$l};
    printf "len %d: %d keys, first %s\n", $l, scalar(@$list), $list->[0];
}

my $joined = join(",", @sorted[0 .. 9999]);
(my $copy = $joined) =~ s/k(\d+)-/K$1:/g;
my @parts = split /,/, $copy;
print "joined ", length($joined), " ", length($copy), " ", scalar(@parts), " $parts[-1]\n";
%h = ();
print "done\n";
