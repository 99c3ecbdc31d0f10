#!/usr/bin/env bash
# The report job: merge every run job's results.json (downloaded into the folder $1, one
# sub-folder per job) and write the step summary, JUnit, HTML, KCIDB and the annotations.
# junit.xml and kcidb.json go to the current folder, index.html into $1 next to the logs, and
# the merged results to baseline-next/ (the next run's baseline).
#
# The results come from jobs that built untrusted patches, so they are only ever read by
# `cargo xtask report`, which treats them as hostile input; nothing here evaluates them.
set -euo pipefail

dir=${1:?usage: ci/report.sh DOWNLOAD_DIR}
args=()
shopt -s nullglob
for f in "$dir"/*/results.json; do
    args+=(--results "$f")
done
if [ ${#args[@]} -eq 0 ]; then
    echo "ci/report.sh: no results.json under $dir: every run job failed before writing one" >&2
    echo "No run job wrote results." >> "$GITHUB_STEP_SUMMARY"
    exit 1
fi

# The branch's last results, when the cache had them: cells are then marked regressed, fixed,
# still failing or new, and a regression fails this job.
if [ -f baseline/results.json ]; then
    args+=(--baseline baseline/results.json)
fi
mkdir -p baseline-next
cargo xtask report "${args[@]}" --fail-on never --format json --output baseline-next/results.json
cargo xtask report "${args[@]}" --fail-on never --format markdown >> "$GITHUB_STEP_SUMMARY"
cargo xtask report "${args[@]}" --fail-on never --format junit --output junit.xml
cargo xtask report "${args[@]}" --fail-on never --format html --output "$dir/index.html"
cargo xtask report "${args[@]}" --fail-on never --format kcidb --output kcidb.json
# Last: its exit code is the job's (1 on a regressed cell, 2 on unreadable results).
cargo xtask report "${args[@]}" --fail-on regression --format github
