// Private to src/config/config*.cpp: what the reader, the printers and the loader share (the
// enum name tables, the value validators, message formatting, the reader's context).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace flywall::config::detail {

// ---- enum name tables (config.cpp) --------------------------------------------------------

template <class E>
using Choices = std::vector<std::pair<std::string_view, E>>;

const Choices<XdpMode>& xdp_modes();
const Choices<DnsAction>& dns_actions();
const Choices<MalformedVerdict>& malformed_verdicts();
const Choices<LogLevel>& log_levels();

// ---- message helpers (config_values.cpp) ----------------------------------------------------

// "; did you mean \"x\"?" for the closest candidate within a small edit distance, else "".
std::string suggestion(std::string_view name, const std::vector<std::string>& candidates);
std::string format_double(double v);
// Values in messages are shown as HCL literals, so control characters stay visible.
std::string dq(std::string_view s);

// ---- validators: return a phrase describing the problem, or nothing -----------------------

using Validator = std::function<std::optional<std::string>(std::string& value)>;

std::optional<std::string> absolute_path(std::string& v);
std::optional<std::string> non_empty(std::string& v);
std::optional<std::string> ip_or_cidr(std::string& v);
// Lower-cases and drops a trailing dot. A leading "*." (every subdomain) is allowed.
std::optional<std::string> domain(std::string& v);
// True when a (valid) listen address "host:port" / "[v6]:port" is on loopback.
bool listen_is_loopback(const std::string& v);
std::optional<std::string> listen_address(std::string& v);
std::optional<std::string> interface_name(std::string& v);
std::optional<std::string> feature_name(std::string& v);

// ---- the schema reader (config_read.cpp) ----------------------------------------------------

struct Context {
    std::string file;
    std::vector<Diagnostic> diags;
    std::map<std::string, Position> feature_pos;  // ebpf.features attributes as written
    Position features_block{0, 0};
    void error(Position p, std::string message) {
        diags.push_back(Diagnostic{file, p.line, p.column, std::move(message)});
    }
};

// Reads a parsed file into a Config; problems go to ctx.diags.
Config read_config(Context& ctx, const hcl::Body& body);

}  // namespace flywall::config::detail
