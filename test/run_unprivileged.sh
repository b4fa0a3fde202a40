#!/usr/bin/env bash
# Runs a conformance test binary as an unprivileged user: the `_unprivileged` (native) and
# `_sandboxed_unprivileged` (under `mqsentry run`) twins of each mq_syscall_test.
#   run_unprivileged.sh native TEST_BINARY [gtest args...]
#   run_unprivileged.sh sandboxed MQSENTRY TEST_BINARY [gtest args...]
# Paths are relative to the current directory (Bazel's runfiles tree of the test).
#
# The user is uid/gid 65534 (nobody) with no groups and no capabilities. Started as root
# (Bazel runs the suite as root), the script copies the runfiles tree, which lives under
# /root (mode 0700), into a fresh world-readable directory under /tmp, gives the user a
# home and TEST_TMPDIR there, and drops to it with setpriv; started as any other user it
# runs the test as that user, in place.
#
# native: `unshare --user --map-current-user --ipc` first, so that the test runs in a fresh
#   IPC namespace (default sysctls, no queues of anything else), as mq_test_main arranges
#   when it may, and with the credentials a program gets from an unprivileged `mqsentry
#   run`: its own uid, alone in a user namespace that maps only that uid (setgroups
#   "deny"), and no capabilities. This run proves the tests for that user (Linux is the
#   oracle).
# sandboxed: `MQSENTRY run -- TEST_BINARY`, started by the unprivileged user.
#
# Excluded by name (--gtest_filter), from the lists in test/syscalls/:
#   unprivileged_needs_privilege.txt     both modes: tests no unprivileged user can pass
#   sandbox_known_gaps.txt               sandboxed: what mqsentry does not emulate
#   sandbox_unprivileged_known_gaps.txt  sandboxed: ... when started unprivileged
# Every other test must pass.
#
# GoogleTest writes its XML report (XML_OUTPUT_FILE) where the user may write; it is copied
# to Bazel's XML_OUTPUT_FILE afterwards, so tools/run-tests counts the test cases.
set -euo pipefail

readonly unprivileged_uid=65534 unprivileged_gid=65534

usage() {
  echo "usage: $0 native TEST_BINARY [gtest args...]" >&2
  echo "       $0 sandboxed MQSENTRY TEST_BINARY [gtest args...]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
mode=$1
shift
case "$mode" in
  native) lists=(unprivileged_needs_privilege.txt) ;;
  sandboxed)
    [ $# -ge 2 ] || usage
    mqsentry=$1
    shift
    lists=(unprivileged_needs_privilege.txt sandbox_known_gaps.txt
           sandbox_unprivileged_known_gaps.txt)
    ;;
  *) usage ;;
esac
binary=$1
shift

if [ -n "${TEST_SRCDIR:-}" ]; then
  list_dir="$TEST_SRCDIR/${TEST_WORKSPACE:-mqsentry}/test/syscalls"
else
  list_dir="$(dirname "$0")/syscalls"
fi
exclude=()
for list in "${lists[@]}"; do
  if [ ! -f "$list_dir/$list" ]; then
    echo "run_unprivileged.sh: missing $list_dir/$list" >&2
    exit 1
  fi
  mapfile -t -O ${#exclude[@]} exclude < <(grep -v '^#' "$list_dir/$list" | awk 'NF {print $1}')
done
filter=()
if [ ${#exclude[@]} -gt 0 ]; then
  filter=("--gtest_filter=-$(IFS=:; echo "${exclude[*]}")")
fi

if [ "$mode" = native ]; then
  cmd=(unshare --user --map-current-user --ipc -- "$binary" "${filter[@]}" "$@")
else
  cmd=("$mqsentry" run -- "$binary" "${filter[@]}" "$@")
fi

if [ "$(id -u)" -ne 0 ]; then
  exec "${cmd[@]}"
fi

# Root: run the command as the unprivileged user, from a copy it can read.
if [ -z "${TEST_SRCDIR:-}" ] || [[ "$PWD/" != "$TEST_SRCDIR/"* ]]; then
  echo "run_unprivileged.sh: as root, run it from its runfiles tree (bazel test)" >&2
  exit 1
fi
work=$(mktemp -d /tmp/mqsentry-unprivileged.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
cp -rL "$TEST_SRCDIR/." "$work/runfiles"
chmod -R a+rX,go-w "$work/runfiles"
install -d -o "$unprivileged_uid" -g "$unprivileged_gid" -m 0700 "$work/home" "$work/out"

drop=(setpriv "--reuid=$unprivileged_uid" "--regid=$unprivileged_gid" --clear-groups
      --inh-caps=-all)
# Prove the drop: the user's ids, and no capability left in any set.
# shellcheck disable=SC2016  # expanded by the inner sh
if ! "${drop[@]}" sh -c 'test "$(id -u):$(id -g):$(id -G)" = "$1:$2:$2" &&
      ! grep -Eq "^Cap(Inh|Prm|Eff|Amb):[[:space:]]*0*[1-9a-f]" /proc/self/status' \
      sh "$unprivileged_uid" "$unprivileged_gid"; then
  echo "run_unprivileged.sh: could not become uid $unprivileged_uid without capabilities" >&2
  exit 1
fi

# Bazel's test variables pass through, except the paths only root may write or read.
env_args=(
  -u TEST_PREMATURE_EXIT_FILE -u TEST_UNDECLARED_OUTPUTS_DIR
  -u TEST_UNDECLARED_OUTPUTS_MANIFEST -u TEST_UNDECLARED_OUTPUTS_ZIP
  -u TEST_UNDECLARED_OUTPUTS_ANNOTATIONS -u TEST_UNDECLARED_OUTPUTS_ANNOTATIONS_DIR
  -u TEST_WARNINGS_OUTPUT_FILE -u TEST_INFRASTRUCTURE_FAILURE_FILE
  -u TEST_UNUSED_RUNFILES_LOG_FILE -u TEST_LOGSPLITTER_OUTPUT_FILE -u TEST_SHARD_STATUS_FILE
  -u RUNFILES_MANIFEST_FILE -u XML_OUTPUT_FILE
  "HOME=$work/home" "TMPDIR=$work/home" "TEST_TMPDIR=$work/home"
  "TEST_SRCDIR=$work/runfiles" "RUNFILES_DIR=$work/runfiles"
  "JAVA_RUNFILES=$work/runfiles" "PYTHON_RUNFILES=$work/runfiles"
  USER=nobody LOGNAME=nobody
)
if [ -n "${XML_OUTPUT_FILE:-}" ]; then
  env_args+=("XML_OUTPUT_FILE=$work/out/test.xml")
fi

cd "$work/runfiles${PWD#"$TEST_SRCDIR"}"
rc=0
"${drop[@]}" env "${env_args[@]}" "${cmd[@]}" || rc=$?
if [ -n "${XML_OUTPUT_FILE:-}" ] && [ -s "$work/out/test.xml" ]; then
  cp "$work/out/test.xml" "$XML_OUTPUT_FILE"
fi
exit $rc
