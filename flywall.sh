#!/usr/bin/env bash
# flywall.sh — build, run, test and benchmark Flywall eBPF. `./flywall.sh help` lists commands.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="${FLYWALL_BUILD_DIR:-$ROOT/build}"
BUILD_ASAN="${FLYWALL_ASAN_BUILD_DIR:-$ROOT/build-asan}"
BUILD_FUZZ="${FLYWALL_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
FUZZ_TARGETS=(hcl api_json records)
JOBS="${JOBS:-$(nproc)}"

APT_PACKAGES=(
  build-essential cmake pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  linux-libc-dev libgtest-dev libgmock-dev googletest libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libcpp-httplib-dev prometheus-cpp-dev libssl-dev
  xdp-tools iproute2 nftables dnsmasq-base bind9-dnsutils curl jq tcpdump python3-scapy
  iputils-ping procps kmod openssl libclang-rt-14-dev libsqlite3-dev libcap-dev
)

usage() {
  cat <<'TXT'
Usage: ./flywall.sh COMMAND [ARGS]

Main job and tests (the README's two commands):
  run                 install missing packages, build, bring up the lab interface (fw-lab0, a veth
                      whose peer lives in netns fw-lab) and start the daemon in the foreground on the
                      built-in default config, API on 127.0.0.1:8080. Ctrl-C stops and cleans up.
  test [SUITE]        run tests; SUITE is one of: all (default), unit, asan, kernel, fuzz, int [FILE|DIR]
                      e.g. ./flywall.sh test int 31-ebpf   ./flywall.sh test int 31-ebpf/01-ebpf-foundation.sh
                      Ends with "N passed, N failed, N skipped"; exit 1 if anything failed.

Building:
  install-deps        apt-get install what is missing (idempotent; Debian 12)
  build               configure and build everything into build/
  ebpf [NAME]         build all BPF programs (objects + skeletons), or only NAME (e.g. xdp_blocklist)
  ebpf-quick          incremental BPF rebuild without reconfiguring
  ebpf-clean          remove BPF build artifacts (objects, skeletons, vmlinux.h)
  ebpf-dev            a shell with the BPF toolchain and paths set (CLANG, BPFTOOL, FLYWALL_BUILD...)
  bench               build and run the benchmarks; prints JSON (ratios to floor and peer)
  fuzz NAME [ARG]     run one fuzzer longer than the test command does (which gives each 30 s):
                        hcl|api_json|records [SECONDS, default 600]  libFuzzer (clang, ASan+UBSan),
                          seeds from tests/fuzz/corpus/NAME, crashes saved under build-fuzz/artifacts/
                        differential [PACKETS, default 10000000]     generated packets through the
                          XDP program and the reference model of its verdict rules; 0 differences

Environment: FLYWALL_BUILD_DIR (default build/), JOBS (default nproc).
TXT
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then echo "flywall.sh: '$1' needs root (BPF and network admin)" >&2; exit 2; fi
}

cmd_install_deps() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all ${#APT_PACKAGES[@]} packages present"; return 0; fi
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "install-deps: needs root to install packages" >&2; return 2; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: done"
}

configure() {
  local dir="$1"; shift
  if [ ! -f "$dir/CMakeCache.txt" ]; then
    cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  fi
}

cmd_build() {
  configure "$BUILD"
  cmake --build "$BUILD" -j"$JOBS"
}

cmd_ebpf() {
  configure "$BUILD"
  if [ $# -gt 0 ]; then
    cmake --build "$BUILD" -j"$JOBS" --target "bpf_$1"
  else
    cmake --build "$BUILD" -j"$JOBS" --target bpf_all
  fi
  ls -l "$BUILD"/bpf/*.bpf.o
}

cmd_ebpf_quick() {
  [ -f "$BUILD/Makefile" ] || configure "$BUILD"
  make -C "$BUILD" -j"$JOBS" --no-print-directory bpf_all
}

cmd_ebpf_clean() {
  rm -rf "$BUILD"/bpf/*.o "$BUILD"/bpf/*.o.d "$BUILD"/bpf/*.skel.h "$BUILD"/bpf/vmlinux.h
  echo "ebpf-clean: removed BPF objects, skeletons and vmlinux.h from $BUILD/bpf"
}

cmd_ebpf_dev() {
  configure "$BUILD"
  # The flags CMake compiles with (cmake/BpfObject.cmake writes them): one build path.
  # shellcheck disable=SC1091
  . "$BUILD/bpf/build.env"
  export CLANG BPFTOOL BPF_CFLAGS FLYWALL_ROOT="$ROOT" FLYWALL_BUILD="$BUILD"
  echo "ebpf-dev: CLANG=$CLANG BPFTOOL=$BPFTOOL"
  echo "ebpf-dev: BPF_CFLAGS=$BPF_CFLAGS"
  echo "ebpf-dev: vmlinux.h comes from the build (./flywall.sh ebpf); compile by hand with:"
  echo "ebpf-dev:   \$CLANG \$BPF_CFLAGS -c bpf/xdp_blocklist.bpf.c -o /tmp/x.o"
  PS1="(flywall-ebpf) \w\$ " exec bash --norc -i
}

# ---- tests ----
PASSED=0; FAILED=0; SKIPPED=0; FAILED_NAMES=()

# Run a GoogleTest binary and add its counts (from its JSON report) to the totals.
run_gtest() {
  local label="$1" bin="$2"; shift 2
  local report; report="$(mktemp /tmp/flywall-gtest.XXXXXX.json)"
  echo "=== $label: $bin"
  set +e
  "$bin" --gtest_brief=1 --gtest_output="json:$report" "$@"
  local rc=$?
  set -e
  if [ ! -s "$report" ]; then
    echo "$label: test binary crashed (exit $rc) before writing its report"
    FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label (crashed)")
    rm -f "$report"; return
  fi
  local counts
  counts=$(python3 - "$report" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
p = f = s = 0
for suite in d.get("testsuites", []):
    for t in suite.get("testsuite", []):
        if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
            s += 1
        elif t.get("failures"):
            f += 1
        else:
            p += 1
print(p, f, s)
PY
)
  read -r p f s <<<"$counts"
  echo "$label: $p passed, $f failed, $s skipped"
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f)); SKIPPED=$((SKIPPED + s))
  [ "$f" -gt 0 ] && FAILED_NAMES+=("$label")
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$label (exit $rc)"); }
  rm -f "$report"
}

suite_unit() {
  configure "$BUILD"
  cmake --build "$BUILD" -j"$JOBS" --target flywall_unit_tests
  run_gtest unit "$BUILD/tests/flywall_unit_tests"
}

suite_asan() {
  configure "$BUILD_ASAN" -DFLYWALL_SANITIZE=ON -DFLYWALL_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
  cmake --build "$BUILD_ASAN" -j"$JOBS" --target flywall_unit_tests
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_gtest "unit (ASan+UBSan)" "$BUILD_ASAN/tests/flywall_unit_tests"
}

build_fuzz() {
  configure "$BUILD_FUZZ" -DFLYWALL_FUZZ=ON -DFLYWALL_BUILD_TESTS=OFF -DFLYWALL_BUILD_BENCH=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
  cmake --build "$BUILD_FUZZ" -j"$JOBS" --target fuzz_all
}

# run_fuzz NAME SECONDS: libFuzzer from the checked-in seeds; new inputs go to a scratch corpus,
# a crashing input to $BUILD_FUZZ/artifacts/NAME-crash-*. Returns the fuzzer's exit code.
run_fuzz() {
  local name="$1" secs="$2" work
  work="$(mktemp -d /tmp/flywall-fuzz-"$name".XXXXXX)"
  mkdir -p "$BUILD_FUZZ/artifacts"
  local max_len=4096; [ "$name" = hcl ] && max_len=16384
  # The built-in default config is a seed too (copied, not kept twice in the tree).
  [ "$name" = hcl ] && cp "$ROOT/src/config/default.hcl" "$work/"
  set +e
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$BUILD_FUZZ/fuzz/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$BUILD_FUZZ/artifacts/$name-" "$work" "$ROOT/tests/fuzz/corpus/$name" \
    >"$work.log" 2>&1
  local rc=$?
  set -e
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|Test unit written" "$work.log" | sed "s/^/  fuzz_$name: /"
  [ $rc -ne 0 ] && tail -40 "$work.log"
  rm -rf "$work" "$work.log"
  return $rc
}

suite_fuzz() {
  if ! command -v clang++ >/dev/null; then
    echo "=== fuzz: SKIP — clang++ is not installed"; SKIPPED=$((SKIPPED + ${#FUZZ_TARGETS[@]})); return
  fi
  build_fuzz
  local secs="${FLYWALL_FUZZ_SECONDS:-30}"
  for t in "${FUZZ_TARGETS[@]}"; do
    echo "=== fuzz: $t for ${secs} s"
    if run_fuzz "$t" "$secs"; then PASSED=$((PASSED + 1)); echo "fuzz $t: PASS"
    else FAILED=$((FAILED + 1)); FAILED_NAMES+=("fuzz $t"); echo "fuzz $t: FAIL"; fi
  done
}

cmd_fuzz() {
  local name="${1:-}" arg="${2:-}"
  case "$name" in
    differential)
      need_root "fuzz differential"
      configure "$BUILD"
      cmake --build "$BUILD" -j"$JOBS" --target flywall_kernel_tests
      FLYWALL_DIFF_PACKETS="${arg:-10000000}" "$BUILD/tests/flywall_kernel_tests" --gtest_filter='XdpDifferential*'
      ;;
    hcl|api_json|records)
      build_fuzz
      run_fuzz "$name" "${arg:-600}"
      ;;
    *) echo "fuzz: NAME must be one of: ${FUZZ_TARGETS[*]} differential" >&2; exit 2 ;;
  esac
}

suite_kernel() {
  configure "$BUILD"
  cmake --build "$BUILD" -j"$JOBS" --target flywall_kernel_tests
  if [ "$(id -u)" -ne 0 ]; then
    echo "=== kernel: SKIP — kernel tests need root and BPF; each test reports its skip"
  fi
  run_gtest kernel "$BUILD/tests/flywall_kernel_tests"
}

# Integration scripts: exit 0 = pass, 77 = skip (with a reason printed), anything else = fail.
suite_int() {
  local sel="${1:-31-ebpf}"
  configure "$BUILD"
  cmake --build "$BUILD" -j"$JOBS" --target flywall xdp_lab
  local files=()
  if [ -f "$ROOT/tests/int/$sel" ]; then files=("$ROOT/tests/int/$sel")
  elif [ -d "$ROOT/tests/int/$sel" ]; then mapfile -t files < <(ls "$ROOT/tests/int/$sel"/[0-9]*.sh 2>/dev/null | sort)
  else echo "test int: no such test file or directory: tests/int/$sel" >&2; FAILED=$((FAILED + 1)); FAILED_NAMES+=("int $sel (missing)"); return; fi
  for f in "${files[@]}"; do
    local name="int/${f#$ROOT/tests/int/}"
    echo "=== $name"
    set +e
    FLYWALL_BIN="$BUILD/flywall" FLYWALL_ROOT="$ROOT" timeout 600 bash "$f"
    local rc=$?
    set -e
    case $rc in
      0) PASSED=$((PASSED + 1)); echo "$name: PASS" ;;
      77) SKIPPED=$((SKIPPED + 1)); echo "$name: SKIP" ;;
      *) FAILED=$((FAILED + 1)); FAILED_NAMES+=("$name"); echo "$name: FAIL (exit $rc)" ;;
    esac
  done
}

cmd_test() {
  local suite="${1:-all}"; shift || true
  case "$suite" in
    all) suite_unit; suite_asan; suite_kernel; suite_fuzz; suite_int 31-ebpf ;;
    fuzz) suite_fuzz ;;
    unit) suite_unit ;;
    asan) suite_asan ;;
    kernel) suite_kernel ;;
    int) suite_int "${1:-31-ebpf}" ;;
    *) echo "test: unknown suite '$suite' (all, unit, asan, kernel, fuzz, int [FILE])" >&2; exit 2 ;;
  esac
  echo
  [ ${#FAILED_NAMES[@]} -gt 0 ] && echo "failed: ${FAILED_NAMES[*]}"
  echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" -eq 0 ]
}

cmd_bench() {
  need_root bench
  configure "$BUILD"
  cmake --build "$BUILD" -j"$JOBS" --target flywall_bench
  "$BUILD/flywall_bench" "$@"
}

cmd_run() {
  need_root run
  cmd_install_deps
  cmd_build
  exec "$BUILD/flywall" run --lab "$@"
}

main() {
  local cmd="${1:-help}"; shift || true
  case "$cmd" in
    help|-h|--help) usage ;;
    install-deps) cmd_install_deps ;;
    build) cmd_build ;;
    ebpf) cmd_ebpf "$@" ;;
    ebpf-quick) cmd_ebpf_quick ;;
    ebpf-clean) cmd_ebpf_clean ;;
    ebpf-dev) cmd_ebpf_dev ;;
    test) cmd_test "$@" ;;
    bench) cmd_bench "$@" ;;
    fuzz) cmd_fuzz "$@" ;;
    run) cmd_run "$@" ;;
    *) echo "flywall.sh: unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
  esac
}

main "$@"
