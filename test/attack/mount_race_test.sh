#!/usr/bin/env bash
# The mount type-string race (issue 7 finding 2): a thread flips the type between "tmpfs"
# and "mqueue" while mount(2) and fsopen(2) use it, 2000 tries each (mount_race). Natively
# (the oracle of the attack itself) mqueue superblocks appear. Under mqsentry the
# supervisor makes every new superblock itself from the bytes it copied: no mqueue
# superblock may appear, while the tmpfs mounts Linux allows still happen. Cases: a root
# program (Docker's default capabilities, no CAP_SYS_ADMIN: no mount at all, as Linux
# says), the same with --cap-add SYS_ADMIN and with --privileged, and a program of an
# unprivileged mqsentry, each directly and from a user+mount+IPC namespace of its own
# (where Linux lets anyone mount tmpfs). /proc/self/mountinfo shows no mqueue mount.
#   mount_race_test.sh MQSENTRY MOUNT_RACE
set -u
mqsentry=$1
race=$2
tries=2000
if [ "$(id -u)" -ne 0 ]; then
  echo "mount_race_test: run as root (it also drops to uid 65534)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/mqsentry-mount-race.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
install -m 0755 "$mqsentry" "$work/mqsentry"
install -m 0755 "$race" "$work/mount_race"
mqsentry=$work/mqsentry
race=$work/mount_race
cd "$work" || exit 1
failures=0

echo "== native, own user+mount+IPC namespace (the attack works)"
native=$(unshare --mount --ipc "$race" --userns "$tries")
echo "$native"
if ! grep -Eq '^(mount|fsopen): .* [1-9][0-9]* mqueue$' <<<"$native"; then
  echo "FAIL: natively the race never produced an mqueue superblock: the probe proves nothing"
  failures=$((failures + 1))
fi

# check LABEL OUTPUT MUST_MOUNT: no mqueue superblock; with MUST_MOUNT=yes some tmpfs
# mounts (by mount or fsopen: the flips tear most copies, so either count may be small),
# with no, none at all.
check() {
  local label=$1 got=$2 must_mount=$3 mounted=0
  for call in mount fsopen; do
    line=$(grep -E "^$call: $tries tries, [0-9]+ mounted, 0 mqueue$" <<<"$got") || return 1
    mounted=$((mounted + $(sed -E 's/.* ([0-9]+) mounted.*/\1/' <<<"$line")))
  done
  grep -qx "mountinfo: 0 mqueue" <<<"$got" || return 1
  if [ "$must_mount" = yes ]; then [ "$mounted" -gt 0 ]; else [ "$mounted" -eq 0 ]; fi
}
for user in root 65534; do
  as=()
  [ "$user" = 65534 ] && as=(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all)
  for caps in "" "--cap-add SYS_ADMIN" --privileged; do
    [ "$user" = 65534 ] && [ -n "$caps" ] && continue
    for variant in direct --userns; do
      args=("$tries")
      [ "$variant" = --userns ] && args=(--userns "$tries")
      must_mount=yes
      [ "$variant" = direct ] && [ -z "$caps" ] && must_mount=no
      label="mqsentry started by $user ${caps:-(default capabilities)}, $variant"
      # shellcheck disable=SC2086
      got=$("${as[@]}" "$mqsentry" run $caps -- "$race" "${args[@]}" 2>"$work/err")
      rc=$?
      if [ $rc -ne 0 ] || ! check "$label" "$got" "$must_mount"; then
        echo "FAIL: $label: exit $rc (tmpfs mounts expected: $must_mount)"
        echo "$got" | sed 's/^/  got: /'
        sed 's/^/  stderr: /' "$work/err"
        failures=$((failures + 1))
      else
        echo "ok: $label: $(tr '\n' ';' <<<"$got") ($(tr '\n' ';' <"$work/err"))"
      fi
    done
  done
done

if [ "$failures" -ne 0 ]; then
  echo "$failures FAILED"
  exit 1
fi
echo PASS
