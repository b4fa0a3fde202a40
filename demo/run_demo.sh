#!/usr/bin/env bash
# The README's main job: runs the bundled producer/consumer demo under `mqsentry run`,
# then shows what the supervisor answered (from --strace-log).
#   run_demo.sh [MQSENTRY DEMO_BINARY]
# `bazel run //demo` passes both paths. Started directly (bazel-bin/demo/demo), it finds
# them in its runfiles tree; if it cannot, it stops with one message.
set -uo pipefail

# A path given relative to the runfiles root (as Bazel's $(location) gives it) or absolute.
resolve() {
  local rel=$1
  for candidate in "$rel" "${RUNFILES_DIR:-$0.runfiles}/mqsentry/$rel" "$0.runfiles/mqsentry/$rel"; do
    if [ -x "$candidate" ] && [ -f "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

mqsentry=$(resolve "${1:-sentry/mqsentry}") || {
  echo "run_demo: cannot find the mqsentry binary (${1:-sentry/mqsentry}); build and start the demo with: bazel run //demo" >&2
  exit 125
}
demo=$(resolve "${2:-demo/producer_consumer}") || {
  echo "run_demo: cannot find the demo program (${2:-demo/producer_consumer}); build and start the demo with: bazel run //demo" >&2
  exit 125
}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== mqsentry run --strace-log $log -- producer_consumer"
"$mqsentry" run --strace-log "$log" -- "$demo"
rc=$?
echo
echo "== the calls mqsentry trapped and answered ($(grep -c . "$log") strace lines); the first 12:"
head -12 "$log"
echo "..."
echo "== exit status $rc"
exit $rc
