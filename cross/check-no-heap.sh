#!/bin/sh
# check-no-heap.sh [-b CMAKE] BUILD_ROOT -- fail if any portable object of
# the freestanding cross-builds references the heap (malloc, calloc,
# realloc, free and relatives) or stdio (printf, puts, FILE streams...).
#
# Looks at BUILD_ROOT/cross-rv32imc and BUILD_ROOT/cross-cortex-m4; with -b,
# first compiles their objects (cross/build.sh ... fl_portable). Objects
# that did not compile are listed as such and left to the cross_* tests;
# finding no object at all is a failure. Exit 0 clean, 1 on an offence.
set -u
here=$(cd "$(dirname "$0")" && pwd)
cmake=""
if [ "${1:-}" = "-b" ]; then
	cmake=$2
	shift 2
fi
if [ $# -ne 1 ]; then
	echo "usage: $0 [-b CMAKE] BUILD_ROOT" >&2
	exit 2
fi
root=$1

heap='malloc|calloc|realloc|reallocarray|free|aligned_alloc|memalign'
heap="$heap|posix_memalign|valloc|pvalloc|strdup|strndup|sbrk|_sbrk"
heap="$heap|_malloc_r|_calloc_r|_realloc_r|_free_r|_sbrk_r"
stdio='v?f?printf|v?s?n?printf|v?as?printf|dprintf|v?f?i?printf|s?n?iprintf'
stdio="$stdio|f?puts|putc|putchar|fputc|getc|getchar|fgetc|fgets|gets"
stdio="$stdio|v?[fs]?scanf|fopen|fdopen|freopen|fclose|fread|fwrite"
stdio="$stdio|fflush|fseek|ftell|rewind|perror|setvbuf|setbuf"
stdio="$stdio|stdin|stdout|stderr|_impure_ptr|_global_impure_ptr|__sF"
stdio="$stdio|_[a-z]*printf_r|_puts_r|__assert_func|__assert_fail"
pattern="^($heap|$stdio)\$"

checked=0
bad=0
for arch in rv32imc cortex-m4; do
	dir=$root/cross-$arch
	if [ -n "$cmake" ]; then
		mkdir -p "$dir"
		"$here/build.sh" "$arch" "$dir" "$cmake" fl_portable \
			>"$dir/no-heap-build.log" 2>&1 ||
			echo "check-no-heap: $arch: some objects did not" \
				"compile (see $dir/no-heap-build.log)"
	fi
	if [ ! -f "$dir/cross.env" ]; then
		echo "check-no-heap: $arch: not configured ($dir)"
		continue
	fi
	# shellcheck disable=SC1091
	. "$dir/cross.env"
	while IFS= read -r obj; do
		[ -n "$obj" ] || continue
		name=$(basename "$obj")
		if [ ! -f "$obj" ]; then
			echo "check-no-heap: $arch: $name not compiled"
			continue
		fi
		checked=$((checked + 1))
		syms=$("$FL_CROSS_NM" -u "$obj" | awk '{ print $NF }' |
			grep -E "$pattern" | tr '\n' ' ')
		if [ -n "$syms" ]; then
			echo "check-no-heap: $arch: $name references: $syms" >&2
			bad=1
		fi
	done <"$FL_CROSS_OBJECTS"
done

if [ "$checked" -eq 0 ]; then
	echo "check-no-heap: no portable object found under $root" >&2
	exit 1
fi
if [ "$bad" -ne 0 ]; then
	echo "check-no-heap: FAILED: the portable cores must not use the" \
		"heap or stdio" >&2
	exit 1
fi
echo "check-no-heap: clean ($checked objects, no heap, no stdio)"
