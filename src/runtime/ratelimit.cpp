#include "runtime/ratelimit.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>

#include "runtime/policy_generation.hpp"
#include "runtime/slot_table.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall {

namespace {
constexpr uint64_t kNsPerSec = 1000000000ull;

// The kernel computes burst * 1e9 / rate and units * 1e9 / rate in 64 bits.
Status check_pair(const char* what, uint64_t rate, uint64_t burst) {
    if (!rate) return {};
    uint64_t b = burst ? burst : rate;
    if (b > std::numeric_limits<uint64_t>::max() / kNsPerSec)
        return Error::invalid(std::string("rate limit ") + what + ": burst too large (max 1.8e10)");
    if (b * kNsPerSec / rate == 0)
        return Error::invalid(std::string("rate limit ") + what + ": burst shorter than 1 ns at this rate");
    return {};
}
}  // namespace

Status apply_rate_limits(fw_xdp_config& cfg, const RateLimitSettings& s) {
    FW_TRY(check_pair("packets", s.pps, s.burst_packets));
    FW_TRY(check_pair("bytes", s.bps, s.burst_bytes));
    FW_TRY(check_pair("syn", s.syn_pps, s.syn_burst));
    FW_TRY(check_pair("icmp", s.icmp_pps, s.icmp_burst));
    FW_TRY(check_pair("udp", s.udp_pps, s.udp_burst));
    if (s.ipv6_prefix_len > 128) return Error::invalid("rate limit: ipv6 prefix length above 128");
    cfg.rl_pps = s.pps;
    cfg.rl_burst_packets = s.burst_packets;
    cfg.rl_bps = s.bps;
    cfg.rl_burst_bytes = s.burst_bytes;
    cfg.rl_syn_pps = s.syn_pps;
    cfg.rl_syn_burst = s.syn_burst;
    cfg.rl_icmp_pps = s.icmp_pps;
    cfg.rl_icmp_burst = s.icmp_burst;
    cfg.rl_udp_pps = s.udp_pps;
    cfg.rl_udp_burst = s.udp_burst;
    cfg.rl_ipv6_prefix_len = s.ipv6_prefix_len;
    if (s.any())
        cfg.features |= FW_F_RATE_LIMIT;
    else
        cfg.features &= ~static_cast<__u32>(FW_F_RATE_LIMIT);
    bump_policy_generation(cfg);
    return {};
}

RateLimitSettings rate_limits_of(const fw_xdp_config& c) {
    RateLimitSettings s;
    s.pps = c.rl_pps;
    s.burst_packets = c.rl_burst_packets;
    s.bps = c.rl_bps;
    s.burst_bytes = c.rl_burst_bytes;
    s.syn_pps = c.rl_syn_pps;
    s.syn_burst = c.rl_syn_burst;
    s.icmp_pps = c.rl_icmp_pps;
    s.icmp_burst = c.rl_icmp_burst;
    s.udp_pps = c.rl_udp_pps;
    s.udp_burst = c.rl_udp_burst;
    s.ipv6_prefix_len = c.rl_ipv6_prefix_len;
    return s;
}

Result<fw_rl_key> rate_limit_key(std::string_view address, uint32_t ipv6_prefix_len) {
    std::string a(address);
    fw_rl_key k{};
    if (inet_pton(AF_INET, a.c_str(), k.addr) == 1) {
        k.family = 4;
        return k;
    }
    if (inet_pton(AF_INET6, a.c_str(), k.addr) == 1) {
        k.family = 6;
        uint32_t plen = std::min<uint32_t>(ipv6_prefix_len, 128);
        for (uint32_t i = 0; i < 16; ++i) {
            uint32_t bits = plen > i * 8 ? std::min<uint32_t>(plen - i * 8, 8) : 0;
            k.addr[i] &= static_cast<uint8_t>(bits ? 0xFF00u >> bits : 0);
        }
        return k;
    }
    return Error::invalid("rate limit key: '" + a + "' is not an IP address");
}

std::string format_rate_limit_key(const fw_rl_key& key, uint32_t ipv6_prefix_len) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(key.family == 4 ? AF_INET : AF_INET6, key.addr, buf, sizeof(buf));
    std::string s = buf;
    if (key.family == 6 && ipv6_prefix_len < 128) s += "/" + std::to_string(ipv6_prefix_len);
    return s;
}

RateLimiterTable RateLimiterTable::of(const XdpFastPath& fp) { return {fp.rl_slots(), fp.tbl_config()}; }

namespace {

long find_source(std::span<fw_rl_slot> slots, const fw_tbl_config& seeds, const fw_rl_key& key) {
    fw_rl_key k = key;
    std::memset(k.pad, 0, sizeof(k.pad));
    __u64 h = fw_rl_hash(&k, seeds.rl_seed);
    return slot_table::find(slots, fw_rl_bucket(h), fw_tbl_tag(h), k);
}

}  // namespace

Result<size_t> RateLimiterTable::occupancy() const { return slot_table::count_used(slots_); }

Result<std::vector<RateLimitedSource>> RateLimiterTable::top_limited(size_t limit) const {
    std::vector<RateLimitedSource> all;
    slot_table::for_each_used(slots_, [&](const fw_rl_slot& s, fw_rl_slot&) {
        if (s.st.limited) all.push_back({s.key, s.st});
    });
    size_t n = std::min(limit, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                      [](const auto& a, const auto& b) { return a.state.limited > b.state.limited; });
    all.resize(n);
    return all;
}

Result<std::optional<fw_rl_state>> RateLimiterTable::lookup(const fw_rl_key& key) const {
    long i = find_source(slots_, seeds_, key);
    if (i < 0) return std::optional<fw_rl_state>{};
    fw_rl_state st;
    std::memcpy(&st, &slots_[static_cast<size_t>(i)].st, sizeof(st));
    return std::optional<fw_rl_state>{st};
}

Result<bool> RateLimiterTable::reset(const fw_rl_key& key) {
    long i = find_source(slots_, seeds_, key);
    if (i < 0) return false;
    fw_rl_slot& slot = slots_[static_cast<size_t>(i)];
    return slot_table::release(slot, std::atomic_ref<uint32_t>(slot.tag).load());
}

Result<bool> RateLimiterTable::store(const fw_rl_key& key, const fw_rl_state& state) {
    long i = find_source(slots_, seeds_, key);
    if (i < 0) return false;
    fw_rl_state& st = slots_[static_cast<size_t>(i)].st;
    auto put = [](__u64& dst, __u64 v) { std::atomic_ref<__u64>(dst).store(v); };
    put(st.pkt.tat_ns, state.pkt.tat_ns);
    put(st.byte.tat_ns, state.byte.tat_ns);
    put(st.syn.tat_ns, state.syn.tat_ns);
    put(st.icmp.tat_ns, state.icmp.tat_ns);
    put(st.udp.tat_ns, state.udp.tat_ns);
    put(st.limited, state.limited);
    put(st.last_event_ns, state.last_event_ns);
    put(st.last_seen_ns, state.last_seen_ns);
    return true;
}

}  // namespace flywall
