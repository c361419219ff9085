// Validation of blocklist requests: bulk JSON bodies and plain-text imports (one entry per
// line, netset/CIDR lists, hosts files). Everything is validated before anything is applied;
// the first problem is reported with the field it concerns ("entries[2].value", "line 7").
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/backend.hpp"

namespace flywall::api {

struct FieldError {
    std::string message;
    std::string field;  // empty when the problem is not about one field
};

template <class T>
struct Parsed {
    std::vector<T> entries;
    std::optional<FieldError> error;
    [[nodiscard]] bool ok() const { return !error.has_value(); }
};

// Options shared by every entry of a plain-text import (from the query string).
struct ImportOptions {
    IpListKind list = IpListKind::Block;
    MatchDir dir = MatchDir::Src;
    std::optional<std::chrono::seconds> ttl;
    DomainAction action = DomainAction::Global;
};

// {"entries":[{"value":"198.18.0.5","ttl":60,"direction":"src","list":"block"}, ...]}.
// `for_removal`: ttl is ignored. Entries without ttl get `default_ttl`.
Parsed<IpEntrySpec> parse_ip_entries(const nlohmann::json& body, std::optional<std::chrono::seconds> default_ttl,
                                     bool for_removal = false);
// One address or CIDR per line; '#' and ';' start comments; a hosts-style line
// ("0.0.0.0 name") is not an IP entry and is rejected.
Parsed<IpEntrySpec> parse_ip_import(std::string_view text, const ImportOptions& opts);

// {"entries":[{"value":"ads.example.com","ttl":60,"action":"nxdomain"}, ...]}.
Parsed<DomainEntrySpec> parse_domain_entries(const nlohmann::json& body,
                                             std::optional<std::chrono::seconds> default_ttl,
                                             bool for_removal = false);
// One domain per line, or hosts-file lines "0.0.0.0 ads.example.com [more names]"; comments
// as above; localhost-style names of hosts files are skipped.
Parsed<DomainEntrySpec> parse_domain_import(std::string_view text, const ImportOptions& opts);

// flywall::normalize_domain (lower-case, one trailing dot dropped, labels 1..63 of
// [a-z0-9_-], at most 253 characters) after dropping a leading "*." (a blocked domain covers
// its subdomains anyway). Returns the normal form, or nullopt with *error set.
std::optional<std::string> clean_domain(std::string_view text, std::string* error);

}  // namespace flywall::api
