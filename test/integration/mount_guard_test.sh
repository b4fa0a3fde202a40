#!/usr/bin/env bash
# mqsentry makes new mounts itself, from the bytes it copied, as the caller (its
# namespaces, ids and capabilities): Linux's rules then decide. A root program has
# Docker's default capabilities, without CAP_SYS_ADMIN: it may not mount in the host's
# user namespace, as in Docker, but may in a user namespace of its own. Given
# CAP_SYS_ADMIN (--cap-add SYS_ADMIN, --privileged) it mounts tmpfs directly too.
# `mount -t mqueue` mounts mqfs's view of the caller's IPC namespace (a new mqueue
# superblock would be the host kernel's mqueue code), under the same rule. The same script
# runs natively first, where every mount succeeds.
# Run as root (it mounts).
set -u
mqsentry=$1
script='
  d=$(mktemp -d)
  mount -t mqueue none "$d" 2>/dev/null; echo "mqueue: $?"; umount "$d" 2>/dev/null
  mount -t tmpfs none "$d" 2>/dev/null; echo "tmpfs: $?"; umount "$d" 2>/dev/null
  unshare --user --map-root-user --mount --ipc sh -c "mount -t mqueue none $d" 2>/dev/null
  echo "own-namespace mqueue: $?"
  unshare --user --map-root-user --mount sh -c "mount -t tmpfs none $d" 2>/dev/null
  echo "own-namespace tmpfs: $?"
  rmdir "$d"'
expect() {  # expect LABEL OUTPUT LINE...
  local label=$1 out=$2
  shift 2
  for line in "$@"; do
    echo "$out" | grep -qx "$line" || { echo "FAIL ($label): expected \"$line\""; return 1; }
  done
}
echo "== native (in private mount and IPC namespaces)"
native=$(unshare --mount --ipc sh -c "$script" 2>&1)
echo "$native"
echo "== native, as uid 65534"
native_nobody=$(unshare --mount --ipc setpriv --reuid=65534 --regid=65534 --clear-groups \
  --inh-caps=-all sh -c "$script" 2>&1)
echo "$native_nobody"
echo "== under mqsentry --privileged --uid 65534 (the supervisor's privileges are not lent)"
nobody=$("$mqsentry" run --privileged --uid 65534 --gid 65534 -- sh -c "$script" 2>&1)
echo "$nobody"
echo "== under mqsentry"
sandboxed=$("$mqsentry" run -- sh -c "$script" 2>&1)
echo "$sandboxed"
echo "== under mqsentry --cap-add SYS_ADMIN"
sys_admin=$("$mqsentry" run --cap-add SYS_ADMIN -- sh -c "$script" 2>&1)
echo "$sys_admin"
echo "== under mqsentry --privileged"
privileged=$("$mqsentry" run --privileged -- sh -c "$script" 2>&1)
echo "$privileged"
expect native "$native" "mqueue: 0" "tmpfs: 0" "own-namespace mqueue: 0" "own-namespace tmpfs: 0" &&
  expect "native uid 65534" "$native_nobody" "mqueue: 32" "tmpfs: 32" \
    "own-namespace mqueue: 0" "own-namespace tmpfs: 0" &&
  expect "mqsentry --uid 65534" "$nobody" "mqueue: 32" "tmpfs: 32" \
    "own-namespace mqueue: 0" "own-namespace tmpfs: 0" &&
  expect mqsentry "$sandboxed" "mqueue: 32" "tmpfs: 32" "own-namespace mqueue: 0" \
    "own-namespace tmpfs: 0" &&
  expect "mqsentry --cap-add SYS_ADMIN" "$sys_admin" "mqueue: 0" "tmpfs: 0" \
    "own-namespace mqueue: 0" "own-namespace tmpfs: 0" &&
  expect "mqsentry --privileged" "$privileged" "mqueue: 0" "tmpfs: 0" \
    "own-namespace mqueue: 0" "own-namespace tmpfs: 0" && echo PASS
