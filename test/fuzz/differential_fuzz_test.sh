#!/usr/bin/env bash
# Differential fuzz test: the same seeds of mq_fuzz run natively (the oracle) and under
# `mqsentry run`, and the two transcripts must be identical, line for line.
#   differential_fuzz_test.sh MQSENTRY MQ_FUZZ KNOWN_GAPS [--seeds=1,2,...] [--steps=N]
#       [--configs=root,uid,unprivileged] [--unprivileged-uid=N] [--no-gaps] [--keep]
# Configurations (each compares a native run with a sandboxed run of the same seed):
#   root          root, with a real uid U of its own (euid 0 and every capability kept):
#                 `unshare --ipc` vs `mqsentry run`, the program setting its real uid
#   uid           uid U without capabilities in a root-started sandbox: `unshare --ipc` +
#                 setpriv vs `mqsentry run --uid U --gid U`
#   unprivileged  as test/run_unprivileged.sh runs the suite, as uid U: `unshare --user
#                 --map-current-user --ipc` vs `mqsentry run` started by uid U (setpriv,
#                 no capabilities)
# Started by a user other than root, only `unprivileged` runs, as that user.
#
# Which uid U: RLIMIT_MSGQUEUE usage is counted per real uid over the whole machine (spec
# §3.5; a nested user namespace is also held to its parent's count), and a dead IPC
# namespace gives its queues' bytes back some time after its last process exited, while
# the sandbox counts only its own queues. So every native run charges a uid that no other
# run and no other test uses: random per invocation, above 10^9. (uid 65534, the suite's
# unprivileged user, is filled to its limit by test/attack/notify; --unprivileged-uid=65534
# runs as it anyway.) The transcripts show the run's own uid and gid as <uid> and <gid>.
#
# Each gap named in KNOWN_GAPS (test/fuzz/known_gaps.txt) for the configuration is given to
# both runs, which then steer around that known difference; --no-gaps runs without them (to
# see what they hide). The first seed of each configuration also runs natively twice: the
# oracle must be deterministic. A failure names the configuration, seed and step, shows
# the steps before it and the two differing lines, and prints the commands that reproduce
# it.
set -u

usage() {
  echo "usage: $0 MQSENTRY MQ_FUZZ KNOWN_GAPS [--seeds=1,2,...] [--steps=N]" \
    "[--configs=root,uid,unprivileged] [--unprivileged-uid=N] [--no-gaps] [--keep]" >&2
  exit 2
}
[ $# -ge 3 ] || usage
mqsentry=$(realpath "$1")
fuzz=$(realpath "$2")
gaps_file=$3
shift 3
seeds=1,2,3
steps=3000
configs=root,uid,unprivileged
unprivileged_uid=""  # default: a uid of the run's own
use_gaps=1
keep=0
for arg in "$@"; do
  case "$arg" in
    --seeds=*) seeds=${arg#--seeds=} ;;
    --steps=*) steps=${arg#--steps=} ;;
    --configs=*) configs=${arg#--configs=} ;;
    --unprivileged-uid=*) unprivileged_uid=${arg#--unprivileged-uid=} ;;
    --no-gaps) use_gaps=0 ;;
    --keep) keep=1 ;;
    *) usage ;;
  esac
done

readonly msgqueue_limit=200000  # bytes: 2 default-sized queues (spec §3.5)
readonly run_limit=120          # seconds per run; a run normally takes about 1 s

