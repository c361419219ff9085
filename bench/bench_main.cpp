// flywall_bench: ns/packet of xdp_blocklist via BPF_PROG_TEST_RUN, each figure beside the floor
// (xdp_pass, same packet) and the peer (xdp-tools' xdpfilt_alw_ip.o), all measured in one run,
// interleaved round by round so drift on a shared machine hits every program alike. Prints one
// JSON document on stdout; diagnostics go to stderr.
//
// Extending: add a Program (a loaded XDP program fd) and rows to the scenario table in main():
// {name, program, packet, expected verdict, peer reference, target ratio, setup}. `setup` runs
// before every measurement of that row (e.g. to switch runtime features), so rows that need
// different configurations of one program interleave safely.
#include <sys/utsname.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bench_full.hpp"
#include "bench_tc.hpp"
#include "bpf_test_run.hpp"
#include "flywall/guard.h"
#include "packet_builder.hpp"
#include "runtime/fasttable.hpp"
#include "runtime/iplists.hpp"
#include "runtime/loader.hpp"
#include "runtime/map.hpp"
#include "runtime/xdp_fastpath.hpp"
// clang-format off
#include "xdp_pass.skel.h"
// clang-format on

namespace flywall {
template <>
struct SkeletonTraits<xdp_pass> {
    static constexpr const char* name = "xdp_pass";
    static xdp_pass* open() { return xdp_pass__open(); }
    static int load(xdp_pass* s) { return xdp_pass__load(s); }
    static void destroy(xdp_pass* s) { xdp_pass__destroy(s); }
};
}  // namespace flywall

using namespace flywall;
using namespace flywall::test;
using json = nlohmann::json;

namespace {

constexpr const char* kPeerObject = "/usr/lib/x86_64-linux-gnu/bpf/xdpfilt_alw_ip.o";
// xdp-filter's map value: flag bits (common_kern_user.h), hit counter above COUNTER_SHIFT.
constexpr uint64_t kPeerFlagSrc = 1u << 0;

// ------------------------------------------------------------------ the peer: xdp-filter

// xdpfilt_alw_ip.o loaded with plain libbpf (no libxdp dispatcher), its pin-by-name maps kept
// unpinned so the benchmark leaves nothing in bpffs.
class PeerFilter {
public:
    static Result<PeerFilter> load(const char* path) {
        PeerFilter p;
        p.obj_ = bpf_object__open_file(path, nullptr);
        if (!p.obj_) return Error::from_errno(errno, std::string("open peer object ") + path);
        bpf_map* m;
        bpf_object__for_each_map(m, p.obj_) {
            if (int rc = bpf_map__set_pin_path(m, nullptr); rc != 0) return Error::from_neg(rc, "unpin peer map");
        }
        if (int rc = bpf_object__load(p.obj_); rc != 0)
            return Error::from_neg(rc, std::string("load peer object ") + path).with_detail(last_verifier_log_tail());
        bpf_program* prog = bpf_object__find_program_by_name(p.obj_, "xdpfilt_alw_ip");
        bpf_map* m4 = bpf_object__find_map_by_name(p.obj_, "filter_ipv4");
        bpf_map* m6 = bpf_object__find_map_by_name(p.obj_, "filter_ipv6");
        if (!prog || !m4 || !m6) return Error::from_errno(ENOENT, "peer object lacks xdpfilt_alw_ip/filter_ipv4/filter_ipv6");
        p.prog_fd_ = bpf_program__fd(prog);
        p.v4_ = PerCpuMap<__u32, uint64_t>(bpf_map__fd(m4), "filter_ipv4");
        p.v6_ = PerCpuMap<fw_ip6_addr, uint64_t>(bpf_map__fd(m6), "filter_ipv6");
        p.v4_type_ = bpf_map__type(m4);
        return p;
    }
    PeerFilter(PeerFilter&& o) noexcept
        : obj_(std::exchange(o.obj_, nullptr)), prog_fd_(o.prog_fd_), v4_(o.v4_), v6_(o.v6_), v4_type_(o.v4_type_) {}
    PeerFilter(const PeerFilter&) = delete;
    PeerFilter& operator=(const PeerFilter&) = delete;
    PeerFilter& operator=(PeerFilter&&) = delete;
    ~PeerFilter() {
        if (obj_) bpf_object__close(obj_);
    }

