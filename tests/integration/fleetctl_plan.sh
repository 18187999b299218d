#!/bin/sh
# fleetctl_plan.sh -- runs the built fleetctl on the example plans and the
# sample inventory and checks what it prints and how it exits.
#
#   fleetctl_plan.sh CASE FLEETCTL JSON_GET SOURCE_DIR
#
# CASE is one of: validate_examples validate_bad usage simulate_sizes
# simulate_fail simulate_json simulate_default_fleet simulate_bad_inventory
# simulate_all_examples. Exit 0 when every check holds, 1 at the first that
# does not (with what was expected and what came out on stderr).
set -u
[ $# -eq 4 ] || { echo "usage: $0 CASE FLEETCTL JSON_GET SOURCE_DIR" >&2; exit 2; }
CASE=$1
F=$2
J=$3
SRC=$4
EX=$SRC/plans/examples
INV=$EX/fleet/inventory.yaml
START=2026-12-01T00:00:00Z
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "FAIL ($CASE): $*" >&2
	for f in out err; do
		if [ -s "$tmp/$f" ]; then
			echo "--- std$f:" >&2
			head -40 "$tmp/$f" >&2
		fi
	done
	exit 1
}

# run WANT_RC CMD...: runs CMD with stdout in $tmp/out, stderr in $tmp/err.
run() {
	want=$1
	shift
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "\`$*\` exited $rc, want $want"
}

# eq WHAT GOT WANT
eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# jget PATH: a value of the JSON in $tmp/out.
jget() {
	"$J" "$1" <"$tmp/out" || fail "no $1 in the JSON output"
}

plural() {
	if [ "$1" -eq 1 ]; then echo "$1 $2"; else echo "$1 ${2}s"; fi
}

sizes() {
	grep '^  size ' "$tmp/out" | awk '{print $2}' | tr '\n' ' '
}

# simulate OPTION...: complete.yaml over the sample inventory, seed 1.
simulate() {
	run 0 "$F" plan simulate "$EX/complete.yaml" --inventory "$INV" \
		--seed 1 --start $START "$@"
}

