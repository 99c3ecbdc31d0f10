#!/usr/bin/env bash
# What ccache costs a cold build, by mode: the C objects of kernel/, mm/ and fs/ of the x86_64
# tiny config (the base's own .config, from its release build folder), compiled from nothing
# with `-j2` four ways:
#
#   plain       clang alone
#   preprocess  ccache's default: a miss runs the preprocessor first, to hash its output
#   depend      ccache's depend mode (what the harness sets): a miss is hashed from the
#               dependency file kbuild's -Wp,-MMD makes the compile write anyway
#   depend-hit  the same objects again, after `depend` filled the cache: every one a hit
#
# Each case has an output folder of its own, prepared (`olddefconfig prepare`) before the
# clock starts, and a ccache folder of its own, empty. Prints one line per case and the ratios
# to `plain`; the figures go to BENCHMARKS.md by hand, with the harness's commit and the
# machine. Everything it makes is under $RFL_CACHE/bench-ccache, removed at the end. Needs
# `cargo xtask setup` and a built x86_64 base (`cargo xtask matrix --arch x86_64`); about
# 8 minutes here.
set -euo pipefail
cd "$(dirname "$0")/../.."

cache=${RFL_CACHE:-$PWD/target/rfl}
slot=${SLOT:-$cache/slots/v7.2.x}
config=$slot/debian/x86_64/out-base/.config
[ -f "$config" ] || { echo "no x86_64 base build at $config: run the x86_64 base first" >&2; exit 2; }
work=$cache/bench-ccache
rm -rf "$work"
trap 'rc=$?; [ $rc = 0 ] || tail -5 "$work"/*.log >&2; rm -rf "$work"' EXIT
mkdir -p "$work"

export KBUILD_BUILD_HOST=rfl-harness KBUILD_BUILD_USER=rfl
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
unset CCACHE_DEPEND CCACHE_NODEPEND CCACHE_DIR CCACHE_BASEDIR
llvm=/usr/lib/llvm-19/bin/
kmake() {
    make -C "$slot/src" O="$1" ARCH=x86 LLVM=$llvm RUSTC=/usr/bin/rustc \
        RUSTDOC=/usr/bin/rustdoc BINDGEN="$cache/tools/bin/bindgen" "${@:2}"
}
for c in plain preprocess depend; do
    mkdir -p "$work/$c/out" "$work/$c/ccache"
    cp "$config" "$work/$c/out/.config"
    kmake "$work/$c/out" -j2 olddefconfig prepare >"$work/$c.prepare.log" 2>&1
done

dirs=(kernel/ mm/ fs/)
declare -A took
timed() {
    local name=$1 out=$2
    shift 2
    local t0 t1
    t0=$(date +%s.%N)
    # The case's environment (VAR=value words) for its make alone.
    (for kv in "$@"; do export "${kv?}"; done; kmake "$out" -j2 "${cc[@]}" "${dirs[@]}") \
        >"$work/$name.log" 2>&1
    t1=$(date +%s.%N)
    took[$name]=$(echo "$t1 - $t0" | bc)
    printf '%-11s %6.1f s  %s C objects\n' "$name" "${took[$name]}" \
        "$(grep -c '^  CC ' "$work/$name.log" || true)"
}
cc=()
timed plain "$work/plain/out"
cc=("CC=$(command -v ccache) ${llvm}clang")
timed preprocess "$work/preprocess/out" CCACHE_DIR="$work/preprocess/ccache" \
    CCACHE_NOHASHDIR=1
timed depend "$work/depend/out" CCACHE_DIR="$work/depend/ccache" CCACHE_NOHASHDIR=1 \
    CCACHE_DEPEND=1
for d in "${dirs[@]}"; do
    find "$work/depend/out/$d" \( -name '*.o' -o -name '*.a' \) -delete
done
timed depend-hit "$work/depend/out" CCACHE_DIR="$work/depend/ccache" \
    CCACHE_NOHASHDIR=1 CCACHE_DEPEND=1
CCACHE_DIR="$work/depend/ccache" ccache --print-stats | grep -E '^(direct_cache_hit|direct_cache_miss|preprocessed_cache_miss)\s' | tr '\n' ' '
echo
for c in preprocess depend depend-hit; do
    printf '%s/plain %.2f\n' "$c" "$(echo "${took[$c]} / ${took[plain]}" | bc -l)"
done
