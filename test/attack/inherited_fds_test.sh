#!/usr/bin/env bash
# Descriptors entering the sandbox (issue 7 finding 1). The launching process holds a
# directory descriptor on a "host" mqueue mount (one queue in it), one on an ancestor of
# that mount (/), an O_PATH descriptor, a host mq descriptor and a pidfd, as fd 7, and
# starts `mqsentry run`:
#   - without --preserve-fds the program finds fd 7 closed (EBADF);
#   - with --preserve-fds 5 (fds 3..7) mqsentry refuses to start: exit 125, a message
#     naming fd 7;
#   - started in the host mqueue mount as working directory, the program does not see the
#     host's queue through "." and creates none there;
#   - a second proc mount of the host's (as a runtime's /host/proc) shows the program no
#     host process (whose /proc/PID/fd, root and cwd lead out), and init's descriptors,
#     root, cwd and memory are out of its reach.
# After each run no queue made by the program exists on the host.
# The "host" is a private mount and IPC namespace of this script (unshare), so nothing
# outside it is touched. Every check runs with mqsentry started by root, then by uid 65534
# (setpriv, no capabilities; the descriptors are opened before the drop, as a launching
# service would).
#   inherited_fds_test.sh MQSENTRY ATTACK_PROBE
set -u
mqsentry=$1
probe=$2
if [ "$(id -u)" -ne 0 ]; then
  echo "inherited_fds_test: run as root (it mounts mqueue and drops to uid 65534)" >&2
  exit 1
fi
if [ -z "${ATTACK_INNER:-}" ]; then
  exec unshare --mount --ipc --propagation private env ATTACK_INNER=1 "$0" "$@"
fi

