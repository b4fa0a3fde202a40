#!/usr/bin/env bash
# `mqsentry run` started by an unprivileged user (no capabilities): --sysctl is written in
# the sandbox's IPC namespace and the kernel enforces it (mq_maxmsg 20 passes, 21 is
# EINVAL), the host's value is untouched, the program keeps the caller's uid and gid with
# no capability, --uid/--gid apply, and a SIGEV_SIGNAL notification names the sender's
# pid and uid as the program sees them.
#   unprivileged_run_test.sh MQSENTRY MQ_PROBE_PY
# Started as root (Bazel runs tests as root), it copies both files out of the runfiles
# tree (under /root, mode 0700) into a world-readable directory and runs every check as
# uid 65534 and again as uid 4321 (any uid but 65534: an unmapped uid arrives as the
# overflow uid 65534, which uid 65534 could not tell from its own); started as any other
# user, it runs them as that user.
set -u
mqsentry=$1
probe=$2
failures=0
errors=$(mktemp)
work=""
trap 'rm -rf "$errors" ${work:+"$work"}' EXIT

fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# expect NAME EXPECTED_OUTPUT COMMAND...: runs COMMAND, compares its stdout and checks it
# exited 0.
expect() {
  local name=$1 want=$2
  shift 2
  local got rc
  got=$("$@" 2>"$errors")
  rc=$?
  if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
    fail "$name: exit $rc"
    echo "--- want"; echo "$want"; echo "--- got"; echo "$got"
    echo "--- stderr"; cat "$errors"
  else
    echo "ok: $name"
  fi
}

# alive PID: the process exists and is not a zombie.
alive() {
  local state
  state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}

if [ "$(id -u)" -eq 0 ]; then
  work=$(mktemp -d /tmp/mqsentry-unprivileged-run.XXXXXX)
  chmod 0755 "$work"
  install -m 0755 "$mqsentry" "$work/mqsentry"
  install -m 0644 "$probe" "$work/mq_probe.py"
  mqsentry=$work/mqsentry
  probe=$work/mq_probe.py
  users=(65534 4321)
else
  users=("$(id -u)")
fi

host_msg_max=$(cat /proc/sys/fs/mqueue/msg_max)
for uid in "${users[@]}"; do
  if [ "$(id -u)" -eq 0 ]; then
    as=(setpriv "--reuid=$uid" "--regid=$uid" --clear-groups --inh-caps=-all
        env HOME=/ TMPDIR=/tmp PATH=/usr/local/bin:/usr/bin:/bin)
    # The drop itself: no capability left in any set.
    if "${as[@]}" grep -Eq '^Cap(Inh|Prm|Eff|Amb):[[:space:]]*0*[1-9a-f]' /proc/self/status; then
      fail "setpriv left capabilities to uid $uid"
      continue
    fi
    gid=$uid
  else
    as=()
    gid=$(id -g)
  fi
  echo "== as uid $uid"

  # shellcheck disable=SC2016  # $1 is expanded by the sandbox's sh
  expect "uid $uid: --sysctl fs.mqueue.msg_max=20, identity, capabilities" \
    "$(printf '%s\n' 20 5 "$uid" "$gid" 0000000000000000 0000000000000000 ok EINVAL)" \
    "${as[@]}" "$mqsentry" run --sysctl fs.mqueue.msg_max=20 --sysctl fs.mqueue.queues_max=5 -- \
    sh -c 'cat /proc/sys/fs/mqueue/msg_max /proc/sys/fs/mqueue/queues_max
           id -u; id -g
           sed -n "s/^CapEff:[[:space:]]*//p; s/^CapPrm:[[:space:]]*//p" /proc/self/status
           python3 "$1" create /unprivileged-run-20 20
           python3 "$1" create /unprivileged-run-21 21' sh "$probe"
  if [ "$(cat /proc/sys/fs/mqueue/msg_max)" != "$host_msg_max" ]; then
    fail "uid $uid: the host's fs.mqueue.msg_max changed"
  fi

  # shellcheck disable=SC2016
  expect "uid $uid: SIGEV_SIGNAL siginfo names the program's pid and uid" "ok" \
    "${as[@]}" "$mqsentry" run -- sh -c 'python3 "$1" notify /unprivileged-run-notify >&2 && echo ok' \
    sh "$probe"

  # shellcheck disable=SC2016
  expect "uid $uid: --uid 4242 --gid 4343" \
    "$(printf '%s\n' 4242 4343 0000000000000000 ok)" \
    "${as[@]}" "$mqsentry" run --uid 4242 --gid 4343 -- \
    sh -c 'id -u; id -g; sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status
           python3 "$1" notify /unprivileged-run-notify >&2 && echo ok' sh "$probe"

  # init changes its credentials (it enters its own user namespace) after arming its
  # parent-death signal: the supervisor's death must still end the sandbox.
  "${as[@]}" "$mqsentry" run -- sleep 1000 &
  supervisor=$!
  init="" program=""
  for _ in $(seq 200); do
    init=$(pgrep -P "$supervisor" | head -1)
    [ -n "$init" ] && program=$(pgrep -P "$init" | head -1)
    [ -n "$program" ] && [ "$(cat "/proc/$program/comm" 2>/dev/null)" = sleep ] && break
    sleep 0.05
  done
  if [ -z "$program" ]; then
    fail "uid $uid: the sandbox of 'sleep 1000' did not start"
    kill -9 "$supervisor" 2>/dev/null
  else
    # A killed supervisor leaves its (empty, no longer mounted) mqfs directory behind.
    mqfs_dir=$(awk '$5 ~ /^\/tmp\/mqsentry-mqfs-/ {print $5; exit}' "/proc/$supervisor/mountinfo")
    kill -9 "$supervisor"
    wait "$supervisor" 2>/dev/null
    for _ in $(seq 200); do
      alive "$init" || alive "$program" || break
      sleep 0.05
    done
    if alive "$init" || alive "$program"; then
      fail "uid $uid: the sandbox outlived its supervisor"
      kill -9 "$init" "$program" 2>/dev/null
    else
      echo "ok: uid $uid: the supervisor's death ends the sandbox"
    fi
    [ -n "$mqfs_dir" ] && rmdir "$mqfs_dir" 2>/dev/null
  fi
done

if [ $failures -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
