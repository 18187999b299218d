#!/bin/sh
# demo_fleetd.sh BUILD_DIR -- part of `make demo`: fleetd runs the fleet.
# fleetd with its embedded mosquitto (a temporary data folder, free ports);
# 300 fleet-sim devices of two models, 150 thermo-v2 and 150 thermo-v3, on
# which 2.0.0 does not start; a rollout of 2.0.0 (a canary ring of ten
# thermo-v2 labelled with fleetctl, then two waves over both models, short
# soaks) followed with `fleetctl rollout status`: the canary passes, the
# first wave's health gate trips on thermo-v3 and fleetd rolls the whole
# fleet back by itself, the canary included; once every device has
# confirmed 1.0.0 again, 2.0.1, good on both models, through to complete,
# followed live with `fleetctl watch` in line mode (one line per change).
# Everything runs over TLS, as fleetd does by default: fleetd makes its
# fleet CA at the first start, each device gets a certificate from it
# (`fleetd pki devices`), fleet-sim connects with mqtts:// and downloads
# over HTTPS, fleetctl trusts the CA through FLEET_CA. The soak is 8 s:
# a device on trial must reach the broker within it, and a TLS reconnect
# storm of 200 rebooting devices on a loaded machine takes a few seconds.
# Every wait polls fleetd for a state, with a time limit and a clear
# message when it runs out. About 60 s (100 s on a busy machine).
set -eu
build=$1
top=$(cd "$(dirname "$0")/.." && pwd)
FLEETD=$top/$build/orchestrator/fleetd
FLEETCTL=$top/$build/dashboard-cli/fleetctl
SIM=$top/$build/agent/sim/fleet-sim
FREE_PORT=$top/$build/tests/free_port
JG=$top/$build/tests/fleetctl_json_get
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
N=150 # devices of each model
for p in "$FLEETD" "$FLEETCTL" "$SIM" "$FREE_PORT" "$JG" "$MOSQUITTO"; do
	if [ ! -x "$p" ]; then
		echo "demo_fleetd.sh: $p is missing; run 'make demo'" >&2
		exit 1
	fi
done

