#!/usr/bin/env bash
# Terminal input injection through a kept terminal: run from a terminal (here a pty made
# by script(1), the program's controlling terminal and stdin), a program that calls
# ioctl(0, TIOCSTI) pushes input that the user's shell would read after the sandbox ends.
# Natively (and on this kernel, with dev.tty.legacy_tiocsti=1) it works; under mqsentry it
# is EPERM, also with bits above the 32-bit command set, for a root program and a program
# of an unprivileged mqsentry.
#   tty_injection_test.sh MQSENTRY ATTACK_PROBE
set -u
mqsentry=$1
probe=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "tty_injection_test: run as root (it also drops to uid 65534)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/mqsentry-tty.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
install -m 0755 "$mqsentry" "$work/mqsentry"
install -m 0755 "$probe" "$work/attack_probe"
cd "$work" || exit 1
failures=0

# on_tty LABEL WANT COMMAND: COMMAND (a shell string) on a fresh pty; WANT: both lines.
on_tty() {
  local label=$1 want=$2 cmd=$3 got
  got=$(script -qec "$cmd" /dev/null </dev/null | tr -d '\r' | grep '^TIOCSTI')
  if [ "$got" != "$(printf 'TIOCSTI: %s\nTIOCSTI (high bits): %s' "$want" "$want")" ]; then
    echo "FAIL: $label: want $want"
    echo "$got" | sed 's/^/  got: /'
    failures=$((failures + 1))
  else
    echo "ok: $label: $want"
  fi
}

if [ "$(cat /proc/sys/dev/tty/legacy_tiocsti 2>/dev/null || echo 1)" = 1 ]; then
  on_tty "native (the attack works)" ok "$work/attack_probe tiocsti"
fi
drop="setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all"
on_tty "mqsentry started by root" EPERM "$work/mqsentry run -- $work/attack_probe tiocsti"
on_tty "mqsentry started by root, --privileged" EPERM \
  "$work/mqsentry run --privileged -- $work/attack_probe tiocsti"
on_tty "mqsentry started by 65534" EPERM "$drop $work/mqsentry run -- $work/attack_probe tiocsti"

if [ "$failures" -ne 0 ]; then
  echo "$failures FAILED"
  exit 1
fi
echo PASS
