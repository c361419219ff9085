// See bench_tc.hpp. The seed's target: the TC classifier handles > 1M packets/s, i.e. at most
// 1000 ns/packet (measured as the kernel's BPF_PROG_TEST_RUN average over `repeat` runs).
#include "bench_tc.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bpf_test_run.hpp"
#include "packet_builder.hpp"
#include "runtime/loader.hpp"
#include "runtime/tc_classifier.hpp"
// clang-format off
#include "tc_pass.skel.h"
// clang-format on

namespace flywall {
template <>
struct SkeletonTraits<tc_pass> {
    static constexpr const char* name = "tc_pass";
    static tc_pass* open() { return tc_pass__open(); }
    static int load(tc_pass* s) { return tc_pass__load(s); }
    static void destroy(tc_pass* s) { tc_pass__destroy(s); }
};
}  // namespace flywall

namespace flywall::bench {

namespace {

using nlohmann::json;
using test::Bytes;
using test::PacketBuilder;

constexpr double kTargetNs = 1000;  // > 1M pps

double median_of(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

json tc_classifier_bench(uint32_t repeat, int runs) {
    auto floor = Skeleton<tc_pass>::open_and_load();
    if (!floor) return json{{"error", floor.error().message()}};
    auto tc = TcClassifier::load();
    if (!tc) return json{{"error", tc.error().message()}};
    const int floor_fd = bpf_program__fd(floor->get()->progs.tc_pass);

    // QoS: a few rules, the packet matches the last (web, TCP 443).
    QosRule voice;
    voice.proto = IPPROTO_UDP;
    voice.dport = PortRange{5060, 5061};
    voice.classid = tc_class_handle(1, 10);
    QosRule dns;
    dns.proto = IPPROTO_UDP;
    dns.dport = PortRange{53, 53};
    dns.classid = tc_class_handle(1, 20);
    QosRule web;
    web.proto = IPPROTO_TCP;
    web.dport = PortRange{443, 443};
    web.dport_matches_either = true;
    web.classid = tc_class_handle(1, 30);
    for (const auto& r : {voice, dns, web})
        if (auto a = tc->add_qos_rule(r); !a) return json{{"error", a.error().message()}};
    // 16 IPS patterns, none in the packet (a clean packet is scanned in full).
    for (uint32_t i = 0; i < 16; ++i) {
        auto st = tc->add_ips_pattern(
            IpsPattern::from_string(1000 + i, "SIG-" + std::to_string(i) + "-EVIL-PAYLOAD", IpsAction::Alert));
        if (!st.ok()) return json{{"error", st.error().message()}};
    }
    const std::string payload(200, 'a');
    const Bytes pkt = PacketBuilder()
                          .eth()
                          .ipv4("198.18.0.10", "198.18.1.1", IPPROTO_TCP)
                          .tcp(40000, 443, 0x10 /* ACK */)
                          .payload(payload)
                          .build();

    struct Row {
        const char* name;
        uint32_t features;
    };
    const Row rows[] = {
        {"tc_flows_qos", FW_TC_F_FLOWS | FW_TC_F_QOS | FW_TC_F_STATS},
        {"tc_flows_qos_ips16", FW_TC_F_FLOWS | FW_TC_F_QOS | FW_TC_F_IPS | FW_TC_F_STATS},
    };
    constexpr size_t kRows = sizeof rows / sizeof rows[0];
    std::vector<std::vector<double>> ns(kRows), floor_ns(kRows);
    uint32_t retvals[kRows] = {};
    // Interleaved: every round measures every row and the floor beside it.
    for (int run = 0; run < runs; ++run) {
        for (size_t i = 0; i < kRows; ++i) {
            tc->config().features = rows[i].features;
            auto f = test::run_prog(floor_fd, pkt, repeat);
            if (!f) return json{{"error", f.error().message()}};
            auto r = test::run_prog(tc->prog_fd(), pkt, repeat);
            if (!r) return json{{"error", r.error().message()}};
            floor_ns[i].push_back(f->duration_ns);
            ns[i].push_back(r->duration_ns);
            retvals[i] = r->retval;
        }
    }
    json out_rows = json::array();
    bool all_met = true;
    for (size_t i = 0; i < kRows; ++i) {
        const double m = median_of(ns[i]), f = median_of(floor_ns[i]);
        const bool met = m <= kTargetNs;
        all_met &= met;
        out_rows.push_back({{"name", rows[i].name},
                            {"features", rows[i].features},
                            {"ns_per_packet", m},
                            {"floor_ns_per_packet", f},
                            {"ratio_to_floor", f > 0 ? m / f : 0.0},
                            {"over_floor_ns", m - f},
                            {"mpps", m > 0 ? 1000.0 / m : 0.0},
                            {"runs_ns", ns[i]},
                            {"retval", retvals[i]},
                            {"target_ns", kTargetNs},
                            {"target_met", met}});
    }
    json ratio = nullptr;
    if (!ns[0].empty()) ratio = median_of(ns[1]) / median_of(ns[0]);
    return json{{"method",
                 {{"repeat", repeat},
                  {"runs", runs},
                  {"statistic", "median of runs; tc_pass floor measured beside every row, same run"},
                  {"packet", "IPv4 TCP ACK 198.18.0.10:40000 -> 198.18.1.1:443, 200-byte payload without a pattern"},
                  {"qos_rules", 3},
                  {"ips_patterns", 16}}},
                {"rows", out_rows},
                {"ips_over_flows_qos_ratio", ratio},
                {"target", "> 1M pps per the seed: <= 1000 ns/packet"},
                {"target_met", all_met}};
}

}  // namespace flywall::bench