    int prog_fd() const { return prog_fd_; }
    const char* v4_map_type() const { return libbpf_bpf_map_type_str(v4_type_); }
    Status block4(const std::array<uint8_t, 4>& a) {
        __u32 k;
        std::memcpy(&k, a.data(), 4);
        return v4_.update_all(k, std::vector<uint64_t>(possible_cpus(), kPeerFlagSrc));
    }
    Status block6(const std::array<uint8_t, 16>& a) {
        fw_ip6_addr k;
        std::memcpy(k.addr, a.data(), 16);
        return v6_.update_all(k, std::vector<uint64_t>(possible_cpus(), kPeerFlagSrc));
    }

private:
    PeerFilter() = default;
    bpf_object* obj_ = nullptr;
    int prog_fd_ = -1;
    PerCpuMap<__u32, uint64_t> v4_;
    PerCpuMap<fw_ip6_addr, uint64_t> v6_;
    bpf_map_type v4_type_{};
};

// ------------------------------------------------------------------ scenarios and measurement

struct Scenario {
    std::string name;
    std::string program;           // key of programs: "ours", "peer", ...
    Bytes packet;
    uint32_t expect;               // verdict the program must give (checked before measuring)
    std::string peer_ref;          // scenario whose ns is this row's peer figure ("" = none)
    std::optional<double> target;  // maximum ratio to peer_ref, when there is a target
    std::function<Status()> setup; // runs before every measurement of this row (may be empty)
    std::string note;
    // More packets of the same path: each round measures all of them and the row's figure for
    // that round is their median (a listed address's cost depends on how far from its home slot
    // the random seed put it; one address is one draw of that distribution).
    std::vector<Bytes> samples = {};
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One measurement: ns/packet as the kernel reports it for `repeat` runs of the packet.
Result<double> measure(int prog_fd, const Bytes& pkt, uint32_t repeat) {
    FW_TRY_ASSIGN(RunResult r, run_prog(prog_fd, pkt, repeat));
    return static_cast<double>(r.duration_ns);
}

Bytes udp4(const char* src) { return PacketBuilder().eth().ipv4(src, "198.18.1.1", 17).udp(4000, 53).pad_to(64).build(); }
Bytes udp6(const char* src) { return PacketBuilder().eth().ipv6(src, "2001:db8:ffff::1", 17).udp(4000, 53).pad_to(78).build(); }

IpPrefix v4(uint32_t host_order, uint8_t len = 32) {
    IpPrefix p;
    p.family = 4;
    p.prefix_len = len;
    p.addr = {uint8_t(host_order >> 24), uint8_t(host_order >> 16), uint8_t(host_order >> 8), uint8_t(host_order)};
    return p;
}
IpPrefix v6(std::array<uint8_t, 16> a, uint8_t len = 128) {
    IpPrefix p;
    p.family = 6;
    p.prefix_len = len;
    p.addr = a;
    return p;
}
IpPrefix parsed(const char* s) {
    auto p = parse_ip_prefix(s);
    if (!p) {
        std::fprintf(stderr, "flywall_bench: %s\n", p.error().message().c_str());
        std::exit(1);
    }
    return *p;
}

int fail(const std::string& what) {
    std::fprintf(stderr, "flywall_bench: %s\n", what.c_str());
    return 1;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t repeat = 1000000;
    int runs = 7;
    size_t exact_v4 = 1000000, exact_v6 = 100000, cidr_v4 = 5000, cidr_v6 = 5000, peer_entries = 1000;
    size_t domains = 1000000;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> unsigned long { return i + 1 < argc ? std::stoul(argv[++i]) : 0; };
        if (a == "--repeat") repeat = static_cast<uint32_t>(next());
        else if (a == "--runs") runs = static_cast<int>(next());
        else if (a == "--exact-v4") exact_v4 = next();
        else if (a == "--domains") domains = next();
        else if (a == "--help" || a == "-h") {
            std::puts("flywall_bench [--repeat N (1000000)] [--runs N (7, median)] [--exact-v4 N (1000000)]\n"
                      "              [--domains N (1000000)]\n"
                      "Prints one JSON document: ns/packet beside the floor and the xdp-filter peer.");
            return 0;
        } else return fail("unknown argument " + a);
    }
    if (auto why = bpf_unavailable_reason(); !why.empty()) return fail("needs BPF: " + why);
    install_libbpf_logging();

