// The XDP fast path program (bpf/xdp_blocklist.bpf.c): owner of its skeleton and typed access to
// its maps and runtime configuration.
#pragma once

#include "flywall/abi.h"
#include "flywall/fasttable.h"
#include "flywall/flowtable.h"
// clang-format off
#include "xdp_blocklist.skel.h"
// clang-format on

#include <array>
#include <optional>
#include <span>

#include "common/result.hpp"
#include "runtime/bloom_map.hpp"
#include "runtime/carry_over.hpp"
#include "runtime/loader.hpp"
#include "runtime/map.hpp"
#include "runtime/policy_generation.hpp"

namespace flywall {

// Load-time choices of the fast path. Fast-table slot counts are powers of two in
// [2^FW_FT_MIN_BITS, 2^FW_FT_MAX_BITS] (memory: 32 B a slot for IPv4, 48 B for IPv6, per list);
// entries beyond what fits within the probe bound go to the overflow hash maps, so smaller
// tables trade speed, never correctness. The hash seed is random unless given.
struct XdpLoadOptions {
    uint32_t ft_slots4 = FW_FT_SLOTS4_DEFAULT;
    uint32_t ft_slots6 = FW_FT_SLOTS6_DEFAULT;
    std::optional<std::array<uint64_t, 2>> ft_seed;
    // Seeds of the flow and rate-limiter tables (flywall/flowtable.h); random unless given.
    std::optional<fw_tbl_config> tbl_seed;
};

// A MAP_SHARED mapping of a BPF_F_MMAPABLE map; move-only, unmapped on destruction.
class MapMmap {
public:
    MapMmap() = default;
    static Result<MapMmap> map(int fd, size_t bytes, const char* name);
    MapMmap(MapMmap&& o) noexcept : p_(std::exchange(o.p_, nullptr)), len_(std::exchange(o.len_, 0)) {}
    MapMmap& operator=(MapMmap&& o) noexcept;
    MapMmap(const MapMmap&) = delete;
    MapMmap& operator=(const MapMmap&) = delete;
    ~MapMmap();
    void* data() const { return p_; }
    size_t size() const { return len_; }

private:
    void unmap() noexcept;
    void* p_ = nullptr;
    size_t len_ = 0;
};

template <>
struct SkeletonTraits<xdp_blocklist> {
    static constexpr const char* name = "xdp_blocklist";
    static xdp_blocklist* open() { return xdp_blocklist__open(); }
    static int load(xdp_blocklist* s) { return xdp_blocklist__load(s); }
    static void destroy(xdp_blocklist* s) { xdp_blocklist__destroy(s); }
};

class XdpFastPath {
public:
    static Result<XdpFastPath> load(const XdpLoadOptions& opts = {});

    int prog_fd() const { return bpf_program__fd(skel_->progs.xdp_blocklist); }
    bpf_object* object() const { return skel_.object(); }
    const char* program_name() const { return "xdp_blocklist"; }

    // Live runtime configuration (mmapped .bss): writes take effect on the next packet.
    fw_xdp_config& config() { return skel_->bss->fw_cfg; }
    const fw_xdp_config& config() const { return skel_->bss->fw_cfg; }
    // The policy generation word (fw_xdp_config.policy_gen) for owners of lists that are not
    // handed the whole config (DomainBlocklist).
    __u32* policy_gen_word() const { return &skel_->bss->fw_cfg.policy_gen; }

    Map<__u32, fw_ip_entry> allow4() const { return {map_fd(skel_->maps.fw_allow4), "fw_allow4"}; }
    Map<__u32, fw_ip_entry> block4() const { return {map_fd(skel_->maps.fw_block4), "fw_block4"}; }
    Map<fw_ip6_addr, fw_ip_entry> allow6() const { return {map_fd(skel_->maps.fw_allow6), "fw_allow6"}; }
    Map<fw_ip6_addr, fw_ip_entry> block6() const { return {map_fd(skel_->maps.fw_block6), "fw_block6"}; }
    Map<fw_lpm4_key, fw_ip_entry> allow4_lpm() const { return {map_fd(skel_->maps.fw_allow4_lpm), "fw_allow4_lpm"}; }
    Map<fw_lpm4_key, fw_ip_entry> block4_lpm() const { return {map_fd(skel_->maps.fw_block4_lpm), "fw_block4_lpm"}; }
    Map<fw_lpm6_key, fw_ip_entry> allow6_lpm() const { return {map_fd(skel_->maps.fw_allow6_lpm), "fw_allow6_lpm"}; }
    Map<fw_lpm6_key, fw_ip_entry> block6_lpm() const { return {map_fd(skel_->maps.fw_block6_lpm), "fw_block6_lpm"}; }
    Map<__u32, __u8> guard4() const { return {map_fd(skel_->maps.fw_lpm_guard4), "fw_lpm_guard4"}; }
    Map<__u32, __u8> guard6() const { return {map_fd(skel_->maps.fw_lpm_guard6), "fw_lpm_guard6"}; }
    PerCpuMap<__u32, fw_stats> stats() const { return {map_fd(skel_->maps.fw_stats_map), "fw_stats_map"}; }

