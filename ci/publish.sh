#!/usr/bin/env bash
# The report job's publish step: the cells whose health turned between pass and fail since
# the baseline, told back (cargo xtask publish). By default a dry run: what would be sent is
# written into publish/ (each request's body, index.json with its method and URL, each mail
# as an .eml), which the next step uploads. It sends only when MODE is `send`, which the
# workflow sets only when the repository variable RFL_PUBLISH is `send` and the event is not
# a pull request; this script refuses to send for a pull request whatever MODE says.
#
# Targets: GitHub commit statuses and check runs on this commit (GITHUB_TOKEN, only passed in
# send mode), the sticky comment on a pull request (dry runs only: a pull request never
# sends); patchwork checks when PATCHWORK_URL is set (PATCHWORK_TOKEN), replies to the
# series' cover letters when MAIL_FROM is set (through the relay RFL_SMTP). A dry run
# composes patchwork checks and mails with stand-in settings, so the artifact shows them.
#
# Environment: GITHUB_REPOSITORY, GITHUB_SHA, GITHUB_SERVER_URL, GITHUB_RUN_ID, GITHUB_REF,
# GITHUB_EVENT_NAME (set by GitHub); MODE (send|dry-run); COMPARED (`yes` when the report
# step compared with a baseline it could read: baseline-old/results.json).
set -euo pipefail

out=publish
rm -rf "$out"
mode=${MODE:-dry-run}
if [ "$mode" = send ] && [ "${GITHUB_EVENT_NAME:-}" = pull_request ]; then
    echo "ci/publish.sh: a pull request never sends; a dry run instead" >&2
    mode=dry-run
fi
if [ ! -f baseline/results.json ]; then
    echo "ci/publish.sh: no merged results (baseline/results.json): nothing to publish"
    exit 0
fi

args=(publish --results baseline/results.json
    --repo "${GITHUB_REPOSITORY:?}" --sha "${GITHUB_SHA:?}"
    --target-url "${GITHUB_SERVER_URL:?}/$GITHUB_REPOSITORY/actions/runs/${GITHUB_RUN_ID:?}"
    --to github-status --to github-check)
if [ "${COMPARED:-}" = yes ]; then
    args+=(--baseline baseline-old/results.json)
fi
case ${GITHUB_REF:-} in
    refs/pull/*/merge)
        pr=${GITHUB_REF#refs/pull/}
        args+=(--pr "${pr%/merge}" --to github-comment)
        ;;
esac
patchwork=${PATCHWORK_URL:-}
from=${MAIL_FROM:-}
if [ "$mode" != send ]; then
    patchwork=${patchwork:-https://patchwork.kernel.org}
    from=${from:-rfl-health <rfl-health@example.invalid>}
fi
if [ -n "$patchwork" ]; then
    args+=(--to patchwork --patchwork-url "$patchwork")
fi
if [ -n "$from" ]; then
    args+=(--to email --from "$from")
fi

if [ "$mode" = send ]; then
    cargo xtask "${args[@]}" --send
else
    cargo xtask "${args[@]}" --dry-run --out "$out"
fi
