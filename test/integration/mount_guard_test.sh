#!/usr/bin/env bash
# mqsentry keeps the host's mqueue filesystem out of the sandbox: `mount -t mqueue` is
# refused with EPERM (a new mqueue superblock would be the host kernel's mqueue code),
# while other mounts still work. Run as root (it mounts).
set -u
mqsentry=$1
out=$("$mqsentry" run -- sh -c '
  d=$(mktemp -d)
  if mount -t mqueue none "$d" 2>/dev/null; then echo "mqueue mounted"; exit 1; fi
  mount -t tmpfs none "$d" || { echo "tmpfs refused"; exit 2; }
  umount "$d"; rmdir "$d"; echo ok' 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] && [ "$(echo "$out" | tail -1)" = ok ]
