#!/usr/bin/env bash
# Installs alloclab into a temporary prefix and uses it as another project
# would: find_package(alloclab) from CMake, pkg-config from a plain gcc
# line, and a config naming a plugin that only the installed plugin folder
# holds (no ALLOCLAB_PLUGIN_PATH, the build tree out of reach).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake -S . -B "$tmp/build" -DALC_BUILD_TESTS=OFF -DALC_BUILD_BENCH=OFF -DCMAKE_INSTALL_PREFIX="$prefix" > "$tmp/log" 2>&1
cmake --build "$tmp/build" -j"$(nproc)" >> "$tmp/log" 2>&1 || { tail -30 "$tmp/log"; exit 1; }
cmake --install "$tmp/build" >> "$tmp/log" 2>&1
rm -rf "$tmp/build"   # the build tree's plugins/ must not be what is found

mkdir -p "$tmp/consumer"
cat > "$tmp/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.16)
project(consumer C)
find_package(alloclab REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE alloclab::alloclab)
CMAKE
cat > "$tmp/consumer/main.c" <<'C'
#include <alloclab.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    void *p = malloc(100);   /* the installed library's malloc */
    printf("%zu %u\n", alc_usable_size(p), alc_active_config()->classes[0].pages);
    free(p);
    return 0;
}
C
cat > "$tmp/consumer/fixed.cfg" <<'CFG'
alloclab: { version = 1; size_classes: { generate: { max_small = 32768; max_waste = 0.125; }; };
            span: { plugin = "span_fixed"; pages = 4; }; };
CFG
passed=0 failed=0
check() {   # name, expected, command...
  local name=$1 want=$2; shift 2
  local got
  got=$("$@" 2>&1) || true
  if [ "$got" = "$want" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL $name: got '$got', want '$want'"; fi
}
cmake -S "$tmp/consumer" -B "$tmp/consumer/b" -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/log" 2>&1
cmake --build "$tmp/consumer/b" >> "$tmp/log" 2>&1 || { tail -30 "$tmp/log"; exit 1; }
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unset ALLOCLAB_PLUGIN_PATH ALLOCLAB_CONFIG
check cmake-package "112 1" "$tmp/consumer/b/consumer"
gcc "$tmp/consumer/main.c" $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs alloclab) -o "$tmp/consumer/pc"
check pkg-config "112 1" "$tmp/consumer/pc"
check installed-plugin "112 4" env ALLOCLAB_CONFIG="$tmp/consumer/fixed.cfg" "$tmp/consumer/pc"
check installed-configs "// summary: 67 classes, max waste 13.22% on average, worst 87.50% (class 1)" \
  sh -c "'$prefix/bin/alloclab-table' '$prefix/share/alloclab/configs/default.cfg' | tail -1"
check installed-command "alloclab.config.tiny.width 8" \
  sh -c "'$prefix/bin/alloclab' stats -o tiny.width=8 -- true 2>&1 | grep 'config.tiny.width'"
check installed-command-plugin "alloclab.config.span.plugin span_fixed" \
  sh -c "'$prefix/bin/alloclab' stats -o span.pages=2 -- true 2>&1 | grep 'config.span.plugin'"
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
