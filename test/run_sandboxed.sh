#!/usr/bin/env bash
# Runs a conformance test binary under `mqsentry run` (the `_sandboxed` twin of each
# mq_syscall_test). Bazel's XML_OUTPUT_FILE and the other test variables pass through the
# sandbox, so the test cases are counted like the native ones.
#   run_sandboxed.sh MQSENTRY [--cap-add=NAME...] TEST_BINARY [gtest args...]
# --cap-add=NAME goes to `mqsentry run`: a root program gets Docker's default capability
# set, and a binary whose tests need more says so (tools/defs.bzl sandbox_caps).
# Tests listed in test/syscalls/sandbox_known_gaps.txt (documented differences the sandbox
# does not yet emulate) are excluded by name; everything else must pass as natively.
set -euo pipefail
mqsentry=$1
shift
mqsentry_flags=()
while [ $# -gt 0 ] && [[ "$1" == --cap-add=* ]]; do
  mqsentry_flags+=("$1")
  shift
done
binary=$1
shift
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
  exec "$mqsentry" run "${mqsentry_flags[@]}" -- "$binary" "--gtest_filter=-$filter" "$@"
fi
exec "$mqsentry" run "${mqsentry_flags[@]}" -- "$binary" "$@"