    // ---- programs ----
    auto floor = Skeleton<xdp_pass>::open_and_load();
    if (!floor) return fail(floor.error().message());
    auto peer = PeerFilter::load(kPeerObject);
    if (!peer) return fail(peer.error().message() + " (install xdp-tools)");
    auto fp = XdpFastPath::load();
    if (!fp) return fail(fp.error().message());
    std::map<std::string, int> programs = {
        {"floor", bpf_program__fd(floor->get()->progs.xdp_pass)},
        {"peer", peer->prog_fd()},
        {"ours", fp->prog_fd()},
    };

    // ---- addresses (map contents only: no traffic leaves the test run) ----
    const char* blocked4 = "198.18.0.66";     // in both exact lists
    const char* open4 = "198.18.0.1";         // listed nowhere; its /16 guard slot is clear
    const char* open4_guarded = "198.19.8.1"; // listed nowhere, but a CIDR shares its /16
    const char* cidr4 = "198.19.7.9";         // inside 198.19.7.0/24
    const char* blocked6 = "2001:db8::66";
    const char* open6 = "2001:db8::1";
    const char* cidr6 = "3fff:1:2::9";        // inside 3fff:1:2::/48

    // Peer: 1,000 IPv4 (and 1,000 IPv6) source entries including the blocked address.
    for (size_t i = 0; i < peer_entries; ++i) {
        uint32_t a = i == 0 ? 0xC6120042u /* 198.18.0.66 */ : 0xC6138000u + uint32_t(i) * 37u;  // 198.19.128.0+
        auto st = peer->block4({uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)});
        if (!st) return fail(st.error().message());
        auto a6 = ip6(blocked6);
        if (i) {
            a6[12] = uint8_t(i >> 8);
            a6[13] = uint8_t(i);
            a6[15] = 0x01;
        }
        if (auto st6 = peer->block6(a6); !st6) return fail(st6.error().message());
    }

    // Ours: exact IPv4 entries spread over 10.0.0.0/8 (an odd multiplier permutes the low 24
    // bits, so all are distinct), exact IPv6 entries in 2001:db8::/32, /24s in 100.64.0.0/10
    // and /48s in 3fff::/20 (spread over many guard slots), each set including the probes.
    std::vector<IpEntrySpec> v4_specs;
    v4_specs.reserve(exact_v4);
    v4_specs.push_back(IpEntrySpec{parsed(blocked4), IpListKind::Block, MatchDir::Src, {}, 1});
    for (size_t i = 1; i < exact_v4; ++i)
        v4_specs.push_back(IpEntrySpec{v4(0x0A000000u + ((uint32_t(i) * 2654435761u) & 0xFFFFFFu)), IpListKind::Block,
                                       MatchDir::Src, {}, 1});
    std::vector<IpEntrySpec> rest;
    rest.reserve(exact_v6 + cidr_v4 + cidr_v6);
    rest.push_back(IpEntrySpec{parsed(blocked6), IpListKind::Block, MatchDir::Src, {}, 2});
    for (size_t i = 1; i < exact_v6; ++i) {
        auto a = ip6("2001:db8:100::");
        uint32_t x = uint32_t(i) * 2654435761u;
        a[8] = uint8_t(x >> 24), a[9] = uint8_t(x >> 16), a[14] = uint8_t(i >> 8), a[15] = uint8_t(i);
        a[13] = uint8_t(i >> 16);
        rest.push_back(IpEntrySpec{v6(a), IpListKind::Block, MatchDir::Src, {}, 2});
    }
    rest.push_back(IpEntrySpec{parsed("198.19.7.0/24"), IpListKind::Block, MatchDir::Src, {}, 3});
    for (size_t i = 1; i < cidr_v4; ++i)
        rest.push_back(IpEntrySpec{v4(0x64400000u + (((uint32_t(i) * 2654435761u) & 0x3FFFu) << 8), 24),
                                   IpListKind::Block, MatchDir::Src, {}, 3});
    rest.push_back(IpEntrySpec{parsed("3fff:1:2::/48"), IpListKind::Block, MatchDir::Src, {}, 4});
    for (size_t i = 1; i < cidr_v6; ++i) {
        uint32_t x = uint32_t(i) * 2654435761u;
        std::array<uint8_t, 16> a{0x3f, 0xff, uint8_t((x >> 24) & 0x0f), uint8_t(x >> 16), uint8_t(x >> 8), uint8_t(x)};
        rest.push_back(IpEntrySpec{v6(a, 48), IpListKind::Block, MatchDir::Src, {}, 4});
    }

