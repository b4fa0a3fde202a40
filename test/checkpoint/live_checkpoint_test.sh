#!/usr/bin/env bash
# Named sandboxes and live checkpoints through the real CLI (run --name, list, checkpoint):
#   - a producer fills queues in two IPC namespaces (its own and a nested one made with
#     `unshare -r -i`) and pauses; `mqsentry checkpoint` is taken; the producer then sends
#     one more message to each queue and a consumer drains them: every message is seen
#     exactly once, in priority/FIFO order;
#   - `inspect --format=json` of the file shows exactly the messages queued at checkpoint
#     time, in both namespaces; a new sandbox restored from it receives exactly those of its
#     own namespace, in order, and is told the nested one is not restored;
#   - two sandboxes with different names checkpointed concurrently each get their own state;
#   - `list` (text and JSON) shows running sandboxes with their counts and cleans the
#     entries of a sandbox whose supervisor was killed; a name in use is refused (exit 125);
#   - checkpoints taken while a sender and a receiver run flat out hold consecutive
#     messages, and the program still receives each once, in order;
#   - an unprivileged user cannot use root's sandbox socket: refused by the socket's mode,
#     and, with the mode opened up, by the peer-credential check.
#   live_checkpoint_test.sh MQSENTRY MQ_TOOL
set -u
mqsentry=$1 tool=$2
failures=0
work=$(mktemp -d /tmp/mqsentry-live-checkpoint.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"
install -m 0755 "$mqsentry" "$work/mqsentry"
install -m 0755 "$tool" "$work/mq_tool"
M=$work/mqsentry T=$work/mq_tool R=$work/root
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
same() {
  if [ "$2" == "$3" ]; then ok "$1"; else
    fail "$1"; echo "--- want"; echo "$2"; echo "--- got"; echo "$3"
  fi
}
wait_file() { for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

# start_paused NAME SCRIPT: runs SCRIPT in sandbox NAME with stdin from a FIFO kept open
# on fd 3x; `resume NAME` closes it. Output goes to $work/NAME.out.
declare -A writer
start_paused() {
  local name=$1 script=$2
  mkfifo "$work/$name.go"
  "$M" run --name "$name" --root "$R" -- sh -c "$script" <"$work/$name.go" >"$work/$name.out" 2>&1 &
  pids+=($!)
  exec {fd}>"$work/$name.go"
  writer[$name]=$fd
}
resume() { eval "exec ${writer[$1]}>&-"; }

# --- a producer in two IPC namespaces
t0=$(date +%s)
start_paused p "
  $T send /a 10 64 1:a1 5:b1 1:a2 0:c1 5:b2 1:a3 &&
  unshare -r -i sh -c '$T send /n 10 32 2:n1 7:m1 2:n2 && $T pause $work/p.ready &&
                       $T send /n 10 32 7:m-after && $T drain /n' &&
  $T send /a 10 64 5:b-after && $T drain /a"
wait_file "$work/p.ready" || fail "producer did not pause"

out=$("$M" run --name p --root "$R" -- true 2>&1)
rc=$?
same "name in use: exit 125" 125 "$rc"
case $out in *'sandbox name "p" is in use'*) ok "name in use: message" ;; *) fail "name in use: $out" ;; esac

listing=$("$M" list --root "$R")
grep -Eq '^p +[0-9]+ +[0-9T:Z-]+ +2 +2 +9 +18 +sh -c' <<<"$listing" && ok "list: p with 2 namespaces, 2 queues, 9 messages, 18 bytes" || fail "list: $listing"

summary=$("$M" checkpoint p --root "$R" --output "$work/p.mqck")
rc=$?
same "checkpoint: exit 0" 0 "$rc"
case $summary in
  "checkpoint p: 2 IPC namespaces, 2 queues, 9 messages, 18 bytes; calls paused "*" ms; $work/p.mqck: "*) ok "checkpoint: summary line" ;;
  *) fail "checkpoint summary: $summary" ;;
