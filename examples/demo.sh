#!/bin/sh
# demo.sh [BUILD_DIR] -- the most complete story the project tells so far
# (make demo runs it): one device updated A to B through a power cut and a
# bad release caught by its health check; then a rollout plan checked and
# rehearsed against a 1,468-device fleet, with and without a bad model;
# then 200 simulated devices over a real MQTT broker, driven by hand with
# mosquitto_pub: an update through power cuts, and a bad version that every
# device reverts by itself (examples/demo_fleet.sh).
set -eu
build=${1:-build/dev}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
for t in examples/demo_ab dashboard-cli/fleetctl; do
	if [ ! -x "$build/$t" ]; then
		echo "demo.sh: $build/$t is not built; run 'make demo'" >&2
		exit 1
	fi
done
fleetctl="$build/dashboard-cli/fleetctl"

part() {
	printf '\n######## %s\n\n' "$*"
}

part "1. A device: A/B update, power cut, bad release"
"$build/examples/demo_ab"

part "2. A rollout plan, checked: fleetctl plan validate"
echo "\$ fleetctl plan validate plans/examples/complete.yaml plans/examples/minimal.yaml"
"$fleetctl" plan validate plans/examples/complete.yaml plans/examples/minimal.yaml
echo
echo "\$ fleetctl plan validate plans/examples/bad/unknown-key.yaml plans/examples/bad/unknown-tz.yaml"
"$fleetctl" plan validate plans/examples/bad/unknown-key.yaml \
	plans/examples/bad/unknown-tz.yaml 2>&1 || echo "(exit status $?: errors, as expected)"

sim="plan simulate plans/examples/complete.yaml --inventory plans/examples/fleet/inventory.yaml --seed 1 --start 2026-12-01T00:00:00Z"
part "3. The plan rehearsed on a simulated fleet: fleetctl plan simulate"
echo "\$ fleetctl $sim --approve-hold eu-radio-cert"
# shellcheck disable=SC2086
"$fleetctl" $sim --approve-hold eu-radio-cert

part "4. The same rollout with a bad build for thermo-v3: caught, rolled back"
echo "\$ fleetctl $sim --approve-hold eu-radio-cert --fail thermo-v3:100%"
# shellcheck disable=SC2086
"$fleetctl" $sim --approve-hold eu-radio-cert --fail thermo-v3:100%

part "5. A fleet over MQTT: 200 fleet-sim devices driven with mosquitto_pub"
sh examples/demo_fleet.sh "$build"

part "6. fleetd: a rollout caught and rolled back, then a good one"
sh examples/demo_fleetd.sh "$build"