work=$(mktemp -d /tmp/mqsentry-attack.XXXXXX)
trap 'umount "$work/mq" "$work/hostproc" 2>/dev/null; rm -rf "$work"' EXIT
chmod 0755 "$work"
install -m 0755 "$mqsentry" "$work/mqsentry"
install -m 0755 "$probe" "$work/attack_probe"
mqsentry=$work/mqsentry
probe=$work/attack_probe
mkdir -m 0755 "$work/mq"
mkdir -m 1777 "$work/out"
mount -t mqueue none "$work/mq" || exit 1
"$probe" mq-create attack-host-queue >/dev/null
mkdir -m 0755 "$work/hostproc"
mount -t proc proc "$work/hostproc" || exit 1
chmod 0666 "$work/mq/attack-host-queue"
rel=${work#/}/mq  # the mqueue mount, relative to /

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# No queue made by the program reached the host; removes any that did.
host_clean() {
  local label=$1 q
  for q in attack-created attack-cwd-created; do
    if [ -e "$work/mq/$q" ]; then
      fail "$label: the program created host queue $q"
      rm -f "$work/mq/$q"
    fi
  done
}

# check LABEL WANT_RC WANT_OUT_PATTERN WANT_ERR_PATTERN COMMAND...
check() {
  local label=$1 want_rc=$2 want_out=$3 want_err=$4
  shift 4
  local out err rc
  out=$("$@" 2>"$work/err")
  rc=$?
  err=$(cat "$work/err")
  if [ "$rc" -ne "$want_rc" ] || ! grep -Eq -- "$want_out" <<<"$out" ||
     ! grep -Eq -- "$want_err" <<<"$err"; then
    fail "$label: exit $rc (want $want_rc)"
    echo "  stdout: $out"
    echo "  stderr: $err"
  else
    echo "ok: $label: ${out:-$err}"
  fi
  host_clean "$label"
}

# fds 3..6 for --preserve-fds 5 (the probes put the attack on fd 7).
exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null
for user in root 65534; do
  if [ "$user" = root ]; then
    as=()
  else
    as=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
  fi
  run=("${as[@]}" "$mqsentry" run)
  echo "== mqsentry started by $user"
  # fd 7 on the host mqueue mount, on /, O_PATH, a host mq descriptor, a pidfd.
  check "$user: directory on host mqueue mount, inherited" 0 '^fd 7: EBADF$' '' \
    "$probe" hold dir "$work/mq" 7 -- "${run[@]}" -- "$probe" fd 7
  check "$user: directory on /, inherited" 0 '^fd 7: EBADF$' '' \
    "$probe" hold dir / 7 -- "${run[@]}" -- "$probe" fd 7 "$rel"
  check "$user: O_PATH descriptor, inherited" 0 '^fd 7: EBADF$' '' \
    "$probe" hold opath "$work/mq" 7 -- "${run[@]}" -- "$probe" fd 7
  check "$user: host mq descriptor, inherited" 0 '^fd 7: EBADF$' '' \
    "$probe" hold mq attack-host-queue 7 -- "${run[@]}" -- "$probe" fd 7
  check "$user: directory on host mqueue mount, preserved" 125 '^$' \
    '^mqsentry: fd 7 \(.*\) may not enter the sandbox: on an mqueue filesystem' \
    "$probe" hold dir "$work/mq" 7 -- "${run[@]}" --preserve-fds 5 -- "$probe" fd 7
  check "$user: directory on /, preserved" 125 '^$' \
    '^mqsentry: fd 7 \(/\) may not enter the sandbox: a directory' \
    "$probe" hold dir / 7 -- "${run[@]}" --preserve-fds 5 -- "$probe" fd 7 "$rel"
  check "$user: O_PATH descriptor, preserved" 125 '^$' \
    '^mqsentry: fd 7 \(.*\) may not enter the sandbox: an O_PATH descriptor' \
    "$probe" hold opath "$work/mq" 7 -- "${run[@]}" --preserve-fds 5 -- "$probe" fd 7
  check "$user: host mq descriptor, preserved" 125 '^$' \
    '^mqsentry: fd 7 \(/attack-host-queue\) may not enter the sandbox: on an mqueue' \
    "$probe" hold mq attack-host-queue 7 -- "${run[@]}" --preserve-fds 5 -- "$probe" fd 7
   
  check "$user: pidfd, preserved" 125 '^$' \
    '^mqsentry: fd 7 \(.*\) may not enter the sandbox: a pidfd' \
    "$probe" hold pidfd - 7 -- "${run[@]}" --preserve-fds 5 -- "$probe" fd 7
  check "$user: directory as stdin" 125 '^$' \
    '^mqsentry: fd 0 \(.*\) may not enter the sandbox: on an mqueue filesystem' \
    "$probe" hold dir "$work/mq" 0 -- "${run[@]}" -- "$probe" fd 0
  # A closed stdin arrives as /dev/null, never as a descriptor of mqsentry's.
  check "$user: closed stdin" 0 '^/dev/null$' '' \
    bash -c 'exec "$@" <&-' _ "${run[@]}" --strace-log "$work/out/trace-$user" -- readlink /proc/self/fd/0
  # What may be preserved still arrives: a pipe at fd 7, readable.
  check "$user: a pipe, preserved" 0 '^fd 7: open, list ENOTDIR' '' \
    bash -c '"$@" 7< <(echo data)' _ "${run[@]}" --preserve-fds 5 -- "$probe" fd 7
  # The working directory: the host mqueue mount.
  check "$user: working directory on host mqueue mount" 0 '^cwd: list (\[\]|EACCES)' '' \
    bash -c 'cd "$1" && shift && exec "$@"' _ "$work/mq" "${run[@]}" -- "$probe" cwd
  # The working directory: the host's /proc (its processes' fd, root and cwd links).
  # shellcheck disable=SC2016  # expanded by the sandbox's sh
  check "$user: working directory /proc shows the sandbox's processes only" 0 '^[1-9]$' '' \
    bash -c 'cd /proc && exec "$@"' _ "${run[@]}" -- sh -c 'ls | grep -c "^[0-9]"'
  # init (PID 1) holds a copy of the supervisor's memory and its control socket: nothing
  # of it is reachable through /proc/1 (not dumpable; no CAP_SYS_PTRACE).
  # shellcheck disable=SC2016  # expanded by the sandbox's sh
  check "$user: init's descriptors, root, cwd and memory" 0 '^denied denied denied denied$' '' \
    "${run[@]}" -- sh -c 'r() { if "$@" >/dev/null 2>&1; then echo reached; else echo denied; fi; }
      echo $(r readlink /proc/1/fd/3) $(r ls /proc/1/root/) $(r ls /proc/1/cwd/) \
        $(r sh -c ": </proc/1/mem")'
  check "$user: pidfd_getfd of init's descriptors" 0 '^pidfd_getfd\(init, 0..9\): EPERM$' '' \
    "${run[@]}" -- "$probe" pidfd-getfd 9
  # shellcheck disable=SC2016  # expanded by the sandbox's sh
  check "$user: another proc mount of the host" 0 '^0$' '' \
    "${run[@]}" -- sh -c 'ls "$1" 2>/dev/null | grep -c "^[0-9]" || true' _ "$work/hostproc"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures FAILED"
  exit 1
fi
echo PASS
