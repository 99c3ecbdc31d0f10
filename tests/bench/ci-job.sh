#!/usr/bin/env bash
# What a run job costs with and without the base builds in its cache, measured with the
# workflow's own script (ci/run-cells.sh, base then entries) and its caches as folders: one
# sample entry (tests/selftest's good-sample) on a base, x86_64, every check.
#
#   cold   no base build, an empty ccache: what every job paid before the build cache
#   exact  the build cache the cold job saved, for the same base commit
#   moved  the same build cache, with the base moved by a few commits since
#
# The base is a local git remote: the tagged base's commit (from the store `cargo xtask setup`
# filled) on one branch, and on another that commit plus MOVES commits, each changing one C
# file that the tiny config builds. The job's cache folder is the same path in every case (as
# on every runner: kbuild's command files hold absolute paths); its store and tools are the
# ones setup made (what a job restores: its store anew before each job), its slots, results and
# ccache start empty.
#
# Prints one line per case and the ratios; the figures go to BENCHMARKS.md by hand, with the
# harness's commit and the machine. Everything it makes is under $RFL_CACHE/bench-job, removed
# at the end. Needs `cargo xtask setup` done (about 15 minutes here, most of it the cold job).
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=${RFL_CACHE:-$PWD/target/rfl}
base_ref=${BASE_REF:-refs/rfl/bases/v7.2.x}
moves=${MOVES:-3}
work=$cache/bench-job
rm -rf "$work"
mkdir -p "$work/cache"
# The logs and results stay (in $RFL_CACHE/bench-job.logs), the rest goes.
logs=$cache/bench-job.logs
rm -rf "$logs"
trap 'mkdir -p "$logs"; cp "$work"/*.log "$work"/*.json "$logs"/ 2>/dev/null; rm -rf "$work" .build-cache results results-base' EXIT
store=$cache/store.git
ln -s "$cache/tools" "$work/cache/tools"

# The remote: `tagged` at the base's commit, `moved` a few commits later.
remote=$work/remote.git
git init -q --bare "$remote"
base=$(git --git-dir "$store" rev-parse "$base_ref^{commit}")
git --git-dir "$store" push -q "$remote" "$base:refs/heads/tagged"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@invalid GIT_COMMITTER_NAME=bench
export GIT_COMMITTER_EMAIL=bench@invalid GIT_AUTHOR_DATE=2026-01-01T00:00:00Z
export GIT_COMMITTER_DATE=2026-01-01T00:00:00Z
head=$base
files=(kernel/fork.c init/main.c lib/string.c kernel/exit.c)
for i in $(seq 1 "$moves"); do
    f=${files[$(( (i - 1) % ${#files[@]} ))]}
    blob=$( { git --git-dir "$remote" show "$head:$f"; printf '/* move %s */\n' "$i"; } |
        git --git-dir "$remote" hash-object -w --stdin)
    export GIT_INDEX_FILE=$work/index
    git --git-dir "$remote" read-tree "$head"
    git --git-dir "$remote" update-index --cacheinfo "100644,$blob,$f"
    tree=$(git --git-dir "$remote" write-tree)
    unset GIT_INDEX_FILE
    head=$(git --git-dir "$remote" commit-tree "$tree" -p "$head" -m "move $i: $f")
done
git --git-dir "$remote" update-ref refs/heads/moved "$head"

matrix=$work/matrix.toml
mkdir -p "$work/patches"
cp tests/selftest/patches/good-sample.patch "$work/patches/"
sed -n '/^\[toolchains.debian\]/,/^$/p' tests/selftest/matrix.toml > "$work/toolchain.toml"
write_matrix() {
    cat > "$matrix" <<EOF
arches = ["x86_64"]
checks = ["kunit", "clippy", "rustfmt", "rustdoc", "objtool"]
toolchain = "debian"

$(cat "$work/toolchain.toml")

[configs.release]
fragments = []

[bases.moving]
kind = "branch"
url = "file://$remote"
ref = "$1"

[[entry]]
id = "good-sample"
source = { mbox = "patches/good-sample.patch" }
base = "moving"
EOF
}

# A job's store as a runner restores it, the same before every job: setup's refs, its objects
# borrowed (the job's fetches write into the job's store, never into setup's).
job_store() {
    local s=$work/cache/store.git
    rm -rf "$s"
    git init -q --bare "$s"
    echo "$store/objects" > "$s/objects/info/alternates"
    git --git-dir "$store" for-each-ref --format='update %(refname) %(objectname)' |
        git --git-dir "$s" update-ref --stdin
    for kv in gc.auto=0 core.autocrlf=false advice.detachedHead=false; do
        git --git-dir "$s" config "${kv%%=*}" "${kv#*=}"
    done
}

# One run job: the base cells (which restore, and save, the build cache), then the entry's.
job() {
    rm -rf "$work/cache/slots" "$work/cache/results" "$work/cache/runs" "$work/ccache" \
        results results-base
    job_store
    mkdir -p "$work/ccache"
    local t0 t1
    t0=$(date +%s.%N)
    RFL_CACHE=$work/cache RFL_MATRIX=$matrix CCACHE_DIR=$work/ccache CCACHE_MAXSIZE=256M \
        CELLS=base@moving@x86_64@release,good-sample@moving@x86_64@release \
        BUILD_CACHE=true SAVE_BUILD_CACHE=true ci/run-cells.sh base >"$work/$1-base.log" 2>&1
    RFL_CACHE=$work/cache RFL_MATRIX=$matrix CCACHE_DIR=$work/ccache CCACHE_MAXSIZE=256M \
        CELLS=base@moving@x86_64@release,good-sample@moving@x86_64@release \
        ci/run-cells.sh entries >"$work/$1-entries.log" 2>&1
    t1=$(date +%s.%N)
    # Each job's results stay beside its logs (what each stage said, and whether it was reused).
    cp results-base/results.json "$work/$1-base.results.json" 2>/dev/null || true
    cp results/results.json "$work/$1-entries.results.json" 2>/dev/null || true
    local s
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    grep -h "build cache" "$work/$1-base.log" | sed "s/^/  $1: /" || true
    echo "$s"
}

rm -rf .build-cache
write_matrix tagged
cold=$(job cold | tee /dev/stderr | tail -1)
saved=$(du -sb .build-cache | cut -f1)
exact=$(job exact | tee /dev/stderr | tail -1)
write_matrix moved
moved=$(job moved | tee /dev/stderr | tail -1)
awk -v c="$cold" -v e="$exact" -v m="$moved" -v n="$moves" -v s="$saved" 'BEGIN {
    printf "cold job %.0f s; exact build cache %.0f s (%.2fx); base moved by %d commits %.0f s (%.2fx); build cache %.0f MiB\n", c, e, e / c, n, m, m / c, s / 1048576
}'
