#include "runtime/tc_classifier.hpp"

#include <bpf/libbpf.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "flywall/abi.h"  // FW_TIME_SAMPLE_SHIFT_DEFAULT

namespace flywall {

fw_tc_config default_tc_config() {
    fw_tc_config c{};
    c.features = FW_TC_F_FLOWS | FW_TC_F_QOS | FW_TC_F_IPS | FW_TC_F_STATS | FW_TC_F_EVENTS;
    c.qos_generation = 1;  // flows start at 0: their first packet classifies
    c.ips_scan_bytes = FW_IPS_SCAN_MAX;
    c.pass_unspec = 0;
    c.time_sample_shift = FW_TIME_SAMPLE_SHIFT_DEFAULT;
    return c;
}

const char* tcp_state_name(uint8_t state) {
    switch (state) {
        case FW_TCP_NEW: return "new";
        case FW_TCP_SYN_SENT: return "syn_sent";
        case FW_TCP_SYN_RECV: return "syn_recv";
        case FW_TCP_ESTABLISHED: return "established";
        case FW_TCP_FIN_WAIT: return "fin_wait";
        case FW_TCP_CLOSED: return "closed";
        default: return "unknown";
    }
}

// Mirrors fw_tc_flow_key_make in bpf/lib/fw_tc_flow.h: endpoints ordered by their address as
// four native-endian u32 words, then by the port's network-order bytes read as a native u16.
fw_tc_flow_key tc_flow_key(uint8_t family, const uint8_t* saddr, uint16_t sport, const uint8_t* daddr,
                           uint16_t dport, uint8_t proto) {
    uint32_t s[4] = {}, d[4] = {};
    const size_t alen = family == 4 ? 4 : 16;
    std::memcpy(s, saddr, alen);
    std::memcpy(d, daddr, alen);
    const uint16_t ps = htons(sport), pd = htons(dport);
    int cmp = 0;
    for (int i = 0; i < 4 && cmp == 0; ++i)
        if (s[i] != d[i]) cmp = s[i] < d[i] ? -1 : 1;
    if (cmp == 0 && ps != pd) cmp = ps < pd ? -1 : 1;
    fw_tc_flow_key k{};
    k.proto = proto;
    k.family = family;
    const bool src_lo = cmp <= 0;
    std::memcpy(k.addr_lo, src_lo ? s : d, 16);
    std::memcpy(k.addr_hi, src_lo ? d : s, 16);
    k.port_lo = src_lo ? ps : pd;
    k.port_hi = src_lo ? pd : ps;
    return k;
}

IpsPattern IpsPattern::from_string(uint32_t id, std::string_view text, IpsAction action) {
    IpsPattern p;
    p.id = id;
    p.bytes.assign(text.begin(), text.end());
    p.action = action;
    return p;
}

struct TcClassifier::EventReader {
    ring_buffer* rb = nullptr;
    const std::function<void(const fw_tc_event&)>* handler = nullptr;
    int delivered = 0;
    ~EventReader() {
        if (rb) ring_buffer__free(rb);
    }
    static int on_record(void* ctx, void* data, size_t size) {
        auto* self = static_cast<EventReader*>(ctx);
        if (size < sizeof(fw_tc_event) || !self->handler) return 0;
        fw_tc_event ev;
        std::memcpy(&ev, data, sizeof(ev));
        (*self->handler)(ev);
        ++self->delivered;
        return 0;
    }
};

TcClassifier::TcClassifier(Skeleton<tc_classifier> s)
    : skel_(std::move(s)), ips_slots_(FW_IPS_PATTERNS_MAX) {}
TcClassifier::TcClassifier(TcClassifier&&) noexcept = default;
TcClassifier& TcClassifier::operator=(TcClassifier&&) noexcept = default;
TcClassifier::~TcClassifier() = default;

Result<TcClassifier> TcClassifier::load() {
    FW_TRY_ASSIGN(auto skel, Skeleton<tc_classifier>::open_and_load([](tc_classifier* s) -> Status {
        s->bss->fw_tc_cfg = default_tc_config();
        return {};
    }));
    skel->bss->fw_tc_cfg = default_tc_config();
    return TcClassifier(std::move(skel));
}

void TcClassifier::set_feature(uint32_t bit, bool on) {
    auto& f = config().features;
    f = on ? (f | bit) : (f & ~bit);
}

Status TcClassifier::set_ips_scan_bytes(uint32_t n) {
    if (n < 2 || n > FW_IPS_SCAN_MAX)
        return Error::invalid("set IPS scan bytes: " + std::to_string(n) + " not in [2, " +
                              std::to_string(FW_IPS_SCAN_MAX) + "]");
    config().ips_scan_bytes = n;
    return {};
}

// ---- QoS ----

namespace {

Result<fw_qos_rule> encode_rule(const QosRule& r, size_t index) {
    const std::string where = "QoS rule " + std::to_string(index);
    fw_qos_rule k{};
    if (r.classid == 0) return Error::invalid(where + ": classid 0 is not a class");
    k.classid = r.classid;
    k.priority = r.priority;
    if (r.proto) {
        k.flags |= FW_QOS_MATCH_PROTO;
        k.proto = *r.proto;
    }
    if (r.sport) {
        if (r.sport->lo > r.sport->hi) return Error::invalid(where + ": empty source port range");
        k.flags |= FW_QOS_MATCH_SPORT;
        k.sport_lo = r.sport->lo;
        k.sport_hi = r.sport->hi;
    }
    if (r.dport) {
        if (r.dport->lo > r.dport->hi) return Error::invalid(where + ": empty destination port range");
        k.flags |= FW_QOS_MATCH_DPORT;
        if (r.dport_matches_either) k.flags |= FW_QOS_MATCH_PORT_EITHER;
        k.dport_lo = r.dport->lo;
        k.dport_hi = r.dport->hi;
    }
    if (r.dscp) {
        if (*r.dscp > 63) return Error::invalid(where + ": DSCP above 63");
        k.flags |= FW_QOS_MATCH_DSCP;
        k.dscp = *r.dscp;
    }
    if (r.set_dscp) {
        if (*r.set_dscp > 63) return Error::invalid(where + ": DSCP rewrite above 63");
        k.flags |= FW_QOS_SET_DSCP;
        k.set_dscp = *r.set_dscp;
    }
    k.flags |= FW_QOS_ENABLED;
    return k;
}

}  // namespace

Status TcClassifier::write_qos_table(const std::vector<QosRule>& rules, size_t reset_stats_from) {
    if (rules.size() > FW_QOS_RULES_MAX)
        return Error::from_errno(ENOSPC, "QoS rules: more than " + std::to_string(FW_QOS_RULES_MAX));
    std::vector<fw_qos_rule> encoded;
    for (size_t i = 0; i < rules.size(); ++i) {
        FW_TRY_ASSIGN(auto k, encode_rule(rules[i], i));
        encoded.push_back(k);
    }
    auto map = qos_rule_map();
    const uint32_t old_count = config().qos_rule_count;
    // Shrink first so the kernel never reads past the new table while it is rewritten.
    config().qos_rule_count = std::min<uint32_t>(old_count, static_cast<uint32_t>(encoded.size()));
    for (uint32_t i = 0; i < encoded.size(); ++i) FW_TRY(map.update(i, encoded[i]));
    for (uint32_t i = static_cast<uint32_t>(encoded.size()); i < old_count; ++i) FW_TRY(map.update(i, fw_qos_rule{}));
    for (uint32_t i = static_cast<uint32_t>(reset_stats_from); i < FW_QOS_RULES_MAX; ++i) {
        if (i >= std::max<size_t>(old_count, encoded.size())) break;
        FW_TRY(qos_stats_map().reset(i));
    }
    config().qos_rule_count = static_cast<uint32_t>(encoded.size());
    config().qos_generation = config().qos_generation + 1 ? config().qos_generation + 1 : 1;
    qos_rules_ = rules;
    return {};
}

Result<size_t> TcClassifier::add_qos_rule(const QosRule& rule) {
    auto rules = qos_rules_;
    rules.push_back(rule);
    FW_TRY(write_qos_table(rules, rules.size() - 1));
    return rules.size() - 1;
}

Status TcClassifier::remove_qos_rule(size_t index) {
    if (index >= qos_rules_.size())
        return Error::from_errno(ENOENT, "remove QoS rule " + std::to_string(index));
    auto rules = qos_rules_;
    rules.erase(rules.begin() + static_cast<long>(index));
    return write_qos_table(rules, index);
}

Status TcClassifier::set_qos_rules(const std::vector<QosRule>& rules) { return write_qos_table(rules, 0); }

Result<fw_qos_class_stats> TcClassifier::qos_class_stats(size_t index) const {
    if (index >= FW_QOS_RULES_MAX) return Error::invalid("QoS class statistics: index out of range");
    return qos_stats_map().lookup_sum(static_cast<__u32>(index));
}

// ---- IPS ----

Status TcClassifier::update_prefix(uint32_t slot_key) {
    uint64_t mask = 0;
    for (size_t j = 0; j < ips_slots_.size(); ++j) {
        const auto& p = ips_slots_[j];
        if (p && ((uint32_t(p->bytes[0]) << 8) | p->bytes[1]) == slot_key) mask |= uint64_t(1) << j;
    }
    return ips_prefix_map().update(slot_key, mask);
}

Status TcClassifier::add_ips_pattern(const IpsPattern& p) {
    const std::string where = "add IPS pattern " + std::to_string(p.id);
    if (p.bytes.size() < 2 || p.bytes.size() > FW_IPS_PATTERN_LEN)
        return Error::invalid(where + ": length must be 2.." + std::to_string(FW_IPS_PATTERN_LEN) + " bytes");
    if (p.action != IpsAction::Alert && p.action != IpsAction::Drop) return Error::invalid(where + ": action");
    if (p.proto != 0 && p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
        return Error::invalid(where + ": protocol must be TCP, UDP or any");
    for (const auto& s : ips_slots_)
        if (s && s->id == p.id) return Error::from_errno(EEXIST, where);
    auto free_it = std::find_if(ips_slots_.begin(), ips_slots_.end(), [](const auto& s) { return !s; });
    if (free_it == ips_slots_.end()) return Error::from_errno(ENOSPC, where + ": pattern table full");
    const auto slot = static_cast<uint32_t>(free_it - ips_slots_.begin());

    fw_ips_pattern k{};
    std::memcpy(k.bytes, p.bytes.data(), p.bytes.size());
    std::memset(k.mask, 0xff, p.bytes.size());
    k.id = p.id;
    k.len = static_cast<__u8>(p.bytes.size());
    k.action = static_cast<__u8>(p.action);
    k.proto = p.proto;
    k.port = p.port;
    k.flags = FW_IPS_P_ENABLED;
    // Order matters for packets in flight: pattern, then its prefix bit, then the count.
    FW_TRY(ips_pattern_map().update(slot, k));
    *free_it = p;
    auto st = update_prefix((uint32_t(p.bytes[0]) << 8) | p.bytes[1]);
    if (!st) {
        *free_it = std::nullopt;
        (void)ips_pattern_map().update(slot, fw_ips_pattern{});
        return std::move(st).error().wrap(where);
    }
    config().ips_pattern_count = std::max(config().ips_pattern_count, slot + 1);
    return {};
}

Result<bool> TcClassifier::remove_ips_pattern(uint32_t id) {
    auto it = std::find_if(ips_slots_.begin(), ips_slots_.end(), [&](const auto& s) { return s && s->id == id; });
    if (it == ips_slots_.end()) return false;
    const auto slot = static_cast<uint32_t>(it - ips_slots_.begin());
    const uint32_t key = (uint32_t((*it)->bytes[0]) << 8) | (*it)->bytes[1];
    *it = std::nullopt;
    FW_TRY(update_prefix(key));
    FW_TRY(ips_pattern_map().update(slot, fw_ips_pattern{}));
    uint32_t count = 0;
    for (uint32_t j = 0; j < ips_slots_.size(); ++j)
        if (ips_slots_[j]) count = j + 1;
    config().ips_pattern_count = count;
    return true;
}

std::vector<IpsPattern> TcClassifier::ips_patterns() const {
    std::vector<IpsPattern> out;
    for (const auto& s : ips_slots_)
        if (s) out.push_back(*s);
    return out;
}

// ---- flows ----

Result<std::vector<TcFlow>> TcClassifier::flows() const {
    std::vector<TcFlow> out;
    FW_TRY(flow_map().for_each([&](const fw_tc_flow_key& k, const fw_tc_flow& v) { out.push_back({k, v}); }));
    return out;
}

Result<std::optional<fw_tc_flow>> TcClassifier::flow(const fw_tc_flow_key& key) const {
    return flow_map().lookup(key);
}

Result<bool> TcClassifier::forget_flow(const fw_tc_flow_key& key) { return flow_map().remove(key); }

// ---- events ----

Result<int> TcClassifier::poll_events(int timeout_ms, const std::function<void(const fw_tc_event&)>& handler) {
    if (!events_) {
        auto reader = std::make_unique<EventReader>();
        reader->rb = ring_buffer__new(events_fd(), &EventReader::on_record, reader.get(), nullptr);
        if (!reader->rb) return Error::from_errno(errno, "open ring buffer tc_events");
        events_ = std::move(reader);
    }
    events_->handler = &handler;
    events_->delivered = 0;
    int rc = ring_buffer__poll(events_->rb, timeout_ms);
    events_->handler = nullptr;
    if (rc < 0 && rc != -EINTR) return Error::from_neg(rc, "poll ring buffer tc_events");
    return events_->delivered;
}

std::vector<MapRef> TcClassifier::all_maps() const {
    std::vector<MapRef> out;
    bpf_map* m;
    bpf_object__for_each_map(m, skel_.object()) {
        if (bpf_map__fd(m) >= 0) out.emplace_back(bpf_map__fd(m), bpf_map__name(m));
    }
    return out;
}

}  // namespace flywall
