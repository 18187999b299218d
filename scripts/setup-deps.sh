#!/bin/sh
# setup-deps.sh -- install the Debian packages the project needs, if missing.
#
# Used by `make demo` and `make test` on a fresh Debian machine. Installs
# only what is missing, with apt-get (as root, or through sudo). Prints
# what it installs; prints nothing else when all is present.
set -eu

PACKAGES="
build-essential cmake pkg-config clang-format
libmosquitto-dev mosquitto mosquitto-clients
libcurl4-openssl-dev libmicrohttpd-dev
libssl-dev openssl libmbedtls-dev
libsqlite3-dev sqlite3 libyaml-dev libcjson-dev libzstd-dev
libncurses-dev tmux
libubootenv-dev libubootenv-tool
libcmocka-dev
gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf libnewlib-dev
gcc-arm-none-eabi libnewlib-arm-none-eabi
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "setup-deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "setup-deps: need root or sudo to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
