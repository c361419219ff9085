#include "api/manager_backend.hpp"

#include <algorithm>
#include <array>

#include <arpa/inet.h>
#include <bpf/libbpf.h>

#include "api/tc_entries.hpp"
#include "core/datapath_settings.hpp"
#include "flywall/abi.h"

namespace flywall::api {

using nlohmann::json;

namespace {

const char* kDropReasons[FW_DROP_REASON_MAX] = {"ip_blocklist", "malformed", "dns_blocklist", "rate_limit",
                                                nullptr,        nullptr,     nullptr,         nullptr};
const char* kMalformed[FW_MAL_REASON_MAX] = {"eth", "vlan", "vlan_depth", "ipv4", "ipv6", "ipv6_ext", "l4", "dns"};

json governor_json(const GovernorReport& g) {
    return json{{"enabled", g.enabled},
                {"sampling_rate", g.sampling_rate},
                {"utilisation_percent", g.utilisation_percent},
                {"load",
                 {{"cpu_percent", g.last_sample.cpu_percent},
                  {"memory_mb", g.last_sample.memory_mb},
                  {"events_per_sec", g.last_sample.events_per_sec},
                  {"pps", g.last_sample.pps}}},
                {"shed_features", g.shed_features}};
}

}  // namespace

json stats_json(const fw_stats& s) {
    json drops = json::object();
    for (int i = 0; i < FW_DROP_REASON_MAX; ++i) {
        if (kDropReasons[i]) drops[kDropReasons[i]] = s.drop_reason[i];
        else if (s.drop_reason[i]) drops["reason_" + std::to_string(i)] = s.drop_reason[i];
    }
    json mal = json::object();
    for (int i = 0; i < FW_MAL_REASON_MAX; ++i) mal[kMalformed[i]] = s.malformed[i];
    return json{{"processed", s.processed},
                {"passed", s.passed},
                {"dropped", s.dropped},
                {"tx", s.tx},
                {"bytes", s.bytes},
                {"ipv4", s.ipv4},
                {"ipv6", s.ipv6},
                {"other_l3", s.other_l3},
                {"fragments", s.fragments},
                {"allowlist_hits", s.allowlist_hits},
                {"blocklist_hits", s.blocklist_hits},
                {"drops_by_reason", drops},
                {"malformed", mal},
                {"dns",
                 {{"queries", s.dns_queries},
                  {"blocked_drop", s.dns_blocked_drop},
                  {"blocked_nxdomain", s.dns_blocked_nxdomain},
                  {"bloom_false_positive", s.dns_bloom_false_positive}}},
                {"rate_limit",
                 {{"limited", s.rl_limited},
                  {"limited_syn", s.rl_limited_syn},
                  {"limited_icmp", s.rl_limited_icmp},
                  {"limited_udp", s.rl_limited_udp},
                  {"sources_new", s.rl_sources_new},
                  {"sources_evicted", s.rl_sources_evicted},
                  {"passed_on_flow_credit", s.rl_batched}}},
                {"flows",
                 {{"new", s.flows_new},
                  {"sampled_out", s.flows_sampled_out},
                  {"trusted_fastpath", s.flows_trusted_fastpath},
                  {"auto_trusted", s.flows_auto_trusted},
                  {"evicted", s.flows_evicted},
                  {"insert_lost", s.flows_insert_lost}}},
                {"events",
                 {{"emitted", s.events_emitted},
                  {"suppressed_rate", s.events_suppressed_rate},
                  {"suppressed_ring_full", s.events_suppressed_ring_full},
                  {"sampled_out", s.events_sampled_out}}}};
}

namespace {
// until_ns: CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns and of the kernel's timestamps.
json kernel_stats_json(const KernelStatsWindow::State& s) {
    json j{{"on", s.on}};
    if (s.on)
        j["until_ns"] = std::chrono::duration_cast<std::chrono::nanoseconds>(s.until.time_since_epoch()).count();
    return j;
}
}  // namespace

Result<json> ManagerBackend::stats() {
    FW_TRY_ASSIGN(fw_stats s, m_.datapath_stats());
    json j = stats_json(s);
    auto occ = m_.flow_occupancy();
    j["flows"]["active"] = occ ? json(*occ) : json(nullptr);
    j["flows"]["max"] = Manager::flow_capacity();
    auto rl = m_.rate_limiter_occupancy();
    j["rate_limit"]["sources_active"] = rl ? json(*rl) : json(nullptr);
    j["rate_limit"]["sources_max"] = Manager::rate_limiter_capacity();
    auto ev = m_.event_stats();
    j["events"]["received"] = ev.received;
    j["events"]["decode_errors"] = ev.decode_errors;
    json subs = json::array();
    for (const auto& sub : ev.subscribers)
        subs.push_back({{"name", sub.name},
                        {"capacity", sub.capacity},
                        {"queued", sub.queued},
                        {"delivered", sub.delivered},
                        {"dropped", sub.dropped}});
    j["events"]["subscribers"] = subs;
    json progs = json::array();
    for (const auto& p : m_.programs())
        progs.push_back({{"name", p.name},
                         {"id", p.id},
                         {"run_cnt", p.run_cnt},
                         {"run_time_ns", p.run_time_ns},
                         {"avg_ns", p.run_cnt ? static_cast<double>(p.run_time_ns) / static_cast<double>(p.run_cnt) : 0.0}});
    j["programs"] = progs;
    // The programs' own sampled timing: what the governor uses (no kernel statistics needed).
    const SelfTimingReport st = m_.self_timing();
    j["self_timing"] = {{"sample_1_in", std::uint64_t{1} << (st.sample_shift & 63)},
                        {"processed", st.xdp.processed},
                        {"timed_packets", st.xdp.timed_packets},
                        {"timed_ns", st.xdp.timed_ns},
                        {"avg_ns", st.xdp.avg_ns()},
                        {"estimated_busy_ns", st.xdp.estimated_busy_ns()}};
    if (st.tc)
        j["self_timing"]["tc_classifier"] = {{"sample_1_in", std::uint64_t{1} << (st.tc_sample_shift & 63)},
                                             {"processed", st.tc->processed},
                                             {"timed_packets", st.tc->timed_packets},
                                             {"timed_ns", st.tc->timed_ns},
                                             {"avg_ns", st.tc->avg_ns()},
                                             {"estimated_busy_ns", st.tc->estimated_busy_ns()}};
    else
        j["self_timing"]["tc_classifier"] = nullptr;
    j["governor"] = governor_json(m_.governor());
    return j;
}

Result<json> ManagerBackend::features() {
    // Measured: the memory the kernel holds for each feature's maps (feature_of_map), and the
    // programs' own sampled timing. The budget is the governor's model, not a measurement.
    std::map<std::string, std::pair<std::uint64_t, std::vector<std::string>>> mem;
    if (auto maps = m_.maps(); maps.ok())
        for (const auto& r : *maps) {
            const std::string f(feature_of_map(r.info.name));
            if (f.empty()) continue;
            mem[f].first += r.info.memlock_bytes;
            mem[f].second.push_back(r.info.name);
        }
    json arr = json::array();
    for (const auto& f : m_.coordinator().features()) {
        json measured = nullptr;
        if (auto it = mem.find(f.name); it != mem.end())
            measured = {{"memory_bytes", it->second.first}, {"maps", it->second.second}};
        arr.push_back({{"name", f.name},
                       {"enabled", f.enabled},
                       {"description", f.description},
                       {"priority", f.priority},
                       {"dependencies", f.dependencies},
                       {"dependents", f.dependents},
                       {"changed_by", std::string(to_string(f.changed_by))},
                       {"measured", measured},
                       {"budget", {{"cpu_ns_per_packet", f.cost.cpu_ns_per_packet}, {"memory_bytes", f.cost.memory_bytes}}}});
    }
    const SelfTimingReport st = m_.self_timing();
    json cpu = json::array();
    cpu.push_back({{"program", "xdp_blocklist"},
                   {"avg_ns_per_packet", st.xdp.timed_packets ? json(st.xdp.avg_ns()) : json(nullptr)},
                   {"packets", st.xdp.processed},
                   {"timed_packets", st.xdp.timed_packets},
                   {"sample_1_in", std::uint64_t{1} << (st.sample_shift & 63)}});
    if (st.tc)
        cpu.push_back({{"program", "tc_classifier"},
                       {"avg_ns_per_packet", st.tc->timed_packets ? json(st.tc->avg_ns()) : json(nullptr)},
                       {"packets", st.tc->processed},
                       {"timed_packets", st.tc->timed_packets},
                       {"sample_1_in", std::uint64_t{1} << (st.tc_sample_shift & 63)}});
    return json{{"features", arr}, {"measured_cpu", cpu}};
}

Result<json> ManagerBackend::set_feature(const std::string& name, bool enable, bool force) {
    FW_TRY_ASSIGN(auto changed, m_.set_feature(name, enable, force));
    return json{{"feature", name}, {"enabled", m_.coordinator().is_enabled(name)}, {"changed", changed}};
}

Result<json> ManagerBackend::maps() {
    FW_TRY_ASSIGN(auto maps, m_.maps());
    json arr = json::array();
    for (const auto& r : maps) {
        arr.push_back({{"name", r.info.name},
                       {"id", r.info.id},
                       {"type", r.info.type_name},
                       {"key_size", r.info.key_size},
                       {"value_size", r.info.value_size},
                       {"max_entries", r.info.max_entries},
                       {"entries", r.entries ? json(*r.entries) : json(nullptr)},
                       {"memory_bytes", r.info.memlock_bytes},
                       {"pin", r.pin.empty() ? json(nullptr) : json(r.pin)}});
    }
    return json{{"maps", arr}};
}

Result<json> ManagerBackend::hooks() {
    json arr = json::array();
    for (const auto& h : m_.hooks()) {
        json j{{"id", h.id},
               {"program", h.program_name},
               {"prog_id", h.prog_id},
               {"interface", h.ifname},
               {"ifindex", h.ifindex},
               {"attach_point", std::string(to_string(h.attach_point))},
               {"mode", nullptr},
               {"mode_requested", nullptr},
               {"fallback_reason", nullptr},
               // the program a previous instance left attached that this hook replaced, or null
               {"took_over_prog_id", h.took_over_prog_id ? json(h.took_over_prog_id) : json(nullptr)}};
        if (h.mode_obtained) j["mode"] = std::string(to_string(*h.mode_obtained));
        if (h.mode_requested) j["mode_requested"] = std::string(to_string(*h.mode_requested));
        if (!h.fallback_reason.empty()) j["fallback_reason"] = h.fallback_reason;
        if (h.attach_point == AttachPoint::TcIngress || h.attach_point == AttachPoint::TcEgress) {
            j["tc_handle"] = h.tc_handle;
            j["tc_priority"] = h.tc_priority;
        }
        arr.push_back(std::move(j));
    }
    return json{{"hooks", arr}};
}

namespace {

// Stable order of IP entries, and the cursor text of one: "VALUE,LIST,DIRECTION".
struct IpOrder {
    std::uint8_t family;
    std::array<std::uint8_t, 16> addr;
    std::uint8_t len;
    std::uint8_t list;
    std::uint8_t dir;
    auto operator<=>(const IpOrder&) const = default;
};

IpOrder ip_order(const IpListEntry& e) {
    return {e.prefix.family, e.prefix.addr, e.prefix.prefix_len, static_cast<std::uint8_t>(e.list),
            static_cast<std::uint8_t>(e.dir)};
}

std::string ip_cursor(const IpListEntry& e) {
    return e.prefix.to_string() + "," + to_string(e.list) + "," + to_string(e.dir);
}

Result<IpOrder> parse_ip_cursor(const std::string& text) {
    auto c1 = text.find(','), c2 = text.rfind(',');
    if (c1 == std::string::npos || c1 == c2) return Error::invalid("after: expected VALUE,LIST,DIRECTION");
    IpListEntry e;
    FW_TRY_ASSIGN(e.prefix, parse_ip_prefix(std::string_view(text).substr(0, c1)));
    FW_TRY_ASSIGN(e.list, parse_list_kind(std::string_view(text).substr(c1 + 1, c2 - c1 - 1)));
    FW_TRY_ASSIGN(e.dir, parse_match_dir(std::string_view(text).substr(c2 + 1)));
    return ip_order(e);
}

// The page of sorted entries after the cursor; "next" is set when more follow.
template <typename T, typename Less, typename After, typename Row, typename Cursor>
json page_of(std::vector<T>& all, const ListPage& page, Less less, After after, Row row, Cursor cursor) {
    std::sort(all.begin(), all.end(), less);
    auto it = std::partition_point(all.begin(), all.end(), after);
    json arr = json::array();
    std::size_t n = 0;
    for (; it != all.end() && n < page.limit; ++it, ++n) arr.push_back(row(*it));
    json next = it != all.end() && n > 0 ? json(cursor(*(it - 1))) : json(nullptr);
    return json{{"entries", arr}, {"count", n}, {"total", all.size()}, {"next", next}};
}

}  // namespace

Result<json> ManagerBackend::list_ips(const ListPage& page) {
    std::optional<IpOrder> after;
    if (!page.after.empty()) {
        auto c = parse_ip_cursor(page.after);
        if (!c.ok()) return std::move(c).error().wrap("after");
        after = *c;
    }
    FW_TRY_ASSIGN(auto entries, m_.list_ips());
    return page_of<IpListEntry>(
        entries, page, [](const IpListEntry& a, const IpListEntry& b) { return ip_order(a) < ip_order(b); },
        [&](const IpListEntry& e) { return after && !(*after < ip_order(e)); },
        [](const IpListEntry& e) {
            return json{{"value", e.prefix.to_string()},
                        {"family", e.prefix.family},
                        {"list", to_string(e.list)},
                        {"direction", to_string(e.dir)},
                        {"hits", e.hits},
                        {"ttl_remaining", e.remaining_ns ? json(*e.remaining_ns / 1000000000ull) : json(nullptr)},
                        {"source", e.source_id == kConfigSourceId ? "config" : "api"}};
        },
        ip_cursor);
}

Result<BulkResult> ManagerBackend::add_ips(const std::vector<IpEntrySpec>& entries) {
    FW_TRY_ASSIGN(auto n, m_.add_ips(entries));
    return BulkResult{entries.size(), n};
}

Result<BulkResult> ManagerBackend::remove_ips(const std::vector<IpEntrySpec>& entries) {
    FW_TRY_ASSIGN(auto n, m_.remove_ips(entries));
    return BulkResult{entries.size(), n};
}

Result<json> ManagerBackend::list_domains(const ListPage& page) {
    FW_TRY_ASSIGN(auto entries, m_.list_domains());
    const std::uint64_t now = monotonic_now_ns();
    return page_of<DomainEntry>(
        entries, page, [](const DomainEntry& a, const DomainEntry& b) { return a.domain < b.domain; },
        [&](const DomainEntry& e) { return !page.after.empty() && e.domain <= page.after; },
        [now](const DomainEntry& e) {
            json ttl = nullptr;
            if (e.entry.expires_ns) ttl = e.entry.expires_ns > now ? (e.entry.expires_ns - now) / 1000000000ull : 0;
            return json{{"value", e.domain},
                        {"action", std::string(to_string(static_cast<DomainAction>(e.entry.action)))},
                        {"hits", e.entry.hits},
                        {"ttl_remaining", ttl},
                        {"source", e.entry.source_id == kConfigSourceId ? "config" : "api"}};
        },
        [](const DomainEntry& e) { return e.domain; });
}

Result<BulkResult> ManagerBackend::add_domains(const std::vector<DomainEntrySpec>& entries) {
    std::vector<std::pair<std::string, DomainAction>> names;
    std::vector<std::optional<std::chrono::seconds>> ttls;
    for (const auto& e : entries) {
        names.emplace_back(e.name, e.action);
        ttls.push_back(e.ttl);
    }
    FW_TRY_ASSIGN(auto n, m_.add_domains(names, ttls));
    return BulkResult{entries.size(), n};
}

Result<BulkResult> ManagerBackend::remove_domains(const std::vector<DomainEntrySpec>& entries) {
    std::vector<std::string> names;
    for (const auto& e : entries) names.push_back(e.name);
    FW_TRY_ASSIGN(auto n, m_.remove_domains(names));
    return BulkResult{entries.size(), n};
}

Result<json> ManagerBackend::flows(std::size_t limit) {
    FW_TRY_ASSIGN(auto flows, m_.flows(limit));
    const std::uint64_t now = monotonic_ns();
    json arr = json::array();
    char src[64], dst[64];
    for (const auto& f : flows) {
        const auto& k = f.key;
        const auto& v = f.value;
        const int af = k.family == 6 ? AF_INET6 : AF_INET;
        inet_ntop(af, k.saddr, src, sizeof src);
        inet_ntop(af, k.daddr, dst, sizeof dst);
        arr.push_back({{"src", src},
                       {"dst", dst},
                       {"sport", ntohs(k.sport)},
                       {"dport", ntohs(k.dport)},
                       {"proto", k.proto},
                       {"family", k.family},
                       {"ifindex", k.ifindex},
                       {"packets", v.packets},
                       {"bytes", v.bytes},
                       {"first_seen_ns", v.first_seen_ns},
                       {"last_seen_ns", v.last_seen_ns},
                       {"idle_sec", now > v.last_seen_ns ? (now - v.last_seen_ns) / 1000000000ull : 0},
                       {"trusted", (v.flags & FW_FLOW_TRUSTED) != 0},
                       {"auto_trusted", (v.flags & FW_FLOW_AUTO_TRUSTED) != 0},
                       {"tcp_flags", v.tcp_flags_seen},
                       {"key", format_flow_key(k)}});
    }
    json j{{"flows", arr}, {"count", flows.size()}, {"max", Manager::flow_capacity()}};
    auto occ = m_.flow_occupancy();
    j["active"] = occ ? json(*occ) : json(nullptr);
    return j;
}

Result<json> ManagerBackend::profile(std::chrono::seconds length) {
    FW_TRY_ASSIGN(auto state, m_.profile(length));
    json j = kernel_stats_json(state);
    j["seconds"] = length.count();
    return json{{"kernel_bpf_stats", j}};
}

json ManagerBackend::health() {
    ManagerHealth h = m_.health();
    return json{{"healthy", h.healthy},
                {"ebpf_enabled", h.ebpf_enabled},
                {"programs_loaded", h.programs_loaded},
                {"hooks_expected", h.hooks_expected},
                {"hooks_attached", h.hooks_attached},
                {"event_thread_alive", h.event_thread_alive},
                {"kernel_bpf_stats", kernel_stats_json(h.kernel_bpf_stats)},
                {"pin_path", h.pin_path},
                {"problems", h.problems},
                {"last_errors", h.last_errors},
                {"uptime_sec", h.uptime.count()},
                {"reloads", h.reloads},
                {"reload_failures", h.reload_failures}};
}

std::optional<std::chrono::seconds> ManagerBackend::default_ttl() {
    auto t = m_.config().blocklist.default_ttl;
    if (!t) return std::nullopt;
    return std::chrono::seconds(*t);
}

std::shared_ptr<Subscription> ManagerBackend::subscribe_events(const std::string& client) {
    return m_.subscribe_events(client, 1024);
}

void ManagerBackend::unsubscribe_events(const std::shared_ptr<Subscription>& sub) { m_.unsubscribe_events(sub); }

// ---- socket monitors ----

Result<json> ManagerBackend::devices() {
    FW_TRY_ASSIGN(auto devs, m_.socket_monitors().devices());
    json arr = json::array();
    for (const auto& d : devs) {
        json ips = json::array();
        for (std::uint32_t ip : d.ipv4) {
            char buf[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &ip, buf, sizeof buf);
            ips.push_back(buf);
        }
        arr.push_back({{"mac", mac_to_string(d.mac)},
                       {"hostname", d.hostname},
                       {"vendor_class", d.vendor_class},
                       {"fingerprint", d.fingerprint},
                       {"last_dhcp_type", d.last_dhcp_type},
                       {"ips", ips},
                       {"first_seen_ns", d.first_seen_ns},
                       {"last_seen_ns", d.last_seen_ns}});
    }
    return json{{"devices", arr}, {"count", devs.size()}};
}

Result<json> ManagerBackend::tls_hellos() {
    FW_TRY_ASSIGN(auto hellos, m_.socket_monitors().tls_hellos());
    json arr = json::array();
    for (const auto& h : hellos) {
        arr.push_back({{"ts_ns", h.ts_ns},
                       {"src", h.src},
                       {"dst", h.dst},
                       {"sport", h.sport},
                       {"dport", h.dport},
                       {"sni", h.sni},
                       {"ja3", h.ja3},
                       {"ja3_hash", h.ja3_hash}});
    }
    return json{{"hellos", arr}, {"count", hellos.size()}, {"max", SocketMonitorService::kRecentMax}};
}

Result<json> ManagerBackend::dns() {
    FW_TRY_ASSIGN(auto r, m_.socket_monitors().dns());
    json qt = json::object(), rc = json::object(), recent = json::array();
    for (const auto& [k, v] : r.qtypes) qt[std::to_string(k)] = v;
    for (const auto& [k, v] : r.rcodes) rc[std::to_string(k)] = v;
    for (const auto& m : r.recent) {
        recent.push_back({{"ts_ns", m.ts_ns},
                          {"response", m.response},
                          {"client", m.client},
                          {"server", m.server},
                          {"name", m.name},
                          {"qtype", m.qtype},
                          {"rcode", m.rcode}});
    }
    return json{{"stats",
                 {{"packets", r.stats.packets},
                  {"dns_packets", r.stats.dns_packets},
                  {"queries", r.stats.queries},
                  {"responses", r.stats.responses},
                  {"malformed", r.stats.malformed},
                  {"records", r.stats.records},
                  {"ring_full", r.stats.ring_full}}},
                {"qtypes", qt},
                {"rcodes", rc},
                {"recent", recent}};
}

// ---- QoS rules and IPS patterns ----

Result<json> ManagerBackend::qos_rules() {
    FW_TRY_ASSIGN(auto rules, m_.tc_policy().qos_rules());
    json arr = json::array();
    for (const auto& r : rules) {
        json j = to_json(r.rule);
        j["source"] = r.from_config ? "config" : "api";
        arr.push_back(std::move(j));
    }
    return json{{"rules", arr}, {"count", rules.size()}};
}

Result<json> ManagerBackend::add_qos_rule(const config::QosRuleConfig& rule) {
    FW_TRY(m_.add_qos_rule(rule));
    return to_json(rule);
}

Status ManagerBackend::remove_qos_rule(const std::string& name) {
    FW_TRY_ASSIGN(bool existed, m_.remove_qos_rule(name));
    if (!existed) return Error::from_errno(ENOENT, "no QoS rule \"" + name + "\"");
    return {};
}

Result<json> ManagerBackend::ips_patterns() {
    FW_TRY_ASSIGN(auto pats, m_.tc_policy().ips_patterns());
    json arr = json::array();
    for (const auto& p : pats) {
        json j = to_json(p.pattern);
        j["id"] = p.id;
        j["source"] = p.from_config ? "config" : "api";
        arr.push_back(std::move(j));
    }
    json j{{"patterns", arr}, {"count", pats.size()}};
    auto st = m_.tc_policy().tc_stats();
    if (st.ok())
        j["stats"] = {{"scanned", st->ips_scanned},
                      {"bytes_scanned", st->ips_bytes_scanned},
                      {"alerts", st->ips_alerts},
                      {"drops", st->ips_drops},
                      {"cached_drops", st->ips_cached_drops}};
    return j;
}

Result<json> ManagerBackend::add_ips_pattern(const config::IpsPatternConfig& pattern) {
    FW_TRY_ASSIGN(auto id, m_.add_ips_pattern(pattern));
    json j = to_json(pattern);
    j["id"] = id;
    return j;
}

Status ManagerBackend::remove_ips_pattern(const std::string& name) {
    FW_TRY_ASSIGN(bool existed, m_.remove_ips_pattern(name));
    if (!existed) return Error::from_errno(ENOENT, "no IPS pattern \"" + name + "\"");
    return {};
}

}  // namespace flywall::api
