// JSON bodies of the QoS rule and IPS pattern routes (docs/API.md) -> validated config forms.
// The first problem is reported with the field it concerns ("dport", "bytes", ...).
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "api/entries.hpp"
#include "config/tc_rules.hpp"

namespace flywall::api {

template <class T>
struct ParsedOne {
    std::optional<T> value;
    std::optional<FieldError> error;
    [[nodiscard]] bool ok() const { return !error.has_value(); }
};

// {"name", "proto"?, "sport"?, "dport"?, "dscp"?, "class", "priority"?, "set_dscp"?}
ParsedOne<config::QosRuleConfig> parse_qos_rule(const nlohmann::json& body);
// {"name", "bytes" | "hex", "action"?, "proto"?, "port"?}
ParsedOne<config::IpsPatternConfig> parse_ips_pattern(const nlohmann::json& body);

nlohmann::json to_json(const config::QosRuleConfig& r);
nlohmann::json to_json(const config::IpsPatternConfig& p);

}  // namespace flywall::api
