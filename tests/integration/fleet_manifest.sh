#!/bin/sh
# fleet_manifest.sh -- runs the built fleet-manifest as a user would, in a
# temporary folder: keygen, pubkey, sign, verify, show, and every refusal
# (exit 1) and usage error (exit 2), including a tampered manifest.
#
#   fleet_manifest.sh FLEET_MANIFEST
#
# Exit 0 when every check holds, 1 at the first that does not.
set -u
[ $# -eq 1 ] || { echo "usage: $0 FLEET_MANIFEST" >&2; exit 2; }
F=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

fail() {
	echo "FAIL: $*" >&2
	[ -s err ] && { echo "--- stderr:" >&2; cat err >&2; }
	exit 1
}

# expect STATUS CMD...: runs CMD, output in out/err, checks its exit status.
expect() {
	want=$1
	shift
	"$@" >out 2>err
	got=$?
	[ "$got" -eq "$want" ] || fail "exit $got, want $want: $*"
	if [ "$want" -ne 0 ]; then
		[ "$(wc -l <err)" -ge 1 ] || fail "no reason on stderr: $*"
		head -1 err | grep -q '^fleet-manifest: ' ||
			fail "reason not prefixed: $*"
	fi
}

# --- keys
expect 0 "$F" keygen --out k.pem
grep -q 'kid [0-9a-f]\{16\}' out || fail "keygen does not print the kid"
[ "$(stat -c %a k.pem)" = 600 ] || fail "key file mode $(stat -c %a k.pem)"
head -1 k.pem | grep -q 'BEGIN PRIVATE KEY' || fail "not a PEM private key"
cp k.pem k.copy
expect 1 "$F" keygen --out k.pem
cmp -s k.pem k.copy || fail "keygen overwrote a key"
expect 2 "$F" keygen
expect 2 "$F" keygen --out
expect 0 "$F" keygen --out other.pem

expect 0 "$F" pubkey k.pem
cp out k.pub
grep -qx '04[0-9a-f]\{128\}' k.pub || fail "pubkey: not 130 hex digits"
expect 1 "$F" pubkey missing.pem
echo "not a key" >junk.pem
expect 1 "$F" pubkey junk.pem
expect 2 "$F" pubkey
# a key on another curve is refused
if command -v openssl >/dev/null 2>&1; then
	openssl ecparam -name secp384r1 -genkey -noout -out p384.pem 2>/dev/null
	expect 1 "$F" pubkey p384.pem
	grep -q 'P-256' err || fail "P-384 key not refused as such"
fi

# --- sign
head -c 100000 /dev/urandom >img.bin
SIGN="--component firmware --version 1.5.0 --hardware acme-gw-2,acme-gw-3 --file img.bin --url http://fleetd.local:8080/a/fw.bin"
expect 0 "$F" sign --key k.pem $SIGN --seq 42 --out m.json
[ "$(wc -l <m.json)" -eq 1 ] || fail "manifest is not one line"
expect 0 "$F" sign --key k.pem $SIGN --seq 42
cmp -s out m.json && fail "two signatures are identical (ECDSA is randomised)"
expect 0 "$F" sign --key k.pem --component firmware --version 1.4.2 \
	--hardware acme-gw-2 --file img.bin --url https://h/fw.bin --seq 43 \
	--rollback --from '>=1.5.0' --expires 2099-01-01T00:00:00+01:00 --out rb.json

expect 2 "$F" sign --key k.pem $SIGN
expect 2 "$F" sign --key k.pem $SIGN --seq 0
expect 2 "$F" sign --key k.pem $SIGN --seq 1000000000000000
expect 2 "$F" sign --key k.pem $SIGN --seq 1 --ttl 3x
expect 2 "$F" sign --key k.pem $SIGN --seq 1 --ttl 1d --expires 2099-01-01T00:00:00Z
expect 2 "$F" sign --key k.pem $SIGN --seq 1 --expires tomorrow
expect 2 "$F" sign --key k.pem $SIGN --seq 1 --bogus x
expect 2 "$F" sign --key k.pem --component firmware --version 1.5 \
	--hardware m --file img.bin --url http://h/x --seq 1
grep -q 'version' err || fail "bad version not named"
expect 2 "$F" sign --key k.pem --component firmware --version 1.5.0 \
	--hardware m --file img.bin --url ftp://h/x --seq 1
expect 2 "$F" sign --key k.pem --component firmware --version 1.5.0 \
	--hardware a,,b --file img.bin --url http://h/x --seq 1
expect 1 "$F" sign --key k.pem $SIGN --seq 1 --issued 2030-01-01T00:00:00Z \
	--expires 2029-01-01T00:00:00Z
expect 1 "$F" sign --key missing.pem $SIGN --seq 1
expect 1 "$F" sign --key k.pub $SIGN --seq 1
expect 1 "$F" sign --key k.pem --component firmware --version 1.5.0 \
	--hardware m --file missing.bin --url http://h/x --seq 1
: >empty.bin
expect 1 "$F" sign --key k.pem --component firmware --version 1.5.0 \
	--hardware m --file empty.bin --url http://h/x --seq 1

# --- verify
expect 0 "$F" verify --pub k.pub m.json
grep -q '^OK firmware 1.5.0 seq 42$' out || fail "verify output: $(cat out)"
expect 0 "$F" verify --pub k.pem m.json
expect 0 "$F" verify --pub k.pub rb.json
grep -q 'rollback' out || fail "rollback not reported"
"$F" pubkey other.pem >other.pub 2>/dev/null
expect 1 "$F" verify --pub other.pub m.json
grep -q 'another key' err || fail "wrong key not reported as such"
expect 2 "$F" verify m.json
expect 2 "$F" verify --pub k.pub
expect 1 "$F" verify --pub k.pub missing.json
expect 1 "$F" verify --pub junk.pem m.json

# tampered body: change one base64 character in the middle of the body
sed 's/\("body":"[A-Za-z0-9+\/]\{40\}\)\(.\)/\1@\2/' m.json |
	awk '{ i = index($0, "@"); c = substr($0, i + 1, 1);
	       r = (c == "A") ? "B" : "A";
	       print substr($0, 1, i - 1) r substr($0, i + 2) }' >tampered.json
