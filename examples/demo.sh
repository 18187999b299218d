#!/bin/sh
# demo.sh BUILD_DIR -- run the demo from a build tree (make demo does this).
set -eu
build=${1:-build/dev}
if [ ! -x "$build/examples/demo_ab" ]; then
	echo "demo.sh: $build/examples/demo_ab is not built; run 'make demo'" >&2
	exit 1
fi
exec "$build/examples/demo_ab"
