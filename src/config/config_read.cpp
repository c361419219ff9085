// Reading the parsed HCL tree into a Config: BodyReader (typed accessors that check names, types
// and ranges and reject unknown keys with suggestions) and the readers of each block.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config_internal.hpp"

namespace flywall::config::detail {

namespace {

// Reads one body. Every accessor registers its name as valid, so finish() can reject the rest
// with suggestions; call finish() after all accessors.
class BodyReader {
public:
    BodyReader(Context& ctx, const hcl::Body& body, std::string where, std::string noun = "key")
        : ctx_(ctx), body_(body), where_(std::move(where)), noun_(std::move(noun)) {}

    void boolean(const std::string& name, bool& out) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (v->kind != hcl::Value::Kind::Bool) return type_error(name, *v, "bool");
        out = v->boolean;
    }

    template <class U>
    void integer(const std::string& name, U& out, std::uint64_t min, std::uint64_t max) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (auto n = read_integer(name, *v, min, max)) out = static_cast<U>(*n);
    }

    void optional_integer(const std::string& name, std::optional<std::uint64_t>& out, std::uint64_t min,
                          std::uint64_t max) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (v->kind == hcl::Value::Kind::Null) {
            out.reset();
            return;
        }
        if (auto n = read_integer(name, *v, min, max)) out = *n;
    }

    // lo..hi inclusive; `what` names the kind of quantity in the message ("percentage").
    void real(const std::string& name, double& out, double lo, double hi, const char* what) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (!v->is_number()) return type_error(name, *v, "number");
        if (!std::isfinite(v->number) || v->number < lo || v->number > hi)
            return ctx_.error(v->pos, dq(name) + ": must be a " + what + " between " + format_double(lo) +
                                          " and " + format_double(hi) + ", got " + format_double(v->number));
        out = v->number;
    }

    void string(const std::string& name, std::string& out, const Validator& check) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (v->kind != hcl::Value::Kind::String) return type_error(name, *v, "string");
        std::string s = v->string;
        if (auto problem = check(s)) return ctx_.error(v->pos, dq(name) + ": " + *problem);
        out = std::move(s);
    }

    void optional_string(const std::string& name, std::optional<std::string>& out, const Validator& check) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (v->kind == hcl::Value::Kind::Null) {
            out.reset();
            return;
        }
        if (v->kind != hcl::Value::Kind::String) return type_error(name, *v, "string or null");
        std::string s = v->string;
        if (auto problem = check(s)) return ctx_.error(v->pos, dq(name) + ": " + *problem);
        out = std::move(s);
    }

    template <class E>
    void choice(const std::string& name, E& out, const Choices<E>& choices) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (v->kind != hcl::Value::Kind::String) return type_error(name, *v, "string");
        std::vector<std::string> names;
        for (const auto& [n, value] : choices) {
            if (n == v->string) {
                out = value;
                return;
            }
            names.emplace_back(n);
        }
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + dq(n);
        ctx_.error(v->pos, dq(name) + ": must be one of " + list + ", got " + dq(v->string) +
                               suggestion(v->string, names));
    }

    // With unique == true a repeated entry is an error.
    void string_list(const std::string& name, std::vector<std::string>& out, const Validator& check,
                     bool unique = false) {
        const hcl::Value* v = attribute(name);
        if (v == nullptr) return;
        if (v->kind != hcl::Value::Kind::List) return type_error(name, *v, "list of strings");
        std::vector<std::string> result;
        bool ok = true;
        for (const auto& e : v->list) {
            if (e.kind != hcl::Value::Kind::String) {
                ctx_.error(e.pos, dq(name) + ": expected string in list, got " +
                                      std::string(hcl::kind_name(e.kind)));
                ok = false;
                continue;
            }
            std::string s = e.string;
            if (auto problem = check(s)) {
                ctx_.error(e.pos, dq(name) + ": " + *problem);
                ok = false;
                continue;
            }
            if (unique && std::find(result.begin(), result.end(), s) != result.end()) {
                ctx_.error(e.pos, dq(name) + ": duplicate entry " + dq(s));
                ok = false;
                continue;
            }
            result.push_back(std::move(s));
        }
        if (ok) out = std::move(result);
    }

    // A block that may appear at most once and takes no labels; nullptr when absent.
    const hcl::Block* single_block(const std::string& type) {
        known_blocks_.push_back(type);
        const hcl::Block* first = nullptr;
        for (const auto& b : body_.blocks) {
            if (b.type != type) continue;
            if (first != nullptr) {
                ctx_.error(b.pos, "duplicate block " + dq(type) + " (first defined at " +
                                      std::to_string(first->pos.line) + ":" + std::to_string(first->pos.column) + ")");
                continue;
            }
            if (!b.labels.empty()) {
                ctx_.error(b.label_pos[0], "block " + dq(type) + " takes no labels");
                continue;
            }
            first = &b;
        }
        return first;
    }

    // Every block of this type with exactly one label.
    std::vector<const hcl::Block*> labelled_blocks(const std::string& type, const std::string& example) {
        known_blocks_.push_back(type);
        std::vector<const hcl::Block*> out;
        for (const auto& b : body_.blocks) {
            if (b.type != type) continue;
            if (b.labels.size() != 1) {
                Position p = b.labels.empty() ? b.pos : b.label_pos[1];
                ctx_.error(p, "block " + dq(type) + " takes exactly one label: " + example);
                continue;
            }
            out.push_back(&b);
        }
        return out;
    }

    void finish() {
        std::vector<std::string> all = known_attributes_;
        all.insert(all.end(), known_blocks_.begin(), known_blocks_.end());
        auto known = [](const std::vector<std::string>& v, const std::string& n) {
            return std::find(v.begin(), v.end(), n) != v.end();
        };
        for (const auto& a : body_.attributes) {
            if (known(known_attributes_, a.name)) continue;
            if (known(known_blocks_, a.name)) {
                ctx_.error(a.pos, dq(a.name) + " " + where_ + " is a block, not an attribute; write " + a.name +
                                      " { ... }");
                continue;
            }
            ctx_.error(a.pos, "unknown " + noun_ + " " + dq(a.name) + " " + where_ + suggestion(a.name, all));
        }
        for (const auto& b : body_.blocks) {
            if (known(known_blocks_, b.type)) continue;
            if (known(known_attributes_, b.type)) {
                ctx_.error(b.pos, dq(b.type) + " " + where_ + " is an attribute, not a block; write " + b.type +
                                      " = value");
                continue;
            }
            ctx_.error(b.pos, "unknown block " + dq(b.type) + " " + where_ + suggestion(b.type, all));
        }
    }

