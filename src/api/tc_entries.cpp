#include "api/tc_entries.hpp"

#include <algorithm>
#include <cctype>

namespace flywall::api {

using nlohmann::json;

namespace {

template <class T>
ParsedOne<T> fail(std::string message, std::string field) {
    ParsedOne<T> p;
    p.error = FieldError{std::move(message), std::move(field)};
    return p;
}

// A port or range as a number or a "LOW-HIGH" string.
Result<config::PortSpan> port_field(const json& v) {
    if (v.is_number_unsigned()) {
        auto n = v.get<std::uint64_t>();
        if (n > 65535) return Error::invalid("port " + std::to_string(n) + " is above 65535");
        return config::PortSpan{static_cast<std::uint16_t>(n), static_cast<std::uint16_t>(n)};
    }
    if (v.is_string()) return config::parse_port_span(v.get<std::string>());
    return Error::invalid("expected a port number or a \"LOW-HIGH\" string");
}

Result<std::uint8_t> dscp_field(const json& v) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 63) return Error::invalid("expected a DSCP value 0..63");
    return static_cast<std::uint8_t>(v.get<std::uint64_t>());
}

Result<std::uint8_t> proto_field(const json& v) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() <= 255) return static_cast<std::uint8_t>(v.get<std::uint64_t>());
    if (v.is_string()) return config::parse_ip_proto(v.get<std::string>());
    return Error::invalid("expected tcp, udp, icmp, icmpv6 or 0..255");
}

bool valid_name(const std::string& n) {
    if (n.empty() || n.size() > 64) return false;
    for (char c : n)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
    return true;
}

constexpr const char* kNameRule = "name must be 1..64 characters of letters, digits, '-', '_', '.'";

std::string span_text(const config::PortSpan& s) {
    return s.lo == s.hi ? std::to_string(s.lo) : std::to_string(s.lo) + "-" + std::to_string(s.hi);
}

}  // namespace

ParsedOne<config::QosRuleConfig> parse_qos_rule(const json& body) {
    using P = config::QosRuleConfig;
    if (!body.is_object()) return fail<P>("expected a JSON object", "body");
    static const char* known[] = {"name", "proto", "sport", "dport", "dscp", "class", "priority", "set_dscp"};
    for (const auto& [k, _] : body.items())
        if (std::find(std::begin(known), std::end(known), k) == std::end(known)) return fail<P>("unknown field", k);
    P r;
    if (!body.contains("name") || !body["name"].is_string() || !valid_name(body["name"].get<std::string>()))
        return fail<P>(kNameRule, "name");
    r.name = body["name"].get<std::string>();
    if (body.contains("proto")) {
        auto v = proto_field(body["proto"]);
        if (!v.ok()) return fail<P>(v.error().message(), "proto");
        r.proto = *v;
    }
    for (const char* f : {"sport", "dport"}) {
        if (!body.contains(f)) continue;
        auto v = port_field(body[f]);
        if (!v.ok()) return fail<P>(v.error().message(), f);
        (std::string(f) == "sport" ? r.sport : r.dport) = *v;
    }
    for (const char* f : {"dscp", "set_dscp"}) {
        if (!body.contains(f)) continue;
        auto v = dscp_field(body[f]);
        if (!v.ok()) return fail<P>(v.error().message(), f);
        (std::string(f) == "dscp" ? r.dscp : r.set_dscp) = *v;
    }
    if (!body.contains("class") || !body["class"].is_string())
        return fail<P>("class is required: a tc class handle \"MAJOR:MINOR\" (hex)", "class");
    auto c = config::parse_class_handle(body["class"].get<std::string>());
    if (!c.ok()) return fail<P>(c.error().message(), "class");
    r.classid = *c;
    if (body.contains("priority")) {
        if (!body["priority"].is_number_unsigned() || body["priority"].get<std::uint64_t>() > 0xffffffffull)
            return fail<P>("priority must be a whole number 0..4294967295", "priority");
        r.priority = static_cast<std::uint32_t>(body["priority"].get<std::uint64_t>());
    }
    ParsedOne<P> out;
    out.value = std::move(r);
    return out;
}

ParsedOne<config::IpsPatternConfig> parse_ips_pattern(const json& body) {
    using P = config::IpsPatternConfig;
    if (!body.is_object()) return fail<P>("expected a JSON object", "body");
    static const char* known[] = {"name", "bytes", "hex", "action", "proto", "port"};
    for (const auto& [k, _] : body.items())
        if (std::find(std::begin(known), std::end(known), k) == std::end(known)) return fail<P>("unknown field", k);
    P p;
    if (!body.contains("name") || !body["name"].is_string() || !valid_name(body["name"].get<std::string>()))
        return fail<P>(kNameRule, "name");
    p.name = body["name"].get<std::string>();
    const bool has_bytes = body.contains("bytes"), has_hex = body.contains("hex");
    if (has_bytes == has_hex) return fail<P>("give exactly one of \"bytes\" (text, \\x escapes) or \"hex\"", "bytes");
    const char* bf = has_bytes ? "bytes" : "hex";
    if (!body[bf].is_string()) return fail<P>("expected a string", bf);
    auto b = has_bytes ? config::parse_escaped_bytes(body[bf].get<std::string>())
                       : config::parse_hex_bytes(body[bf].get<std::string>());
    if (!b.ok()) return fail<P>(b.error().message(), bf);
    if (auto st = config::check_pattern_length(*b); !st.ok()) return fail<P>(st.error().message(), bf);
    p.bytes = std::move(*b);
    if (body.contains("action")) {
        if (!body["action"].is_string()) return fail<P>("expected \"alert\" or \"drop\"", "action");
        auto a = config::parse_ips_action(body["action"].get<std::string>());
        if (!a.ok()) return fail<P>(a.error().message(), "action");
        p.action = *a;
    }
    if (body.contains("proto")) {
        auto v = proto_field(body["proto"]);
        if (!v.ok()) return fail<P>(v.error().message(), "proto");
        if (*v != 0 && *v != 6 && *v != 17) return fail<P>("IPS patterns match TCP or UDP payloads only", "proto");
        p.proto = *v;
    }
    if (body.contains("port")) {
        if (!body["port"].is_number_unsigned() || body["port"].get<std::uint64_t>() > 65535)
            return fail<P>("port must be 0..65535 (0 = any)", "port");
        p.port = static_cast<std::uint16_t>(body["port"].get<std::uint64_t>());
    }
    ParsedOne<P> out;
    out.value = std::move(p);
    return out;
}

json to_json(const config::QosRuleConfig& r) {
    json j{{"name", r.name}, {"class", config::class_handle_string(r.classid)}, {"priority", r.priority}};
    j["proto"] = r.proto ? json(*r.proto) : json(nullptr);
    j["sport"] = r.sport ? json(span_text(*r.sport)) : json(nullptr);
    j["dport"] = r.dport ? json(span_text(*r.dport)) : json(nullptr);
    j["dscp"] = r.dscp ? json(*r.dscp) : json(nullptr);
    j["set_dscp"] = r.set_dscp ? json(*r.set_dscp) : json(nullptr);
    return j;
}

json to_json(const config::IpsPatternConfig& p) {
    static const char* hex = "0123456789abcdef";
    std::string h;
    for (auto b : p.bytes) {
        h += hex[b >> 4];
        h += hex[b & 15];
    }
    return json{{"name", p.name}, {"hex", h}, {"length", p.bytes.size()}, {"action", config::to_string(p.action)},
                {"proto", p.proto}, {"port", p.port}};
}

}  // namespace flywall::api
