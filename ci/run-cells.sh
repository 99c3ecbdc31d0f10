#!/usr/bin/env bash
# A run job's cells, in two steps so that a cache can be saved between them:
#
#   ci/run-cells.sh base      the base cells of the job's selection (`--entry base`): only the
#                             bases as matrix.toml names them, no patch from the registry, so
#                             the ccache they fill can be saved for later runs; -> results-base/
#   ci/run-cells.sh entries   every cell of the selection, the entries' patches applied (the base
#                             cells come back from the harness's result cache); -> results/,
#                             which the job uploads. Nothing is cached after this step.
#
# An entry that fails is data for the report job, never this job's failure (`--fail-on never`):
# the step fails only on the harness's own exit codes, 3 (a harness or machine fault, or no
# entry cell could run), 130 (interrupted) and 2 (bad input).
#
# Environment: CELLS, the job's ENTRY@BASE@ARCH@CONFIG list from the plan; CCACHE_DIR;
# BUILD_CACHE (true: base cells start from .build-cache/) and SAVE_BUILD_CACHE (true: they
# save their builds there);
# RFL_MATRIX, a matrix file other than the shipped matrix.toml; RFL_STAGE, a stage to stop every
# cell after (default: none, every stage runs).
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-}
args=(--cells "${CELLS:?}" --fail-on never)
if [ -n "${RFL_MATRIX:-}" ]; then
    args+=(--matrix "$RFL_MATRIX")
fi
if [ -n "${RFL_STAGE:-}" ]; then
    args+=(--stage "$RFL_STAGE")
fi
case $what in
    base)
        # ccache makes its folder only when it stores an object; the save step after this one
        # needs it to exist.
        mkdir -p "${CCACHE_DIR:?}"
        args+=(--entry base --out results-base)
        # The job's base builds: restored by the step before, saved by the step after when a
        # base cell was built here (never from a pull request: SAVE_BUILD_CACHE is false).
        if [ "${BUILD_CACHE:-false}" = true ]; then
            args+=(--build-cache .build-cache)
            if [ "${SAVE_BUILD_CACHE:-false}" = true ]; then
                args+=(--save-build-cache)
            fi
        fi
        ;;
    entries)
        args+=(--out results)
        ;;
    *)
        echo "usage: ci/run-cells.sh base|entries" >&2
        exit 2
        ;;
esac

rc=0
cargo xtask matrix "${args[@]}" || rc=$?
case $rc in
    0) ;;
    3) echo "::error title=Harness or machine fault::cargo xtask matrix exited 3: a cell hit a fault of the harness or the machine, or no entry cell could run; the cells' results say which" ;;
    130) echo "::error title=Interrupted::cargo xtask matrix was interrupted (exit 130); the results hold the cells that finished" ;;
    2) echo "::error title=Bad input::cargo xtask matrix refused its input (exit 2); its last line says why" ;;
    *) echo "::error title=Harness failure::cargo xtask matrix exited $rc" ;;
esac
exit "$rc"
