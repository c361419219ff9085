// Printing a Config back as HCL (to_hcl): HclWriter and the order of blocks and attributes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "config/config_internal.hpp"

namespace flywall::config {

using namespace detail;

namespace {

class HclWriter {
public:
    void attr(std::string_view name, std::string_view literal) {
        indent();
        out_ += name;
        out_ += " = ";
        out_ += literal;
        out_ += '\n';
    }
    void attr_bool(std::string_view name, bool v) { attr(name, v ? "true" : "false"); }
    void attr_str(std::string_view name, std::string_view v) { attr(name, hcl::quote(v)); }
    void attr_num(std::string_view name, std::uint64_t v) { attr(name, std::to_string(v)); }
    void attr_real(std::string_view name, double v) { attr(name, format_double(v)); }
    void attr_list(std::string_view name, const std::vector<std::string>& items) {
        if (items.empty()) return attr(name, "[]");
        indent();
        out_ += name;
        out_ += " = [\n";
        ++depth_;
        for (const auto& s : items) {
            indent();
            out_ += hcl::quote(s);
            out_ += ",\n";
        }
        --depth_;
        indent();
        out_ += "]\n";
    }
    void open(std::string_view type, std::optional<std::string_view> label = std::nullopt) {
        if (depth_ == 0 && !out_.empty()) out_ += '\n';
        indent();
        out_ += type;
        if (label) {
            out_ += ' ';
            out_ += hcl::quote(*label);
        }
        out_ += " {\n";
        ++depth_;
    }
    void close() {
        --depth_;
        indent();
        out_ += "}\n";
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
    int depth_ = 0;
    void indent() { out_.append(static_cast<std::size_t>(depth_) * 2, ' '); }
};

}  // namespace

std::string to_hcl(const Config& c) {
    HclWriter w;
    w.attr_str("pin_path", c.pin_path);
    w.attr_bool("detach_on_exit", c.detach_on_exit);
    w.attr_bool("drop_capabilities", c.drop_capabilities);
    w.attr_str("state_dir", c.state_dir);
    w.attr_str("log_level", to_string(c.log_level));

    w.open("ebpf");
    w.attr_bool("enabled", c.ebpf.enabled);
    w.open("features");
    for (const auto& name : feature_names()) {
        auto it = c.ebpf.features.find(name);
        w.attr_bool(name, it != c.ebpf.features.end() && it->second);
    }
    w.close();
    w.open("performance");
    w.attr_real("max_cpu_percent", c.ebpf.performance.max_cpu_percent);
    w.attr_num("max_memory_mb", c.ebpf.performance.max_memory_mb);
    w.attr_num("max_events_per_sec", c.ebpf.performance.max_events_per_sec);
    w.attr_num("max_pps", c.ebpf.performance.max_pps);
    w.attr_num("time_sample_shift", c.ebpf.performance.time_sample_shift);
    w.close();
    w.open("adaptive");
    w.attr_bool("enabled", c.ebpf.adaptive.enabled);
    w.attr_real("scale_back_threshold", c.ebpf.adaptive.scale_back_threshold);
    w.attr_real("scale_back_rate", c.ebpf.adaptive.scale_back_rate);
    w.attr_list("minimum_features", c.ebpf.adaptive.minimum_features);
    w.close();
    w.close();

    for (const auto& i : c.interfaces) {
        w.open("interface", i.name);
        w.attr_str("xdp_mode", to_string(i.xdp_mode));
        w.attr_bool("tc", i.tc);
        w.close();
    }

    w.open("api");
    w.attr_str("listen", c.api.listen);
    w.attr_str("token_file", c.api.token_file);
    if (!c.api.tls_cert.empty()) w.attr_str("tls_cert", c.api.tls_cert);
    if (!c.api.tls_key.empty()) w.attr_str("tls_key", c.api.tls_key);
    w.close();

    w.open("blocklist");
    w.attr_list("ips", c.blocklist.ips);
    w.attr_list("ip_files", c.blocklist.ip_files);
    w.attr_list("allow_ips", c.blocklist.allow_ips);
    w.attr_list("domains", c.blocklist.domains);
    w.attr_list("domain_files", c.blocklist.domain_files);
    w.attr_str("dns_action", to_string(c.blocklist.dns_action));
    w.attr_str("malformed_verdict", to_string(c.blocklist.malformed_verdict));
    if (c.blocklist.default_ttl) w.attr_num("default_ttl", *c.blocklist.default_ttl);
    w.attr_num("exact_capacity", c.blocklist.exact_capacity);
    w.close();

    w.open("rate_limit");
    w.attr_bool("enabled", c.rate_limit.enabled);
    w.attr_num("pps", c.rate_limit.pps);
    w.attr_num("bps", c.rate_limit.bps);
    w.attr_num("burst_packets", c.rate_limit.burst_packets);
    w.attr_num("burst_bytes", c.rate_limit.burst_bytes);
    w.attr_num("syn_pps", c.rate_limit.syn_pps);
    w.attr_num("icmp_pps", c.rate_limit.icmp_pps);
    w.attr_num("udp_pps", c.rate_limit.udp_pps);
    w.attr_num("ipv6_prefix_len", c.rate_limit.ipv6_prefix_len);
    w.close();

    w.open("flows");
    w.attr_num("idle_timeout_sec", c.flows.idle_timeout_sec);
    w.attr_num("trusted_after_packets", c.flows.trusted_after_packets);
    w.attr_real("sample_rate", c.flows.sample_rate);
    w.close();

    w.open("events");
    if (c.events.log_file) w.attr_str("log_file", *c.events.log_file);
    w.close();

    w.open("learning");
    w.attr_bool("auto_apply", c.learning.auto_apply);
    w.attr_num("rule_ttl_sec", c.learning.rule_ttl_sec);
    w.attr_num("rate_limit_trips", c.learning.rate_limit_trips);
    w.attr_num("rate_limit_window_sec", c.learning.rate_limit_window_sec);
    w.attr_num("scan_ports", c.learning.scan_ports);
    w.attr_num("scan_window_sec", c.learning.scan_window_sec);
    w.attr_num("ips_alerts", c.learning.ips_alerts);
    w.attr_num("ips_window_sec", c.learning.ips_window_sec);
    w.attr_num("reject_cooldown_sec", c.learning.reject_cooldown_sec);
    w.attr_num("idle_expiry_sec", c.learning.idle_expiry_sec);
    w.close();

    auto proto_text = [](std::uint8_t p) -> std::string {
        return p == 6 ? "tcp" : p == 17 ? "udp" : std::to_string(p);
    };
    auto span_text = [](const PortSpan& s) {
        return s.lo == s.hi ? std::to_string(s.lo) : std::to_string(s.lo) + "-" + std::to_string(s.hi);
    };
    if (!c.qos.rules.empty()) {
        w.open("qos");
        for (const auto& r : c.qos.rules) {
            w.open("rule", r.name);
            if (r.proto) w.attr_str("proto", proto_text(*r.proto));
            if (r.sport) w.attr_str("sport", span_text(*r.sport));
            if (r.dport) w.attr_str("dport", span_text(*r.dport));
            if (r.dscp) w.attr_num("dscp", *r.dscp);
            w.attr_str("class", class_handle_string(r.classid));
            w.attr_num("priority", r.priority);
            if (r.set_dscp) w.attr_num("set_dscp", *r.set_dscp);
            w.close();
        }
        w.close();
    }
    if (!c.ips.patterns.empty()) {
        static const char* digits = "0123456789abcdef";
        w.open("ips");
        for (const auto& p : c.ips.patterns) {
            w.open("pattern", p.name);
            std::string hex;
            for (auto b : p.bytes) {
                hex += digits[b >> 4];
                hex += digits[b & 15];
            }
            w.attr_str("hex", hex);
            w.attr_str("action", to_string(p.action));
            if (p.proto) w.attr_str("proto", proto_text(p.proto));
            w.attr_num("port", p.port);
            w.close();
        }
        w.close();
    }
    return w.take();
}

}  // namespace flywall::config
