#include "runtime/flows.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <cstdint>
#include <ctime>

#include "runtime/slot_table.hpp"
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

FlowTable FlowTable::of(const XdpFastPath& fp) { return {fp.flow_slots(), fp.tbl_config(), fp.stats()}; }

namespace {

struct Where {
    uint32_t base, tag;
};

// Keys as the program builds them: padding zero.
fw_flow_key normalized(fw_flow_key k) {
    k.pad = 0;
    k.pad2 = 0;
    return k;
}

// Bucket and tag of a normalized key.
Where where(const fw_flow_key& k, const fw_tbl_config& seeds) {
    __u64 h = fw_flow_hash(&k, seeds.flow_seed);
    return {fw_flow_bucket(h), fw_tbl_tag(h)};
}

bool same_key(const fw_flow_key& a, const fw_flow_key& b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

}  // namespace

Result<std::vector<FlowEntry>> FlowTable::list(size_t limit, FlowSort sort) const {
    std::vector<FlowEntry> all;
    // Twins share a bucket, so they are adjacent in slot order within FW_WAYS slots.
    size_t cur_bucket = SIZE_MAX, first_of_bucket = 0;
    slot_table::for_each_used(slots_, [&](const fw_flow_slot& s, const fw_flow_slot& live) {
        size_t bucket = static_cast<size_t>(&live - slots_.data()) / FW_WAYS;
        if (bucket != cur_bucket) {
            cur_bucket = bucket;
            first_of_bucket = all.size();
        }
        for (size_t i = first_of_bucket; i < all.size(); ++i) {
            if (same_key(all[i].key, s.key)) {
                FlowEntry& e = all[i];
                e.value.packets += s.v.packets;
                e.value.bytes += s.v.bytes;
                e.value.first_seen_ns = std::min(e.value.first_seen_ns, s.v.first_seen_ns);
                e.value.last_seen_ns = std::max(e.value.last_seen_ns, s.v.last_seen_ns);
                e.value.flags |= s.v.flags;
                e.value.tcp_flags_seen |= s.v.tcp_flags_seen;
                return;
            }
        }
        all.push_back({s.key, s.v});
    });
    auto cmp = [sort](const FlowEntry& a, const FlowEntry& b) {
        return sort == FlowSort::Bytes ? a.value.bytes > b.value.bytes
                                       : a.value.last_seen_ns > b.value.last_seen_ns;
    };
    size_t n = std::min(limit, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), cmp);
    all.resize(n);
    return all;
}

Result<std::optional<fw_flow_value>> FlowTable::lookup(const fw_flow_key& key) const {
    const fw_flow_key k = normalized(key);
    auto [base, tag] = where(k, seeds_);
    long i = slot_table::find(slots_, base, tag, k);
    if (i < 0) return std::optional<fw_flow_value>{};
    fw_flow_value v;
    std::memcpy(&v, &slots_[static_cast<size_t>(i)].v, sizeof(v));
    return std::optional<fw_flow_value>{v};
}

Result<bool> FlowTable::set_trusted(const fw_flow_key& key, bool trusted) {
    const fw_flow_key k = normalized(key);
    const Where w = where(k, seeds_);  // named (not a structured binding): the lambda below captures it
    const auto base = w.base;
    const auto tag = w.tag;
    size_t changed = 0;
    slot_table::for_each_match(slots_, base, tag, k, [&](uint32_t, fw_flow_slot& s) {
        std::atomic_ref<__u16> flags(s.v.flags);
        if (!trusted) {
            flags.fetch_and(static_cast<__u16>(~(FW_FLOW_TRUSTED | FW_FLOW_AUTO_TRUSTED)));
            ++changed;
            return;
        }
        __u16 before = flags.fetch_or(static_cast<__u16>(FW_FLOW_TRUSTED));
        // The slot may have changed hands between the match and the or: then the trust went to
        // another flow, which must not skip the checks. Undo it (unless it was trusted before).
        if (!slot_table::still_holds(s, tag, k)) {
            if (!(before & FW_FLOW_TRUSTED)) flags.fetch_and(static_cast<__u16>(~FW_FLOW_TRUSTED));
            return;
        }
        ++changed;
    });
    return changed > 0;
}

Result<bool> FlowTable::store(const fw_flow_key& key, const fw_flow_value& value) {
    const fw_flow_key k = normalized(key);
    auto [base, tag] = where(k, seeds_);
    long i = slot_table::find(slots_, base, tag, k);
    if (i < 0) return false;
    fw_flow_value& v = slots_[static_cast<size_t>(i)].v;
    std::atomic_ref<__u64>(v.first_seen_ns).store(value.first_seen_ns);
    std::atomic_ref<__u64>(v.last_seen_ns).store(value.last_seen_ns);
    std::atomic_ref<__u64>(v.packets).store(value.packets);
    std::atomic_ref<__u64>(v.bytes).store(value.bytes);
    std::atomic_ref<__u16>(v.flags).store(value.flags);
    std::atomic_ref<__u32>(v.trust_gen).store(value.trust_gen);
    std::atomic_ref<__u8>(v.tcp_flags_seen).store(value.tcp_flags_seen);
    return true;
}

Result<size_t> FlowTable::expire_idle(uint64_t idle_timeout_ns, uint64_t now_ns) {
    size_t removed = 0;
    slot_table::for_each_used(slots_, [&](const fw_flow_slot& s, fw_flow_slot& live) {
        if (s.v.last_seen_ns < now_ns && now_ns - s.v.last_seen_ns > idle_timeout_ns) {
            // Re-read last_seen on the live slot: a packet may have arrived since the copy.
            uint64_t last = std::atomic_ref<__u64>(live.v.last_seen_ns).load();
            if (last < now_ns && now_ns - last > idle_timeout_ns && slot_table::release(live, s.tag)) ++removed;
        }
    });
    expired_total_ += removed;
    return removed;
}

Result<size_t> FlowTable::occupancy() const { return slot_table::count_used(slots_); }

Result<FlowSample> FlowTable::sample() const {
    FlowSample s;
    s.at_ns = monotonic_ns();
    s.occupancy = slot_table::count_used(slots_);
    FW_TRY_ASSIGN(fw_stats st, stats_.lookup_sum(0));
    s.flows_new = st.flows_new;
    s.flows_evicted = st.flows_evicted;
    s.expired_by_us = expired_total_;
    return s;
}

EvictionEstimate FlowTable::estimate_evictions(const FlowSample& a, const FlowSample& b) {
    EvictionEstimate e;
    e.new_flows = b.flows_new >= a.flows_new ? b.flows_new - a.flows_new : 0;
    e.occupancy_growth = static_cast<int64_t>(b.occupancy) - static_cast<int64_t>(a.occupancy);
    e.expired = b.expired_by_us >= a.expired_by_us ? b.expired_by_us - a.expired_by_us : 0;
    e.evicted = b.flows_evicted >= a.flows_evicted ? b.flows_evicted - a.flows_evicted : 0;
    e.evicted_per_new = e.new_flows ? static_cast<double>(e.evicted) / static_cast<double>(e.new_flows) : 0.0;
    return e;
}

}  // namespace flywall