    IpLists lists(*fp);
    auto t0 = std::chrono::steady_clock::now();
    auto n1 = lists.add_bulk(std::span<const IpEntrySpec>(v4_specs));
    double load_v4_s = seconds_since(t0);
    if (!n1) return fail(n1.error().message());
    t0 = std::chrono::steady_clock::now();
    auto n2 = lists.add_bulk(std::span<const IpEntrySpec>(rest));
    double load_rest_s = seconds_since(t0);
    if (!n2) return fail(n2.error().message());
    const auto& counts = lists.counts();

    // Listed IPv4 sources for the typical-blocked row: entries 1..15 of the 1M above.
    std::vector<Bytes> sampled_blocked4;
    std::vector<std::string> sampled_blocked4_text;
    for (uint32_t i = 1; i <= 15 && i < exact_v4; ++i) {
        uint32_t a = 0x0A000000u + ((i * 2654435761u) & 0xFFFFFFu);
        std::string t = std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
                        std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
        sampled_blocked4.push_back(udp4(t.c_str()));
        sampled_blocked4_text.push_back(t);
    }

    // ---- the scenario table ----
    std::vector<Scenario> scenarios = {
        {"peer_blocked_v4", "peer", udp4(blocked4), XDP_DROP, "", {}, {}, "listed source among 1,000"},
        {"peer_passing_v4", "peer", udp4(open4), XDP_PASS, "", {}, {}, "source listed nowhere"},
        {"peer_blocked_v6", "peer", udp6(blocked6), XDP_DROP, "", {}, {}, "listed source among 1,000"},
        {"peer_passing_v6", "peer", udp6(open6), XDP_PASS, "", {}, {}, "source listed nowhere"},
        {"blocked_v4_exact", "ours", udp4(blocked4), XDP_DROP, "peer_blocked_v4", {}, {}, "source in the 1M exact hash"},
        {"blocked_v4_exact_typical", "ours", udp4(blocked4), XDP_DROP, "peer_blocked_v4", 0.7, {},
         "median over 16 listed sources (this row's address and 15 more of the 1M), each its own probe length",
         sampled_blocked4},
        {"passing_v4", "ours", udp4(open4), XDP_PASS, "peer_passing_v4", 1.0, {}, "listed nowhere, guard slot clear"},
        {"passing_v4_guarded_slot", "ours", udp4(open4_guarded), XDP_PASS, "peer_passing_v4", {}, {},
         "listed nowhere, but a CIDR shares its /16: trie walked"},
        {"blocked_v4_cidr", "ours", udp4(cidr4), XDP_DROP, "peer_blocked_v4", {}, {}, "source inside a /24 (trie)"},
        {"blocked_v6_exact", "ours", udp6(blocked6), XDP_DROP, "peer_blocked_v6", 0.7, {}, "source in the exact v6 hash"},
        {"passing_v6", "ours", udp6(open6), XDP_PASS, "peer_passing_v6", 1.0, {}, "listed nowhere, guard slot clear"},
        {"blocked_v6_cidr", "ours", udp6(cidr6), XDP_DROP, "peer_blocked_v6", {}, {}, "source inside a /48 (trie)"},
    };

