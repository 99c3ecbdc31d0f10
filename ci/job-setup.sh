#!/usr/bin/env bash
# Every job's first step after the checkout (the step before it installed git, gcc, curl and
# zstd from Debian): rustup's cargo for the harness, then the cache keys, written to
# $GITHUB_OUTPUT for the cache steps.
#
# Outputs (each key part holds only [A-Za-z0-9._-], so it can go into a cache key as is):
#   os       the container's OS and machine, e.g. debian-12-x86_64
#   rustc    the harness's rustc version and commit (a new rustc rebuilds everything)
#   bindgen  BINDGEN_MIN of xtask/src/commands/setup.rs: setup keeps a bindgen at least this new
#   bases    a hash of what decides the imported bases: every `offline` line of matrix.toml
#            with its [bases.…] header, and the code that imports them (sources/debian.rs, sys/store.rs)
#
# Environment: RFL_MATRIX, a matrix file other than the shipped matrix.toml.
#
# It also gives every tracked file one fixed old modification time. Cargo decides whether a
# workspace crate is fresh by comparing its sources' times with the build's, and a fresh
# checkout stamps every file "now", which would rebuild the harness after an exact cache hit.
# An exact hit means byte-identical sources (the key hashes them), so an old time is true to
# the build; after a partial hit the workflow runs `ci/job-setup.sh touch-now` instead.
set -euo pipefail
cd "$(dirname "$0")/.."

# A fixed instant long before any build: 2000-01-01T00:00:00Z.
old_mtime=946684800

stamp_sources() {
    git ls-files -z | xargs -0 -r touch -h -d "@$1"
}

if [ "${1:-}" = "touch-now" ]; then
    # A partial (prefix) cache hit restored a build of other sources: make them look newer
    # than it, so that cargo rebuilds the workspace crates and reuses only the dependencies.
    stamp_sources "$(date +%s)"
    exit 0
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
export PATH="$HOME/.cargo/bin:$PATH"
echo "$HOME/.cargo/bin" >> "$GITHUB_PATH"

# The checkout belongs to the runner's user, the container runs as root: without this git
# refuses the repository ("dubious ownership") and ls-files sees nothing.
git config --global --get-all safe.directory | grep -qxF "$PWD" || git config --global --add safe.directory "$PWD"
stamp_sources "$old_mtime"

# Only the characters a cache key can hold safely; anything else becomes '_'.
clean() {
    tr -c 'A-Za-z0-9._-' '_' | sed 's/_*$//'
}

. /etc/os-release
os=$(printf '%s-%s-%s' "$ID" "${VERSION_ID:-none}" "$(uname -m)" | clean)
rustc=$(rustc -V | cut -d' ' -f2- | clean)
bindgen=$(sed -n 's/^const BINDGEN_MIN: &str = "\([^"]*\)";$/\1/p' xtask/src/commands/setup.rs | clean)
if [ -z "$bindgen" ]; then
    echo "ci/job-setup.sh: no BINDGEN_MIN in xtask/src/commands/setup.rs; the bindgen cache key needs it" >&2
    exit 1
fi
matrix=${RFL_MATRIX:-matrix.toml}
offline=$(awk '
    /^[[:space:]]*\[/ { section = $0 }
    # A base written with an inline table: offline = { debian_package = …, suite = … }.
    /^[[:space:]]*offline[[:space:]]*=/ { print section; print }
    # A base written with a table of its own: [bases.x.offline] and its lines.
    section ~ /\.offline\][[:space:]]*$/ { print }
' "$matrix")
if [ -z "$offline" ]; then
    echo "ci/job-setup.sh: $matrix declares no offline base" >&2
fi
bases=$({ printf '%s\n' "$offline"; cat xtask/src/sources/debian.rs xtask/src/sys/store.rs; } | sha256sum | cut -c1-16)

{
    echo "os=$os"
    echo "rustc=$rustc"
    echo "bindgen=$bindgen"
    echo "bases=$bases"
} >> "$GITHUB_OUTPUT"
echo "cache keys: os=$os rustc=$rustc bindgen=$bindgen bases=$bases"
