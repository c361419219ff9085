// The XDP fast path program (bpf/xdp_blocklist.bpf.c): owner of its skeleton and typed access to
// its maps and runtime configuration.
#pragma once

#include "flywall/abi.h"
// clang-format off
#include "xdp_blocklist.skel.h"
// clang-format on

#include "common/result.hpp"
#include "runtime/bloom_map.hpp"
#include "runtime/loader.hpp"
#include "runtime/map.hpp"

namespace flywall {

template <>
struct SkeletonTraits<xdp_blocklist> {
    static constexpr const char* name = "xdp_blocklist";
    static xdp_blocklist* open() { return xdp_blocklist__open(); }
    static int load(xdp_blocklist* s) { return xdp_blocklist__load(s); }
    static void destroy(xdp_blocklist* s) { xdp_blocklist__destroy(s); }
};

class XdpFastPath {
public:
    static Result<XdpFastPath> load();

    int prog_fd() const { return bpf_program__fd(skel_->progs.xdp_blocklist); }
    bpf_object* object() const { return skel_.object(); }
    const char* program_name() const { return "xdp_blocklist"; }

    // Live runtime configuration (mmapped .bss): writes take effect on the next packet.
    fw_xdp_config& config() { return skel_->bss->fw_cfg; }
    const fw_xdp_config& config() const { return skel_->bss->fw_cfg; }

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

    // Issue 3: DNS blocklist (bloom prefilter + exact hash), rate limiter, flows, events.
    BloomMap<__u64> dns_bloom() const { return {map_fd(skel_->maps.fw_dns_bloom), "fw_dns_bloom"}; }
    Map<fw_dns_key, fw_dns_entry> dns_exact() const { return {map_fd(skel_->maps.fw_dns_exact), "fw_dns_exact"}; }
    Map<fw_rl_key, fw_rl_state> rate_limit() const { return {map_fd(skel_->maps.fw_rl_map), "fw_rl_map"}; }
    Map<fw_flow_key, fw_flow_value> flows() const { return {map_fd(skel_->maps.fw_flows), "fw_flows"}; }
    // The events ring buffer (BPF_MAP_TYPE_RINGBUF) for ring_buffer__new(); records are fw_event.
    int events_fd() const { return map_fd(skel_->maps.fw_events); }
    // State of the BPF-side event cap (GCRA theoretical arrival time); 0 = a full burst.
    __u64& event_cap_state() { return skel_->bss->fw_event_tat; }

    // Statistics summed over CPUs.
    Result<fw_stats> stats_total() const { return stats().lookup_sum(0); }
    Status reset_stats() { return stats().reset(0); }

    // Every map of the program, for listing (`GET /api/ebpf/maps`).
    std::vector<MapRef> all_maps() const;

private:
    explicit XdpFastPath(Skeleton<xdp_blocklist> s) : skel_(std::move(s)) {}
    static int map_fd(const bpf_map* m) { return bpf_map__fd(m); }
    Skeleton<xdp_blocklist> skel_;
};

// Default runtime configuration: statistics and IP lists on, malformed packets pass.
fw_xdp_config default_xdp_config();

}  // namespace flywall
