// Per-source rate limiting (user side of bpf/lib/fw_ratelimit.h): settings written into the
// live fw_xdp_config, and a view of the limiter's own table (occupancy, top offenders): the
// mmapped set-associative array of bpf/include/flywall/flowtable.h.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "flywall/abi.h"
#include "flywall/flowtable.h"
#include "runtime/map.hpp"

namespace flywall {

class XdpFastPath;

// Rates are per source and second; 0 = no such limit. A burst of 0 = one second's worth.
struct RateLimitSettings {
    uint64_t pps = 0, burst_packets = 0;
    uint64_t bps = 0, burst_bytes = 0;   // bytes/s and bytes (whole Ethernet frames)
    uint64_t syn_pps = 0, syn_burst = 0;  // TCP SYN without ACK
    uint64_t icmp_pps = 0, icmp_burst = 0;
    uint64_t udp_pps = 0, udp_burst = 0;
    uint32_t ipv6_prefix_len = 64;       // IPv6 sources are grouped by this prefix
    bool any() const { return pps || bps || syn_pps || icmp_pps || udp_pps; }
};

// Validates and writes the settings into `cfg`; sets FW_F_RATE_LIMIT when any limit is set and
// clears it otherwise. Takes effect on the next packet.
Status apply_rate_limits(fw_xdp_config& cfg, const RateLimitSettings& s);
RateLimitSettings rate_limits_of(const fw_xdp_config& cfg);

// The limiter key of a source address as the kernel builds it (IPv6 masked to the prefix).
Result<fw_rl_key> rate_limit_key(std::string_view address, uint32_t ipv6_prefix_len = 64);
// "198.18.0.1" or "2001:db8::/64".
std::string format_rate_limit_key(const fw_rl_key& key, uint32_t ipv6_prefix_len = 64);

struct RateLimitedSource {
    fw_rl_key key{};
    fw_rl_state state{};
};

class RateLimiterTable {
public:
    RateLimiterTable(std::span<fw_rl_slot> slots, const fw_tbl_config& seeds) : slots_(slots), seeds_(seeds) {}
    static RateLimiterTable of(const XdpFastPath& fp);

    Result<size_t> occupancy() const;
    static constexpr size_t capacity() { return FW_RATE_MAX; }
    // Sources with the most dropped packets first (only sources that were limited at all).
    Result<std::vector<RateLimitedSource>> top_limited(size_t limit) const;
    Result<std::optional<fw_rl_state>> lookup(const fw_rl_key& key) const;
    // Forget a source: its buckets start full again. False when it is not in the table.
    Result<bool> reset(const fw_rl_key& key);
    // Overwrites the buckets and counters of a source in the table (false when absent): to
    // carry state over, or to move a bucket in time on purpose.
    Result<bool> store(const fw_rl_key& key, const fw_rl_state& state);

private:
    std::span<fw_rl_slot> slots_;
    fw_tbl_config seeds_;
};

}  // namespace flywall