fail_count=0
# One JUnit test case per configuration and seed (tools/run-tests counts them).
cases=()
fail() {
  echo "FAIL: $*"
  fail_count=$((fail_count + 1))
}
# record NAME OK|FAILED [MESSAGE]
record() {
  local msg=${3:-}
  msg=${msg//&/&amp;}
  msg=${msg//</&lt;}
  msg=${msg//>/&gt;}
  msg=${msg//\"/&quot;}
  if [ "$2" = OK ]; then
    cases+=("<testcase name=\"$1\" status=\"run\"/>")
  else
    cases+=("<testcase name=\"$1\" status=\"run\"><failure message=\"$msg\"/></testcase>")
  fi
}

[ -f "$gaps_file" ] || { echo "missing $gaps_file" >&2; exit 1; }
# gaps_for CONFIG: the gap names that apply to CONFIG, comma-separated. A line's first
# field is NAME (every configuration) or NAME@CONFIG[,CONFIG...].
gaps_for() {
  [ $use_gaps -eq 1 ] || return 0
  grep -v '^#' "$gaps_file" | awk -v config="$1" 'NF {
      n = split($1, part, "@")
      if (n == 1) { print part[1]; next }
      m = split(part[2], list, ",")
      for (i = 1; i <= m; i++) if (list[i] == config) print part[1]
    }' | paste -sd, -
}

work=$(mktemp -d /tmp/mqsentry-fuzz.XXXXXX)
if [ $keep -eq 1 ]; then
  echo "transcripts kept in $work"
else
  trap 'rm -rf "$work"' EXIT
fi
chmod 0755 "$work"
if [ "$(id -u)" -eq 0 ]; then
  # The runfiles tree lives under /root (mode 0700): other uids run copies.
  install -m 0755 "$mqsentry" "$work/mqsentry"
  install -m 0755 "$fuzz" "$work/mq_fuzz"
  mqsentry=$work/mqsentry
  fuzz=$work/mq_fuzz
  install -d -m 0777 "$work/logs"
else
  configs=unprivileged
  mkdir -p "$work/logs"
fi

drop() {  # drop UID: the command prefix that runs as UID, without groups or capabilities
  echo "setpriv --reuid=$1 --regid=$1 --clear-groups --inh-caps=-all"
}

# The first of this invocation's uids: native runs never share one with another run.
uid_base=$((1000000000 + $(od -An -N4 -tu4 /dev/urandom) % 1000000000))

# commands CONFIG SEED [REPEAT]: sets native_cmd and sandboxed_cmd (arrays, before the
# fuzzer's args). REPEAT (0 or 1) gives the repeated native run other uids.
commands() {
  local n=$((uid_base + 8 * ($2 % 100000000) + 4 * ${3:-0}))
  local root_ruid=$n uid_user=$((n + 1)) unprivileged_user=${unprivileged_uid:-$((n + 2))}
  case "$1" in
    root)
      native_cmd=(unshare --ipc -- "$fuzz" "--ruid=$root_ruid")
      sandboxed_cmd=("$mqsentry" run -- "$fuzz" "--ruid=$root_ruid")
      ;;
    uid)
      # shellcheck disable=SC2207
      native_cmd=(unshare --ipc -- $(drop $uid_user) "$fuzz")
      sandboxed_cmd=("$mqsentry" run --uid $uid_user --gid $uid_user -- "$fuzz")
      ;;
    unprivileged)
      local as=()
      # shellcheck disable=SC2207
      [ "$(id -u)" -eq 0 ] && as=($(drop $unprivileged_user))
      native_cmd=("${as[@]}" unshare --user --map-current-user --ipc -- "$fuzz")
      sandboxed_cmd=("${as[@]}" "$mqsentry" run -- "$fuzz")
      ;;
    *)
      echo "unknown configuration $1" >&2
      exit 2
      ;;
  esac
}

# run OUT CMD...: runs CMD with stdout to OUT and stderr to OUT.err; sets $rc.
run() {
  local out=$1
  shift
  timeout -k 5 $run_limit "$@" >"$out" 2>"$out.err" </dev/null
  rc=$?
}

# show_mismatch NATIVE SANDBOXED: the first differing line with the steps before it.
show_mismatch() {
  local out line
  # "differ: byte B, line L", or "EOF on F after byte B, line L" (F ends after line L),
  # or "EOF on F which is empty".
  out=$(cmp "$1" "$2" 2>&1)
  line=$(echo "$out" | grep -o 'line [0-9]*' | awk '{print $2}')
  case "$out" in
    *EOF*) line=$((${line:-0} + 1)) ;;
  esac
  line=${line:-1}
  echo "--- steps before the first difference (both runs):"
  [ "$line" -gt 1 ] && sed -n "$((line > 8 ? line - 8 : 1)),$((line - 1))p" "$1" | cut -c1-400
  echo "--- native:"
  sed -n "${line}p" "$1" | cut -c1-400
  echo "--- sandboxed:"
  sed -n "${line}p" "$2" | cut -c1-400
}