    // Exact-address fast tables (bpf/lib/fw_fasttable.h): slots through the mmapped arrays;
    // the maps above (allow4() ... block6()) are their overflow stores. IpLists owns both.
    std::span<fw_ft4_slot> ft_allow4() const { return slots<fw_ft4_slot>(ft_[FW_FT_ALLOW4]); }
    std::span<fw_ft4_slot> ft_block4() const { return slots<fw_ft4_slot>(ft_[FW_FT_BLOCK4]); }
    std::span<fw_ft6_slot> ft_allow6() const { return slots<fw_ft6_slot>(ft_[FW_FT_ALLOW6]); }
    std::span<fw_ft6_slot> ft_block6() const { return slots<fw_ft6_slot>(ft_[FW_FT_BLOCK6]); }
    // Overflow hints of table t (fw_ft_table): bit (home % 64) of word (home / 64).
    std::span<__u64> ft_hints(unsigned t) const { return slots<__u64>(ft_hint_[t]); }
    // Seed, slot-count shifts and overflow skip bits (mmapped .bss).
    fw_ft_config& ft_config() { return skel_->bss->fw_ft; }
    const fw_ft_config& ft_config() const { return skel_->bss->fw_ft; }
    // Bytes the kernel holds for the four fast tables.
    uint64_t ft_memory_bytes() const;

    // Issue 3: DNS blocklist (bloom prefilter + exact hash), rate limiter, flows, events.
    BloomMap<__u64> dns_bloom() const { return {map_fd(skel_->maps.fw_dns_bloom), "fw_dns_bloom"}; }
    Map<fw_dns_key, fw_dns_entry> dns_exact() const { return {map_fd(skel_->maps.fw_dns_exact), "fw_dns_exact"}; }
    // Rate limiter and flow tables (flywall/flowtable.h): slots through the mmapped arrays;
    // RateLimiterTable and FlowTable (ratelimit.hpp, flows.hpp) are their typed views.
    std::span<fw_rl_slot> rl_slots() const { return slots<fw_rl_slot>(rl_); }
    std::span<fw_flow_slot> flow_slots() const { return slots<fw_flow_slot>(flows_); }
    // Copies a previous instance's flow and limiter slots into this (not yet attached) instance
    // when it was loaded with their seeds and their slot layout is this build's (carry_over.hpp).
    // Slots a writer had claimed but not finished go back to EMPTY.
    struct Adopted {
        bool flows = false, rl = false;
        std::string why_not;  // what was not carried over, and why
    };
    Adopted adopt(const CarriedTables& previous);
    const fw_tbl_config& tbl_config() const { return skel_->bss->fw_tbl; }
    // The program's millisecond clock (fw_fast_now, bpf/lib/fw_gcra.h): CLOCK_MONOTONIC as its
    // BPF timer last stored it; 0 until the first packet started the timer and it ran once.
    uint64_t fast_clock_ns() const { return __atomic_load_n(&skel_->bss->fw_clock_ns, __ATOMIC_RELAXED); }
    // Watchdog of that clock, for a periodic caller: when it lags `now_ns` (CLOCK_MONOTONIC) by
    // more than `max_lag_ns` its timer is not running, so the word is zeroed and the next packet
    // stores the time and arms the timer again. Returns true when it reset the clock.
    bool watch_fast_clock(uint64_t now_ns, uint64_t max_lag_ns = 50'000'000);
    // The events ring buffer (BPF_MAP_TYPE_RINGBUF) for ring_buffer__new(); records are fw_event.
    int events_fd() const { return map_fd(skel_->maps.fw_events); }
    // State of the BPF-side event cap (GCRA theoretical arrival time); 0 = a full burst.
    __u64& event_cap_state() { return skel_->bss->fw_event_tat; }

    // Statistics summed over CPUs.
    Result<fw_stats> stats_total() const { return stats().lookup_sum(0); }
    Status reset_stats() { return stats().reset(0); }

    // Every map of the program, for listing (`GET /api/ebpf/maps`).
    std::vector<MapRef> all_maps() const;
    // The program's ring buffers (events), for the event processor.
    std::vector<int> ring_fds() const;

private:
    explicit XdpFastPath(Skeleton<xdp_blocklist> s) : skel_(std::move(s)) {}
    static int map_fd(const bpf_map* m) { return bpf_map__fd(m); }
    template <class Slot>
    static std::span<Slot> slots(const MapMmap& m) {
        return {static_cast<Slot*>(m.data()), m.size() / sizeof(Slot)};
    }
    Skeleton<xdp_blocklist> skel_;
    std::array<MapMmap, 4> ft_;       // indexed by fw_ft_table; sized exactly slots x slot size
    std::array<MapMmap, 4> ft_hint_;  // indexed by fw_ft_table
    MapMmap rl_, flows_;
};

// Default runtime configuration: statistics and IP lists on, malformed packets pass.
fw_xdp_config default_xdp_config();

}  // namespace flywall
