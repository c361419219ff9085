#include "runtime/flows.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <ctime>

#include "runtime/xdp_fastpath.hpp"

namespace flywall {

uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

std::string proto_name(uint8_t p) {
    switch (p) {
        case IPPROTO_TCP: return "tcp";
        case IPPROTO_UDP: return "udp";
        case IPPROTO_ICMP: return "icmp";
        case IPPROTO_ICMPV6: return "icmpv6";
        default: return "proto" + std::to_string(p);
    }
}

std::string addr_text(uint8_t family, const uint8_t* a) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 4 ? AF_INET : AF_INET6, a, buf, sizeof(buf));
    return buf;
}

}  // namespace

std::string format_flow_key(const fw_flow_key& k) {
    auto ep = [&](const uint8_t* a, __be16 port) {
        std::string s = addr_text(k.family, a);
        if (k.family == 6) s = "[" + s + "]";
        return s + ":" + std::to_string(ntohs(port));
    };
    return proto_name(k.proto) + " " + ep(k.saddr, k.sport) + " -> " + ep(k.daddr, k.dport) + " if " +
           std::to_string(k.ifindex);
}

Result<fw_flow_key> make_flow_key(const std::string& src, const std::string& dst, uint16_t sport,
                                  uint16_t dport, uint8_t proto, uint32_t ifindex) {
    fw_flow_key k{};
    if (inet_pton(AF_INET, src.c_str(), k.saddr) == 1 && inet_pton(AF_INET, dst.c_str(), k.daddr) == 1) {
        k.family = 4;
    } else if (inet_pton(AF_INET6, src.c_str(), k.saddr) == 1 && inet_pton(AF_INET6, dst.c_str(), k.daddr) == 1) {
        k.family = 6;
    } else {
        return Error::invalid("flow key " + src + " -> " + dst + ": addresses must be of one family");
    }
    k.sport = htons(sport);
    k.dport = htons(dport);
    k.proto = proto;
    k.ifindex = ifindex;
    return k;
}

FlowTable FlowTable::of(const XdpFastPath& fp) { return {fp.flows(), fp.stats()}; }

Result<std::vector<FlowEntry>> FlowTable::list(size_t limit, FlowSort sort) const {
    std::vector<FlowEntry> all;
    FW_TRY(map_.for_each([&](const fw_flow_key& k, const fw_flow_value& v) { all.push_back({k, v}); }));
    auto cmp = [sort](const FlowEntry& a, const FlowEntry& b) {
        return sort == FlowSort::Bytes ? a.value.bytes > b.value.bytes
                                       : a.value.last_seen_ns > b.value.last_seen_ns;
    };
    size_t n = std::min(limit, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), cmp);
    all.resize(n);
    return all;
}

Result<bool> FlowTable::set_trusted(const fw_flow_key& key, bool trusted) {
    FW_TRY_ASSIGN(auto cur, map_.lookup(key));
    if (!cur) return false;
    fw_flow_value v = *cur;
    if (trusted)
        v.flags |= FW_FLOW_TRUSTED;
    else
        v.flags &= ~static_cast<__u32>(FW_FLOW_TRUSTED | FW_FLOW_AUTO_TRUSTED);
    auto st = map_.update(key, v, BPF_EXIST);
    if (!st) {
        if (st.error().errnum() == ENOENT) return false;  // evicted meanwhile
        return std::move(st).error().wrap("set flow trust");
    }
    return true;
}

Result<size_t> FlowTable::expire_idle(uint64_t idle_timeout_ns, uint64_t now_ns) {
    std::vector<fw_flow_key> idle;
    FW_TRY(map_.for_each([&](const fw_flow_key& k, const fw_flow_value& v) {
        if (v.last_seen_ns < now_ns && now_ns - v.last_seen_ns > idle_timeout_ns) idle.push_back(k);
    }));
    FW_TRY_ASSIGN(size_t removed, map_.delete_batch(idle));
    expired_total_ += removed;
    return removed;
}

Result<FlowSample> FlowTable::sample() const {
    FlowSample s;
    s.at_ns = monotonic_ns();
    FW_TRY_ASSIGN(s.occupancy, map_.count());
    FW_TRY_ASSIGN(fw_stats st, stats_.lookup_sum(0));
    s.flows_new = st.flows_new;
    s.expired_by_us = expired_total_;
    return s;
}

EvictionEstimate FlowTable::estimate_evictions(const FlowSample& a, const FlowSample& b) {
    EvictionEstimate e;
    e.new_flows = b.flows_new >= a.flows_new ? b.flows_new - a.flows_new : 0;
    e.occupancy_growth = static_cast<int64_t>(b.occupancy) - static_cast<int64_t>(a.occupancy);
    e.expired = b.expired_by_us >= a.expired_by_us ? b.expired_by_us - a.expired_by_us : 0;
    int64_t ev = static_cast<int64_t>(e.new_flows) - e.occupancy_growth - static_cast<int64_t>(e.expired);
    e.evicted = ev > 0 ? static_cast<uint64_t>(ev) : 0;
    e.evicted_per_new = e.new_flows ? static_cast<double>(e.evicted) / static_cast<double>(e.new_flows) : 0.0;
    return e;
}

}  // namespace flywall
