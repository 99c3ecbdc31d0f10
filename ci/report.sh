#!/usr/bin/env bash
# The report job, in two steps:
#
#   ci/report.sh DIR      merge every run job's results.json (downloaded into DIR, one folder
#                         per job) and write the step summary, junit.xml and kcidb.json (here),
#                         DIR/index.html, the annotations, and the merged results as the next
#                         run's baseline (baseline/results.json; output `next=written`). Its
#                         verdict goes to the output `verdict` (an exit code); the step itself
#                         fails only when it could not do its work (no readable results).
#   ci/report.sh verdict  the job's last step: exits with $VERDICT, so the baseline is saved
#                         and the reports published before the job turns red.
#
# Rules:
# - With a readable baseline a regressed cell fails the run (`--fail-on regression`). Without
#   one (none restored, unreadable, or this run's own after a re-run of the job) the summary's
#   first line says so and any failing entry cell fails it (`--fail-on fail`).
# - Each results file, and the baseline, is first read alone by the harness: one it refuses
#   (exit 2: unreadable, or breaks the schema) is named in an `::error::` annotation and a line
#   of the summary, and left out; the others are reported and still become the next baseline.
#   A results file left out fails the run.
# - The harness annotates regressed cells first, then new failures, then the others.
# - Our own summary text is bounded (at most 20 lines of at most 300 bytes, then a count); the
#   harness caps its Markdown at 900 KiB, under the step summary's 1 MiB.
#
# The results come from jobs that built untrusted patches, so they are only ever read by
# `cargo xtask report`, which treats them as hostile input; nothing here evaluates them, and
# a path or key is shown only through `shown` (no Markdown or workflow-command character).
#
# Environment: GITHUB_STEP_SUMMARY, GITHUB_OUTPUT; BRANCH, whose baseline it is (a pull
# request's base branch, else the run's own); BASELINE_KEY, the key the baseline cache step
# restored (empty on a miss); OWN_KEY, the key this run's baseline is saved under.
set -euo pipefail

if [ "${1:-}" = verdict ]; then
    case ${VERDICT:-} in
        0)
            echo "verdict: nothing fails this run"
            exit 0
            ;;
        [1-9] | [1-9][0-9] | [1-9][0-9][0-9])
            echo "verdict: exit $VERDICT (the report step's annotations and summary say why)"
            exit "$VERDICT"
            ;;
        *)
            echo "verdict: the report step gave none" >&2
            exit 1
            ;;
    esac
fi

dir=${1:?usage: ci/report.sh DOWNLOAD_DIR | verdict}
: "${GITHUB_STEP_SUMMARY:?}" "${GITHUB_OUTPUT:?}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# A path, key or branch as a summary line or an annotation may show it: no Markdown,
# workflow-command or shell character, at most 200 bytes.
shown() {
    printf '%s' "$1" | tr -c 'A-Za-z0-9._/@+=-' '_' | cut -c1-200
}

