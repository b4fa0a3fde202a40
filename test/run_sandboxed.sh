#!/usr/bin/env bash
# Runs a conformance test binary under `mqsentry run` (the `_sandboxed` twin of each
# mq_syscall_test). Bazel's XML_OUTPUT_FILE and the other test variables pass through the
# sandbox, so the test cases are counted like the native ones.
#   run_sandboxed.sh MQSENTRY TEST_BINARY [gtest args...]
# Tests listed in test/syscalls/sandbox_known_gaps.txt (documented differences the sandbox
# does not yet emulate) are excluded by name; everything else must pass as natively.
set -euo pipefail
mqsentry=$1
binary=$2
shift 2
if [ -n "${TEST_SRCDIR:-}" ]; then
  gaps="$TEST_SRCDIR/${TEST_WORKSPACE:-mqsentry}/test/syscalls/sandbox_known_gaps.txt"
else
  gaps="$(dirname "$0")/syscalls/sandbox_known_gaps.txt"
fi
filter=""
if [ -f "$gaps" ]; then
  filter=$(grep -v '^#' "$gaps" | awk 'NF {print $1}' | paste -sd: -)
fi
if [ -n "$filter" ]; then
  exec "$mqsentry" run -- "$binary" "--gtest_filter=-$filter" "$@"
fi
exec "$mqsentry" run -- "$binary" "$@"