    // Issue 3: every XDP feature on (bench_full.cpp); the rows above keep the lists-only config.
    auto full = bench::prepare_full_feature_bench(*fp, programs.at("floor"), domains, runs);
    if (!full) return fail("full-feature rows: " + full.error().message());
    for (auto& s : scenarios)
        if (s.program == "ours" && !s.setup) s.setup = full->baseline;
    for (auto& r : full->rows)
        scenarios.push_back({r.name, "ours", r.packet, r.expect, r.peer_ref, r.target, r.setup, r.note});

    // Verdicts first: a benchmark of the wrong path is worthless.
    for (auto& s : scenarios) {
        if (s.setup)
            if (auto st = s.setup(); !st) return fail(s.name + ": setup: " + st.error().message());
        auto r = run_prog(programs.at(s.program), s.packet);
        if (!r) return fail(s.name + ": " + r.error().message());
        if (r->retval != s.expect)
            return fail(s.name + ": verdict " + std::to_string(r->retval) + ", expected " + std::to_string(s.expect));
        for (const auto& p : s.samples) {
            auto rs = run_prog(programs.at(s.program), p);
            if (!rs) return fail(s.name + ": " + rs.error().message());
            if (rs->retval != s.expect) return fail(s.name + ": a sample packet got verdict " + std::to_string(rs->retval));
        }
    }

    // Interleaved rounds: each round measures every row and its floor once.
    std::vector<std::vector<double>> ns(scenarios.size()), floor_ns(scenarios.size());
    for (int round = 0; round < runs; ++round) {
        for (size_t i = 0; i < scenarios.size(); ++i) {
            auto& s = scenarios[i];
            if (s.setup)
                if (auto st = s.setup(); !st) return fail(s.name + ": setup: " + st.error().message());
            auto a = measure(programs.at(s.program), s.packet, repeat);
            auto f = measure(programs.at("floor"), s.packet, repeat);
            if (!a) return fail(s.name + ": " + a.error().message());
            if (!f) return fail(s.name + " floor: " + f.error().message());
            if (!s.samples.empty()) {
                std::vector<double> per = {*a};
                for (const auto& p : s.samples) {
                    auto b = measure(programs.at(s.program), p, repeat);
                    if (!b) return fail(s.name + ": " + b.error().message());
                    per.push_back(*b);
                }
                *a = median(per);
            }
            ns[i].push_back(*a);
            floor_ns[i].push_back(*f);
        }
    }

    std::map<std::string, double> med;
    for (size_t i = 0; i < scenarios.size(); ++i) med[scenarios[i].name] = median(ns[i]);
    json rows = json::array();
    bool all_met = true;
    for (size_t i = 0; i < scenarios.size(); ++i) {
        const auto& s = scenarios[i];
        double m = med[s.name], f = median(floor_ns[i]);
        json row = {{"name", s.name},
                    {"program", s.program},
                    {"note", s.note},
                    {"verdict", s.expect == XDP_DROP ? "drop" : "pass"},
                    {"packet_bytes", s.packet.size()},
                    {"ns", m},
                    {"runs_ns", ns[i]},
                    {"floor_ns", f},
                    {"ratio_to_floor", f > 0 ? m / f : 0.0},
                    {"ns_above_floor", m - f}};
        if (!s.peer_ref.empty()) {
            double p = med.at(s.peer_ref);
            row["peer"] = s.peer_ref;
            row["peer_ns"] = p;
            row["ratio_to_peer"] = p > 0 ? m / p : 0.0;
            if (s.target) {
                bool met = p > 0 && m / p <= *s.target;
                row["target_ratio_to_peer"] = *s.target;
                row["target_met"] = met;
                all_met = all_met && met;
            }
        }
        rows.push_back(row);
    }