cmp -s m.json tampered.json && fail "tampering did not change the file"
expect 1 "$F" verify --pub k.pub tampered.json
grep -q 'bad signature' err || fail "tampered body not a bad signature"
# tampered signature
sed 's/\("sig":"\)\(.\)/\1@/' m.json | awk '{ i = index($0, "@");
	print substr($0, 1, i - 1) "A" substr($0, i + 1) }' >badsig.json
if cmp -s m.json badsig.json; then
	sed 's/\("sig":"\)\(.\)/\1@/' m.json | awk '{ i = index($0, "@");
		print substr($0, 1, i - 1) "B" substr($0, i + 1) }' >badsig.json
fi
expect 1 "$F" verify --pub k.pub badsig.json
# not a manifest
echo '{"v":1}' >half.json
expect 1 "$F" verify --pub k.pub half.json
echo '{"v":2,"kid":"0011223344556677","body":"e30=","sig":"x"}' >v2.json
expect 1 "$F" verify --pub k.pub v2.json
# expired
expect 0 "$F" sign --key k.pem $SIGN --seq 7 --issued 2020-01-01T00:00:00Z \
	--ttl 1d --out old.json
expect 1 "$F" verify --pub k.pub old.json
grep -q 'expired at 2020-01-02T00:00:00Z' err || fail "expiry not reported"

# --- show
expect 0 "$F" show m.json
grep -q '^version: 1.5.0$' out || fail "show: version"
grep -q '^hardware: acme-gw-2,acme-gw-3$' out || fail "show: hardware"
grep -q '^length: 100000$' out || fail "show: length"
grep -q '^seq: 42$' out || fail "show: seq"
grep -q '^rollback: no$' out || fail "show: rollback"
grep -q 'NOT checked' out || fail "show does not say it did not verify"
if command -v sha256sum >/dev/null 2>&1; then
	sum=$(sha256sum img.bin | cut -d' ' -f1)
	grep -q "^sha256: $sum\$" out || fail "show: sha256 differs from sha256sum"
fi
expect 0 "$F" show rb.json
grep -q '^rollback: yes$' out || fail "show: rollback flag"
grep -q '^from: >=1.5.0$' out || fail "show: from"
grep -q '^expires: 2098-12-31T23:00:00Z$' out || fail "show: offset not applied"
expect 1 "$F" show half.json
expect 2 "$F" show
expect 2 "$F"
expect 2 "$F" frobnicate
expect 0 "$F" --help
echo "fleet_manifest: all checks passed"
