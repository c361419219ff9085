#include "config/config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <utility>

#include "common/domain_name.hpp"
#include "common/ip_prefix.hpp"

namespace flywall::config {

// ---- enums and feature names ------------------------------------------------------------

namespace {

template <class E>
using Choices = std::vector<std::pair<std::string_view, E>>;

const Choices<XdpMode>& xdp_modes() {
    static const Choices<XdpMode> c{{"auto", XdpMode::Auto},
                                    {"native", XdpMode::Native},
                                    {"generic", XdpMode::Generic},
                                    {"offload", XdpMode::Offload}};
    return c;
}
const Choices<DnsAction>& dns_actions() {
    static const Choices<DnsAction> c{{"drop", DnsAction::Drop}, {"nxdomain", DnsAction::Nxdomain}};
    return c;
}
const Choices<MalformedVerdict>& malformed_verdicts() {
    static const Choices<MalformedVerdict> c{{"pass", MalformedVerdict::Pass}, {"drop", MalformedVerdict::Drop}};
    return c;
}
const Choices<LogLevel>& log_levels() {
    static const Choices<LogLevel> c{{"trace", LogLevel::Trace}, {"debug", LogLevel::Debug},
                                     {"info", LogLevel::Info},   {"warn", LogLevel::Warn},
                                     {"error", LogLevel::Error}, {"critical", LogLevel::Critical},
                                     {"off", LogLevel::Off}};
    return c;
}

template <class E>
std::string_view choice_name(const Choices<E>& choices, E value) {
    for (const auto& [name, v] : choices)
        if (v == value) return name;
    return "?";
}

}  // namespace

std::string_view to_string(XdpMode mode) { return choice_name(xdp_modes(), mode); }
std::string_view to_string(DnsAction action) { return choice_name(dns_actions(), action); }
std::string_view to_string(MalformedVerdict verdict) { return choice_name(malformed_verdicts(), verdict); }
std::string_view to_string(LogLevel level) { return choice_name(log_levels(), level); }

const std::vector<std::string>& feature_names() {
    static const std::vector<std::string> names{
        "ddos_protection", "dns_blocklist",      "inline_ips",     "flow_monitoring", "qos",
        "learning_engine", "statistics",         "ip_blocklist",   "rate_limiting",   "tls_fingerprinting",
        "socket_filters",  "dns_monitoring",     "dhcp_monitoring", "events"};
    return names;
}

bool is_known_feature(std::string_view name) {
    const auto& n = feature_names();
    return std::find(n.begin(), n.end(), name) != n.end();
}

std::map<std::string, bool> default_features() {
    std::map<std::string, bool> f;
    for (const auto& n : feature_names()) f[n] = false;
    f["statistics"] = true;
    return f;
}

Result<Config> LoadResult::to_result() && {
    if (ok()) return std::move(config_);
    std::string file = diagnostics_.empty() ? std::string() : diagnostics_.front().file;
    return Error::invalid("invalid configuration " + file).with_detail(error_text());
}

// ---- helpers -----------------------------------------------------------------------------

namespace {

std::size_t levenshtein(std::string_view a, std::string_view b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

// "; did you mean \"x\"?" for the closest candidate within a small edit distance, else "".
std::string suggestion(std::string_view name, const std::vector<std::string>& candidates) {
    std::size_t best = std::string::npos;
    const std::string* pick = nullptr;
    for (const auto& c : candidates) {
        std::size_t d = levenshtein(name, c);
        if (d < best) {
            best = d;
            pick = &c;
        }
    }
    std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
    if (pick == nullptr || best > limit || best >= name.size()) return {};
    return "; did you mean \"" + *pick + "\"?";
}

std::string format_double(double v) {
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) return "nan";
    return std::string(buf, p);
}

// Values in messages are shown as HCL literals, so control characters stay visible.
std::string dq(std::string_view s) { return hcl::quote(s); }

// ---- validators: return a phrase describing the problem, or nothing -----------------------

using Validator = std::function<std::optional<std::string>(std::string& value)>;

std::optional<std::string> absolute_path(std::string& v) {
    if (v.empty() || v.front() != '/') return "must be an absolute path, got " + dq(v);
    return std::nullopt;
}

std::optional<std::string> non_empty(std::string& v) {
    if (v.empty()) return std::string("must not be empty");
    return std::nullopt;
}

std::optional<std::string> ip_or_cidr(std::string& v) {
    // The one address parser (common/ip_prefix.hpp), shared with the API and the CLI.
    if (auto p = parse_ip_prefix(v); !p.ok()) return p.error().context;
    return std::nullopt;
}

// Lower-cases and drops a trailing dot. A leading "*." (every subdomain) is allowed.
std::optional<std::string> domain(std::string& v) {
    // The one domain parser (common/domain_name.hpp), shared with the API, the CLI and the
    // runtime. The config keeps a written "*." (it reads back as written), lower-cased and
    // without the trailing dot.
    auto name = parse_domain_name(v);
    if (!name.ok()) return name.error().context;
    const bool wildcard = v.size() > 2 && v.compare(0, 2, "*.") == 0;
    v = (wildcard ? "*." : "") + *name;
    return std::nullopt;
}

// True when a (valid) listen address "host:port" / "[v6]:port" is on loopback.
bool listen_is_loopback(const std::string& v) {
    std::string host = v.substr(0, v.rfind(':'));
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    return is_loopback_host(host);
}

std::optional<std::string> listen_address(std::string& v) {
    auto bad = [&](const std::string& why) {
        return "must be \"host:port\" or \"[ipv6]:port\", got " + dq(v) + " (" + why + ")";
    };
    std::string host, port;
    if (!v.empty() && v.front() == '[') {
        auto close = v.find(']');
        if (close == std::string::npos) return bad("missing ']'");
        host = v.substr(1, close - 1);
        if (close + 1 >= v.size() || v[close + 1] != ':') return bad("missing port");
        port = v.substr(close + 2);
        unsigned char buf[16];
        if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return bad("invalid IPv6 address");
    } else {
        auto colon = v.rfind(':');
        if (colon == std::string::npos) return bad("missing port");
        host = v.substr(0, colon);
        port = v.substr(colon + 1);
        if (host.find(':') != std::string::npos) return bad("IPv6 addresses must be in brackets");
        unsigned char buf[4];
        std::string h = host;
        if (host.empty()) return bad("missing host");
        if (inet_pton(AF_INET, host.c_str(), buf) != 1 && domain(h)) return bad("invalid host");
    }
    unsigned p = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535)
        return bad("port must be 1..65535");
    return std::nullopt;
}

std::optional<std::string> interface_name(std::string& v) {
    bool bad = v.empty() || v.size() > 15 || v == "." || v == "..";
    for (char c : v)
        if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) < 0x20)
            bad = true;
    if (bad)
        return "interface name must be 1 to 15 characters without '/', ':' or spaces, got " + dq(v);
    return std::nullopt;
}

