#!/bin/sh
# build.sh ARCH BUILD_DIR [CMAKE [TARGET]] -- configure and build the
# freestanding cross-build of the portable cores (common, firmware-hal,
# agent/core) for ARCH (rv32imc or cortex-m4) in BUILD_DIR, with
# cmake/toolchain-ARCH.cmake. Exit 0 when the sources and the Mbed TLS
# crypto port compile freestanding and the archive links with nothing but
# mem*/strlen and the codec functions of external.txt (see
# cross/CMakeLists.txt); with TARGET (fl_portable), only compile. Used by
# ctest (cross_*, cross_no_heap) and bench/sizes.sh.
set -eu
if [ $# -lt 2 ]; then
	echo "usage: $0 rv32imc|cortex-m4 BUILD_DIR [CMAKE [TARGET]]" >&2
	exit 2
fi
arch=$1
dir=$2
cmake=${3:-cmake}
target=${4:-all}
root=$(cd "$(dirname "$0")/.." && pwd)
toolchain=$root/cmake/toolchain-$arch.cmake
if [ ! -f "$toolchain" ]; then
	echo "build.sh: no toolchain file $toolchain" >&2
	exit 2
fi
# The host's flags (sanitizers, hardening) must not leak into the target.
unset CFLAGS CPPFLAGS LDFLAGS CC
# Makefiles whatever CMAKE_GENERATOR says, so that -k (keep going: report
# every source that fails, measure every one that compiles) is understood.
"$cmake" -S "$root/cross" -B "$dir" -G "Unix Makefiles" \
	--toolchain "$toolchain" -DCMAKE_BUILD_TYPE=
"$cmake" --build "$dir" --target "$target" -- -k
