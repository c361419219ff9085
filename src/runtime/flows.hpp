// Flow table (user side of bpf/lib/fw_flow.h): listing, trusted marks, idle expiry, occupancy
// and the eviction rate. The table is the mmapped set-associative array of
// bpf/include/flywall/flowtable.h, read and changed in place.
//
// Concurrency: the kernel updates counters with atomic adds while user space reads snapshots.
// set_trusted() flips the flag bits with atomic or/and, so no kernel increment is lost.
// expire_idle() releases flows that were idle when read with a compare-and-swap of the slot
// state; a flow that wakes up in between is recreated by its next packet. Twins (the same
// flow inserted by two CPUs at one instant) are merged in listings.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "flywall/abi.h"
#include "flywall/flowtable.h"
#include "runtime/map.hpp"

namespace flywall {

class XdpFastPath;

// CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns(). Flow timestamps come from the
// program's millisecond clock (fw_fast_now in bpf/lib/fw_gcra.h: this clock as a BPF timer read
// it at most ~1 ms before), so last_seen_ns can lag this by about a millisecond.
uint64_t monotonic_ns();

struct FlowEntry {
    fw_flow_key key{};
    fw_flow_value value{};
};

enum class FlowSort { LastSeen, Bytes };

// "tcp 198.18.0.1:1234 -> 198.18.0.2:80 if 3"
std::string format_flow_key(const fw_flow_key& key);
// Builds a key from text addresses (IPv4 or IPv6, both the same family) and host-order ports.
Result<fw_flow_key> make_flow_key(const std::string& src, const std::string& dst, uint16_t sport,
                                  uint16_t dport, uint8_t proto, uint32_t ifindex);

// One reading of the counters the eviction figures need.
struct FlowSample {
    uint64_t at_ns = 0;
    uint64_t occupancy = 0;
    uint64_t flows_new = 0;      // fw_stats.flows_new summed over CPUs
    uint64_t expired_by_us = 0;  // flows this FlowTable released
    uint64_t flows_evicted = 0;  // fw_stats.flows_evicted: replaced as their bucket's LRU victim
};

struct EvictionEstimate {
    uint64_t new_flows = 0;       // created between the two samples
    int64_t occupancy_growth = 0;
    uint64_t expired = 0;          // removed by expire_idle in between
    uint64_t evicted = 0;          // counted by the program (exact, not estimated)
    double evicted_per_new = 0;    // LRU pressure: 0 = none, 1 = every new flow evicted one
};

class FlowTable {
public:
    FlowTable(std::span<fw_flow_slot> slots, const fw_tbl_config& seeds, PerCpuMap<__u32, fw_stats> stats)
        : slots_(slots), seeds_(seeds), stats_(std::move(stats)) {}
    static FlowTable of(const XdpFastPath& fp);

    // Up to `limit` flows, most recent (or largest) first.
    Result<std::vector<FlowEntry>> list(size_t limit, FlowSort sort = FlowSort::LastSeen) const;
    Result<std::optional<fw_flow_value>> lookup(const fw_flow_key& key) const;
    // Returns false when the flow is not tracked. Untrusting also clears the auto-trusted mark.
    Result<bool> set_trusted(const fw_flow_key& key, bool trusted);
    // Overwrites timestamps, counters and flags of a tracked flow (false when not tracked): to
    // carry state over, or to age a flow on purpose.
    Result<bool> store(const fw_flow_key& key, const fw_flow_value& value);
    // Releases flows whose last packet is older than `idle_timeout_ns` at `now_ns`; returns count.
    Result<size_t> expire_idle(uint64_t idle_timeout_ns, uint64_t now_ns = monotonic_ns());

    Result<size_t> occupancy() const;
    static constexpr size_t capacity() { return FW_FLOW_MAX; }
    Result<FlowSample> sample() const;
    static EvictionEstimate estimate_evictions(const FlowSample& before, const FlowSample& after);

private:
    std::span<fw_flow_slot> slots_;
    fw_tbl_config seeds_;
    PerCpuMap<__u32, fw_stats> stats_;
    uint64_t expired_total_ = 0;
};

}  // namespace flywall
