#!/bin/sh
# Precompile one C++ include prefix: `build_prefix.sh NAME HEADER...` writes NAME (the #include
# lines, in order) and NAME.gch to /opt/synthgen/pch/prefix and adds "NAME<TAB>HEADERS" to its
# index.txt, which sandboxes/image/_sg_cpp.py reads. Used for the image's own prefixes
# (install.sh, pch_prefixes.txt) and a user's (DockerConfig packages.cpp_prefixes).
set -e
DIR=/opt/synthgen/pch/prefix
name=$1
shift
mkdir -p "$DIR"
: > "$DIR/$name"
for h in "$@"; do printf '#include <%s>\n' "$h" >> "$DIR/$name"; done
g++ -O2 -std=c++17 -x c++-header "$DIR/$name" -o "$DIR/$name.gch"
printf '%s\t%s\n' "$name" "$*" >> "$DIR/index.txt"
