#!/usr/bin/env bash
# The plan job's build of the harness, which the cache step after it saves for every job.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --package xtask
