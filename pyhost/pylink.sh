#!/bin/sh
# pylink.sh MODE DIR: prints the shell exports that build pyhost against the
# Python pkg-config calls python3-embed, for `eval` in make's recipes and in
# the Dockerfile.
#
# MODE static (the default): link that Python's static library, when it
# ships one that links on its own (Debian 12's libpython3.11-dev does:
# LIBPL/libpython3.11.a; Debian 13's and sid's lack code their built-in
# hash modules call), as its own python3.X executable is linked. The
# shared libpython is position-independent code; on this project's VM a
# Mercurial page ran 12% slower on it than in /usr/bin/python3.11 (README,
# Performance). DIR gets a python3-embed.pc naming the archive, whole,
# with the libraries Python's Makefile links its executable with (LIBS,
# MODLIBS, SYSLIBS), and the executable exports its symbols as python3.X
# does (-Wl,--export-dynamic), so that extension modules find them.
# Otherwise (no archive, one that does not link on its own, or MODE
# shared): the shared libpython, its directory in the rpath.
set -eu
mode=${1:-static}
dir=${2:-build/pkgconfig}

libdir=$(pkg-config --variable=libdir python3-embed)
rpath="-Wl,-rpath,$libdir"
# shared: the exports for the shared libpython, and the end.
shared() {
  printf 'export CGO_LDFLAGS=%s\n' "$(quote "$rpath ${CGO_LDFLAGS:-}")"
  exit 0
}
# quote: one single-quoted shell word.
quote() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

[ "$mode" = static ] || shared
ver=$(pkg-config --modversion python3-embed)
python=$(pkg-config --variable=prefix python3-embed)/bin/python$ver
[ -x "$python" ] || shared
# LIBPL, LIBRARY and the libraries, from the Python that owns the library.
vars=$("$python" -I -c '
import sysconfig
v = lambda k: sysconfig.get_config_var(k) or ""
print(v("LIBPL"))
print(v("LIBRARY"))
print(" ".join(" ".join((v("LIBS"), v("MODLIBS"), v("SYSLIBS"))).split()))
')
libpl=$(printf '%s\n' "$vars" | sed -n 1p)
library=$(printf '%s\n' "$vars" | sed -n 2p)
libs=$(printf '%s\n' "$vars" | sed -n 3p)
archive=$libpl/$library
case "$library" in *.a) ;; *) shared ;; esac
[ -f "$archive" ] || shared
# Libraries named by a path relative to Python's build tree (3.13's
# Modules/_hacl/libHacl_Hash_SHA2.a) are not installed: dropped here.
kept=
for l in $libs; do
  case "$l" in
  -* | /*) kept="$kept $l" ;;
  esac
done
libs=${kept# }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# The archive must link whole on its own: Debian 13's libpython3.13.a
# holds the _sha2 module but not the HACL* code it calls, which stayed in
# that build tree. A test program is linked as Go links the binary (not
# position-independent); if that fails, the shared library it is.
cat >"$dir/pylink-test.c" <<'EOF'
#include <Python.h>
int main(void) { Py_Initialize(); return Py_FinalizeEx(); }
EOF
# shellcheck disable=SC2086 # the flags are words
if ! ${CC:-gcc} -no-pie -o "$dir/pylink-test" "$dir/pylink-test.c" $(pkg-config --cflags python3-embed) \
  -Wl,--whole-archive "$archive" -Wl,--no-whole-archive -Wl,--export-dynamic $libs >"$dir/pylink-test.log" 2>&1; then
  echo "pylink.sh: $archive does not link on its own ($(grep -m1 -E 'error|undefined|cannot find' "$dir/pylink-test.log")): linking the shared libpython" >&2
  shared
fi
cat >"$dir/python3-embed.pc" <<EOF
# Written by pyhost/pylink.sh: $python's static library, linked whole.
Name: Python
Description: Embed Python $ver, linked statically
Version: $ver
Libs: -Wl,--whole-archive $archive -Wl,--no-whole-archive $libs
Cflags: $(pkg-config --cflags python3-embed)
EOF
# pkg-config's flags pass cgo's checks only when allowed; the export flag
# goes in CGO_LDFLAGS, which also keys Go's build cache apart from a shared
# build's (and the library directory, apart from another Python's). The
# python3.X executable is the program name pyhost gives Python
# (sys.executable, and where it finds its standard library).
printf 'export PKG_CONFIG_PATH=%s\n' "$(quote "$dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}")"
printf 'export CGO_LDFLAGS_ALLOW=%s\n' "$(quote '-Wl,--(no-)?whole-archive')"
printf 'export CGO_LDFLAGS=%s\n' "$(quote "-Wl,--export-dynamic $rpath ${CGO_LDFLAGS:-}")"
printf 'export GOFLAGS=%s\n' "$(quote "${GOFLAGS:+$GOFLAGS }-ldflags=-X=github.com/warmcgi/warmcgi/pyhost.staticProgram=$python")"
