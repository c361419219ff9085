// The one policy for text that leaves the daemon (docs/ERRORS.md, "Text leaving the daemon").
//
// Every string that came from a packet, a file or a request is hostile: it may hold bytes that
// are not UTF-8, control characters, or terminal escapes. Such a string becomes JSON, a log line
// or a metric label only through these helpers:
//   - text::safe(s)       at the boundary where bytes become a string we keep (a DNS name, an
//                         SNI, a DHCP hostname, a path, a request's text): valid printable UTF-8
//                         is kept, every other byte is written as \xNN (so "\xff" in a name is
//                         visible, not lost, and a backslash is written as \\ so the result is
//                         unambiguous);
//   - text::json_text(j)  every JSON document we write (HTTP bodies, event lines, CLI output):
//                         nlohmann's dump with invalid UTF-8 replaced by U+FFFD instead of the
//                         exception (type_error.316) that would otherwise abort the process.
// No other dump() call exists under src/ (grep "\.dump(" finds only this file).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace flywall::text {

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid, RFC 3629).
inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    if (c < 0x80) return 1;
    std::size_t n;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return n;
}

inline bool is_valid_utf8(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t n = utf8_sequence_length(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

// True when s is valid UTF-8 without C0 control characters or DEL (what a name, a value or a
// path given to us may contain).
inline bool is_clean(std::string_view s) {
    if (!is_valid_utf8(s)) return false;
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7F) return false;
    return true;
}

// Printable, unambiguous, always valid UTF-8: see the header comment.
inline std::string safe(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t n = utf8_sequence_length(s, i);
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
        if (n == 1 && c >= 0x20 && c != 0x7F && c != '\\') {
            out.push_back(static_cast<char>(c));
        } else if (c == '\\') {
            out += "\\\\";
        } else {
            out += "\\x";
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 0xF]);
        }
        ++i;
    }
    return out;
}

// The JSON text of j (nlohmann::json or ordered_json); never throws on invalid UTF-8
// (replaced by U+FFFD).
template <typename Json = nlohmann::json>
inline std::string json_text(const Json& j, int indent = -1) {
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace flywall::text