private:
    Context& ctx_;
    const hcl::Body& body_;
    std::string where_;
    std::string noun_;
    std::vector<std::string> known_attributes_;
    std::vector<std::string> known_blocks_;

    const hcl::Value* attribute(const std::string& name) {
        known_attributes_.push_back(name);
        const hcl::Attribute* a = body_.find_attribute(name);
        return a == nullptr ? nullptr : &a->value;
    }

    void type_error(const std::string& name, const hcl::Value& v, const char* expected) {
        ctx_.error(v.pos, dq(name) + ": expected " + expected + ", got " + std::string(hcl::kind_name(v.kind)));
    }

    std::optional<std::uint64_t> read_integer(const std::string& name, const hcl::Value& v, std::uint64_t min,
                                              std::uint64_t max) {
        std::string range = min == 0 && max == std::uint64_t(INT64_MAX) ? "a non-negative integer"
                            : max == std::uint64_t(INT64_MAX)
                                ? "an integer of at least " + std::to_string(min)
                                : "an integer between " + std::to_string(min) + " and " + std::to_string(max);
        if (!v.is_number()) {
            type_error(name, v, "number");
            return std::nullopt;
        }
        // 1e7 is a float literal but an exact integer: accept it.
        bool integral = v.kind == hcl::Value::Kind::Int ||
                        (std::isfinite(v.number) && std::trunc(v.number) == v.number &&
                         std::fabs(v.number) < 9.2e18);
        std::string shown = v.kind == hcl::Value::Kind::Int ? std::to_string(v.integer) : format_double(v.number);
        if (!integral) {
            ctx_.error(v.pos, dq(name) + ": must be " + range + ", got " + shown);
            return std::nullopt;
        }
        std::int64_t n = v.kind == hcl::Value::Kind::Int ? v.integer : static_cast<std::int64_t>(v.number);
        if (n < 0 || static_cast<std::uint64_t>(n) < min || static_cast<std::uint64_t>(n) > max) {
            ctx_.error(v.pos, dq(name) + ": must be " + range + ", got " + shown);
            return std::nullopt;
        }
        return static_cast<std::uint64_t>(n);
    }
};

