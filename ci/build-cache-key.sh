#!/usr/bin/env bash
# After the base cells: the cache key of the job's base builds (`.build-cache/`, written by
# `cargo xtask matrix --save-build-cache`) as they are now, and whether to save them.
#
# The harness keeps one archive per base, arch, toolchain and config, and writes one only
# when a base cell was built (not when its result came from the cache the archive brought),
# so the key ends in a fingerprint of the archives' manifests: it changes when a base moved.
# Restoring by the prefix then brings back the newest builds, and a job saves only when its
# folder differs from the one it restored.
#
# Environment: PREFIX, the key up to the fingerprint (it ends in '-'); MATCHED, the key
# actions/cache/restore restored (empty on a miss).
# Outputs: key, save (true or false).
set -euo pipefail
cd "$(dirname "$0")/.."

: "${PREFIX:?}"
dir=.build-cache
manifests=
if [ -d "$dir" ]; then
    manifests=$(find "$dir" -maxdepth 1 -name '*.json' -type f -print | LC_ALL=C sort)
fi
if [ -z "$manifests" ]; then
    echo "ci/build-cache-key.sh: no base build in $dir; nothing to save" >&2
    echo "save=false" >> "$GITHUB_OUTPUT"
    exit 0
fi
key="$PREFIX$(printf '%s\n' "$manifests" | xargs cat | sha256sum | cut -c1-16)"
if [ "$key" = "${MATCHED:-}" ]; then
    save=false
else
    save=true
fi
size=$(du -sh "$dir" | cut -f1)
{
    echo "key=$key"
    echo "save=$save"
} >> "$GITHUB_OUTPUT"
echo "base builds: $key, $size (restored: ${MATCHED:-nothing}; save: $save)"