    // Fast tables: memory, occupancy, and how many slots each probe address examines (the seed
    // is random per run, so a listed address may sit a few slots from its home).
    auto probes = [&](auto table, const auto& key) {
        uint32_t h = table.home(key), n = 0;
        while (n < FW_FT_MAX_PROBE) {
            uint32_t i = (h + n) & (table.slots() - 1), st = table.state(i);
            ++n;
            if (st == FW_FT_EMPTY || (st == FW_FT_USED && i == table.find(key))) break;
        }
        return n;
    };
    FtCounts scratch4, scratch6;
    FastTable<__u32> ft4(fp->ft_block4(), fp->ft_config().seed, &scratch4);
    FastTable<fw_ip6_addr> ft6(fp->ft_block6(), fp->ft_config().seed, &scratch6);
    auto key4 = [&](const char* a) {
        __u32 k;
        std::memcpy(&k, parsed(a).addr.data(), 4);
        return k;
    };
    auto key6 = [&](const char* a) {
        fw_ip6_addr k;
        std::memcpy(k.addr, parsed(a).addr.data(), 16);
        return k;
    };
    auto table_json = [&](IpListKind l, uint8_t fam) {
        auto st = lists.exact_stats(l, fam);
        return json{{"slots", st.slots}, {"entries", st.used}, {"tombstones", st.tombstones},
                    {"overflow_entries", st.overflow}, {"bytes", st.table_bytes}};
    };
    json sampled_probes = json::object();
    for (const auto& t : sampled_blocked4_text) sampled_probes[t] = probes(ft4, key4(t.c_str()));
    json fast_tables = {
        {"max_probe", FW_FT_MAX_PROBE},
        {"memory_bytes_all_four_tables_and_hints", fp->ft_memory_bytes()},
        {"block4", table_json(IpListKind::Block, 4)},
        {"block6", table_json(IpListKind::Block, 6)},
        {"slots_examined",
         {{blocked4, probes(ft4, key4(blocked4))},
          {open4, probes(ft4, key4(open4))},
          {blocked6, probes(ft6, key6(blocked6))},
          {open6, probes(ft6, key6(open6))}}},
        {"slots_examined_typical_row", sampled_probes},
    };

    utsname u{};
    uname(&u);
    bool load_met = load_v4_s <= 2.0;
    json out = {
        {"benchmark", "xdp_blocklist ns/packet via BPF_PROG_TEST_RUN"},
        {"kernel", u.release},
        {"method", {{"repeat", repeat}, {"runs", runs}, {"statistic", "median of runs; floor measured beside every row"},
                    {"floor", "xdp_pass (same packet)"},
                    {"peer", std::string(kPeerObject) + " via libbpf, filter_ipv4 " + peer->v4_map_type() +
                                 ", value = MAP_FLAG_SRC on every CPU"}}},
        {"peer_entries", {{"ipv4", peer_entries}, {"ipv6", peer_entries}}},
        {"ours_entries",
         {{"exact_v4", counts[table_index(IpListKind::Block, 4, false)].entries},
          {"exact_v6", counts[table_index(IpListKind::Block, 6, false)].entries},
          {"cidr_v4", counts[table_index(IpListKind::Block, 4, true)].entries},
          {"cidr_v6", counts[table_index(IpListKind::Block, 6, true)].entries}}},
        {"load",
         {{"path", "IpLists::add_bulk (validate, dedup, fast-table writes through mmap, overflow to the kernel hash, "
                   "guards, table bits)"},
          {"exact_v4_entries", *n1},
          {"exact_v4_seconds", load_v4_s},
          {"exact_v4_target_seconds", 2.0},
          {"target_met", load_met},
          {"v6_exact_and_cidr_entries", *n2},
          {"v6_exact_and_cidr_seconds", load_rest_s}}},
        {"probe_guard_refs",
         {{open4, lists.guard4_refs(IpListKind::Block, fw_guard4_slot(parsed(open4).addr.data()))},
          {open4_guarded, lists.guard4_refs(IpListKind::Block, fw_guard4_slot(parsed(open4_guarded).addr.data()))},
          {open6, lists.guard6_refs(IpListKind::Block, fw_guard6_slot(parsed(open6).addr.data()))}}},
        {"fast_tables", fast_tables},
        {"scenarios", rows},
        {"full_features", full->report},
        {"tc_classifier", bench::tc_classifier_bench(repeat, 5)},
        {"target_met", {{"per_packet", all_met}, {"load", load_met}, {"all", all_met && load_met}}},
    };
    std::puts(out.dump(2).c_str());
    return 0;
}
