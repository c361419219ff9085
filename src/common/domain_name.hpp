// The one parser of domain names for the blocklist, used by the config, the API, the CLI and the
// runtime's key builder (it replaced three validators that had drifted apart).
//
// Accepted: labels of 1..63 characters from [a-z0-9_-] (upper case is lowered), not starting or
// ending with '-', joined by dots, 253 characters at most; one trailing dot and a leading "*."
// are dropped (a blocked name always covers its subdomains, so "*.ads.example" is
// "ads.example"). A single label is a name too: "zip" blocks the whole TLD.
// Rejected, with the reason: an empty name or label, other characters (spaces, bytes that are
// not ASCII, NUL), a label with a leading or trailing '-', and an IP address written where a
// name belongs. No trimming: callers that read files or command lines trim first.
#pragma once

#include <string>
#include <string_view>

#include "common/ip_prefix.hpp"
#include "common/result.hpp"
#include "common/text.hpp"

namespace flywall {

inline constexpr std::size_t kMaxDomainNameLength = 253;
inline constexpr std::size_t kMaxDomainLabelLength = 63;

// The normalized name, or EINVAL with context "\"TEXT\" is not a valid domain name (REASON)".
inline Result<std::string> parse_domain_name(std::string_view text) {
    auto bad = [&](const std::string& why) {
        return Error::invalid("\"" + text::safe(text) + "\" is not a valid domain name (" + why + ")");
    };
    std::string name(text);
    for (char& c : name)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!name.empty() && name.back() == '.') name.pop_back();
    if (name.size() >= 2 && name.compare(0, 2, "*.") == 0) name.erase(0, 2);
    if (name.empty()) return bad("empty name");
    if (name.size() > kMaxDomainNameLength) return bad("longer than 253 characters");
    if (parse_ip_prefix(name).ok()) return bad("an IP address, not a name");
    std::size_t start = 0;
    while (start <= name.size()) {
        std::size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        const std::string_view label = std::string_view(name).substr(start, dot - start);
        if (label.empty()) return bad("empty label");
        if (label.size() > kMaxDomainLabelLength) return bad("label longer than 63 characters");
        if (label.front() == '-' || label.back() == '-') return bad("label starts or ends with '-'");
        for (char c : label) {
            const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!ok) return bad("invalid character '" + text::safe(std::string_view(&c, 1)) + "'");
        }
        start = dot + 1;
    }
    return name;
}

}  // namespace flywall
