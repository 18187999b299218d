#!/bin/sh
# fleetctl_server.sh -- runs the built fleetctl against a fake fleetd API
# (support/fake_api_server.c: canned answers per route, every request
# recorded) and checks what fleetctl printed, how it exited and what it
# sent. The canned answers are the unit tests' (unit/fleetctl/api/), which
# follow docs/api.md.
#
#   fleetctl_server.sh CASE FLEETCTL FAKE_API_SERVER JSON_GET SOURCE_DIR
#
# CASE is one of: start start_upload start_invalid list status actions
# rollback_refused rollback_yes rollback_pick rollback_wait rollback_tty
# errors refused devices device events events_follow label usage auth. Exit 0
# when every check holds, 1 at the first that does not.
set -u
[ $# -eq 5 ] || {
	echo "usage: $0 CASE FLEETCTL FAKE_API_SERVER JSON_GET SOURCE_DIR" >&2
	exit 2
}
CASE=$1
F=$2
FAKE=$3
J=$4
API=$5/tests/unit/fleetctl/api
tmp=$(mktemp -d)
srv_pid=
bg_pid=
cleanup() {
	[ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null
	[ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# Nothing of the caller's may reach fleetctl: the server and the token
# come from serve (the fake API wants TOKEN, as fleetd wants its token),
# the operator is "tester", and no default token file is found.
unset FLEET_SERVER FLEET_TOKEN FLEET_TOKEN_FILE
export USER=tester
export XDG_STATE_HOME="$tmp/state"
TOKEN=flt_tester_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef

fail() {
	echo "FAIL ($CASE): $*" >&2
	for f in out err log; do
		if [ -s "$tmp/$f" ]; then
			echo "--- $f:" >&2
			head -40 "$tmp/$f" >&2
		fi
	done
	exit 1
}

# serve: starts the fake API with the routes on stdin, wanting TOKEN;
# sets FLEET_SERVER and FLEET_TOKEN.
serve() {
	cat >"$tmp/routes"
	: >"$tmp/log"
	"$FAKE" --routes "$tmp/routes" --log "$tmp/log" --token "$TOKEN" \
		>"$tmp/port" 2>"$tmp/srv.err" &
	srv_pid=$!
	i=0
	while ! grep -q '^closed ' "$tmp/port" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "the fake API did not start: $(cat "$tmp/srv.err")"
		kill -0 "$srv_pid" 2>/dev/null || fail "the fake API exited: $(cat "$tmp/srv.err")"
		sleep 0.05
	done
	PORT=$(sed -n 's/^port //p' "$tmp/port")
	CLOSED=$(sed -n 's/^closed //p' "$tmp/port") # bound, refuses
	export FLEET_SERVER="http://127.0.0.1:$PORT"
	export FLEET_TOKEN="$TOKEN"
}

unserve() {
	kill "$srv_pid" && wait "$srv_pid" 2>/dev/null
	srv_pid=
}

# run WANT_RC CMD...: CMD with no terminal on stdin, stdout in $tmp/out,
# stderr in $tmp/err.
run() {
	want=$1
	shift
	"$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq "$want" ] || fail "\`$*\` exited $rc, want $want"
}

eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

# has FILE LINE: FILE has LINE exactly.
has() {
	grep -qxF -- "$2" "$tmp/$1" || fail "no line \`$2\` in $1"
}

hasnt() {
	! grep -qF -- "$2" "$tmp/$1" || fail "\`$2\` in $1"
}

# requests: the log's lines, METHOD and URI only.
requests() {
	cut -d' ' -f1,2 "$tmp/log"
}

# body N: the JSON body of the log's line N.
body() {
	sed -n "${1}p" "$tmp/log" | cut -d' ' -f3-
}

jget() {
	"$J" "$1" || fail "no $1 in the JSON"
}

# A plan and its artifact, valid for the local validator.
make_plan() {
	printf 'firmware image\n' >"$tmp/fw.bin"
	cat >"$tmp/plan.yaml" <<-EOF
	rollout: sensor-0.9.2
	artifact:
	  version: 0.9.2
	  file: fw.bin
	  hardware: [sensor-v1]
	stages:
	  - name: canary
	    count: 2
	  - percent: 100
	EOF
	SHA=$(sha256sum "$tmp/fw.bin" | cut -d' ' -f1)
}

R=/api/v1/rollouts/thermo-2.4.0

case $CASE in
start)
	make_plan
	serve <<-EOF
	HEAD /api/v1/artifacts/$SHA 200 -
	POST /api/v1/rollouts 201 $API/rollout_created.json
	EOF
	run 0 "$F" rollout start "$tmp/plan.yaml"
	has out "artifact $tmp/fw.bin (15 B, sha256 $(echo "$SHA" | cut -c1-12)): already on fleetd"
	has out "started rollout thermo-2.4.0: firmware 2.4.0 to 1468 devices"
	has out "first stage: canary (15 devices, running)"
	eq "requests" "$(requests | tr '\n' ' ')" \
		"HEAD /api/v1/artifacts/$SHA POST /api/v1/rollouts "
	eq "plan_file" "$(body 2 | jget plan_file)" plan.yaml
	eq "artifact_sha256" "$(body 2 | jget artifact_sha256)" "$SHA"
	eq "who" "$(body 2 | jget who)" tester
	body 2 | jget plan >"$tmp/sent"
	{ cat "$tmp/plan.yaml"; echo; } | cmp -s - "$tmp/sent" ||
		fail "the plan sent is not the file"
	# --json: fleetd's answer, and nothing else, on stdout
	: >"$tmp/log"
	run 0 "$F" --json rollout start "$tmp/plan.yaml"
	eq "JSON name" "$(jget name <"$tmp/out")" thermo-2.4.0
	eq "JSON stage" "$(jget stages.0.name <"$tmp/out")" canary
	;;
start_upload)
	make_plan
	serve <<-EOF
	HEAD /api/v1/artifacts/$SHA 404 -
	PUT /api/v1/artifacts/$SHA 201 -
	POST /api/v1/rollouts 201 $API/rollout_created.json
	EOF
	run 0 "$F" rollout start "$tmp/plan.yaml"
	has out "artifact $tmp/fw.bin (15 B, sha256 $(echo "$SHA" | cut -c1-12)): uploaded"
	has out "started rollout thermo-2.4.0: firmware 2.4.0 to 1468 devices"
	eq "requests" "$(requests | tr '\n' ' ')" \
		"HEAD /api/v1/artifacts/$SHA PUT /api/v1/artifacts/$SHA POST /api/v1/rollouts "
	grep -qxF "PUT /api/v1/artifacts/$SHA bytes=15 sha256=$SHA" "$tmp/log" ||
		fail "the upload is not the artifact"
	# fleetd refusing the upload stops the start
	unserve
	serve <<-EOF
	HEAD /api/v1/artifacts/$SHA 404 -
	PUT /api/v1/artifacts/$SHA 400 {"error": {"code": "digest_mismatch", "message": "the body's SHA-256 is not the one named"}}
	EOF
	run 1 "$F" rollout start "$tmp/plan.yaml"
	has err "fleetctl: $tmp/fw.bin: the body's SHA-256 is not the one named"
	eq "requests" "$(requests | wc -l | tr -d ' ')" 2
	;;
start_invalid)
	make_plan
	serve <<-EOF
	HEAD /api/v1/artifacts/$SHA 200 -
	POST /api/v1/rollouts 422 $API/error_422.json
	POST /api/v1/rollouts 409 $API/error_409.json
	EOF
	# refused by fleetd: its diagnostics, positioned in the file
	run 1 "$F" rollout start "$tmp/plan.yaml"
	has err "$tmp/plan.yaml:7:13: error: hardware \`thermo-v9\` is not a model any device reports"
	has err "$tmp/plan.yaml:12:5: warning: stage canary has no soak"
	has err "fleetctl: $tmp/plan.yaml: fleetd refused the plan: the plan does not validate"
	# a conflict names the devices
	run 1 "$F" rollout start "$tmp/plan.yaml"
	has err "fleetctl: $tmp/plan.yaml: an active rollout of firmware already targets 2 of these devices (devices: thermo-000001, thermo-000002)"
	# refused locally: nothing is sent
	: >"$tmp/log"
	sed 's/percent: 100/percent: 140/' "$tmp/plan.yaml" >"$tmp/bad.yaml"
	run 1 "$F" rollout start "$tmp/bad.yaml"
	grep -q "^$tmp/bad.yaml:[0-9]*:[0-9]*: error: " "$tmp/err" ||
		fail "no positioned error"
	has err "fleetctl: $tmp/bad.yaml: 1 error: not started"
	[ ! -s "$tmp/log" ] || fail "a request was sent for an invalid plan"
	rm "$tmp/fw.bin"
	run 1 "$F" rollout start "$tmp/plan.yaml"
	[ ! -s "$tmp/log" ] || fail "a request was sent without an artifact"
	;;
list)
	serve <<-EOF
	GET /api/v1/rollouts 200 $API/rollouts.json
	GET /api/v1/rollouts?state=active 200 $API/rollouts_active_one.json
	EOF
	run 0 "$F" rollout list
	has out "NAME          STATE        VERSION         STAGE    DEVICES  STARTED      BY"
	eq "rows" "$(wc -l <"$tmp/out" | tr -d ' ')" 4
	grep -q '^thermo-2.4.0  running      firmware 2.4.0  wave-1  161/1468  ' "$tmp/out" ||
		fail "no running row"
	run 0 "$F" rollout list --json
	eq "JSON rollouts" "$(jget rollouts.# <"$tmp/out")" 3
	run 0 "$F" rollout list --active
	eq "rows" "$(wc -l <"$tmp/out" | tr -d ' ')" 2
	eq "requests" "$(requests | tr '\n' ' ')" \
		"GET /api/v1/rollouts GET /api/v1/rollouts GET /api/v1/rollouts?state=active "
	;;
status)
	serve <<-EOF
	GET $R 200 $API/rollout_running.json
	EOF
	run 0 "$F" rollout status thermo-2.4.0
	# not a terminal: the compact table
	# (the relative times depend on the clock)
	grep -q '^waiting for the maintenance window, opens 2026-11-23T17:00:00Z (' "$tmp/out" ||
		fail "no waiting line"
	has out "STAGE   STATE    DEVICES  PROGRESS                OK  FAILED  ACTIVE  GATE"
	has out "wave-1  running      146  [#########X>>>>?-....]  68       1      30  failure rate 1.4% (max 5.0%), 69 judged (min 10), soak 29m 50s left"
	run 0 "$F" --json rollout status thermo-2.4.0
	eq "JSON stage" "$(jget stages.1.name <"$tmp/out")" wave-1
	eq "requests" "$(requests | tr '\n' ' ')" "GET $R GET $R "
	;;
actions)
	serve <<-EOF
	POST $R/pause 202 $API/action_paused.json
	POST $R/pause 200 $API/action_unchanged.json
	POST $R/pause 409 $API/error_409_finished.json
	POST $R/resume 202 $API/action_paused.json
	POST $R/approve 202 $API/action_paused.json
	POST $R/cancel 202 $API/action_paused.json
	POST $R/resume 202 -
	EOF
	run 0 "$F" pause thermo-2.4.0 --reason "night shift"
	has out "paused thermo-2.4.0: no new offers, devices in flight finish (now paused, stage wave-1)"
	run 0 "$F" pause thermo-2.4.0
	has out "thermo-2.4.0 was already paused"
	run 1 "$F" pause thermo-2.4.0
	has err "fleetctl: rollout 'thermo-2.4.0': the rollout is complete: nothing to pause"
	run 0 "$F" resume thermo-2.4.0
	has out "resumed thermo-2.4.0 (now paused, stage wave-1)"
	# an answer with no body is enough
	run 0 "$F" resume thermo-2.4.0
	has out "resumed thermo-2.4.0"
	run 0 "$F" --json resume thermo-2.4.0
	eq "JSON changed" "$(jget changed <"$tmp/out")" true
	run 0 "$F" approve thermo-2.4.0 eu-regulatory
	has out "approved eu-regulatory of thermo-2.4.0 (now paused, stage wave-1)"
	run 0 "$F" --json cancel thermo-2.4.0
	eq "JSON changed" "$(jget changed <"$tmp/out")" true
	has log "POST $R/pause {\"who\":\"tester\",\"reason\":\"night shift\"}"
	has log "POST $R/resume {\"who\":\"tester\"}"
	has log "POST $R/approve {\"who\":\"tester\",\"name\":\"eu-regulatory\"}"
	has log "POST $R/cancel {\"who\":\"tester\"}"
	;;
rollback_refused)
	serve <<-EOF
	GET $R 200 $API/rollout_running.json
	GET $R/rollback 200 $API/rollback_preview.json
	POST $R/rollback 202 $API/action_rollback.json
	EOF
	run 1 "$F" rollback thermo-2.4.0
	has out "rollback of thermo-2.4.0 (firmware 2.4.0, running, stage wave-1):"
	has out "  97 devices will go back to the previous version"
	has out "  23 pending offers will be cancelled"
	has out "  devices: thermo-000017, thermo-000018, thermo-000023 and 117 more"
	has err "fleetctl: rollback thermo-2.4.0: not confirmed: stdin is not a terminal to ask on; add --yes to roll back without asking"
	hasnt log "POST"
	;;
rollback_yes)
	serve <<-EOF
	GET $R 200 $API/rollout_running.json
	GET $R/rollback 200 $API/rollback_preview.json
	POST $R/rollback 202 $API/action_rollback.json
	POST $R/rollback 200 $API/action_unchanged.json
	EOF
	run 0 "$F" rollback thermo-2.4.0 --yes --reason "canary crashes"
	has out "  97 devices will go back to the previous version"
	has out "rollback of thermo-2.4.0 accepted: fleetd sends the rollback commands (now rolling_back, stage wave-1)"
	has log "POST $R/rollback {\"who\":\"tester\",\"reason\":\"canary crashes\"}"
	eq "requests" "$(requests | tr '\n' ' ')" "GET $R GET $R/rollback POST $R/rollback "
	run 0 "$F" rollback -y thermo-2.4.0
	has out "thermo-2.4.0 is already rolling back or rolled back"
	# --json: the answer on stdout, the preview for the human on stderr
	run 0 "$F" --json rollback -y thermo-2.4.0
	eq "JSON changed" "$(jget changed <"$tmp/out")" false
	has err "  97 devices will go back to the previous version"
	;;
rollback_pick)
	serve <<-EOF
	GET /api/v1/rollouts?state=active 200 $API/rollouts_active_one.json
	GET /api/v1/rollouts?state=active 200 $API/rollouts_active_two.json
	GET /api/v1/rollouts?state=active 200 $API/rollouts_empty.json
	GET $R 200 $API/rollout_running.json
	GET $R/rollback 200 $API/rollback_preview.json
	POST $R/rollback 202 $API/action_rollback.json
	EOF
	run 0 "$F" rollback --yes
	has out "the one active rollout is thermo-2.4.0"
	has out "rollback of thermo-2.4.0 accepted: fleetd sends the rollback commands (now rolling_back, stage wave-1)"
	run 1 "$F" rollback --yes
	has err "fleetctl: rollback: 2 active rollouts (thermo-2.4.0, sensor-1.0.0): name one: fleetctl rollback NAME"
	run 1 "$F" rollback --yes
	has err "fleetctl: rollback: no active rollout to roll back (name a finished one: fleetctl rollback NAME)"
	eq "POSTs" "$(grep -c '^POST' "$tmp/log")" 1
	;;
rollback_wait)
	serve <<-EOF
	GET $R 200 $API/rollout_running.json
	GET $R 200 $API/rollout_rolling_back.json
	GET $R 200 $API/rollout_rolling_back.json
	GET $R 200 $API/rollout_rolled_back.json
	GET $R/rollback 200 $API/rollback_preview.json
	POST $R/rollback 202 $API/action_rollback.json
	EOF
	run 0 "$F" rollback thermo-2.4.0 --yes --wait
	# one line per change (not a terminal), the elapsed time at the end
	grep -q '^rolling back thermo-2.4.0 \[################X...\] 97/120 back, 1 failed, 22 pending ([0-9dhms ]*)$' "$tmp/out" ||
		fail "no progress line"
	grep -q '^rolled back thermo-2.4.0 \[###################X\] 119/120 back, 1 failed, 0 pending ([0-9dhms ]*)$' "$tmp/out" ||
		fail "no final line"
	eq "progress lines" "$(grep -c 'rolling back thermo' "$tmp/out")" 1
	eq "polls" "$(grep -cx "GET $R" "$tmp/log")" 4
	# --json --wait: progress on stderr, the final rollout on stdout
	unserve
	cp "$tmp/routes" "$tmp/routes.again"
	serve <"$tmp/routes.again"
	run 0 "$F" --json rollback thermo-2.4.0 --yes --wait
	eq "JSON state" "$(jget state <"$tmp/out")" rolled_back
	grep -q '^rolled back thermo-2.4.0 ' "$tmp/err" || fail "no progress on stderr"
	;;
rollback_tty)
	command -v script >/dev/null 2>&1 || {
		echo "SKIP ($CASE): no script(1) to give fleetctl a terminal" >&2
		exit 0
	}
	serve <<-EOF
	GET $R 200 $API/rollout_running.json
	GET $R/rollback 200 $API/rollback_preview.json
	POST $R/rollback 202 $API/action_rollback.json
	EOF
	# A terminal on stdin: fleetctl asks, and "n" leaves everything be.
	printf 'n\n' | script -qec "\"$F\" rollback thermo-2.4.0" /dev/null >"$tmp/out" 2>&1
	rc=$?
	eq "exit status after n" "$rc" 1
	grep -q 'Roll back thermo-2.4.0? \[y/N\]' "$tmp/out" || fail "no question"
	grep -q 'not confirmed, nothing done' "$tmp/out" || fail "no refusal"
	hasnt log "POST"
	printf 'y\n' | script -qec "\"$F\" rollback thermo-2.4.0" /dev/null >"$tmp/out" 2>&1
	rc=$?
	eq "exit status after y" "$rc" 0
	grep -q 'rollback of thermo-2.4.0 accepted' "$tmp/out" || fail "not rolled back"
	has log "POST $R/rollback {\"who\":\"tester\"}"
	;;
errors)
	head -c $((17 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$tmp/big.json"
	printf '<html>oops</html>\n' >"$tmp/html"
	serve <<-EOF
	GET /api/v1/rollouts/nope 404 $API/error_404.json
	GET /api/v1/rollouts/bare 500 -
	GET /api/v1/rollouts/busy 503 {"error": {"code": "unavailable", "message": "fleetd is starting: rollouts are not loaded yet"}}
	GET /api/v1/rollouts/html 200 $tmp/html
	GET /api/v1/rollouts/big 200 $tmp/big.json
	GET /api/v1/rollouts/esc 404 {"error": {"code": "not_found", "message": "no rollout \u001b[2J here"}}
	EOF
	run 1 "$F" rollout status nope
	eq "404" "$(cat "$tmp/err")" "fleetctl: rollout 'nope': no rollout named 'nope'"
	run 1 "$F" rollout status bare
	eq "500" "$(cat "$tmp/err")" "fleetctl: rollout 'bare': fleetd answered HTTP 500 with no error message"
	run 1 "$F" rollout status busy
	eq "503" "$(cat "$tmp/err")" "fleetctl: rollout 'busy': fleetd is starting: rollouts are not loaded yet"
	run 1 "$F" rollout status html
	eq "not JSON" "$(cat "$tmp/err")" "fleetctl: rollout 'html': fleetd's answer (HTTP 200) is not JSON"
	run 1 "$F" rollout status big
	eq "too big" "$(cat "$tmp/err")" "fleetctl: rollout 'big': fleetd's answer is larger than 16 MiB"
	run 1 "$F" rollout status esc
	eq "escape" "$(cat "$tmp/err")" "fleetctl: rollout 'esc': no rollout ?[2J here"
	run 1 "$F" pause nothing-here
	eq "unknown path" "$(cat "$tmp/err")" "fleetctl: rollout 'nothing-here': no such path: /api/v1/rollouts/nothing-here/pause"
	;;
refused)
	serve <<-EOF
	GET /api/v1/rollouts 200 $API/rollouts_empty.json
	EOF
	run 0 "$F" rollout list
	has out "no rollouts"
	# a port with nothing listening (held by the fake, so nobody else
	# takes it meanwhile)
	dead="http://127.0.0.1:$CLOSED"
	FLEET_SERVER=$dead
	run 1 "$F" rollout list
	eq "refused" "$(cat "$tmp/err")" "fleetctl: fleetd is not running at $dead"
	run 1 "$F" --server "$dead/" devices
	eq "refused" "$(cat "$tmp/err")" "fleetctl: fleetd is not running at $dead"
	run 1 "$F" rollback "$CLOSED" --yes
	eq "refused" "$(cat "$tmp/err")" "fleetctl: fleetd is not running at $dead"
	# --server wins over FLEET_SERVER
	run 0 "$F" --server "http://127.0.0.1:$PORT" rollout list
	has out "no rollouts"
	;;
devices)
	serve <<-EOF
	GET /api/v1/devices 200 $API/devices_page1.json
	GET /api/v1/devices 200 $API/devices_page2.json
	GET /api/v1/devices 200 $API/devices_page1.json
	GET /api/v1/devices 200 $API/devices_page2.json
	GET /api/v1/devices 200 $API/rollouts_empty.json
	EOF
	run 0 "$F" devices
	eq "lines" "$(wc -l <"$tmp/out" | tr -d ' ')" 7
	grep -q '^ID  *MODEL  *STATE  *LAST SEEN  *VERSION  *ROLLOUT  *LABELS$' "$tmp/out" || fail "no header"
	grep -q '^thermo-000005  thermo-v2  never seen  -  ' "$tmp/out" || fail "no row of page 2"
	has out "5 devices, 3 online"
	eq "requests" "$(requests | tr '\n' ' ')" \
		"GET /api/v1/devices?limit=1000 GET /api/v1/devices?limit=1000&after=thermo-000003 "
	run 0 "$F" --json devices --model thermo-v2 --label region=eu --label site=a/b --online
	eq "JSON devices" "$(jget devices.# <"$tmp/out")" 5
	eq "JSON last" "$(jget devices.4.id <"$tmp/out")" thermo-000005
	eq "JSON next" "$(jget next <"$tmp/out")" null
	has log "GET /api/v1/devices?model=thermo-v2&label=region%3Deu&label=site%3Da%2Fb&online=true&limit=1000"
	run 0 "$F" devices --offline
	has out "no devices"
	has log "GET /api/v1/devices?online=false&limit=1000"
	;;
device)
	serve <<-EOF
	GET /api/v1/devices/thermo-000001 200 $API/device.json
	GET /api/v1/devices/gone 404 {"error": {"code": "not_found", "message": "no device 'gone'"}}
	EOF
	run 0 "$F" device thermo-000001
	has out "device thermo-000001"
	has out "  versions   firmware 2.3.1, modem 5.1"
	has out "  slots      A confirmed 2.3.1 (seq 41), B staged 2.4.0 (seq 42); booted A; floor 41"
	grep -q '^1002  thermo-2.4.0  offer  downloading  -  ' "$tmp/out" || fail "no job row"
	run 0 "$F" device thermo-000001 --json
	eq "JSON floor" "$(jget floor <"$tmp/out")" 41
	run 1 "$F" device gone
	eq "404" "$(cat "$tmp/err")" "fleetctl: device 'gone': no device 'gone'"
	;;
events)
	serve <<-EOF
	GET /api/v1/events 200 $API/events.json
	EOF
	run 0 "$F" events thermo-2.4.0
	eq "lines" "$(wc -l <"$tmp/out" | tr -d ' ')" 5
	has out "2026-11-23T12:31:40Z   8814  thermo-2.4.0  -         -              action.pause            who=bob reason=night shift"
	run 0 "$F" --json events --after 8000
	eq "JSON events" "$(jget events.# <"$tmp/out")" 4
	eq "JSON next" "$(jget next <"$tmp/out")" 8815
	eq "requests" "$(requests | tr '\n' ' ')" \
		"GET /api/v1/events?rollout=thermo-2.4.0&limit=1000 GET /api/v1/events?after=8000&limit=1000 "
	;;
events_follow)
	serve <<-EOF
	GET /api/v1/events 200 $API/events.json
	GET /api/v1/events 200 $API/events_empty.json
	EOF
	"$F" events thermo-2.4.0 --follow </dev/null >"$tmp/out" 2>"$tmp/err" &
	bg_pid=$!
	i=0
	until grep -q 'after=8815&limit=1000&wait=25' "$tmp/log"; do
		i=$((i + 1))
		[ $i -lt 200 ] || fail "no long poll after the backlog"
		kill -0 "$bg_pid" 2>/dev/null || fail "fleetctl events --follow exited"
		sleep 0.05
	done
	kill "$bg_pid"
	wait "$bg_pid" 2>/dev/null
	bg_pid=
	eq "lines" "$(wc -l <"$tmp/out" | tr -d ' ')" 5
	has out "2026-11-23T12:33:20Z   8815  thermo-2.4.0  wave-1    thermo-000124  report.failed           result=reverted reason=health:temp_c"
	eq "first request" "$(requests | head -1)" "GET /api/v1/events?rollout=thermo-2.4.0&limit=1000"
	;;
label)
	serve <<-EOF
	POST /api/v1/devices/thermo-000001/labels 200 $API/labels_device.json
	POST /api/v1/devices/nope/labels 404 {"error": {"code": "not_found", "message": "no device 'nope'"}}
	EOF
	run 0 "$F" label thermo-000001 ring=canary -site --remove tier
	has out "thermo-000001 labels: region=eu site=lyon ring=canary"
	has out "  set on fleetd: ring=canary"
	has log "POST /api/v1/devices/thermo-000001/labels {\"set\":{\"ring\":\"canary\"},\"remove\":[\"site\",\"tier\"]}"
	run 1 "$F" label nope a=b
	eq "404" "$(cat "$tmp/err")" "fleetctl: device 'nope': no device 'nope'"
	;;
usage)
	serve <<-EOF
	EOF
	for args in "rollback a b" "label dev" "devices --online --offline" \
		"approve x" "rollout" "rollout start" "events --after x" \
		"pause r --frob" "label dev -a=b"; do
		# shellcheck disable=SC2086
		run 2 "$F" $args
		grep -q '^usage: fleetctl ' "$tmp/err" || fail "$args: no usage"
		[ ! -s "$tmp/out" ] || fail "$args: output on stdout"
	done
	run 2 "$F" --server ftp://x rollout list
	has err "fleetctl: the server must be an http:// or https:// URL, not \`ftp://x\`"
	run 0 "$F" rollback --help
	has out "usage: fleetctl [--server URL] [--json] rollback [NAME] [--yes] [--wait] [--reason TEXT]"
	run 0 "$F" --help
	grep -q '^  rollback \[NAME\] \[--yes\] \[--wait\]' "$tmp/out" || fail "no rollback in --help"
	run 2 "$F" watch a b
	grep -q '^usage: fleetctl .*watch \[NAME\]' "$tmp/err" || fail "watch a b: no usage"
	[ ! -s "$tmp/log" ] || fail "a usage error sent a request"
	# watch talks to fleetd (this fake one has no route for it): it fails
	# at once with fleetd's reason, not on a terminal it cannot draw on
	run 1 "$F" watch
	has log "GET /api/v1/rollouts?state=active&limit=50"
	grep -q '^fleetctl: ' "$tmp/err" || fail "watch: no reason on stderr"
	;;
auth)
	serve <<-EOF
	GET $R 200 $API/rollout_running.json
	POST $R/approve 403 {"error": {"code": "forbidden", "message": "needs role approver, token 'ops-1' has operator", "needs": "approver", "token": "ops-1", "role": "operator"}}
	EOF
	run 0 "$F" rollout status thermo-2.4.0
	# no token anywhere: 401, and fleetctl says where it looked
	unset FLEET_TOKEN
	run 1 "$F" rollout status thermo-2.4.0
	has err "fleetctl: rollout 'thermo-2.4.0': unauthorized: no token: send 'Authorization: Bearer TOKEN' (no token was sent: give --token, FLEET_TOKEN or FLEET_TOKEN_FILE ($tmp/state/fleetd/admin.token was not found))"
	# a wrong one: named as the one of --token or FLEET_TOKEN
	run 1 "$F" --token flt_x_00 rollout status thermo-2.4.0
	has err "fleetctl: rollout 'thermo-2.4.0': unauthorized: unknown token (the token of --token or FLEET_TOKEN)"
	run 1 env FLEET_TOKEN=flt_x_00 "$F" rollout status thermo-2.4.0
	# --token wins over FLEET_TOKEN
	run 0 env FLEET_TOKEN=flt_x_00 "$F" --token "$TOKEN" rollout status \
		thermo-2.4.0
	# a token file: --token-file, FLEET_TOKEN_FILE, fleetd's default one
	printf '%s\n' "$TOKEN" >"$tmp/tok"
	run 0 "$F" --token-file "$tmp/tok" rollout status thermo-2.4.0
	run 0 env FLEET_TOKEN_FILE="$tmp/tok" "$F" rollout status thermo-2.4.0
	run 2 "$F" --token-file "$tmp/none" rollout status thermo-2.4.0
	has err "fleetctl: token file $tmp/none: No such file or directory"
	mkdir -p "$tmp/state/fleetd"
	printf '%s\n' "$TOKEN" >"$tmp/state/fleetd/admin.token"
	run 0 "$F" rollout status thermo-2.4.0
	run 2 "$F" --token "bad token" rollout status thermo-2.4.0
	has err "fleetctl: the token (--token or FLEET_TOKEN) is not one fleetd makes"
	# a token too weak: one line naming the role it needs
	run 1 "$F" approve thermo-2.4.0 eu-regulatory
	has err "fleetctl: rollout 'thermo-2.4.0': forbidden: needs role approver, token 'ops-1' has operator"
	eq "requests" "$(requests | tr '\n' ' ')" \
		"GET $R GET $R GET $R GET $R GET $R POST $R/approve "
	;;
*)
	echo "unknown case $CASE" >&2
	exit 2
	;;
esac
exit 0
