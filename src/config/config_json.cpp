// Printing a Config as JSON (to_json), the form the API serves.
#include <optional>
#include <string>

#include "config/config.hpp"

namespace flywall::config {

nlohmann::json to_json(const Config& c) {
    using nlohmann::json;
    json features = json::object();
    for (const auto& [name, on] : c.ebpf.features) features[name] = on;
    json interfaces = json::array();
    for (const auto& i : c.interfaces)
        interfaces.push_back({{"name", i.name}, {"xdp_mode", to_string(i.xdp_mode)}, {"tc", i.tc}});
    const auto& p = c.ebpf.performance;
    const auto& a = c.ebpf.adaptive;
    const auto& bl = c.blocklist;
    const auto& rl = c.rate_limit;
    auto opt = [](const auto& o) { return o ? json(*o) : json(nullptr); };
    auto span = [](const std::optional<PortSpan>& s) {
        return s ? json(s->lo == s->hi ? std::to_string(s->lo) : std::to_string(s->lo) + "-" + std::to_string(s->hi))
                 : json(nullptr);
    };
    json qos = json::array(), ips = json::array();
    for (const auto& r : c.qos.rules)
        qos.push_back({{"name", r.name}, {"proto", opt(r.proto)}, {"sport", span(r.sport)}, {"dport", span(r.dport)},
                       {"dscp", opt(r.dscp)}, {"class", class_handle_string(r.classid)}, {"priority", r.priority},
                       {"set_dscp", opt(r.set_dscp)}});
    for (const auto& p : c.ips.patterns)
        ips.push_back({{"name", p.name}, {"bytes", p.bytes}, {"action", to_string(p.action)}, {"proto", p.proto},
                       {"port", p.port}});
    return json{
        {"pin_path", c.pin_path},
        {"detach_on_exit", c.detach_on_exit},
        {"drop_capabilities", c.drop_capabilities},
        {"state_dir", c.state_dir},
        {"log_level", to_string(c.log_level)},
        {"ebpf",
         {{"enabled", c.ebpf.enabled},
          {"features", features},
          {"performance",
           {{"max_cpu_percent", p.max_cpu_percent},
            {"max_memory_mb", p.max_memory_mb},
            {"max_events_per_sec", p.max_events_per_sec},
            {"max_pps", p.max_pps},
            {"time_sample_shift", p.time_sample_shift}}},
          {"adaptive",
           {{"enabled", a.enabled},
            {"scale_back_threshold", a.scale_back_threshold},
            {"scale_back_rate", a.scale_back_rate},
            {"minimum_features", a.minimum_features}}}}},
        {"interfaces", interfaces},
        {"api",
         {{"listen", c.api.listen},
          {"token_file", c.api.token_file},
          {"tls_cert", c.api.tls_cert},
          {"tls_key", c.api.tls_key}}},
        {"blocklist",
         {{"ips", bl.ips},
          {"ip_files", bl.ip_files},
          {"allow_ips", bl.allow_ips},
          {"domains", bl.domains},
          {"domain_files", bl.domain_files},
          {"dns_action", to_string(bl.dns_action)},
          {"malformed_verdict", to_string(bl.malformed_verdict)},
          {"default_ttl", bl.default_ttl ? json(*bl.default_ttl) : json(nullptr)},
          {"exact_capacity", bl.exact_capacity}}},
        {"rate_limit",
         {{"enabled", rl.enabled},
          {"pps", rl.pps},
          {"bps", rl.bps},
          {"burst_packets", rl.burst_packets},
          {"burst_bytes", rl.burst_bytes},
          {"syn_pps", rl.syn_pps},
          {"icmp_pps", rl.icmp_pps},
          {"udp_pps", rl.udp_pps},
          {"ipv6_prefix_len", rl.ipv6_prefix_len}}},
        {"flows",
         {{"idle_timeout_sec", c.flows.idle_timeout_sec},
          {"trusted_after_packets", c.flows.trusted_after_packets},
          {"sample_rate", c.flows.sample_rate}}},
        {"events", {{"log_file", c.events.log_file ? json(*c.events.log_file) : json(nullptr)}}},
        {"learning",
         {{"auto_apply", c.learning.auto_apply},
          {"rule_ttl_sec", c.learning.rule_ttl_sec},
          {"rate_limit_trips", c.learning.rate_limit_trips},
          {"rate_limit_window_sec", c.learning.rate_limit_window_sec},
          {"scan_ports", c.learning.scan_ports},
          {"scan_window_sec", c.learning.scan_window_sec},
          {"ips_alerts", c.learning.ips_alerts},
          {"ips_window_sec", c.learning.ips_window_sec},
          {"reject_cooldown_sec", c.learning.reject_cooldown_sec},
          {"idle_expiry_sec", c.learning.idle_expiry_sec}}},
        {"qos", {{"rules", qos}}},
        {"ips", {{"patterns", ips}}},
    };
}

}  // namespace flywall::config