constexpr std::uint64_t kMaxInt = INT64_MAX;

void read_ebpf(Context& ctx, const hcl::Body& body, EbpfConfig& out) {
    BodyReader r(ctx, body, "in block ebpf");
    r.boolean("enabled", out.enabled);
    if (const hcl::Block* b = r.single_block("features")) {
        ctx.features_block = b->pos;
        for (const auto& a : b->body.attributes) ctx.feature_pos[a.name] = a.pos;
        BodyReader f(ctx, b->body, "in block features", "feature");
        for (const auto& name : feature_names()) f.boolean(name, out.features[name]);
        f.finish();
        // ddos_protection is the seed's umbrella for the IP blocklist and per-source rate
        // limiting (its config names only the umbrella): turning it on turns on the parts the
        // file does not set itself, so the seed's example runs as written.
        if (out.features["ddos_protection"]) {
            for (const char* part : {"ip_blocklist", "rate_limiting"})
                if (!b->body.find_attribute(part)) out.features[part] = true;
        }
    }
    if (const hcl::Block* b = r.single_block("performance")) {
        BodyReader p(ctx, b->body, "in block performance");
        p.real("max_cpu_percent", out.performance.max_cpu_percent, 0, 100, "percentage");
        p.integer("max_memory_mb", out.performance.max_memory_mb, 1, kMaxInt);
        p.integer("max_events_per_sec", out.performance.max_events_per_sec, 1, kMaxInt);
        p.integer("max_pps", out.performance.max_pps, 1, kMaxInt);
        p.integer("time_sample_shift", out.performance.time_sample_shift, 0, 20);
        p.finish();
    }
    if (const hcl::Block* b = r.single_block("adaptive")) {
        BodyReader a(ctx, b->body, "in block adaptive");
        a.boolean("enabled", out.adaptive.enabled);
        a.real("scale_back_threshold", out.adaptive.scale_back_threshold, 0, 100, "percentage");
        a.real("scale_back_rate", out.adaptive.scale_back_rate, 0, 1, "rate");
        a.string_list("minimum_features", out.adaptive.minimum_features, feature_name, /*unique=*/true);
        a.finish();
    }
    r.finish();
}


// A string attribute parsed by `parse` into `out`; the parser's message is reported at the value.
template <class T, class Parse>
Validator parsed_into(T& out, Parse parse) {
    return [&out, parse](std::string& v) -> std::optional<std::string> {
        auto r = parse(v);
        if (!r.ok()) return r.error().context;
        out = *r;
        return std::nullopt;
    };
}

std::optional<std::string> rule_name_problem(const std::string& n) {
    if (n.empty() || n.size() > 64) return "name must be 1 to 64 characters, got " + dq(n);
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            return "name may hold letters, digits, '-', '_' and '.' only, got " + dq(n);
    return std::nullopt;
}

