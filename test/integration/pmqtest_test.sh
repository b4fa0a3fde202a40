#!/usr/bin/env bash
# rt-tests' pmqtest (POSIX mq round-trip latency) under `mqsentry run`, judged from its JSON.
#   pmqtest_test.sh MQSENTRY
# pmqtest exits 0 (and writes "return_code": 0) even when its mq calls fail: it then stops
# early with a message on stderr. So each run is judged from --json: every thread pair
# reports its cycle count, receive timeouts and min/avg/max latency; the cycles must reach
# the requested loops, no receive may time out, the latencies must be present and
# consistent, and the output must hold no error message. Two configurations:
#   single: one sender/receiver pair, which must complete exactly LOOPS cycles;
#   smp:    -S (one pair per CPU, pinned) with -d 0 (same interval for all). pmqtest stops
#           every pair as soon as the first one completes LOOPS cycles, so that one must
#           report exactly LOOPS and the others only some progress: a pinned pair can be
#           starved for hundreds of ms by other work on its CPU (seen with another
#           sandboxed test running; perf showed mqsentry had answered and the kernel did not
#           schedule the pair). A pair stalled by mqsentry is caught from the trace instead.
# Each configuration runs natively first (proving the judgement), then under mqsentry with
# --strace-log: each pair's successful mq_timedsend/mq_timedreceive calls on its two
# queues must account for its cycles (so the test cannot pass if nothing was trapped), and
# no hand-off may be lost (see trace_check).
# No -p: SCHED_OTHER, so no real-time priority is needed.
set -u
mqsentry=$(realpath "$1")
loops=1000
interval=100  # us
limit=60      # seconds per run

fail() { echo "FAIL: $*"; exit 1; }
command -v pmqtest >/dev/null || fail "pmqtest is not installed (rt-tests, tools/install-deps)"
command -v python3 >/dev/null || fail "python3 is needed to read pmqtest's JSON"
[ -x "$mqsentry" ] || fail "mqsentry binary '$mqsentry' is not executable"

work=${TEST_TMPDIR:-}
[ -n "$work" ] || { work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; }
cd "$work" || fail "cannot enter $work"

# run_pmqtest LABEL MODE [WRAPPER...]: runs pmqtest into LABEL.json / LABEL.out, sets $rc.
run_pmqtest() {
  local label=$1 mode=$2
  shift 2
  local opts=(-l "$loops" -i "$interval" -q "--json=$work/$label.json")
  [ "$mode" = smp ] && opts=(-S -d 0 "${opts[@]}")
  rm -f "$label.json" "$label.out"
  echo "--- $label: $* pmqtest ${opts[*]}"
  timeout -k 10 "$limit" "$@" pmqtest "${opts[@]}" >"$label.out" 2>&1
  rc=$?
  cat "$label.out"
}

# judge LABEL MODE: the judgement, the same for native and sandboxed runs; prints the figures.
judge() {
  local label=$1 mode=$2 bad
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    fail "$label: pmqtest did not finish within $limit s"
  fi
  [ $rc -eq 0 ] || fail "$label: pmqtest exited with status $rc (0 expected)"
  # pmqtest's messages on failure: "could not send test message", "could not receive ...",
  # perror() texts, "Error ..."; mqsentry's own messages start with "mqsentry:".
  bad=$(grep -iE 'could not|error|fail|denied|invalid|timed out|mqsentry:' "$label.out")
  [ -z "$bad" ] || fail "$label: pmqtest reported problems:
$bad"
  [ -s "$label.json" ] || fail "$label: pmqtest wrote no JSON ($label.json)"
  python3 - "$label.json" "$label" "$mode" "$loops" <<'PY' || fail "$label: the JSON does not pass the judgement"
import json, sys
path, label, mode, loops = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
problems = []
try:
    d = json.load(open(path))
except ValueError as e:
    print(f"FAIL: {label}: {path} is not JSON: {e}")
    sys.exit(1)
if d.get("return_code") != 0:
    problems.append(f"return_code is {d.get('return_code')!r}, not 0")
threads = d.get("thread") or {}
n = d.get("num_threads")
if not isinstance(n, int) or n != len(threads) or n < 1 or (mode == "single" and n != 1):
    problems.append(f"num_threads {n!r} with {len(threads)} thread entries")
cycles = []
for key in sorted(threads, key=lambda k: int(k)):
    t = threads[key]
    s, r = t.get("sender", {}), t.get("receiver", {})
    samples = s.get("samples")
    lat = [r.get(k) for k in ("min", "avg", "max")]
    print(f"{label}: pair #{key}: cpu {s.get('cpu')}, cycles {samples}, timeouts "
          f"{r.get('timeoutcount')}, latency min/avg/max {lat[0]}/{lat[1]}/{lat[2]} us")
    if not isinstance(samples, int):
        problems.append(f"pair #{key}: no cycle count")
        continue
    cycles.append(samples)
    if samples > loops:
        problems.append(f"pair #{key}: {samples} cycles, more than the {loops} requested")
    if mode == "single" and samples != loops:
        problems.append(f"pair #{key}: {samples} cycles, {loops} requested")
    if samples < 1:
        problems.append(f"pair #{key}: no cycle completed")
    if r.get("timeoutcount") != 0:
        problems.append(f"pair #{key}: {r.get('timeoutcount')!r} receive timeouts")
    if not all(isinstance(x, (int, float)) for x in lat):
        problems.append(f"pair #{key}: latencies missing: {lat}")
    elif not (0 <= lat[0] <= lat[1] + 0.01 and lat[1] <= lat[2] + 0.01):
        problems.append(f"pair #{key}: inconsistent latencies min/avg/max {lat}")
if cycles and max(cycles) != loops:
    problems.append(f"no pair completed the {loops} requested cycles (max {max(cycles)})")
for p in problems:
    print(f"FAIL: {label}: {p}")
sys.exit(1 if problems else 0)
PY
  echo "$label: PASS"
}

