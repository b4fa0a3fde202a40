#!/usr/bin/env bash
# Debian's stress-ng mq stressor under `mqsentry run`, judged from its machine output.
#   stress_ng_mq_test.sh MQSENTRY
# stress-ng exits 0 from many runs whose calls failed, so the judgement reads its YAML
# metrics and its log: the mq stressor must report at least --mq-ops bogo-ops, the log
# must hold no failure, error or verification message, and the exit status must be 0.
# The same run is first made natively and must pass the same judgement (this proves the
# check), then under mqsentry with --strace-log, whose successful mq_timedsend lines must
# cover every bogo-op (so the test cannot pass if the calls were not trapped).
set -u
mqsentry=$(realpath "$1")
ops=2000
instances=2
limit=60  # seconds per run

fail() { echo "FAIL: $*"; exit 1; }
command -v stress-ng >/dev/null || fail "stress-ng is not installed (tools/install-deps)"
[ -x "$mqsentry" ] || fail "mqsentry binary '$mqsentry' is not executable"

work=${TEST_TMPDIR:-}
[ -n "$work" ] || { work=$(mktemp -d); trap 'rm -rf "$work"' EXIT; }
cd "$work" || fail "cannot enter $work"

# run_stress LABEL [WRAPPER...]: runs stress-ng (under WRAPPER if given) into LABEL.yaml and
# LABEL.log, and sets $rc.
run_stress() {
  local label=$1
  shift
  rm -f "$label.yaml" "$label.log" "$label.out"
  # stress-ng stops itself at the ops limit; --timeout bounds a run that stops making
  # progress (it then reports fewer bogo-ops and fails the judgement), and timeout(1) is
  # the last resort.
  timeout -k 10 $((limit + 30)) "$@" stress-ng --mq "$instances" --mq-ops "$ops" --verify \
    --timeout "${limit}s" --metrics-brief --temp-path "$work" \
    --yaml "$label.yaml" --log-file "$label.log" >"$label.out" 2>&1
  rc=$?
}

# judge LABEL: the judgement, the same for the native and the sandboxed run. Sets $bogo.
judge() {
  local label=$1 bad
  echo "--- $label: stress-ng output (exit status $rc)"
  cat "$label.out"
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && fail "$label: stress-ng did not finish within $((limit + 30)) s"
  [ $rc -eq 0 ] || fail "$label: stress-ng exited with status $rc (0 expected)"
  [ -s "$label.yaml" ] || fail "$label: stress-ng wrote no YAML metrics ($label.yaml)"
  [ -s "$label.log" ] || fail "$label: stress-ng wrote no log ($label.log)"
  # metrics:
  #     - stressor: mq
  #       bogo-ops: 2000
  bogo=$(awk '/^ *- stressor:/ { in_mq = ($3 == "mq") }
              in_mq && /^ *bogo-ops:/ { print $2; exit }' "$label.yaml")
  [ -n "$bogo" ] || fail "$label: no bogo-ops for stressor mq in $label.yaml"
  [[ $bogo =~ ^[0-9]+$ ]] || fail "$label: bogo-ops '$bogo' is not a number"
  echo "$label: mq bogo-ops = $bogo (at least $ops expected)"
  [ "$bogo" -ge "$ops" ] || fail "$label: the mq stressor completed $bogo bogo-ops, fewer than --mq-ops $ops"
  # pr_fail lines ("fail: ... mq_receive: expected message containing ..."), errno reports
  # ("mq_open failed, errno=..."), skipped stressors, and the final "unsuccessful run".
  bad=$(grep -iE 'fail|error|errno|verif|unexpected|expected|skipp|unsuccessful|untrustworthy|warn' \
    "$label.log" "$label.out")
  [ -z "$bad" ] || fail "$label: stress-ng reported problems:
$bad"
  grep -q 'successful run completed' "$label.log" ||
    fail "$label: the log does not end with 'successful run completed'"
  echo "$label: PASS"
}

run_stress native
judge native || exit 1

run_stress sandboxed "$mqsentry" run --strace-log "$work/sandboxed.strace" --
judge sandboxed || exit 1

# The calls really went through the sandbox: every bogo-op is a message sent, so there are
# at least as many successful (emulated) mq_timedsend calls in the trace as bogo-ops.
[ -s sandboxed.strace ] || fail "mqsentry traced no call (sandboxed.strace is empty): nothing was trapped"
sends=$(grep -cE 'mq_timedsend(\(.*| resumed>)\) = 0$' sandboxed.strace)
receives=$(grep -cE 'mq_timedreceive(\(.*| resumed>)\) = [1-9][0-9]*$' sandboxed.strace)
opens=$(grep -cE 'mq_open\(.*\) = [0-9]+$' sandboxed.strace)
echo "mqsentry trace: $(wc -l <sandboxed.strace) lines; successful mq_open $opens," \
  "mq_timedsend $sends, mq_timedreceive $receives"
[ "$opens" -ge "$instances" ] || fail "fewer than $instances successful mq_open calls were emulated"
[ "$sends" -gt 0 ] && [ "$sends" -ge "$bogo" ] ||
  fail "only $sends successful mq_timedsend calls were emulated for $bogo bogo-ops"
[ "$receives" -gt 0 ] || fail "no message was received through mqsentry"
echo "PASS: stress-ng --mq $instances --mq-ops $ops --verify: $bogo bogo-ops under mqsentry"