esac
t1=$(date +%s)
resume p
wait "${pids[0]}"
same "the program goes on and sees every message once" \
  "$(printf '%s\n' '/n maxmsg 10 msgsize 32 curmsgs 4' '/n 7 m1' '/n 7 m-after' '/n 2 n1' '/n 2 n2' \
     '/a maxmsg 10 msgsize 64 curmsgs 7' '/a 5 b1' '/a 5 b2' '/a 5 b-after' '/a 1 a1' '/a 1 a2' \
     '/a 1 a3' '/a 0 c1')" "$(cat "$work/p.out")"

same "inspect JSON: the messages at checkpoint time, both namespaces" \
  "True [('/a', ['5:b1', '5:b2', '1:a1', '1:a2', '1:a3', '0:c1'])] [('/n', ['7:m1', '2:n1', '2:n2'])]" \
  "$("$M" inspect "$work/p.mqck" --format=json --messages | python3 -c '
import json, sys, base64
j = json.load(sys.stdin)
def qs(n): return [(q["name"], ["%d:%s" % (m.get("priority", 0), base64.b64decode(m["payload"]).decode())
                   for m in q["record"]["queue"]["messages"]]) for q in n["queues"]]
own = [n for n in j["ipc_namespaces"] if n["own"]]
nested = [n for n in j["ipc_namespaces"] if not n["own"]]
print(j["sandbox"]["live"], qs(own[0]), qs(nested[0]))')"

same "inspect JSON: each queue's times, from its last send, in both namespaces" "True True" \
  "$("$M" inspect "$work/p.mqck" --format=json | python3 -c '
import json, sys
j = json.load(sys.stdin)
t0, t1 = int(sys.argv[1]), int(sys.argv[2])
print(*[all(t0 <= int(q["record"]["queue"]["times"][k]) <= t1 for k in ("atime", "mtime", "ctime"))
        for n in j["ipc_namespaces"] for q in n["queues"]])' "$t0" "$t1")"

restored=$("$M" run --restore "$work/p.mqck" -- "$T" drain /a 2>"$work/restore.err")
same "restored sandbox receives exactly the checkpointed messages" \
  "$(printf '%s\n' '/a maxmsg 10 msgsize 64 curmsgs 6' '/a 5 b1' '/a 5 b2' '/a 1 a1' '/a 1 a2' '/a 1 a3' '/a 0 c1')" \
  "$restored"
grep -q "not restored: IPC namespace .*: a nested namespace whose processes are gone (1 queues, 3 messages, 6 bytes)" \
  "$work/restore.err" && ok "restore lists the nested namespace" || fail "restore stderr: $(cat "$work/restore.err")"

# --- two sandboxes checkpointed concurrently
start_paused c1 "$T send /q 10 16 3:one-1 3:one-2 && $T pause $work/c1.ready"
start_paused c2 "$T send /q 10 16 4:two-1 && $T send /r 10 16 1:two-r && $T pause $work/c2.ready"
wait_file "$work/c1.ready" && wait_file "$work/c2.ready" || fail "c1/c2 did not pause"
"$M" checkpoint c1 --root "$R" --output "$work/c1.mqck" >/dev/null &
a=$!
"$M" checkpoint c2 --root "$R" --output "$work/c2.mqck" >/dev/null &
b=$!
wait $a && wait $b && ok "concurrent checkpoints: both exit 0" || fail "concurrent checkpoints"
same "concurrent checkpoints: each its own state" "['/q:one-1,one-2'] ['/q:two-1', '/r:two-r']" \
  "$(for f in c1 c2; do "$M" inspect "$work/$f.mqck" --format=json --messages | python3 -c '
import json, sys, base64
j = json.load(sys.stdin)
print([q["name"] + ":" + ",".join(base64.b64decode(m["payload"]).decode() for m in q["record"]["queue"]["messages"])
       for n in j["ipc_namespaces"] for q in n["queues"]])'; done | tr '\n' ' ' | sed 's/ $//')"
