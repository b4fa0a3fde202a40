#!/usr/bin/env bash
# Capabilities of the program (issue 7 finding 3). A root program gets Docker's default
# set (CapBnd = CapPrm = CapEff = 00000000a80425fb, nothing inheritable or ambient), so
# unshare(CLONE_NEWIPC) is EPERM and open_by_handle_at (CAP_DAC_READ_SEARCH) is EPERM, but
# a user namespace of its own still gives it a new IPC and mount namespace with working
# queues. --cap-add, --cap-drop (Docker's names, ALL) and --privileged each show in its
# sets. A non-root uid (--uid 65534) has none, with the bounding set still reduced.
# mqsentry started by uid 65534: the program has no capability whatever the flags (its
# uid is not 0 in its own user namespace), and its bounding set follows the flags; with
# --uid 0 it holds the set in that user namespace (which owns nothing of the sandbox).
#   capabilities_test.sh MQSENTRY ATTACK_PROBE
set -u
mqsentry=$1
probe=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "capabilities_test: run as root (it also drops to uid 65534)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/mqsentry-caps.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
install -m 0755 "$mqsentry" "$work/mqsentry"
install -m 0755 "$probe" "$work/attack_probe"
mqsentry=$work/mqsentry
probe=$work/attack_probe
cd "$work" || exit 1

readonly docker=00000000a80425fb
host_bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
hex() { printf '%016x' "$(( $1 ))"; }
failures=0

# check LABEL WANT COMMAND...: stdout of COMMAND (exit 0) must contain every line of WANT.
check() {
  local label=$1 want=$2
  shift 2
  local out rc line
  out=$("$@" 2>"$work/err")
  rc=$?
  while IFS= read -r line; do
    if [ $rc -ne 0 ] || ! grep -qxF -- "$line" <<<"$out"; then
      echo "FAIL: $label: want \"$line\" (exit $rc)"
      echo "$out" | sed 's/^/  got: /'
      sed 's/^/  stderr: /' "$work/err"
      failures=$((failures + 1))
      return
    fi
  done <<<"$want"
  echo "ok: $label"
}

sets() {  # sets INH PRM EFF BND
  printf 'CapInh %s\nCapPrm %s\nCapEff %s\nCapBnd %s\nCapAmb 0000000000000000\n' "$@"
}
none=0000000000000000
userns_works='unshare(CLONE_NEWUSER|CLONE_NEWIPC): ok
mq_open in it: ok
mq_unlink in it: ok
unshare(CLONE_NEWNS) in it: ok'

# FUSE in a user namespace of the program's own: Linux allows it (proved here, natively),
# mqsentry refuses it but with --privileged: the program would be the daemon of pages the
# supervisor reads and writes, and could leave one unserved to stall every call.
echo "== natively"
check "native: FUSE mount in its own user namespace" 'mount fuse: ok' "$probe" userns-fuse

echo "== mqsentry started by root"
run=("$mqsentry" run)
check "root: FUSE mount in its own user namespace refused" 'mount fuse: EPERM' \
  "${run[@]}" -- "$probe" userns-fuse
check "root: --privileged mounts FUSE" 'mount fuse: ok' \
  "${run[@]}" --privileged -- "$probe" userns-fuse
check "root: Docker's default set" "$(sets $none $docker $docker $docker)
capget effective $docker" "${run[@]}" -- "$probe" caps
check "root: unshare(CLONE_NEWIPC) refused" 'unshare(CLONE_NEWIPC): EPERM' \
  "${run[@]}" -- "$probe" unshare-ipc
check "root: own user namespace gives IPC and mount namespaces" "$userns_works" \
  "${run[@]}" -- "$probe" userns-ipc
check "root: open_by_handle_at refused" 'open_by_handle_at: EPERM' \
  "${run[@]}" -- "$probe" open-by-handle /
with_admin=$(hex "0x$docker | 1 << 21")
check "root: --cap-add SYS_ADMIN" "$(sets $none "$with_admin" "$with_admin" "$with_admin")
unshare(CLONE_NEWIPC): ok" \
  sh -c '"$@" caps && "$@" unshare-ipc' _ "${run[@]}" --cap-add SYS_ADMIN -- "$probe"
without_chown=$(hex "0x$docker & ~1")
check "root: --cap-drop CAP_CHOWN" "$(sets $none "$without_chown" "$without_chown" "$without_chown")" \
  "${run[@]}" --cap-drop CAP_CHOWN -- "$probe" caps
check "root: --cap-drop ALL --cap-add kill" "$(sets $none 0000000000000020 0000000000000020 0000000000000020)" \
  "${run[@]}" --cap-drop ALL --cap-add kill -- "$probe" caps
check "root: --cap-add DAC_READ_SEARCH opens by handle" 'open_by_handle_at: ok' \
  "${run[@]}" --cap-add DAC_READ_SEARCH -- "$probe" open-by-handle /
check "root: --privileged keeps everything" "$(sets $none "$host_bnd" "$host_bnd" "$host_bnd")
open_by_handle_at: ok" \
  sh -c '"$@" caps && "$@" open-by-handle /' _ "${run[@]}" --privileged -- "$probe"
check "root: --uid 65534 has none" "$(sets $none $none $none $docker)" \
  "${run[@]}" --uid 65534 --gid 65534 -- "$probe" caps

if "$mqsentry" run --cap-add SYS_EVERYTHING -- true 2>"$work/err"; then rc=0; else rc=$?; fi
if [ $rc -eq 125 ] && grep -q 'unknown capability "SYS_EVERYTHING"' "$work/err"; then
  echo "ok: root: an unknown capability name: exit 125"
else
  echo "FAIL: root: an unknown capability name: exit $rc"
  failures=$((failures + 1))
fi

echo "== mqsentry started by uid 65534"
run=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$mqsentry" run)
check "65534: no capability, bounding set Docker's" "$(sets $none $none $none $docker)" \
  "${run[@]}" -- "$probe" caps
check "65534: unshare(CLONE_NEWIPC) refused" 'unshare(CLONE_NEWIPC): EPERM' \
  "${run[@]}" -- "$probe" unshare-ipc
check "65534: own user namespace gives IPC and mount namespaces" "$userns_works" \
  "${run[@]}" -- "$probe" userns-ipc
check "65534: open_by_handle_at refused" 'open_by_handle_at: EPERM' \
  "${run[@]}" -- "$probe" open-by-handle /
check "65534: FUSE mount in its own user namespace refused" 'mount fuse: EPERM' \
  "${run[@]}" -- "$probe" userns-fuse
check "65534: --cap-add SYS_ADMIN: still none, bounding set follows" \
  "$(sets $none $none $none "$with_admin")" "${run[@]}" --cap-add SYS_ADMIN -- "$probe" caps
# A new user namespace starts with a whole bounding set (every capability of the kernel).
full=$(hex "(1 << ($(cat /proc/sys/kernel/cap_last_cap) + 1)) - 1")
check "65534: --privileged: still none, bounding set whole" "$(sets $none $none $none "$full")" \
  "${run[@]}" --privileged -- "$probe" caps
check "65534: --uid 0: the set, in its own user namespace" "$(sets $none $docker $docker $docker)
open_by_handle_at: EPERM" \
  sh -c '"$@" caps && "$@" open-by-handle /' _ "${run[@]}" --uid 0 --gid 0 -- "$probe"

if [ "$failures" -ne 0 ]; then
  echo "$failures FAILED"
  exit 1
fi
echo PASS
