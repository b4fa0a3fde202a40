#!/usr/bin/env bash
# Threads, fork, vfork, exec and a nested IPC namespace, in a dynamically and in a
# statically linked program: each passes natively (in a private IPC namespace) and under
# mqsentry, where the strace log must show calls from the exec'd process too.
#   program_kinds_test.sh MQSENTRY KIND=BINARY...   (KIND: dynamic, static)
set -u
mqsentry=$1
shift
log="${TEST_TMPDIR:-/tmp}/program-kinds.log"
status=0
for arg in "$@"; do
  kind=${arg%%=*}
  binary=${arg#*=}
  # The static build must really be static: no program interpreter.
  if [ "$kind" = static ] && readelf -l "$binary" 2>/dev/null | grep -q 'program interpreter'; then
    echo "FAIL: $binary is not statically linked"; status=1; continue
  fi
  echo "== $kind, native"
  unshare --ipc "$binary" || { echo "FAIL: $kind fails natively"; status=1; continue; }
  echo "== $kind, under mqsentry"
  "$mqsentry" run --strace-log "$log" -- "$binary" || { echo "FAIL: $kind under mqsentry"; status=1; continue; }
  # The exec'd process opened the queue by name and received: its calls were trapped.
  grep -q 'mq_open("program-kinds-[0-9]*", O_RDONLY) = ' "$log" &&
    grep -c 'mq_timedsend' "$log" | grep -qv '^0$' ||
    { echo "FAIL: $kind: the strace log lacks the expected calls"; cat "$log"; status=1; }
done
[ $status -eq 0 ] && echo PASS
exit $status
