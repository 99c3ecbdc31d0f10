#!/usr/bin/env bash
# After `cargo xtask setup`: the cache key of the imported bases as they are now, and whether
# to save them.
#
# The key ends in a fingerprint of refs/rfl/bases/*, so it changes when setup imported
# something the restored cache did not hold (a new Debian upload of a linux-source package,
# a base added to matrix.toml). Restoring by the prefix then brings back the newest import,
# and a job saves only when its store differs from the one it restored.
#
# A matrix without offline bases imports nothing, and then there is no store to save.
#
# Environment: RFL_CACHE; PREFIX, the key up to the fingerprint (it ends in '-'); MATCHED,
# the key actions/cache/restore restored (empty on a miss).
# Outputs: key, save (true or false).
set -euo pipefail

: "${RFL_CACHE:?}" "${PREFIX:?}"
store="$RFL_CACHE/store.git"
refs=
if [ -d "$store" ]; then
    refs=$(git --git-dir "$store" for-each-ref --format='%(refname) %(objectname)' refs/rfl/bases)
fi
if [ -z "$refs" ]; then
    echo "ci/store-key.sh: no base in $store after setup; nothing to save" >&2
    echo "save=false" >> "$GITHUB_OUTPUT"
    exit 0
fi
key="$PREFIX$(printf '%s\n' "$refs" | sha256sum | cut -c1-16)"
if [ "$key" = "${MATCHED:-}" ]; then
    save=false
else
    save=true
fi
{
    echo "key=$key"
    echo "save=$save"
} >> "$GITHUB_OUTPUT"
echo "bases: $key (restored: ${MATCHED:-nothing}; save: $save)"