# Our own summary lines (after the first), bounded.
notes=()
more=0
note() {
    if [ ${#notes[@]} -lt 20 ]; then
        notes+=("$(printf '%s' "$1" | cut -c1-300)")
    else
        more=$((more + 1))
    fi
}
# Our own annotations (unreadable files), printed before the harness's. GitHub shows ten errors
# per step.
annotations=()
annotate() {
    if [ ${#annotations[@]} -lt 5 ]; then
        annotations+=("::error title=$1::$2")
    fi
}
write_summary() {
    {
        printf '%s\n\n' "$first"
        if [ ${#notes[@]} -gt 0 ]; then
            printf -- '- %s\n' "${notes[@]}"
            if [ "$more" -gt 0 ]; then
                printf -- '- and %d more\n' "$more"
            fi
            printf '\n'
        fi
        if [ -f "$scratch/summary.md" ]; then
            cat "$scratch/summary.md"
        fi
    } >> "$GITHUB_STEP_SUMMARY"
}

# Does the harness read this results file alone? Its reason goes to the log.
readable() {
    local rc=0
    cargo xtask report --results "$1" --format json --fail-on never --output "$scratch/check.json" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "ci/report.sh: $(shown "$1"): cargo xtask report refused it (exit $rc)" >&2
        return 1
    fi
}

# The baseline the cache step restored: moved aside, so that baseline/ (the cache's path, part
# of its version) receives this run's results.
rm -rf baseline-old
if [ -e baseline ]; then
    mv baseline baseline-old
fi
branch=$(shown "${BRANCH:-}")
baseline=
if [ ! -f baseline-old/results.json ]; then
    first="No baseline: no complete run of \`$branch\` is in the cache; any failing entry cell fails this run (\`--fail-on fail\`)."
else
    key=$(shown "${BASELINE_KEY:-}")
    if [ -n "${OWN_KEY:-}" ] && [ "${BASELINE_KEY:-}" = "$OWN_KEY" ]; then
        first="No baseline: the newest one, \`$key\`, is this run's own (the job was run again); any failing entry cell fails this run (\`--fail-on fail\`)."
    elif readable baseline-old/results.json; then
        baseline=baseline-old/results.json
        first="Baseline: \`$key\`, the last complete run of \`$branch\`; a regressed cell fails this run (\`--fail-on regression\`)."
    else
        first="No baseline: the restored baseline \`$key\` cannot be read; any failing entry cell fails this run (\`--fail-on fail\`)."
        annotate "Unreadable baseline" "the baseline $key (baseline-old/results.json) cannot be read or breaks the results schema: left out, so any failing entry cell fails this run"
    fi
fi

args=()
bad=0
shopt -s nullglob
for f in "$dir"/*/results.json; do
    if readable "$f"; then
        args+=(--results "$f")
    else
        bad=$((bad + 1))
        name=$(shown "$f")
        annotate "Unreadable results" "$name cannot be read or breaks the results schema: left out of the report and of the next baseline"
        note "Left out: \`$name\` cannot be read or breaks the results schema (the report step's log says why)."
    fi
done
# The step fails: the summary and the annotations so far, and why.
give_up() {
    note "$1"
    write_summary
    if [ ${#annotations[@]} -gt 0 ]; then
        printf '%s\n' "${annotations[@]}"
    fi
    echo "::error title=No report::$1"
    exit 1
}
if [ ${#args[@]} -eq 0 ]; then
    echo "ci/report.sh: no results.json under $dir that the harness can read: every run job failed before writing one, or wrote one it refuses" >&2
    give_up "No run job wrote results that can be read."
fi
if [ -n "$baseline" ]; then
    args+=(--baseline "$baseline")
    fail_on=regression
else
    fail_on=fail
fi

mkdir -p baseline
if ! cargo xtask report "${args[@]}" --fail-on never --format json --output baseline/results.json; then
    rm -rf baseline
    give_up "The results could not be merged (the report step's log says why); no baseline is written."
fi
echo "next=written" >> "$GITHUB_OUTPUT"
# Whether the cells were compared with a baseline (ci/publish.sh tells what turned against it).
if [ -n "$baseline" ]; then
    echo "compared=yes" >> "$GITHUB_OUTPUT"
else
    echo "compared=no" >> "$GITHUB_OUTPUT"
fi

verdict=0
report() {
    local format=$1 out=$2
    if ! cargo xtask report "${args[@]}" --fail-on never --format "$format" --output "$out"; then
        note "The $format report failed (the report step's log says why)."
        annotate "Report failed" "cargo xtask report --format $format failed"
        verdict=1
    fi
}
report markdown "$scratch/summary.md"
report junit junit.xml
report html "$dir/index.html"
report kcidb kcidb.json
if [ "$bad" -gt 0 ]; then
    verdict=1
fi
write_summary

if [ ${#annotations[@]} -gt 0 ]; then
    printf '%s\n' "${annotations[@]}"
fi
# The harness's annotations (regressions first, then new failures, the base's own as notices,
# ten at most) and its text report behind stop-commands.
rc=0
cargo xtask report "${args[@]}" --fail-on "$fail_on" --format github || rc=$?
if [ "$rc" -ne 0 ]; then
    verdict=$rc
fi
echo "verdict=$verdict" >> "$GITHUB_OUTPUT"
