#!/usr/bin/env bash
# /dev/mqueue inside the sandbox shows the sandbox's own queues, never the host's (issue
# 10). The host has a queue in its own mqueue mount at /dev/mqueue before `mqsentry run`
# starts (in private mount and IPC namespaces of this test; if the host's /dev has no
# mqueue directory, one is made on a copy of /dev there, the real one is not written).
# Inside, for a root program (--cap-add SYS_ADMIN, to mount) and for a program of an
# mqsentry started by uid 65534: /dev/mqueue is mqueue-like (01777) and empty, a queue
# made through it appears in it and through mq_open, the host queue cannot be opened by
# path or by name, and (root) `mount -t mqueue` shows the sandbox's queues. Afterwards
# the host queue is still there and no sandbox queue is.
#   dev_mqueue_test.sh MQSENTRY MQ_PROBE
set -u
if [ "$(id -u)" -ne 0 ]; then
  echo "dev_mqueue_test: run as root (it mounts, and drops to uid 65534)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/mqsentry-dev-mqueue.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
install -m 0755 "$1" "$work/mqsentry"
install -m 0755 "$2" "$work/mq_probe.py"
export WORK=$work

# Run in the test's own mount and IPC namespaces.
unshare --mount --ipc --propagation private bash -s <<'OUTER'
set -u
work=$WORK
failures=0
if [ ! -d /dev/mqueue ]; then
  mkdir "$work/olddev"
  mount --rbind /dev "$work/olddev"
  mount -t tmpfs -o mode=755 dev /dev
  for e in "$work"/olddev/* "$work"/olddev/.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    n=${e##*/}
    if [ -L "$e" ]; then
      ln -s "$(readlink "$e")" "/dev/$n"
    elif [ -d "$e" ]; then
      mkdir "/dev/$n" && mount --rbind "$e" "/dev/$n"
    else
      : >"/dev/$n" && mount --bind "$e" "/dev/$n"
    fi
  done
  mkdir /dev/mqueue
fi
mount -t mqueue none /dev/mqueue || { echo "FAIL: cannot mount the host's mqueue"; exit 1; }
: >/dev/mqueue/hostq || { echo "FAIL: cannot create the host queue"; exit 1; }

inner='
  echo "mode: $(stat -c %a /dev/mqueue)"
  echo "list: $(ls -A /dev/mqueue | tr "\n" " ")"
  : >/dev/mqueue/sandboxq && echo "list2: $(ls -A /dev/mqueue | tr "\n" " ")"
  echo "sandboxq by name: $(python3 $WORK/mq_probe.py open /sandboxq)"
  cat /dev/mqueue/hostq >/dev/null 2>&1; echo "hostq by path: $?"
  echo "hostq by name: $(python3 $WORK/mq_probe.py open /hostq)"
  if [ "$(id -u)" = 0 ]; then
    d=$(mktemp -d)
    mount -t mqueue none "$d" && echo "mount: $(ls -A "$d" | tr "\n" " ")"
    umount "$d"; rmdir "$d"
  fi
  rm /dev/mqueue/sandboxq && echo removed'
want_common='mode: 1777
list: 
list2: sandboxq 
sandboxq by name: ok
hostq by path: 1
hostq by name: ENOENT'
for user in root 65534; do
  if [ "$user" = root ]; then
    got=$("$work/mqsentry" run --cap-add SYS_ADMIN -- sh -c "$inner" 2>"$work/err")
    want="$want_common
mount: sandboxq 
removed"
  else
    got=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
      "$work/mqsentry" run -- sh -c "$inner" 2>"$work/err")
    want="$want_common
removed"
  fi
  if [ "$got" != "$want" ]; then
    echo "FAIL: mqsentry started by $user"
    echo "$got" | sed 's/^/  got: /'
    sed 's/^/  stderr: /' "$work/err"
    failures=$((failures + 1))
  else
    echo "ok: mqsentry started by $user: $(tr '\n' ';' <<<"$got")"
  fi
  if [ ! -e /dev/mqueue/hostq ] || [ -e /dev/mqueue/sandboxq ]; then
    echo "FAIL: after the run as $user the host's /dev/mqueue holds: $(ls -A /dev/mqueue)"
    failures=$((failures + 1))
  fi
done
if [ "$failures" -ne 0 ]; then
  echo "$failures FAILED"
  exit 1
fi
echo PASS
OUTER