tmp=$(mktemp -d)
pids=""
cleanup() {
	# fleet-sim first, then fleetd (which stops its broker).
	for p in $pids; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
cd "$tmp"

say() { printf '%s\n' "$*"; }
die() {
	say "demo_fleetd.sh: $*" >&2
	[ ! -s fleetd.log ] || tail -5 fleetd.log >&2
	exit 1
}
t0=$(date +%s)
elapsed() { echo $(($(date +%s) - t0)); }

API_PORT=$("$FREE_PORT")
BROKER_PORT=$("$FREE_PORT")
cat >fleetd.yaml <<EOF
# fleetd for the demo: everything in this temporary folder
data: $tmp/data
listen: 127.0.0.1:$API_PORT
broker: embedded
broker_port: $BROKER_PORT
mosquitto: $MOSQUITTO
resend: 3s
offer_ttl: 1h
EOF
say "\$ fleetd --config fleetd.yaml   (data: a temporary folder; broker: embedded)"
"$FLEETD" --config fleetd.yaml >fleetd.out 2>fleetd.log &
fleetd=$!
i=0
until grep -q '^fleetd: API on ' fleetd.out 2>/dev/null; do
	kill -0 $fleetd 2>/dev/null || die "fleetd did not start"
	i=$((i + 1))
	[ $i -lt 300 ] || die "fleetd did not start within 30 s"
	sleep 0.1
done
cat fleetd.out
server=https://127.0.0.1:$API_PORT
export FLEET_CA="$tmp/data/pki/ca.crt"
export FLEET_TOKEN_FILE="$tmp/data/admin.token"
fleetctl() { "$FLEETCTL" --server "$server" "$@"; }
say
say "TLS everywhere: the broker wants a certificate of fleetd's CA from every"
say "device and lets each publish only as itself; the API and the images are"
say "HTTPS. One certificate per simulated device:"
say "\$ fleetd pki devices --prefix v2 --count $N --out certs   (and v3)"
mkdir certs
"$FLEETD" pki devices --data data --prefix v2 --count $N --out certs ||
	die "cannot issue the devices' certificates"
"$FLEETD" pki devices --data data --prefix v3 --count $N --out certs >/dev/null ||
	die "cannot issue the devices' certificates"

# sim PREFIX MODEL [OPTIONS]: N devices of one model, until stopped.
sim() {
	prefix=$1
	model=$2
	shift 2
	"$SIM" --broker "mqtts://127.0.0.1:$BROKER_PORT" --count $N \
		--cafile data/pki/ca.crt --certs certs \
		--prefix "$prefix" --model "$model" --labels site=lyon \
		--version 1.0.0 --key data/keys/signing.pub --reboot-ms 300 \
		--health-interval 1 --seed 7 "$@" >"sim-$prefix.out" \
		2>"sim-$prefix.err" &
	pids="$! $pids"
}
say
say "\$ fleet-sim --broker mqtts://127.0.0.1:$BROKER_PORT --cafile data/pki/ca.crt --certs certs \\"
say "    --count $N --prefix v2 --model thermo-v2 --version 1.0.0 ..."
say "\$ fleet-sim --count $N --prefix v3 --model thermo-v3 --version 1.0.0 --bad-version 2.0.0 ..."
sim v2 thermo-v2
sim v3 thermo-v3 --bad-version 2.0.0
pids="$pids $fleetd"
end=$(($(date +%s) + 60))
until [ "$(fleetctl --json devices --online 2>/dev/null |
	"$JG" 'devices.#' 2>/dev/null)" -ge $((2 * N)) ] 2>/dev/null; do
	[ "$(date +%s)" -lt $end ] ||
		die "not every device came online within 60 s"
	sleep 0.5
done
fleetctl devices | tail -1

# plan NAME VERSION: a plan for both models, canary and two waves.
plan() {
	head -c 200000 /dev/urandom >"fw-$2.bin"
	cat >"$1.yaml" <<EOF
rollout: $1
artifact:
  version: $2
  file: fw-$2.bin
  hardware: [thermo-v2, thermo-v3]
health:
  soak: 8s
  max_failure_rate: 10%
  min_devices: 4
  timeout: 60s
  on_failure: rollback
stages:
  - name: canary
    match: {ring: canary}
  - name: wave-1
    percent: 30
  - name: wave-2
    percent: 100
EOF
}

# follow NAME STATE SECONDS: the rollout's status every 3 s until it is in
# STATE (fails if it ends in another state, or time runs out).
follow() {
	end=$(($(date +%s) + $3))
	last=0
	for_now=""
	while :; do
		for_now=$(fleetctl --json rollout status "$1" | "$JG" state) ||
			die "fleetd does not answer about $1"
		now=$(date +%s)
		case $for_now in
		"$2") break ;;
		complete | rolled_back | cancelled)
			die "$1 ended $for_now, not $2" ;;
		esac
		[ "$now" -lt "$end" ] ||
			die "$1 is still $for_now after $3 s (waiting for $2)"
		if [ $((now - last)) -ge 3 ]; then
			say
			say "[t=$(elapsed)s] \$ fleetctl rollout status $1"
			fleetctl rollout status "$1"
			last=$now
		fi
		sleep 0.5
	done
	say
	say "[t=$(elapsed)s] \$ fleetctl rollout status $1"
	fleetctl rollout status "$1"
}

# on_version V: how many devices report firmware V.
on_version() {
	fleetctl devices | grep -c " $1 " || true
}

wait_version() {
	end=$(($(date +%s) + $2))
	until [ "$(on_version "$1")" -ge $((2 * N)) ]; do
		[ "$(date +%s)" -lt $end ] ||
			die "$(on_version "$1") of $((2 * N)) devices on $1 after $2 s"
		sleep 0.5
	done
	say "[t=$(elapsed)s] every device reports $1: $(fleetctl devices | tail -1)"
}

