#!/usr/bin/env bash
# The plan job: the cells as a GitHub job matrix (`cargo xtask plan --format github`), one job
# per base, arch and config variant, written to $GITHUB_OUTPUT as `matrix`, and `cells`: `some`,
# or `none` when the matrix is empty (GitHub rejects a matrix with an empty include, so no run
# job starts).
#
# Environment: CONFIGS, `all` (every config variant: nightly and manual runs) or `default`
# (pull requests); RFL_MATRIX, a matrix file other than the shipped matrix.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

args=(--format github)
if [ "${CONFIGS:?}" = all ]; then
    args+=(--config all)
fi
if [ -n "${RFL_MATRIX:-}" ]; then
    args+=(--matrix "$RFL_MATRIX")
fi
matrix=$(cargo xtask plan "${args[@]}")
echo "matrix=$matrix" >> "$GITHUB_OUTPUT"
if [ "$matrix" = '{"include":[]}' ]; then
    echo "cells=none" >> "$GITHUB_OUTPUT"
else
    echo "cells=some" >> "$GITHUB_OUTPUT"
fi