# trace_check LABEL: the cycles went through mqsentry, pair by pair. pmqtest opens
# syncmsgN and testmsgN for pair N; a cycle is one message on each (sender -> receiver on
# testmsgN, the sync back on syncmsgN), each one mq_timedsend + mq_timedreceive. So in
# --strace-log each of the pair's four counts (successful sends and receives on each of
# its queues) must be its cycle count, give or take the cycle in flight when pmqtest
# stopped. And no hand-off may be lost: a receive still parked at the end must not have
# had a message sent to its queue after it parked (each queue has one receiver), which
# would be a pair stalled by mqsentry rather than by pmqtest's stop.
trace_check() {
  local label=$1
  [ -s "$label.strace" ] || fail "$label: mqsentry traced no call ($label.strace is empty): nothing was trapped"
  python3 - "$label.strace" "$label.json" "$label" <<'PY' || fail "$label: the mqsentry trace does not account for the cycles"
import collections, json, re, sys
trace, path, label = sys.argv[1:]
threads = json.load(open(path))["thread"]
fds = {}           # fd -> ("test"|"sync", pair)
pending = {}       # sandbox pid -> (call, fd, line number) of a parked call
ok = collections.Counter()   # (call, fd) -> successful calls
sends_after = collections.defaultdict(list)  # fd -> line numbers of successful sends
orphans = []       # resumed lines naming no parked call (a pid mqsentry could not translate)
lines = open(trace).read().splitlines()
for n, line in enumerate(lines):
    m = re.match(r"\[(\d+)\] (.*)$", line)
    if not m:
        continue
    pid, rest = m.groups()
    r = re.match(r"<\.\.\. (mq_\w+) resumed>\) = (-?\d+)", rest)
    c = re.match(r"(mq_\w+)\((.*)\) (?:= (-?\d+)|<unfinished \.\.\.>)", rest)
    if r:
        if pending.get(pid, (None,))[0] != r.group(1):
            orphans.append((n, r.group(1), int(r.group(2))))
            continue
        call, fd, _ = pending.pop(pid)
        res = int(r.group(2))
    elif c:
        call, args, res = c.group(1), c.group(2), c.group(3)
        if call == "mq_open":
            o = re.match(r'"(test|sync)msg(\d+)"', args)
            if o and res is not None and int(res) >= 0:
                fds[res] = (o.group(1), o.group(2))
            continue
        fd = args.split(",")[0]
        pending.pop(pid, None)  # a thread making a call has none parked
        if res is None:
            pending[pid] = (call, fd, n)
            continue
        res = int(res)
    else:
        continue
    if (call == "mq_timedsend" and res == 0) or (call == "mq_timedreceive" and res > 0):
        ok[(call, fd)] += 1
        if call == "mq_timedsend":
            sends_after[fd].append(n)
problems = []
# Unattributed resumed receives (the pid could not be translated) are counted for no
# queue, so a queue may come out short by one of them.
slack = 1 + sum(1 for o in orphans if o[1] == "mq_timedreceive" and o[2] > 0)
pairs = {p: {} for _, p in fds.values()}
for fd, (kind, p) in fds.items():
    pairs[p][kind] = fd
for key in sorted(threads, key=int):
    cycles = threads[key]["sender"]["samples"]
    q = pairs.get(key)
    if not q or set(q) != {"test", "sync"}:
        problems.append(f"pair #{key}: its testmsg{key}/syncmsg{key} were not opened through mqsentry")
        continue
    counts = {f"{call[3:]} {kind}msg{key}": ok[(call, q[kind])]
              for kind in ("test", "sync") for call in ("mq_timedsend", "mq_timedreceive")}
    print(f"{label}: pair #{key}: {cycles} cycles; through mqsentry: " +
          ", ".join(f"{k} {v}" for k, v in counts.items()))
    for k, v in counts.items():
        lo = cycles - 1 - (slack - 1 if "receive" in k else 0)
        if not lo <= v <= cycles + 1:
            problems.append(f"pair #{key}: {v} successful {k} for {cycles} cycles")
for pid, (call, fd, n) in pending.items():
    later = [s for s in sends_after.get(fd, []) if s > n]
    if call == "mq_timedreceive" and later and not any(o[0] > later[0] for o in orphans):
        problems.append(f"lost hand-off: [{pid}] {call} on fd {fd} (line {n + 1}) was still "
                        f"parked at the end although a message was sent to fd {fd} at line {later[0] + 1}")
if orphans:
    print(f"{label}: note: {len(orphans)} resumed line(s) name a pid with no parked call: " +
          "; ".join(lines[o[0]] for o in orphans))
for p in problems:
    print(f"FAIL: {label}: {p}")
sys.exit(1 if problems else 0)
PY
}

for mode in single smp; do
  run_pmqtest "native-$mode" "$mode"
  judge "native-$mode" "$mode"
  # pmqtest runs its pairs SCHED_FIFO (CAP_SYS_NICE) with its memory locked (mlockall:
  # CAP_IPC_LOCK; without it pmqtest hangs), which Docker's default set (a root program's
  # under mqsentry) does not allow.
  run_pmqtest "sandboxed-$mode" "$mode" "$mqsentry" run --cap-add SYS_NICE --cap-add IPC_LOCK \
    --strace-log "$work/sandboxed-$mode.strace" --
  judge "sandboxed-$mode" "$mode"
  trace_check "sandboxed-$mode"
done
echo "PASS: pmqtest -l $loops -i $interval (single pair and -S) under mqsentry"
