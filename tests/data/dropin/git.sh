# A few git commits in a fresh repository, for test_dropin.c: sh git.sh <dir>.
# Names, e-mail and dates are fixed and every config is ignored, so the commit
# hashes printed at the end are the same on alloclab as on glibc.
set -e
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME="$1"
export GIT_AUTHOR_DATE='2024-01-02T03:04:05+0000' GIT_COMMITTER_DATE='2024-01-02T03:04:05+0000'
export TZ=UTC
g() { git -c user.name='Alloc Lab' -c user.email='alloclab@example.org' -c init.defaultBranch=main \
        -c core.autocrlf=false -c gc.auto=0 "$@"; }
cd "$1"
g init -q repo
cd repo
i=1
while [ $i -le 6 ]; do
    seq 1 $((i * 3000)) > numbers.txt
    seq $i 7 40000 | sed "s/^/line $i: /" > "file$i.txt"
    printf 'commit %d\n' $i >> log.txt
    g add -A
    g commit -q -m "commit $i" -m "$(seq 1 $i | tr '\n' ' ')"
    i=$((i + 1))
done
g checkout -q -b side HEAD~2
seq 1 500 > side.txt
g add side.txt
g commit -q -m "side"
g checkout -q main
g merge -q --no-edit side
g repack -adq
g log --format=%H
g rev-parse 'HEAD^{tree}'
g rev-list --objects --all | wc -l
g fsck --no-dangling --no-progress
g diff --stat HEAD~3 HEAD | tail -n 1
