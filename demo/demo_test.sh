#!/usr/bin/env bash
# The demo passes natively (in a private IPC namespace) and under mqsentry, every kind of
# call it makes really went through the supervisor, and the README's main job (run_demo.sh)
# succeeds.
set -u
mqsentry=$1
demo=$2
run_demo=$3
log="${TEST_TMPDIR:-/tmp}/demo-strace.log"
echo "== native"
unshare --ipc "$demo" || { echo "FAIL: the demo fails natively"; exit 1; }
echo "== sandboxed"
out=$("$mqsentry" run --strace-log "$log" -- "$demo" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: exit status $rc under mqsentry"; exit 1; }
echo "$out" | grep -q '^demo: OK' || { echo "FAIL: no OK line"; exit 1; }
# stdout is a pipe here: a line buffered before the fork must not be printed twice.
created=$(echo "$out" | grep -c '^producer: created')
[ "$created" -eq 1 ] || { echo "FAIL: 'producer: created' printed $created times"; exit 1; }
for call in mq_open mq_timedsend mq_timedreceive mq_notify mq_getsetattr mq_unlink; do
  grep -q "\] $call(" "$log" || { echo "FAIL: no trapped $call in the strace log"; exit 1; }
done
grep -q "mq_timedreceive.*<unfinished \.\.\.>" "$log" ||
  { echo "FAIL: the blocking receive did not park in the supervisor"; exit 1; }
echo "== main job (run_demo.sh)"
"$run_demo" "$mqsentry" "$demo" || { echo "FAIL: run_demo.sh"; exit 1; }
echo "== run_demo.sh without its binaries stops with one message"
missing=$("$run_demo" /nonexistent/mqsentry "$demo" 2>&1)
rc=$?
[ $rc -eq 125 ] || { echo "FAIL: exit status $rc, want 125"; exit 1; }
[ "$(echo "$missing" | grep -c .)" -eq 1 ] || { echo "FAIL: more than one line: $missing"; exit 1; }
echo "$missing" | grep -q "cannot find the mqsentry binary" || { echo "FAIL: $missing"; exit 1; }
echo PASS
