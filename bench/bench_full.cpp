// Issue-3 rows of flywall_bench (see bench_full.hpp): every XDP feature on at once.
//
// Configuration of the measured rows (one fw_xdp_config, set by each row's setup):
//   IP lists     whatever main() loaded (1M exact IPv4, 100k exact IPv6, 5k+5k CIDRs, blocklist)
//   DNS          `domains` blocked names (1M by default) through DomainBlocklist::add_many
//   rate limit   1e9 packets/s and 1e10 bytes/s per source (never trips for the passing rows),
//                TCP SYN 1/s with a burst of 1 (the rate-limited row is a SYN flood's packet)
//   flows        every flow tracked (sample shift 0), trusted offload on, no auto-trust
//   events       on, new-flow events on, capped at 1,000/s (the ring is not drained)
// Each row's path is checked before it is measured (verdict and the statistics counter that
// proves which path ran), so a row can never silently measure another path.
#include "bench_full.hpp"

#include <algorithm>
#include <chrono>

#include "bpf_test_run.hpp"
#include "runtime/domains.hpp"
#include "runtime/flows.hpp"
#include "runtime/ratelimit.hpp"

namespace flywall::bench {

using test::Bytes;
using test::PacketBuilder;
using test::run_prog;
using json = nlohmann::json;

namespace {

std::string base36(uint32_t v) {
    static const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s;
    do {
        s.push_back(digits[v % 36]);
        v /= 36;
    } while (v);
    return s;
}

// Distinct for every i < 2^32 (an odd multiplier permutes u32): "<label>.z<zone>cdn.<tld>".
std::string domain_name(uint32_t i) {
    static const char* tlds[] = {"com", "net", "org", "io", "info"};
    return "a" + base36(i * 2654435761u) + ".z" + base36(i % 7919) + "cdn." + tlds[i % 5];
}

Bytes dns_query(const std::string& name, const char* src, const char* dst) {
    auto wire = domain_to_wire(name);
    Bytes b = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};  // id, RD, QDCOUNT=1
    if (wire) b.insert(b.end(), wire->begin(), wire->end());
    b.insert(b.end(), {0, 1, 0, 1});  // A, IN
    return PacketBuilder().eth().ipv4(src, dst, 17).udp(40000, 53).payload(b.data(), b.size()).build();
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Result<fw_stats> stats(const XdpFastPath& fp) { return fp.stats_total(); }

// Runs pkt once and checks the verdict and that `counter` of fw_stats moved by exactly one.
Status check_path(const XdpFastPath& fp, const Bytes& pkt, uint32_t expect, __u64 fw_stats::*counter,
                  const char* what) {
    FW_TRY_ASSIGN(fw_stats before, stats(fp));
    FW_TRY_ASSIGN(test::RunResult r, run_prog(fp.prog_fd(), pkt));
    FW_TRY_ASSIGN(fw_stats after, stats(fp));
    if (r.retval != expect)
        return Error::invalid(std::string(what) + ": verdict " + std::to_string(r.retval) + ", expected " +
                              std::to_string(expect));
    if (after.*counter != before.*counter + 1)
        return Error::invalid(std::string(what) + ": did not take the intended path (its counter moved by " +
                              std::to_string(after.*counter - before.*counter) + ")");
    return {};
}

}  // namespace

Result<FullFeatureBench> prepare_full_feature_bench(XdpFastPath& fp, int floor_fd, size_t domains, int runs) {
    FullFeatureBench out;
    const fw_xdp_config base = fp.config();

    // ---- 1M domains ----
    std::vector<DomainRule> rules;
    rules.reserve(domains);
    for (size_t i = 0; i < domains; ++i) {
        DomainRule r{domain_name(static_cast<uint32_t>(i))};
        r.action = i == 0 ? DomainAction::Drop : i == 1 ? DomainAction::Nxdomain : DomainAction::Global;
        rules.push_back(std::move(r));
    }
    auto dl = DomainBlocklist::of(fp);
    auto t0 = std::chrono::steady_clock::now();
    FW_TRY_ASSIGN(size_t written, dl.add_many(std::span<const DomainRule>(rules)));
    double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    FW_TRY_ASSIGN(size_t held, dl.size());

    // ---- the all-features configuration ----
    fw_xdp_config full = base;
    full.features |= FW_F_STATS | FW_F_IP_ALLOWLIST | FW_F_IP_BLOCKLIST | FW_F_DNS_BLOCKLIST | FW_F_RATE_LIMIT |
                     FW_F_FLOW_TRACKING | FW_F_TRUSTED_OFFLOAD | FW_F_EVENTS | FW_F_NEW_FLOW_EVENTS;
    RateLimitSettings rl;
    rl.pps = 1000000000;
    rl.bps = 10000000000ull;
    rl.syn_pps = 1;
    rl.syn_burst = 1;
    FW_TRY(apply_rate_limits(full, rl));
    full.flow_sample_shift = 0;
    full.trusted_after_packets = 0;
    full.event_sample_shift = 0;
    full.max_events_per_sec = 1000;
    full.event_burst = 0;
    full.dns_action = FW_DNS_ACTION_NXDOMAIN;

    auto set_full = [&fp, full]() -> Status {
        fp.config() = full;
        return {};
    };
    // The same with another self-timing period (fw_stats.timed_*): never timed, and every packet
    // timed, beside full_udp_passing at the default 1 in 2^FW_TIME_SAMPLE_SHIFT_DEFAULT.
    auto set_full_timing = [&fp, full](__u32 shift) {
        return [&fp, full, shift]() -> Status {
            fp.config() = full;
            fp.config().time_sample_shift = shift;
            return {};
        };
    };
    out.baseline = [&fp, base]() -> Status {
        fp.config() = base;
        return {};
    };

    // ---- packets (198.18.0.0/15: listed in no IP list; its /16 guard slot is clear) ----
    Bytes udp_pass = PacketBuilder().eth().ipv4("198.18.0.1", "198.18.1.1", 17).udp(4000, 5000).pad_to(64).build();
    Bytes udp_trusted = PacketBuilder().eth().ipv4("198.18.0.2", "198.18.1.1", 17).udp(4001, 5000).pad_to(64).build();
    Bytes syn = PacketBuilder().eth().ipv4("198.18.0.3", "198.18.1.1", 6).tcp(40000, 80, 0x02).pad_to(64).build();
    Bytes dns_pass = dns_query("www.wikipedia.org", "198.18.0.10", "198.18.0.53");
    Bytes dns_drop = dns_query("www." + domain_name(0), "198.18.0.11", "198.18.0.53");
    Bytes dns_nx = dns_query("www." + domain_name(1), "198.18.0.12", "198.18.0.53");

    FW_TRY(set_full());
    // Passing UDP: its flow exists (created by this first packet), is not trusted.
    FW_TRY(check_path(fp, udp_pass, XDP_PASS, &fw_stats::flows_new, "passing UDP, first packet"));
    FW_TRY(check_path(fp, udp_pass, XDP_PASS, &fw_stats::passed, "passing UDP"));
    // Trusted flow: created, then marked trusted by user space.
    FW_TRY(check_path(fp, udp_trusted, XDP_PASS, &fw_stats::flows_new, "trusted flow, first packet"));
    FW_TRY_ASSIGN(fw_flow_key tkey, make_flow_key("198.18.0.2", "198.18.1.1", 4001, 5000, 17, 1));
    FW_TRY_ASSIGN(bool marked, FlowTable::of(fp).set_trusted(tkey, true));
    if (!marked) return Error::invalid("trusted flow: flow not found after its first packet");
    FW_TRY(check_path(fp, udp_trusted, XDP_PASS, &fw_stats::flows_trusted_fastpath, "trusted flow"));
    // DNS.
    FW_TRY(check_path(fp, dns_pass, XDP_PASS, &fw_stats::dns_queries, "DNS query passing"));
    FW_TRY(check_path(fp, dns_drop, XDP_DROP, &fw_stats::dns_blocked_drop, "DNS query blocked (drop)"));
    FW_TRY(check_path(fp, dns_nx, XDP_TX, &fw_stats::dns_blocked_nxdomain, "DNS query blocked (nxdomain)"));
    // SYN flood packet: the first SYN takes the one token, the next is limited.
    auto syn_setup = [set_full, &fp, syn]() -> Status {
        FW_TRY(set_full());
        FW_TRY_ASSIGN(test::RunResult r, run_prog(fp.prog_fd(), syn));
        (void)r;  // PASS while the bucket still had its token, DROP after
        return {};
    };
    FW_TRY(syn_setup());
    FW_TRY(check_path(fp, syn, XDP_DROP, &fw_stats::rl_limited_syn, "rate-limited SYN"));

    const std::string peer = "peer_passing_v4";
    out.rows = {
        {"full_udp_passing", udp_pass, XDP_PASS, peer, 1.3, set_full,
         "all features; UDP of a tracked (untrusted) flow, listed nowhere, under its rate limit"},
        {"full_udp_passing_untimed", udp_pass, XDP_PASS, peer, {}, set_full_timing(63),
         "full_udp_passing with self-timing off (time_sample_shift 63: no packet is timed)"},
        {"full_udp_passing_timed_every_packet", udp_pass, XDP_PASS, peer, {}, set_full_timing(0),
         "full_udp_passing with every packet timed (time_sample_shift 0: two clock reads per packet)"},
        {"full_dns_query_passing", dns_pass, XDP_PASS, peer, {}, set_full,
         "all features; query for www.wikipedia.org (3 suffixes tried against 1M domains)"},
        {"full_dns_query_blocked_drop", dns_drop, XDP_DROP, peer, {}, set_full,
         "all features; www.<listed domain> (drop action), event attempted (capped)"},
        {"full_rate_limited_syn", syn, XDP_DROP, peer, {}, syn_setup,
         "all features; TCP SYN over its source's SYN limit (1/s, burst 1)"},
        {"full_trusted_flow", udp_trusted, XDP_PASS, peer, 0.8, set_full,
         "all features; UDP of a flow user space marked trusted (offloaded: skips lists, limiter, DNS)"},
    };

    // ---- single-shot rows: one run per BPF_PROG_TEST_RUN call, beside the floor likewise ----
    // XDP_TX rewrites the packet in place and repeat does not restore it, so the NXDOMAIN answer
    // is timed one call at a time; the same is done for the drop row to show what the
    // single-shot method adds (the kernel's timer read around one run).
    FW_TRY(set_full());
    const int calls = 1000 * std::max(1, runs);
    std::vector<double> nx, nx_floor, drop, drop_floor;
    for (int i = 0; i < calls; ++i) {
        FW_TRY_ASSIGN(test::RunResult a, run_prog(fp.prog_fd(), dns_nx));
        FW_TRY_ASSIGN(test::RunResult f, run_prog(floor_fd, dns_nx));
        FW_TRY_ASSIGN(test::RunResult d, run_prog(fp.prog_fd(), dns_drop));
        FW_TRY_ASSIGN(test::RunResult g, run_prog(floor_fd, dns_drop));
        if (a.retval != XDP_TX || d.retval != XDP_DROP) return Error::invalid("single-shot rows: verdict changed");
        nx.push_back(a.duration_ns);
        nx_floor.push_back(f.duration_ns);
        drop.push_back(d.duration_ns);
        drop_floor.push_back(g.duration_ns);
    }
    FW_TRY(out.baseline());

    auto single = [](const char* name, const char* note, const std::vector<double>& v, const std::vector<double>& f,
                     size_t bytes) {
        double m = median(v), fl = median(f);
        return json{{"name", name},          {"note", note},     {"packet_bytes", bytes},
                    {"calls", v.size()},     {"ns", m},          {"floor_ns", fl},
                    {"ns_above_floor", m - fl}};
    };
    out.report = {
        {"what", "xdp_blocklist with every XDP feature enabled (issue 3)"},
        {"domains_load",
         {{"path", "DomainBlocklist::add_many (validate, key, bloom push per name, exact update_batch)"},
          {"domains", domains},
          {"written", written},
          {"held", held},
          {"seconds", load_s}}},
        {"config",
         {{"features", full.features},
          {"rl_pps", full.rl_pps},
          {"rl_bps", full.rl_bps},
          {"rl_syn_pps", full.rl_syn_pps},
          {"rl_syn_burst", full.rl_syn_burst},
          {"flow_sample_shift", full.flow_sample_shift},
          {"time_sample_shift", full.time_sample_shift},
          {"trusted_after_packets", full.trusted_after_packets},
          {"max_events_per_sec", full.max_events_per_sec},
          {"dns_action", "per domain: drop for the drop row, nxdomain for the nxdomain row"}}},
        {"single_shot",
         {{"method", "repeat 1 per BPF_PROG_TEST_RUN call, median over calls, floor (xdp_pass) the same way; "
                     "compare ns_above_floor, not ns, with the repeat rows"},
          {"rows",
           json::array({single("full_dns_query_blocked_nxdomain", "all features; www.<listed domain>, NXDOMAIN via XDP_TX",
                               nx, nx_floor, dns_nx.size()),
                        single("full_dns_query_blocked_drop_single_shot", "the drop row timed the same way, for scale",
                               drop, drop_floor, dns_drop.size())})}}},
    };
    return out;
}

}  // namespace flywall::bench
