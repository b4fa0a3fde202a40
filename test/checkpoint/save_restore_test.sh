#!/usr/bin/env bash
# `mqsentry run --save-on-exit FILE` and `run --restore FILE` through the real CLI, as root
# and as uid 65534: the saved file holds every queue with its owner, mode, attributes and
# messages; a new sandbox restored from it receives exactly those messages in priority/FIFO
# order and has the saved sysctls; --sysctl overrides them; a queue the new sandbox's
# limits refuse (msg_max, RLIMIT_MSGQUEUE) is an error naming it, exit 125, and the program
# does not run; what cannot be restored is listed on stderr; a damaged file is refused in
# one line; save-on-exit into an unwritable directory fails before the program runs; the
# queue file's atime, mtime and ctime are saved and a restored sandbox's stat(2) (of
# /dev/mqueue/NAME, a mount -t mqueue as root, and fstat of an mq descriptor) shows them
# until an mq call moves them.
#   save_restore_test.sh MQSENTRY MQ_TOOL MAKE_SAMPLE
set -u
mqsentry=$1 tool=$2 make_sample=$3
failures=0
work=$(mktemp -d /tmp/mqsentry-save-restore.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"
install -m 0755 "$mqsentry" "$work/mqsentry"
install -m 0755 "$tool" "$work/mq_tool"
mqsentry=$work/mqsentry tool=$work/mq_tool
"$make_sample" "$work/sample.mqck" && chmod 0644 "$work/sample.mqck"

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# same NAME WANT GOT
same() {
  if [ "$2" == "$3" ]; then ok "$1"; else
    fail "$1"; echo "--- want"; echo "$2"; echo "--- got"; echo "$3"
  fi
}

json() {  # json FILE PYTHON_EXPR (j is the parsed `inspect --format=json --messages`)
  "${as[@]}" "$mqsentry" inspect "$1" --format=json --messages |
    python3 -c "import json,sys,base64; j=json.load(sys.stdin); print($2)"
}

if [ "$(id -u)" -eq 0 ]; then users=(0 65534); else users=("$(id -u)"); fi
for uid in "${users[@]}"; do
  echo "== as uid $uid"
  if [ "$uid" -ne "$(id -u)" ]; then
    as=(setpriv "--reuid=$uid" "--regid=$uid" --clear-groups --inh-caps=-all
        env HOME=/ TMPDIR=/tmp PATH=/usr/local/bin:/usr/bin:/bin)
  else
    as=()
  fi
  d=$work/u$uid
  mkdir -p "$d" && chmod 0777 "$d"

  # --- save on exit
  err=$("${as[@]}" "$mqsentry" run --save-on-exit "$d/one.mqck" -- sh -c \
    "$tool send /a 10 64 1:a1 5:b1 1:a2 5:b2 0:c && $tool send /b 4 16 3:x 3:y" 2>&1)
  rc=$?
  same "uid $uid: save-on-exit exit status" 0 "$rc"
  case $err in
    *"saved 1 IPC namespaces, 2 queues, 7 messages, 11 bytes to $d/one.mqck"*) ok "uid $uid: summary line" ;;
    *) fail "uid $uid: summary line: $err" ;;
  esac
  same "uid $uid: file holds the queues" \
    "[('/a', 10, 64, 416, $uid, ['b1', 'b2', 'a1', 'a2', 'c'], [5, 5, 1, 1, 0]), ('/b', 4, 16, 416, $uid, ['x', 'y'], [3, 3])]" \
    "$(json "$d/one.mqck" "[(q['name'], int(q['record']['queue']['maxmsg']), int(q['record']['queue']['msgsize']), q['record']['queue']['mode'], q['record']['queue']['uid'], [base64.b64decode(m.get('payload','')).decode() for m in q['record']['queue']['messages']], [m.get('priority',0) for m in q['record']['queue']['messages']]) for n in j['ipc_namespaces'] if n['own'] for q in n['queues']]")"
  ls "$d" | grep -q tmp && fail "uid $uid: a temporary file was left behind"

  # --- restore: the messages, in order, with their attributes
  same "uid $uid: restored queues drain in priority/FIFO order" \
    "$(printf '%s\n' '/a maxmsg 10 msgsize 64 curmsgs 5' '/a 5 b1' '/a 5 b2' '/a 1 a1' '/a 1 a2' \
       '/a 0 c' '/b maxmsg 4 msgsize 16 curmsgs 2' '/b 3 x' '/b 3 y')" \
    "$("${as[@]}" "$mqsentry" run --restore "$d/one.mqck" -- "$tool" drain /a /b 2>&1)"

  # --- restore, use, save again
  "${as[@]}" "$mqsentry" run --restore "$d/one.mqck" --save-on-exit "$d/two.mqck" -- sh -c \
    "$tool drain /a >/dev/null && $tool send /b 4 16 9:z" 2>/dev/null
  same "uid $uid: restore, consume, send, save" "0 ['z', 'x', 'y']" \
    "$(json "$d/two.mqck" "' '.join(str(len(q['record']['queue']['messages'])) if q['name']=='/a' else str([base64.b64decode(m['payload']).decode() for m in q['record']['queue']['messages']]) for q in j['ipc_namespaces'][0]['queues'])")"

  # --- sysctls come back; --sysctl overrides them
  "${as[@]}" "$mqsentry" run --sysctl fs.mqueue.msg_max=20 --save-on-exit "$d/big.mqck" -- \
    "$tool" send /big 15 32 7:hello 2>/dev/null
  same "uid $uid: saved sysctls restored" "20 /big maxmsg 15 msgsize 32 curmsgs 1 /big 7 hello" \
    "$("${as[@]}" "$mqsentry" run --restore "$d/big.mqck" -- sh -c \
       "cat /proc/sys/fs/mqueue/msg_max; $tool drain /big" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
  same "uid $uid: --sysctl overrides a restored sysctl" "30" \
    "$("${as[@]}" "$mqsentry" run --restore "$d/big.mqck" --sysctl fs.mqueue.msg_max=30 -- \
       cat /proc/sys/fs/mqueue/msg_max 2>&1)"

  # --- limits of the new sandbox
  rm -f "$d/ran"
  err=$("${as[@]}" "$mqsentry" run --restore "$d/big.mqck" --sysctl fs.mqueue.msg_max=12 -- \
    touch "$d/ran" 2>&1)
  rc=$?
  same "uid $uid: msg_max too low: exit 125" 125 "$rc"
  same "uid $uid: msg_max too low: message" \
    "mqsentry: $d/big.mqck: cannot restore queue /big: maxmsg 15 > fs.mqueue.msg_max 12 of the new sandbox (--sysctl fs.mqueue.msg_max=15 raises it); nothing restored" \
    "$err"
  [ -e "$d/ran" ] && fail "uid $uid: the program ran after a refused restore"
  err=$("${as[@]}" prlimit --msgqueue=1000 "$mqsentry" run --restore "$d/one.mqck" -- \
    touch "$d/ran" 2>&1)
  rc=$?
  same "uid $uid: RLIMIT_MSGQUEUE too low: exit 125" 125 "$rc"
  case $err in
    *"cannot restore queue /a: uid $uid would be charged 1600 bytes > RLIMIT_MSGQUEUE 1000"*) ok "uid $uid: RLIMIT_MSGQUEUE message" ;;
    *) fail "uid $uid: RLIMIT_MSGQUEUE message: $err" ;;
  esac
  [ -e "$d/ran" ] && fail "uid $uid: the program ran after a refused restore"

  # --- what cannot be restored is listed; the rest comes back
  out=$("${as[@]}" "$mqsentry" run --restore "$work/sample.mqck" -- true 2>&1)
  same "uid $uid: not-restored lines" 4 "$(grep -c ": not restored: " <<<"$out")"
  grep -q "not restored: IPC namespace 2: a nested namespace" <<<"$out" ||
    fail "uid $uid: nested namespace not listed: $out"

  # --- times: saved as stat(2) showed them, shown again after a restore, until an mq call
  "${as[@]}" "$mqsentry" run --save-on-exit "$d/times.mqck" -- sh -c \
    "$tool send /t 4 16 1:m && touch -d @1600000000 /dev/mqueue/t &&
     stat -c '%X %Y %Z' /dev/mqueue/t >'$d/times.before'" 2>/dev/null
  before=$(cat "$d/times.before" 2>/dev/null)
  case $before in "1600000000 1600000000 "*) ok "uid $uid: touch -d set the queue's times" ;;
    *) fail "uid $uid: touch -d on /dev/mqueue/t: '$before'" ;; esac
  same "uid $uid: the file holds the times stat showed" "$before" \
    "$(json "$d/times.mqck" "' '.join(str(int(q['record']['queue']['times'][k])) for n in j['ipc_namespaces'] if n['own'] for q in n['queues'] for k in ('atime', 'mtime', 'ctime'))")"
  sleep 2  # so that a restore that gave the queue "now" would show another ctime
  got=$("${as[@]}" "$mqsentry" run --restore "$d/times.mqck" -- sh -c \
    "stat -c '%X %Y %Z' /dev/mqueue/t && $tool times /t && stat -c '%X %Y %Z' /dev/mqueue/t &&
     $tool drain /t >/dev/null && stat -c '%X %Y %Z' /dev/mqueue/t" 2>&1)
  same "uid $uid: restored times (stat /dev/mqueue, fstat of an mq descriptor; mq_open changes none)" \
    "$(printf '%s\n' "$before" "$before" "$before")" "$(head -3 <<<"$got")"
  if [ "$uid" -eq 0 ]; then  # a mount of mqueue needs CAP_SYS_ADMIN, which run drops
    same "uid 0: restored times through a mount -t mqueue" "$before" \
      "$("$mqsentry" run --cap-add SYS_ADMIN --restore "$d/times.mqck" -- sh -c \
         'm=$(mktemp -d) && mount -t mqueue none "$m" && stat -c "%X %Y %Z" "$m/t"; umount "$m"' 2>&1)"
  fi
  after=$(sed -n 4p <<<"$got")
  now=$(date +%s)
  read -r a m c <<<"$after"
  if [ -n "$c" ] && [ "$a" -ge $((now - 30)) ] && [ "$m" -ge $((now - 30)) ] && [ "$c" -ge $((now - 30)) ]; then
    ok "uid $uid: a receive after the restore moves atime, mtime and ctime"
  else fail "uid $uid: times after a receive in the restored sandbox: '$after' (now $now; $got)"; fi

  # --- damaged file, unwritable directory
  head -c 100 "$d/one.mqck" >"$d/cut.mqck"
  err=$("${as[@]}" "$mqsentry" run --restore "$d/cut.mqck" -- touch "$d/ran" 2>&1)
  rc=$?
  same "uid $uid: truncated file: exit 125" 125 "$rc"
  same "uid $uid: truncated file: one line" 1 "$(wc -l <<<"$err")"
  case $err in *"$d/cut.mqck: offset"*"truncated"*) ok "uid $uid: truncated named" ;; *) fail "uid $uid: $err" ;; esac
  mkdir -p "$d/ro" && chmod 0555 "$d/ro"
  if [ "$uid" -ne 0 ]; then
    err=$("${as[@]}" "$mqsentry" run --save-on-exit "$d/ro/x.mqck" -- touch "$d/ran" 2>&1)
    rc=$?
    same "uid $uid: unwritable directory: exit 125" 125 "$rc"
    [ -e "$d/ran" ] && fail "uid $uid: the program ran despite an unwritable --save-on-exit"
  fi
  # The file lands where the caller named it, not in the supervisor's private /tmp.
  "${as[@]}" "$mqsentry" run --save-on-exit "/tmp/mqsentry-save-restore-$uid-$$.mqck" -- true 2>/dev/null
  if [ -s "/tmp/mqsentry-save-restore-$uid-$$.mqck" ]; then ok "uid $uid: saved into the host's /tmp"
  else fail "uid $uid: nothing saved into the host's /tmp"; fi
  rm -f "/tmp/mqsentry-save-restore-$uid-$$.mqck"
done

echo "$failures failures"
[ "$failures" -eq 0 ]
