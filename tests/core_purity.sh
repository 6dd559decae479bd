#!/bin/sh
# The Raft core (libraftcore.a) may call only memory, string-formatting and
# abort functions: no sockets, clocks, files, randomness or SQLite. Lists its
# undefined symbols with nm and fails on any outside the allowlist.
set -eu
lib=$1
allowed='^(mem(cpy|move|set|cmp|chr)|malloc|calloc|realloc|free|abort|snprintf|vsnprintf|strlen|strcmp|strncmp|__stack_chk_fail|__asan_.*|__ubsan_.*|__sanitizer_.*|__msan_.*|__tsan_.*|_GLOBAL_OFFSET_TABLE_|__memcpy_chk|__memset_chk|__memmove_chk|__snprintf_chk|__vsnprintf_chk)$'
syms=$(nm -u "$lib" | awk 'NF >= 2 {print $2}' | sort -u)
[ -n "$syms" ] || { echo "core_purity: no undefined symbols found in $lib (nm failed?)"; exit 1; }
bad=$(printf '%s\n' "$syms" | grep -Ev "$allowed" || true)
# Symbols the core defines itself are not imports.
defined=$(nm --defined-only "$lib" | awk 'NF >= 3 {print $3}' | sort -u)
out=""
for s in $bad; do
    printf '%s\n' "$defined" | grep -qx "$s" || out="$out $s"
done
if [ -n "$out" ]; then
    echo "core_purity: raftcore calls forbidden functions:$out"
    exit 1
fi
echo "core_purity: ok ($(printf '%s\n' "$syms" | wc -l) imports, all allowed)"
