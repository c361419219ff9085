// The schema's enum names and feature list, and loading a file or text (parse, then read the
// tree: config_read.cpp). Printing is in config_hcl.cpp and config_json.cpp.
#include "config/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "config/config_internal.hpp"

namespace flywall::config {

// ---- enums and feature names ------------------------------------------------------------

namespace detail {

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

}  // namespace detail

using namespace detail;

namespace {

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

}  // namespace flywall::config
