#!/bin/sh
# Run once at image build: execute-only copies of the java and node launchers for the warm compiler
# services. A process started from a binary its uid cannot read is not dumpable, so a job running as
# the same uid can neither ptrace the service nor read or write its memory through /proc.
set -e
JAVA_BIN=$(dirname "$(readlink -f "$(command -v java)")")
cp "$JAVA_BIN/java" "$JAVA_BIN/java-svc" && chmod 0711 "$JAVA_BIN/java-svc"
cp "$(readlink -f "$(command -v node)")" /usr/bin/node-svc && chmod 0711 /usr/bin/node-svc
# Precompiled headers for the cpp recipe's flags (-O2 -std=c++17), found through CPLUS_INCLUDE_PATH
# (/opt/synthgen/pch is searched before the compiler's own directories). gcc uses <name>.gch only
# for a program's FIRST #include and only when it is exactly what that include would read: same
# compiler, same -O/-std/-f flags, no macro defined before it that the header looks at (e.g.
# _GLIBCXX_DEBUG). Otherwise it reads the real header, so a verdict never changes; the program sees
# exactly the names that header declares, nothing more. Each PCH is built from a one-line wrapper
# that includes the header, so the header keeps its system-header status (warnings as without it).
# A program starting with <iostream> compiles ~3x faster; sizes 10-26 MB each.
PCH=/opt/synthgen/pch
WRAP=$(mktemp -d)
for h in bits/stdc++.h iostream string vector algorithm map set unordered_map cmath sstream iomanip queue; do
  mkdir -p "$PCH/$(dirname "$h")"
  printf '#include <%s>\n' "$h" > "$WRAP/w.h"
  g++ -O2 -std=c++17 -x c++-header "$WRAP/w.h" -o "$PCH/$h.gch"
done
rm -rf "$WRAP"
# Include prefixes (compilers/pch_prefixes.txt), each precompiled by build_prefix.sh; _sg_cpp.py
# adds `-include` of the longest prefix a program starts with (its own includes of those headers
# then change nothing).
mkdir -p "$PCH/prefix"
: > "$PCH/prefix/index.txt"
n=0
grep -v '^#' /opt/synthgen/compilers/pch_prefixes.txt | while read -r line; do
  [ -n "$line" ] || continue
  n=$((n + 1))
  sh /opt/synthgen/compilers/build_prefix.sh "prefix-$n.h" $line
done