say
say "The canary ring: ten thermo-v2 devices, labelled on fleetd."
i=1
while [ $i -le 10 ]; do
	id=$(printf 'v2-%06d' $i)
	[ $i -gt 1 ] || say "\$ fleetctl label $id ring=canary   (v2-000001 ... v2-000010)"
	fleetctl label "$id" ring=canary >/dev/null
	i=$((i + 1))
done

say
say "---- 2.0.0: a new release, which does not start on thermo-v3"
plan thermo-2.0.0 2.0.0
say "\$ cat thermo-2.0.0.yaml"
cat thermo-2.0.0.yaml
say "\$ fleetctl rollout start thermo-2.0.0.yaml"
fleetctl rollout start thermo-2.0.0.yaml
follow thermo-2.0.0 rolled_back 60
say
say "(the canary, all thermo-v2, passed; wave-1 spans both models and its"
say " gate tripped on thermo-v3: fleetd offered nobody else, cancelled the"
say " offers in flight and sent a rollback to every device that had 2.0.0,"
say " the canary included, which goes back to 1.0.0 without a download; a"
say " thermo-v3 that failed its health check had gone back by itself)"
wait_version 1.0.0 60
say
say "Each device rolled back ran 1.0.0 on trial for the plan's soak before"
say "it confirmed; fleetd says rolled_back only once every device sent a"
say "rollback has answered (one that is away is waited for up to the plan's"
say "health.rollback_timeout), and a thermo-v3 whose rollback fleetd could"
say "not make, because nothing described its 1.0.0 image, counts as back"
say "once its boot loader went back by itself:"
end=$(($(date +%s) + 120))
last=0
while :; do
	back=$(fleetctl --json rollout status thermo-2.0.0 |
		"$JG" rollback.done rollback.failed rollback.pending rollback.sent |
		tr '\n' ' ') || die "fleetd does not answer about thermo-2.0.0"
	# shellcheck disable=SC2086 # four numbers, split on purpose
	set -- $back
	now=$(date +%s)
	if [ "$3" -eq 0 ] || [ $((now - last)) -ge 10 ]; then
		say "[t=$(elapsed)s] rollback of thermo-2.0.0: $1/$4 back, $2 failed, $3 pending"
		last=$now
	fi
	[ "$3" -ne 0 ] || break
	[ "$now" -lt "$end" ] ||
		die "the rollback of thermo-2.0.0 still has $3 devices pending after 120 s"
	sleep 0.5
done

say
say "---- 2.0.1: the fix, good on both models"
plan thermo-2.0.1 2.0.1
say "\$ fleetctl rollout start thermo-2.0.1.yaml"
fleetctl rollout start thermo-2.0.1.yaml
say "\$ fleetctl watch thermo-2.0.1 | cat   (the dashboard's line mode: stdout is not a terminal)"
timeout 120 "$FLEETCTL" --server "$server" watch thermo-2.0.1 | cat
follow thermo-2.0.1 complete 90
wait_version 2.0.1 30

say
say "---- summary"
say "\$ fleetctl rollout list"
fleetctl rollout list
say
# devices KIND: how many devices the event log of thermo-2.0.0 names
# with an event of this kind.
devices() {
	fleetctl events thermo-2.0.0 | awk -v k="$1" '$6 == k { print $5 }' |
		sort -u | wc -l
}
say "thermo-2.0.0, from its event log (fleetctl events thermo-2.0.0):"
say "  $(devices decision.offer) devices offered 2.0.0 (of $((2 * N))), $(devices report.reverted) reverted it by themselves, $(devices decision.rollback_device) sent a rollback by fleetd"
# Stop the fleets: each prints what its devices went through.
for p in $pids; do
	[ "$p" != "$fleetd" ] || continue
	if kill "$p" 2>/dev/null; then
		wait "$p" 2>/dev/null || true
	fi
done
pids=$fleetd
say
say "fleet-sim v2 (thermo-v2):"
cat sim-v2.out
say
say "fleet-sim v3 (thermo-v3, 2.0.0 bad):"
cat sim-v3.out
say
say "(demo_fleetd.sh: $(elapsed) s)"