case $CASE in
validate_examples)
	n=0
	for f in "$EX"/*.yaml; do
		run 0 "$F" plan validate "$f"
		# The only warning an example may get: its listed devices
		# cannot be checked without a fleet (one per such stage).
		nlisted=$(grep -c 'checked only against a fleet' "$tmp/err")
		[ "$(grep -c ': warning: ' "$tmp/err")" -eq "$nlisted" ] ||
			fail "$f: unexpected warnings: $(cat "$tmp/err")"
		grep -q "^$f: ok ([0-9]* stages\{0,1\}, $(plural "$nlisted" warning))\$" \
			"$tmp/out" || fail "no ok line for $f"
		[ "$(grep -vc 'checked only against a fleet' "$tmp/err")" -eq 0 ] ||
			fail "diagnostics for $f"
		n=$((n + 1))
	done
	[ "$n" -ge 13 ] || fail "only $n example plans"
	run 0 "$F" plan validate "$EX"/*.yaml
	eq "summary lines" "$(wc -l <"$tmp/out" | tr -d ' ')" "$n"
	run 0 "$F" --json plan validate "$EX"/*.yaml
	eq "JSON entries" "$(jget '#')" "$n"
	i=0
	while [ $i -lt "$n" ]; do
		eq "entry $i ok" "$(jget $i.ok)" true
		eq "entry $i errors" "$(jget $i.n_errors)" 0
		i=$((i + 1))
	done
	eq "stages of complete.yaml" \
		"$("$F" plan validate "$EX/complete.yaml" | sed 's/.*(//')" \
		"4 stages, 1 warning)"
	;;
validate_bad)
	cd "$EX/bad" || fail "no $EX/bad"
	n=0
	for y in *.yaml; do
		b=${y%.yaml}
		n=$((n + 1))
		if [ ! -f "$b.expected" ]; then
			run 1 "$F" plan validate "$y"
			continue
		fi
		nerr=$(grep -c ': error: ' "$b.expected")
		if [ "$nerr" -gt 0 ]; then
			run 1 "$F" plan validate "$y"
			eq "$y summary" "$(cat "$tmp/out")" \
				"$y: $(plural "$nerr" error)"
		else
			run 0 "$F" plan validate "$y"
			nwarn=$(grep -c ': warning: ' "$b.expected")
			grep -q "^$y: ok (.*, $(plural "$nwarn" warning))\$" \
				"$tmp/out" || fail "$y: no ok line"
		fi
		cmp -s "$tmp/err" "$b.expected" ||
			fail "$y: diagnostics differ from $b.expected: $(diff "$b.expected" "$tmp/err" | head -5)"
	done
	[ "$n" -ge 10 ] || fail "only $n bad plans"
	run 1 "$F" --json plan validate unknown-key.yaml
	eq "ok" "$(jget 0.ok)" false
	eq "file" "$(jget 0.file)" unknown-key.yaml
	eq "line" "$(jget 0.errors.0.line)" 8
	eq "col" "$(jget 0.errors.0.col)" 3
	eq "severity" "$(jget 0.errors.0.severity)" error
	eq "message" "$(jget 0.errors.0.message)" \
		'unknown key `sok` in `health`; did you mean `soak`?'
	[ -s "$tmp/err" ] && fail "--json printed diagnostics on stderr"
	# One bad file among good ones fails the whole run.
	run 1 "$F" plan validate "$EX/minimal.yaml" unknown-key.yaml
	grep -q "minimal.yaml: ok" "$tmp/out" || fail "no ok line for minimal"
	grep -q "^unknown-key.yaml: 1 error\$" "$tmp/out" ||
		fail "no error line for unknown-key"
	;;
usage)
	for args in "" "plan" "plan validate" "plan simulate" "--bogus" \
		"plan bogus" "--server" "rollout" "approve x" "pause" \
		"plan validate --bogus $EX/minimal.yaml" \
		"plan simulate $EX/minimal.yaml $EX/soak.yaml" \
		"plan simulate $EX/minimal.yaml --fail sensor-v1" \
		"plan simulate $EX/minimal.yaml --fail sensor-v1:120%" \
		"plan simulate $EX/minimal.yaml --fail sensor-v1:5%:melt" \
		"plan simulate $EX/minimal.yaml --seed -1" \
		"plan simulate $EX/minimal.yaml --start 2026-12-01" \
		"plan simulate $EX/minimal.yaml --approve-after soon" \
		"plan simulate $EX/minimal.yaml --approve-hold x@never" \
		"plan simulate $EX/minimal.yaml --horizon 0s" \
		"plan simulate $EX/minimal.yaml --inventory" \
		"plan simulate $EX/minimal.yaml --frobnicate 1"; do
		# shellcheck disable=SC2086
		run 2 "$F" $args
		grep -q "usage:" "$tmp/err" || fail "no usage text for '$args'"
		[ "$(head -c1 "$tmp/err")" != "" ] || fail "empty stderr"
	done
	# The server commands (tests/integration/fleetctl_server.sh) with no
	# fleetd: one line that says so.
	for args in "rollout list" "rollout start $EX/minimal.yaml" \
		"rollout status x" "pause x" "resume x" "approve x y" \
		"rollback x" "devices" "device d" "events" "watch x"; do
		# shellcheck disable=SC2086
		run 1 "$F" --server http://127.0.0.1:1 $args
		grep -q "fleetd is not running at http://127.0.0.1:1" "$tmp/err" ||
			fail "'$args' does not say fleetd is not running"
		eq "lines on stderr for '$args'" "$(wc -l <"$tmp/err" | tr -d ' ')" 1
	done
	FLEET_SERVER=http://example.invalid:8080 run 1 "$F" devices
	grep -q "example.invalid" "$tmp/err" || fail "FLEET_SERVER not used"
	run 1 "$F" plan validate /nonexistent/plan.yaml
	run 1 "$F" plan simulate /nonexistent/plan.yaml
	run 1 "$F" plan simulate "$EX/complete.yaml" --approve-hold nope
	eq "reason" "$(cat "$tmp/err")" \
		"fleetctl: --approve-hold: $EX/complete.yaml has no hold named \`nope\`"
	run 0 "$F" --help
	grep -q "plan validate FILE" "$tmp/out" || fail "--help"
	run 0 "$F" --version
	grep -q "^fleetctl [0-9]" "$tmp/out" || fail "--version"
	run 0 "$F" plan simulate --help
	grep -q "inventory file" "$tmp/out" || fail "simulate --help"
	;;
simulate_sizes)
	simulate
	# By hand from the sample inventory: 1000 targets; canary 2 listed,
	# early ceil(10%) - 2 = 98, half 500 - 100 = 400, everyone 500.
	eq "stage sizes" "$(sizes)" "2 98 400 500 "
	grep -q "inventory.yaml: 1468 devices, 1000 targets" "$tmp/out" ||
		fail "fleet line"
	grep -q "not targets: 432 model, 20 labels, 15 version, 1 excluded" \
		"$tmp/out" || fail "not-target line"
	grep -q "^outcome  *complete at" "$tmp/out" || fail "not complete"
	grep -q "500 devices still held by eu-radio-cert" "$tmp/out" ||
		fail "held devices"
	grep -q "^  models     thermo-v2 49, thermo-v3 49\$" "$tmp/out" ||
		fail "early's models"
	grep -q "hold eu-radio-cert (until approved) is never approved" \
		"$tmp/out" || fail "says nothing of the hold it never approves"
	grep -q "approved 0s after it is awaited" "$tmp/out" ||
		fail "says nothing of the approval it assumes"
	grep -q "^  waited     rate from " "$tmp/out" || fail "rate wait"
	simulate --json
	eq "targets" "$(jget fleet.targets)" 1000
	for k in 0 1 2 3; do
		eq "stage $k state" "$(jget stages.$k.state)" passed
	done
	eq "size 0" "$(jget stages.0.size)" 2
	eq "size 1" "$(jget stages.1.size)" 98
	eq "size 2" "$(jget stages.2.size)" 400
	eq "size 3" "$(jget stages.3.size)" 500
	eq "cumulative 3" "$(jget stages.3.cumulative)" 1000
	eq "canary started" "$(jget stages.0.started_at)" "$START"
	eq "early by region" "$(jget stages.1.by_region.us)" 49
	eq "approval" "$(jget stages.2.approved_at)" \
		"$(jget stages.2.awaited_at)"
	eq "state" "$(jget outcome.state)" complete
	eq "rollback" "$(jget outcome.rollback)" null
	eq "on the new version" "$(jget outcome.running_new_version)" 500
	eq "held" "$(jget holds.0.held_at_end)" 500
	# The whole fleet once the hold is approved at the start.
	simulate --json --approve-hold eu-radio-cert
	eq "on the new version" "$(jget outcome.running_new_version)" 1000
	eq "held" "$(jget holds.0.held_at_end)" 0
	eq "hold approved" "$(jget holds.0.approved_at)" "$START"
	;;
simulate_fail)
	simulate --fail thermo-v3:100%
	eq "stage sizes" "$(sizes)" "2 98 "
	grep -q "^  FAILED     .*failure rate" "$tmp/out" || fail "no FAILED"
	grep -q "^outcome      ROLLED BACK: stage early failed its gate" \
		"$tmp/out" || fail "no rollback by early"
	simulate --json --fail thermo-v3:100%
	eq "state" "$(jget outcome.state)" rolled_back
	eq "stage" "$(jget outcome.rollback.stage)" early
	eq "canary" "$(jget stages.0.state)" passed
	eq "early" "$(jget stages.1.state)" failed
	eq "half" "$(jget stages.2.state)" pending
	eq "half started" "$(jget stages.2.started_at)" null
	had=$(jget outcome.rollback.had_installed_new_version)
	[ "$had" -gt 1 ] || fail "only $had devices had the new version"
	eq "rollbacks sent" "$(jget outcome.rollback.sent)" "$had"
	eq "rollbacks done" "$(jget outcome.rollback.done)" "$had"
	eq "rollbacks failed" "$(jget outcome.rollback.failed)" 0
	eq "ever installed" "$(jget outcome.installed_new_version)" "$had"
	eq "still on it" "$(jget outcome.running_new_version)" 0
	judged=$(jget stages.1.gate.judged)
	failed=$(jget stages.1.gate.failed)
	[ "$judged" -ge 10 ] || fail "judged $judged < min_devices 10"
	[ $((failed * 20)) -gt "$judged" ] || fail "$failed/$judged <= 5%"
	# By hand with the EU hold approved: the canary is dev-0007 (v3,
	# fails) and dev-0019 (v2); judged on both, 1 of 2 > 5%, and both
	# had the new version, so both are rolled back.
	simulate --json --fail thermo-v3:100% --approve-hold eu-radio-cert
	eq "stage" "$(jget outcome.rollback.stage)" canary
	eq "gate failed" "$(jget stages.0.gate.failed)" 1
	eq "gate judged" "$(jget stages.0.gate.judged)" 2
	eq "had it" "$(jget outcome.rollback.had_installed_new_version)" 2
	eq "sent" "$(jget outcome.rollback.sent)" 2
	eq "done" "$(jget outcome.rollback.done)" 2
	eq "early" "$(jget stages.1.started_at)" null
	# An install failure never puts 2.4.0 on dev-0007.
	simulate --json --fail thermo-v3:100%:install \
		--approve-hold eu-radio-cert
	eq "stage" "$(jget outcome.rollback.stage)" canary
	eq "sent" "$(jget outcome.rollback.sent)" 1
	# A label rule: 0% fails nobody.
	simulate --json --fail region=us:0%
	eq "state" "$(jget outcome.state)" complete
	;;
simulate_json)
	simulate --json --fail region=us:10%
	cp "$tmp/out" "$tmp/a.json"
	eq "plan" "$(jget plan.rollout)" thermostat-2.4.0
	eq "fail rule" "$(jget options.fail.0.label)" region
	eq "fail rate" "$(jget options.fail.0.rate)" 0.1
	eq "seed" "$(jget options.seed)" 1
	eq "stages" "$(jget stages.#)" 4
	[ "$(jget timeline.#)" -gt 3 ] || fail "short timeline"
	# --json before the command works too, and the run is deterministic.
	run 0 "$F" --json plan simulate "$EX/complete.yaml" --inventory "$INV" \
		--seed 1 --start $START --fail region=us:10%
	cmp -s "$tmp/out" "$tmp/a.json" || fail "same seed, different JSON"
	simulate --fail region=us:10%
	cp "$tmp/out" "$tmp/a.txt"
	simulate --fail region=us:10%
	cmp -s "$tmp/out" "$tmp/a.txt" || fail "same seed, different text"
	# Every example plan's report parses.
	for f in "$EX"/*.yaml; do
		run 0 "$F" --json plan simulate "$f" --inventory "$INV" \
			--start $START
		"$J" . <"$tmp/out" >/dev/null || fail "$f: not JSON"
	done
	;;
simulate_default_fleet)
	run 0 "$F" plan simulate "$EX/complete.yaml" --start $START
	grep -q "no --inventory: a default fleet of 100 devices per model" \
		"$tmp/out" || fail "does not say it made up the fleet"
	# 100 per model + dev-0007 and dev-0019 = 202 targets: canary 2,
	# ceil(20.2) - 2 = 19, 101 - 21 = 80, 202 - 101 = 101.
	eq "stage sizes" "$(sizes)" "2 19 80 101 "
	run 0 "$F" --json plan simulate "$EX/canary-label.yaml" --start $START
	eq "default" "$(jget fleet.is_default)" true
	eq "canary" "$(jget stages.0.size)" 5
	eq "dogfood" "$(jget stages.1.size)" 5
	eq "everyone" "$(jget stages.2.size)" 90
	;;
simulate_bad_inventory)
	printf 'devices:\n  - {id: a, modle: m}\n' >"$tmp/inv.yaml"
	run 1 "$F" plan simulate "$EX/minimal.yaml" --inventory "$tmp/inv.yaml"
	eq "diagnostic" "$(head -1 "$tmp/err")" \
		"$tmp/inv.yaml:2:13: error: unknown key \`modle\` in \`devices\`; did you mean \`model\`?"
	grep -q "cannot simulate" "$tmp/err" || fail "no reason line"
	[ -s "$tmp/out" ] && fail "a report despite the errors"
	run 1 "$F" plan simulate "$EX/minimal.yaml" --inventory "$tmp/none.yaml"
	run 1 "$F" plan simulate "$EX/bad/unknown-key.yaml" --inventory "$INV"
	grep -q "unknown-key.yaml:8:3: error:" "$tmp/err" || fail "plan error"
	;;
simulate_all_examples)
	for f in "$EX"/*.yaml; do
		run 0 "$F" plan simulate "$f" --inventory "$INV" --start $START
		grep -q "^outcome  *complete at" "$tmp/out" ||
			fail "$f does not complete"
	done
	;;
*)
	echo "$0: unknown case $CASE" >&2
	exit 2
	;;
esac
exit 0