const Choices<IpsActionConfig>& ips_actions() {
    static const Choices<IpsActionConfig> c{{"alert", IpsActionConfig::Alert}, {"drop", IpsActionConfig::Drop}};
    return c;
}

constexpr std::size_t kMaxQosRules = 64, kMaxIpsPatterns = 64;  // the TC classifier's tables

void read_qos_ips(Context& ctx, BodyReader& top, Config& cfg) {
    if (const hcl::Block* b = top.single_block("qos")) {
        BodyReader q(ctx, b->body, "in block qos");
        std::map<std::string, Position> seen;
        for (const hcl::Block* rb : q.labelled_blocks("rule", "rule \"voip\" { ... }")) {
            QosRuleConfig rule;
            rule.name = rb->labels[0];
            if (auto problem = rule_name_problem(rule.name)) ctx.error(rb->label_pos[0], "rule " + *problem);
            if (auto it = seen.find(rule.name); it != seen.end())
                ctx.error(rb->label_pos[0], "duplicate rule " + dq(rule.name) + " (first defined at " +
                                                std::to_string(it->second.line) + ":" + std::to_string(it->second.column) + ")");
            else seen.emplace(rule.name, rb->label_pos[0]);
            if (cfg.qos.rules.size() >= kMaxQosRules)
                ctx.error(rb->pos, "too many QoS rules: at most " + std::to_string(kMaxQosRules));
            BodyReader r(ctx, rb->body, "in block rule");
            std::string text;
            r.string("proto", text, parsed_into(rule.proto, parse_ip_proto));
            r.string("sport", text, parsed_into(rule.sport, parse_port_span));
            r.string("dport", text, parsed_into(rule.dport, parse_port_span));
            std::optional<std::uint64_t> n;
            r.optional_integer("dscp", n, 0, 63);
            if (n) rule.dscp = static_cast<std::uint8_t>(*n);
            n.reset();
            r.optional_integer("set_dscp", n, 0, 63);
            if (n) rule.set_dscp = static_cast<std::uint8_t>(*n);
            r.integer("priority", rule.priority, 0, 0xffffffffull);
            std::optional<std::uint32_t> classid;
            r.string("class", text, parsed_into(classid, parse_class_handle));
            bool has_class = false;
            for (const auto& a : rb->body.attributes) has_class |= a.name == "class";
            if (classid) rule.classid = *classid;
            if (!has_class)
                ctx.error(rb->pos, "rule " + dq(rule.name) + ": \"class\" is required (a tc class handle, e.g. \"1:10\")");
            r.finish();
            cfg.qos.rules.push_back(std::move(rule));
        }
        q.finish();
    }
    if (const hcl::Block* b = top.single_block("ips")) {
        BodyReader q(ctx, b->body, "in block ips");
        std::map<std::string, Position> seen;
        for (const hcl::Block* pb : q.labelled_blocks("pattern", "pattern \"exploit\" { ... }")) {
            IpsPatternConfig pat;
            pat.name = pb->labels[0];
            if (auto problem = rule_name_problem(pat.name)) ctx.error(pb->label_pos[0], "pattern " + *problem);
            if (auto it = seen.find(pat.name); it != seen.end())
                ctx.error(pb->label_pos[0], "duplicate pattern " + dq(pat.name) + " (first defined at " +
                                                std::to_string(it->second.line) + ":" + std::to_string(it->second.column) + ")");
            else seen.emplace(pat.name, pb->label_pos[0]);
            if (cfg.ips.patterns.size() >= kMaxIpsPatterns)
                ctx.error(pb->pos, "too many IPS patterns: at most " + std::to_string(kMaxIpsPatterns));
            BodyReader r(ctx, pb->body, "in block pattern");
            auto with_length = [](auto parse) {
                return [parse](std::string_view v) -> Result<std::vector<std::uint8_t>> {
                    auto bytes = parse(v);
                    if (!bytes.ok()) return bytes;
                    if (auto st = check_pattern_length(*bytes); !st.ok()) return std::move(st).error();
                    return bytes;
                };
            };
            std::string text;
            std::optional<std::vector<std::uint8_t>> bytes, hex;
            r.string("bytes", text, parsed_into(bytes, with_length(parse_escaped_bytes)));
            r.string("hex", text, parsed_into(hex, with_length(parse_hex_bytes)));
            bool has_bytes = false, has_hex = false;
            for (const auto& a : pb->body.attributes) {
                has_bytes |= a.name == "bytes";
                has_hex |= a.name == "hex";
            }
            if (has_bytes == has_hex)
                ctx.error(pb->pos, "pattern " + dq(pat.name) + ": give exactly one of \"bytes\" or \"hex\"");
            if (bytes) pat.bytes = *bytes;
            if (hex) pat.bytes = *hex;
            r.choice("action", pat.action, ips_actions());
            r.string("proto", text, [&pat](std::string& v) -> std::optional<std::string> {
                auto p = parse_ip_proto(v);
                if (!p.ok()) return p.error().context;
                if (*p != 6 && *p != 17) return "IPS patterns match TCP or UDP payloads only, got " + dq(v);
                pat.proto = *p;
                return std::nullopt;
            });
            r.integer("port", pat.port, 0, 65535);
            r.finish();
            cfg.ips.patterns.push_back(std::move(pat));
        }
        q.finish();
    }
}

}  // namespace

