#!/bin/sh
# fleetctl_watch.sh -- `fleetctl watch` driven as an operator would, in a
# real terminal (tmux, its own server socket) against a real fleetd with
# its embedded broker and four fleet-sim devices on free loopback ports:
#
#   - a rollout of 2.0.0 whose second stage needs an approval: the canary
#     passes and the dashboard says what it waits for;
#   - `fleetctl rollback` with no NAME names the one active rollout, shows
#     the preview and asks on the terminal; `n` does nothing;
#   - in the dashboard: `p` pauses, `a` opens the chooser and Enter
#     approves the stage, the window shrinks to 80x24 and the dashboard fits it,
#     `R` asks y/N with the preview and `y` rolls the fleet back, `?`
#     shows the help, Tab the device table, `q` quits with status 0;
#     fleetd's state is read back through the API after each key;
#   - the overview (no NAME) with NO_COLOR set, left with Ctrl-C (0);
#   - line mode (stdout a file) beside it all: one line per change, and it
#     ends by itself once the rollout is rolled back.
#
#   fleetctl_watch.sh FLEETCTL FLEETD FLEET_SIM FREE_PORT JSON_GET MOSQUITTO
#
# Exit 0 when every check holds, 1 at the first that does not (with the
# screen and the logs). FLEETCTL_WATCH_KEEP=1 keeps the folder.
set -u
[ $# -eq 6 ] || {
	echo "usage: $0 FLEETCTL FLEETD FLEET_SIM FREE_PORT JSON_GET MOSQUITTO" >&2
	exit 2
}
F=$1
FLEETD=$2
SIM=$3
FREE_PORT=$4
JG=$5
MOSQUITTO=$6
NAME=fw-2.0.0
tmp=$(mktemp -d)
SOCK="fleetctl-watch-$$"
fleetd_pid=
sim_pid=
lines_pid=
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
cleanup() {
	tm kill-server 2>/dev/null
	[ -n "$lines_pid" ] && kill "$lines_pid" 2>/dev/null
	[ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
	[ -n "$fleetd_pid" ] && kill "$fleetd_pid" 2>/dev/null && wait "$fleetd_pid" 2>/dev/null
	if [ "${FLEETCTL_WATCH_KEEP:-}" = 1 ]; then
		echo "kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
unset FLEET_SERVER NO_COLOR FLEET_TOKEN FLEET_TOKEN_FILE FLEET_CA
export USER=tester

fail() {
	echo "FAIL: $*" >&2
	echo "--- screen:" >&2
	tm capture-pane -p -t watch 2>/dev/null >&2
	for f in fleetd.log sim.log lines.out watch.rc; do
		[ -s "$tmp/$f" ] || continue
		echo "--- $f:" >&2
		tail -20 "$tmp/$f" >&2
	done
	exit 1
}

# until SECONDS CMD...: retries CMD every 0.2 s.
until_ok() {
	n=$(($1 * 5))
	shift
	while ! "$@" >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.2
	done
}

screen() { tm capture-pane -p -t "${1:-watch}"; }
shows() { screen "${2:-watch}" | grep -qF -- "$1"; }
see() { until_ok 15 shows "$@" || fail "the screen does not show \`$1\`"; }
key() { tm send-keys -t watch "$@"; }
api() { "$F" --json "$@" 2>/dev/null; }
field() { api rollout status "$NAME" | "$JG" "$1" 2>/dev/null; }
is_field() { [ "$(field "$1")" = "$2" ]; }
want_field() { until_ok 15 is_field "$1" "$2" || fail "$1 is $(field "$1"), not $2"; }

cd "$tmp" || exit 1

# ---- fleetd and the fleet ------------------------------------------------
# Over TLS, as fleetd runs by default: fleetctl trusts its CA (FLEET_CA)
# and sends the admin token; each device has a certificate of the CA.
API_PORT=$("$FREE_PORT")
BROKER_PORT=$("$FREE_PORT")
cat >fleetd.yaml <<EOF
data: $tmp/data
listen: 127.0.0.1:$API_PORT
broker: embedded
broker_port: $BROKER_PORT
mosquitto: $MOSQUITTO
resend: 3s
offer_ttl: 1h
EOF
"$FLEETD" --config fleetd.yaml >fleetd.out 2>fleetd.log &
fleetd_pid=$!
until_ok 30 grep -q '^fleetd: API on ' fleetd.out || fail "fleetd did not start"
export FLEET_SERVER="https://127.0.0.1:$API_PORT"
export FLEET_CA="$tmp/data/pki/ca.crt"
export FLEET_TOKEN_FILE="$tmp/data/admin.token"
mkdir certs
"$FLEETD" pki devices --data data --prefix dev --count 4 --out certs \
	>pki.out 2>&1 || fail "cannot issue the devices' certificates: $(cat pki.out)"
"$SIM" --broker "mqtts://127.0.0.1:$BROKER_PORT" --cafile data/pki/ca.crt \
	--certs certs --count 4 --prefix dev --model sim-model --version 1.0.0 --key data/keys/signing.pub \
	--reboot-ms 200 --health-interval 1 --image-size 8192 >sim.log 2>&1 &
sim_pid=$!
online() { [ "$(api devices --online | "$JG" 'devices.#')" -ge 4 ]; }
until_ok 30 online || fail "the devices did not come online"

head -c 20000 /dev/urandom >fw-2.0.0.bin
cat >plan.yaml <<EOF
rollout: $NAME
artifact:
  version: 2.0.0
  file: fw-2.0.0.bin
  hardware: [sim-model]
health:
  soak: 3s
  on_failure: rollback
stages:
  - name: canary
    count: 1
  - name: rest
    percent: 100
    approval: required
EOF
"$F" rollout start plan.yaml >start.out 2>&1 || fail "rollout start: $(cat start.out)"

# Line mode beside it all: stdout is a file.
"$F" watch "$NAME" >lines.out 2>lines.err &
lines_pid=$!

# ---- the dashboard -------------------------------------------------------
tm new-session -d -s watch -x 100 -y 30 \
	"sh -c '\"$F\" watch $NAME; echo \$? >\"$tmp/watch.rc\"'" ||
	fail "tmux would not start"
see "fleetctl watch: $NAME"
see "waiting for approval of stage rest: press a"
shows "canary" || fail "no canary stage"
shows "p pause" || fail "no keys in the footer"

# `fleetctl rollback` with no NAME: names the one active rollout and asks.
tm new-window -d -t watch -n ask "sh -c '\"$F\" rollback; echo rc=\$?; sleep 30'"
see "the one active rollout is $NAME" watch:ask
see "Roll back $NAME? [y/N]" watch:ask
tm send-keys -t watch:ask n Enter
see "not confirmed, nothing done" watch:ask
see "rc=1" watch:ask
tm kill-window -t watch:ask
want_field state running

# p: paused (first, so that the approved stage does not run to the end
# before R).
key p
want_field paused true
see "paused $NAME"
see "$NAME  paused"

# a: the chooser, Enter approves.
key a
see "Approve:"
shows "1 rest" || fail "the chooser does not offer the stage rest"
key Enter
want_field stages.1.approval.approved true
see "approved rest of $NAME"
want_field paused true

# The window shrinks: the dashboard redraws to fit.
tm resize-window -t watch -x 80 -y 24
fits() {
	[ "$(screen | wc -l)" -le 24 ] &&
		screen | tail -1 | grep -q "p pause\|paused" &&
		[ "$(screen | awk '{ if (length($0) > m) m = length($0) } END { print m }')" -le 80 ] &&
		shows "fleetctl watch: $NAME"
}
until_ok 10 fits || fail "the dashboard does not fit 80x24"

# R: the preview and y/N; y rolls back.
key R
see "Roll back $NAME?"
see "[y/N]"
see "go back"
key y
is_back() { s=$(field state); [ "$s" = rolling_back ] || [ "$s" = rolled_back ]; }
until_ok 15 is_back || fail "not rolled back: $(field state)"
see "ROLLBACK to the old version, by an operator"

# ? shows the help, any key closes it; Tab Tab shows the devices.
key "?"
see "fleetctl watch: keys"
key x
until_ok 5 sh -c "! tmux -L $SOCK -f /dev/null capture-pane -p -t watch | grep -qF 'fleetctl watch: keys'" ||
	fail "the help does not close"
key Tab
key Tab
see "STATE      STEP"
see "dev-00000"

# q quits with status 0.
key q
until_ok 10 test -s watch.rc || fail "watch did not exit on q"
[ "$(cat watch.rc)" = 0 ] || fail "watch exited $(cat watch.rc) on q"

# ---- the overview, without colour, left with Ctrl-C ----------------------
# (the shell around it ignores SIGINT, so that it lives to write the
# status; fleetctl sets its own handler)
tm new-session -d -s watch -x 100 -y 30 \
	"sh -c 'trap \"\" INT; NO_COLOR=1 \"$F\" watch; echo \$? >\"$tmp/watch.rc\"'" ||
	fail "tmux would not start"
rm -f watch.rc
see "fleetctl watch: "
# the rollout rolled back (no longer active) or still rolling back
overview() { shows "no active rollout: waiting for one" || shows "> $NAME"; }
until_ok 10 overview || fail "the overview shows neither $NAME nor that none is active"
key C-c
until_ok 10 test -s watch.rc || fail "watch did not exit on Ctrl-C"
[ "$(cat watch.rc)" = 0 ] || fail "watch exited $(cat watch.rc) on Ctrl-C"

# ---- line mode -----------------------------------------------------------
# It ends by itself once the rollout is rolled back.
wait_lines() { ! kill -0 "$lines_pid" 2>/dev/null; }
until_ok 40 wait_lines || fail "line mode still runs: $(field state)"
wait "$lines_pid"
rc=$?
lines_pid=
[ $rc -eq 0 ] || fail "line mode exited $rc: $(cat lines.err)"
for want in "$NAME running, stage " "action.approve $NAME name=rest" \
	"action.pause $NAME" "waiting for approval of stage rest" \
	"action.rollback $NAME" "$NAME rolled_back"; do
	grep -qF -- "$want" lines.out || fail "line mode did not print \`$want\`"
done
# One line per change: no line twice in a row.
[ "$(cut -d' ' -f2- lines.out | uniq -d | wc -l)" -eq 0 ] ||
	fail "line mode repeated a line"
exit 0