same "list --format=json: c1 and c2" "['c1', 'c2'] [True, True] [2, 2]" \
  "$("$M" list --root "$R" --format=json | python3 -c '
import json, sys
j = json.load(sys.stdin)["sandboxes"]
print([e["name"] for e in j], [e["answered"] for e in j], [int(e["messages"]) for e in j])')"

# --- an unprivileged user and root's socket
as=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env HOME=/ PATH=/usr/bin:/bin)
chmod 0755 "$R"
mkdir -m 0777 "$work/out"
err=$("${as[@]}" "$M" checkpoint c1 --root "$R" --output "$work/out/x.mqck" 2>&1)
rc=$?
[ $rc -ne 0 ] && [ $rc -lt 128 ] && [ ! -e "$work/out/x.mqck" ] && ok "uid 65534 refused by the socket's mode ($err)" || fail "uid 65534 on a 0600 socket: exit $rc: $err"
chmod 0666 "$R/c1.sock"
err=$("${as[@]}" "$M" checkpoint c1 --root "$R" --output "$work/out/x.mqck" 2>&1)
rc=$?
same "uid 65534 refused by the peer-credential check" \
  "1 mqsentry: c1: permission denied: uid 65534 is not the sandbox's owner (uid 0)" "$rc $err"
[ -e "$work/out/x.mqck" ] && fail "a file was written for uid 65534"
ls -A "$work/out" | grep -q . && fail "uid 65534 left files: $(ls -A "$work/out")"

resume c1
resume c2
wait "${pids[1]}" "${pids[2]}"

# --- checkpoints while a sender and a receiver run flat out: each file holds a run of
# consecutive numbers (no call was half done when the state was taken), and the program
# still receives every number once, in order
# (pump keeps its sandbox up until its stdin closes: on a slow machine the 20,000 messages
# may all have gone through before the last checkpoint, which then finds an empty queue)
mkfifo "$work/pump.go"
"$M" run --name pump --root "$R" -- "$T" pump /s 20000 "$work/pump.ready" <"$work/pump.go" >"$work/pump.out" 2>&1 &
pump=$!
pids+=($pump)
exec {pump_go}>"$work/pump.go"
wait_file "$work/pump.ready" || fail "pump did not start"
for i in 1 2 3 4 5; do
  "$M" checkpoint pump --root "$R" --output "$work/pump$i.mqck" >/dev/null 2>&1 || fail "checkpoint $i of pump"
done
exec {pump_go}>&-
wait $pump
same "pump: every message received once, in order" "pump ok 20000" "$(cat "$work/pump.out")"
for i in 1 2 3 4 5; do
  [ -s "$work/pump$i.mqck" ] || { fail "pump checkpoint $i: no file"; continue; }
  got=$("$M" inspect "$work/pump$i.mqck" --format=json --messages | python3 -c '
import json, sys, base64
j = json.load(sys.stdin)
q = [q for n in j["ipc_namespaces"] for q in n["queues"] if q["name"] == "/s"][0]["record"]["queue"]
v = [int(base64.b64decode(m["payload"])) for m in q.get("messages", [])]
print("empty" if not v else "consecutive" if v == list(range(v[0], v[0] + len(v))) else "gap: %s" % v)')
  case $got in consecutive|empty) ok "pump checkpoint $i: $got" ;; *) fail "pump checkpoint $i: $got" ;; esac
done

# --- stale entries of a killed supervisor
start_paused k "$T pause $work/k.ready"
wait_file "$work/k.ready" || fail "k did not pause"
kpid=${pids[-1]}
kill -9 "$kpid"
wait "$kpid" 2>/dev/null
[ -e "$R/k.json" ] && ok "a killed supervisor leaves its entries" || fail "no entries for k"
listing=$("$M" list --root "$R")
same "list cleans a dead sandbox's entries" "NAME" "$(awk '{print $1}' <<<"$listing")"
same "nothing left under --root" "" "$(ls -A "$R")"
resume k

echo "$failures failures"
[ "$failures" -eq 0 ]
