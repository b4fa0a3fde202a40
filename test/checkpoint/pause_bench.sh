#!/bin/bash
# Measures how long a live checkpoint pauses the program's mq calls, end to end through
# `mqsentry checkpoint` (its summary line). Run as root (setpriv gives each queue its own
# uid: the hard RLIMIT_MSGQUEUE may allow only ~800 KB per uid).
#   bazel build -c opt //sentry:mqsentry //test/checkpoint:mq_tool
#   test/checkpoint/pause_bench.sh bazel-bin/sentry/mqsentry bazel-bin/test/checkpoint/mq_tool 132 3
# fills NUIDS queues of 100 x 8,000 bytes (NUIDS=132: 105.6 MB, 13 for 10.4 MB) in a named
# sandbox, then takes REPS live checkpoints and prints their summary lines.
set -u
M=$(realpath "$1"); T=$(realpath "$2"); N=$3; REPS=${4:-3}
W=$(mktemp -d); R=$W/root; mkdir -p "$R"
mkfifo "$W/in"
"$M" run --name bench --root "$R" --sysctl fs.mqueue.msg_max=100 -- sh -c "
  for i in \$(seq 1 $N); do
    setpriv --reuid=\$((3000+i)) --regid=\$((3000+i)) --clear-groups $T fill /q\$i 100 8000 >/dev/null || exit 1
  done
  $T pause $W/ready" <"$W/in" >"$W/run.log" 2>&1 &
exec 9>"$W/in"
for _ in $(seq 1 600); do [ -s "$W/ready" ] && break; sleep 0.2; done
[ -s "$W/ready" ] || { echo "the program did not fill its queues:"; cat "$W/run.log"; }
for r in $(seq 1 "$REPS"); do "$M" checkpoint bench --root "$R" --output "$W/c$r.mqck"; done
exec 9>&-  # closes the program's stdin: it exits
wait
rm -rf "$W"