Config read_config(Context& ctx, const hcl::Body& body) {
    Config cfg;
    BodyReader top(ctx, body, "at top level");
    top.string("pin_path", cfg.pin_path, absolute_path);
    top.boolean("detach_on_exit", cfg.detach_on_exit);
    top.boolean("drop_capabilities", cfg.drop_capabilities);
    top.string("state_dir", cfg.state_dir, absolute_path);
    top.choice("log_level", cfg.log_level, log_levels());

    if (const hcl::Block* b = top.single_block("ebpf")) read_ebpf(ctx, b->body, cfg.ebpf);

    std::map<std::string, Position> seen_interfaces;
    for (const hcl::Block* b : top.labelled_blocks("interface", "interface \"eth0\" { ... }")) {
        InterfaceConfig ifc;
        ifc.name = b->labels[0];
        if (auto problem = interface_name(ifc.name)) ctx.error(b->label_pos[0], *problem);
        if (auto it = seen_interfaces.find(ifc.name); it != seen_interfaces.end()) {
            ctx.error(b->label_pos[0], "duplicate interface " + dq(ifc.name) + " (first defined at " +
                                           std::to_string(it->second.line) + ":" +
                                           std::to_string(it->second.column) + ")");
        } else {
            seen_interfaces.emplace(ifc.name, b->label_pos[0]);
        }
        BodyReader r(ctx, b->body, "in block interface");
        r.choice("xdp_mode", ifc.xdp_mode, xdp_modes());
        r.boolean("tc", ifc.tc);
        r.finish();
        cfg.interfaces.push_back(std::move(ifc));
    }

    if (const hcl::Block* b = top.single_block("api")) {
        BodyReader r(ctx, b->body, "in block api");
        r.string("listen", cfg.api.listen, listen_address);
        r.string("token_file", cfg.api.token_file, absolute_path);
        r.string("tls_cert", cfg.api.tls_cert, absolute_path);
        r.string("tls_key", cfg.api.tls_key, absolute_path);
        r.finish();
        if (cfg.api.tls_cert.empty() != cfg.api.tls_key.empty())
            ctx.error(b->pos, "in block api: tls_cert and tls_key go together (set both or neither)");
        else if (cfg.api.tls_cert.empty() && !listen_is_loopback(cfg.api.listen))
            ctx.error(b->pos, "in block api: listen = " + dq(cfg.api.listen) +
                                  " is not on loopback: set tls_cert and tls_key (the API token and the firewall's "
                                  "state would otherwise cross the network in clear)");
    }
    if (const hcl::Block* b = top.single_block("blocklist")) {
        BodyReader r(ctx, b->body, "in block blocklist");
        auto& bl = cfg.blocklist;
        r.string_list("ips", bl.ips, ip_or_cidr);
        r.string_list("ip_files", bl.ip_files, non_empty);
        r.string_list("allow_ips", bl.allow_ips, ip_or_cidr);
        r.string_list("domains", bl.domains, domain);
        r.string_list("domain_files", bl.domain_files, non_empty);
        r.choice("dns_action", bl.dns_action, dns_actions());
        r.choice("malformed_verdict", bl.malformed_verdict, malformed_verdicts());
        r.optional_integer("default_ttl", bl.default_ttl, 1, kMaxInt);
        r.integer("exact_capacity", bl.exact_capacity, 8, 1u << 25);
        r.finish();
    }
    if (const hcl::Block* b = top.single_block("rate_limit")) {
        BodyReader r(ctx, b->body, "in block rate_limit");
        auto& rl = cfg.rate_limit;
        r.boolean("enabled", rl.enabled);
        r.integer("pps", rl.pps, 0, kMaxInt);
        r.integer("bps", rl.bps, 0, kMaxInt);
        r.integer("burst_packets", rl.burst_packets, 1, kMaxInt);
        r.integer("burst_bytes", rl.burst_bytes, 1, kMaxInt);
        r.integer("syn_pps", rl.syn_pps, 0, kMaxInt);
        r.integer("icmp_pps", rl.icmp_pps, 0, kMaxInt);
        r.integer("udp_pps", rl.udp_pps, 0, kMaxInt);
        r.integer("ipv6_prefix_len", rl.ipv6_prefix_len, 1, 128);
        r.finish();
    }
    if (const hcl::Block* b = top.single_block("flows")) {
        BodyReader r(ctx, b->body, "in block flows");
        r.integer("idle_timeout_sec", cfg.flows.idle_timeout_sec, 1, kMaxInt);
        r.integer("trusted_after_packets", cfg.flows.trusted_after_packets, 0, kMaxInt);
        r.real("sample_rate", cfg.flows.sample_rate, 0, 1, "rate");
        r.finish();
    }
    if (const hcl::Block* b = top.single_block("learning")) {
        BodyReader r(ctx, b->body, "in block learning");
        auto& l = cfg.learning;
        constexpr std::uint64_t kMaxSec = 10u * 365 * 24 * 3600;  // ten years
        r.boolean("auto_apply", l.auto_apply);
        r.integer("rule_ttl_sec", l.rule_ttl_sec, 1, kMaxSec);
        r.integer("rate_limit_trips", l.rate_limit_trips, 1, UINT32_MAX);
        r.integer("rate_limit_window_sec", l.rate_limit_window_sec, 1, kMaxSec);
        r.integer("scan_ports", l.scan_ports, 1, 65535);
        r.integer("scan_window_sec", l.scan_window_sec, 1, kMaxSec);
        r.integer("ips_alerts", l.ips_alerts, 1, UINT32_MAX);
        r.integer("ips_window_sec", l.ips_window_sec, 1, kMaxSec);
        r.integer("reject_cooldown_sec", l.reject_cooldown_sec, 0, kMaxSec);
        r.integer("idle_expiry_sec", l.idle_expiry_sec, 1, kMaxSec);
        r.finish();
    }
    if (const hcl::Block* b = top.single_block("events")) {
        BodyReader r(ctx, b->body, "in block events");
        r.optional_string("log_file", cfg.events.log_file, absolute_path);
        r.finish();
    }
    read_qos_ips(ctx, top, cfg);
    top.finish();
    return cfg;
}


}  // namespace flywall::config::detail