std::optional<std::string> feature_name(std::string& v) {
    if (is_known_feature(v)) return std::nullopt;
    return "unknown feature " + dq(v) + suggestion(v, feature_names());
}

// ---- the schema reader -------------------------------------------------------------------

struct Context {
    std::string file;
    std::vector<Diagnostic> diags;
    std::map<std::string, Position> feature_pos;  // ebpf.features attributes as written
    Position features_block{0, 0};
    void error(Position p, std::string message) {
        diags.push_back(Diagnostic{file, p.line, p.column, std::move(message)});
    }
};

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

Config read_config(Context& ctx, const hcl::Body& body) {
    Config cfg;
    BodyReader top(ctx, body, "at top level");
    top.string("pin_path", cfg.pin_path, absolute_path);
    top.boolean("detach_on_exit", cfg.detach_on_exit);
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

}  // namespace

// ---- loading -----------------------------------------------------------------------------

LoadResult load_string(std::string_view text, std::string_view filename) {
    auto parsed = hcl::parse(text, filename);
    Context ctx{std::string(filename), std::move(parsed.diagnostics)};
    // After a syntax error the tree is truncated; schema errors about it would only mislead.
    Config cfg;
    if (parsed.complete) cfg = read_config(ctx, parsed.body);
    if (!ctx.diags.empty()) {
        std::stable_sort(ctx.diags.begin(), ctx.diags.end(), [](const Diagnostic& a, const Diagnostic& b) {
            return a.line != b.line ? a.line < b.line : a.column < b.column;
        });
        return LoadResult(std::move(ctx.diags));
    }
    LoadResult ok(std::move(cfg));
    ok.set_positions(std::string(filename), std::move(ctx.feature_pos), ctx.features_block);
    return ok;
}

Diagnostic LoadResult::at_feature(const std::string& name, std::string message) const {
    auto it = feature_pos_.find(name);
    const Position p = it != feature_pos_.end() ? it->second : features_block_;
    return Diagnostic{file_.empty() ? "(built-in)" : file_, p.line, p.column, std::move(message)};
}

LoadResult load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        int err = errno;
        return LoadResult(std::vector<Diagnostic>{
            Diagnostic{path, 0, 0, std::string("cannot open file: ") + std::strerror(err)}});
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) {
        int err = errno;
        return LoadResult(std::vector<Diagnostic>{
            Diagnostic{path, 0, 0, std::string("cannot read file: ") + std::strerror(err)}});
    }
    return load_string(ss.str(), path);
}

LoadResult load_default() { return load_string(default_config_text(), "<built-in default>"); }

// ---- printing ----------------------------------------------------------------------------

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
        {"log_level", to_string(c.log_level)},
        {"ebpf",
         {{"enabled", c.ebpf.enabled},
          {"features", features},
          {"performance",
           {{"max_cpu_percent", p.max_cpu_percent},
            {"max_memory_mb", p.max_memory_mb},
            {"max_events_per_sec", p.max_events_per_sec},
            {"max_pps", p.max_pps}}},
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