total_steps=0
runs=0
SECONDS=0
IFS=, read -r -a config_list <<<"$configs"
IFS=, read -r -a seed_list <<<"$seeds"
for config in "${config_list[@]}"; do
  gaps=$(gaps_for "$config")
  first=1
  for seed in "${seed_list[@]}"; do
    commands "$config" "$seed"
    args=("--seed=$seed" "--steps=$steps" "--msgqueue-limit=$msgqueue_limit")
    [ -n "$gaps" ] && args+=("--gaps=$gaps")
    native=$work/$config-$seed.native
    sandboxed=$work/$config-$seed.sandboxed
    run "$native" "${native_cmd[@]}" "${args[@]}"
    native_rc=$rc
    # The first sandboxed run of each configuration also logs the calls mqsentry answered,
    # which proves they were trapped (an untrapped run would match native trivially).
    strace=()
    if [ $first -eq 1 ]; then
      strace_log=$work/logs/$config.strace
      strace=(--strace-log "$strace_log")
    fi
    cmd=("${sandboxed_cmd[@]}")
    if [ ${#strace[@]} -gt 0 ]; then
      # after "run": MQSENTRY run [--strace-log F] ...
      for i in "${!cmd[@]}"; do
        if [ "${cmd[$i]}" = run ]; then
          cmd=("${cmd[@]:0:$((i + 1))}" "${strace[@]}" "${cmd[@]:$((i + 1))}")
          break
        fi
      done
    fi
    run "$sandboxed" "${cmd[@]}" "${args[@]}"
    sandboxed_rc=$rc
    runs=$((runs + 2))

    label="$config seed=$seed"
    lines=$(grep -c '^[0-9]' "$native")
    if [ $native_rc -ne 0 ] || ! grep -q '^# end$' "$native" || [ "$lines" -lt "$steps" ]; then
      fail "$label: the native run (the oracle) did not complete (exit $native_rc, $lines steps)"
      sed -n '1,20p' "$native.err"
      record "$label" FAILED "the native run did not complete"
      continue
    fi
    total_steps=$((total_steps + lines))
    if [ $first -eq 1 ]; then
      first=0
      # The oracle is deterministic: a second native run of the seed prints the same (as
      # another uid: the first run's dead IPC namespace may still hold its bytes).
      commands "$config" "$seed" 1
      run "$native.again" "${native_cmd[@]}" "${args[@]}"
      commands "$config" "$seed"
      if ! cmp -s "$native" "$native.again"; then
        fail "$label: two native runs of the same seed differ (the fuzzer is not deterministic)"
        show_mismatch "$native" "$native.again"
        record "$label (native twice)" FAILED "two native runs differ"
      fi
      trapped=$(grep -c 'mq_' "$strace_log" 2>/dev/null || echo 0)
      if [ "$trapped" -lt $((steps / 4)) ]; then
        fail "$label: mqsentry's --strace-log shows $trapped mq calls (at least $((steps / 4)) expected): were the calls trapped?"
        record "$label (trapped)" FAILED "$trapped mq calls in the strace log"
      fi
    fi
    if [ $sandboxed_rc -ne $native_rc ] || ! cmp -s "$native" "$sandboxed"; then
      fail "$label: the sandboxed transcript differs from the native one (exit $sandboxed_rc, native $native_rc)"
      show_mismatch "$native" "$sandboxed"
      if [ -s "$sandboxed.err" ]; then
        echo "--- sandboxed stderr:"
        sed -n '1,20p' "$sandboxed.err"
      fi
      echo "--- reproduce (as $(id -un)):"
      echo "  ${native_cmd[*]} ${args[*]}"
      echo "  ${sandboxed_cmd[*]} ${args[*]}"
      record "$label" FAILED "transcripts differ (exit $sandboxed_rc, native $native_rc)"
    else
      record "$label" OK
      echo "ok: $label: $lines steps identical (gaps: ${gaps:-none})"
    fi
  done
done
echo "$runs runs, $total_steps native steps compared, $SECONDS s"
if [ -n "${XML_OUTPUT_FILE:-}" ]; then
  {
    echo '<?xml version="1.0" encoding="UTF-8"?>'
    echo "<testsuites><testsuite name=\"differential_fuzz\" tests=\"${#cases[@]}\" failures=\"$fail_count\">"
    printf '%s\n' "${cases[@]}"
    echo "</testsuite></testsuites>"
  } >"$XML_OUTPUT_FILE"
fi
if [ $fail_count -ne 0 ]; then
  echo "$fail_count comparison(s) failed"
  exit 1
fi
echo "all transcripts identical"
