#!/usr/bin/env bash
# The README's main job: runs the bundled producer/consumer demo under `mqsentry run`,
# then shows what the supervisor answered (from --strace-log).
#   run_demo.sh MQSENTRY DEMO_BINARY
set -uo pipefail
mqsentry=$1
demo=$2
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
