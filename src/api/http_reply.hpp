// How every API route answers: JSON bodies, {"error", "field"} on failure, and one mapping from
// an Error's errno to an HTTP status (shared by all route files).
#pragma once

#include <httplib.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/text.hpp"
#include "common/result.hpp"

namespace flywall::api {

inline void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(text::json_text(body), "application/json");
}

inline void send_error(httplib::Response& res, int status, const std::string& message,
                       const std::string& field = {}) {
    using nlohmann::json;
    send_json(res, status, json{{"error", message}, {"field", field.empty() ? json(nullptr) : json(field)}});
}

// Parses a request's JSON body; nesting deeper than max_depth is refused before the parser
// runs (nlohmann's recursive parser would otherwise grow without bound on "[[[[..."), and so is
// text that is not JSON or holds invalid UTF-8. The error names the byte offset.
inline Result<nlohmann::json> parse_json_bounded(std::string_view body, std::size_t max_depth) {
    std::size_t depth = 0;
    bool in_string = false, escaped = false;
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth)
                return Error::invalid("JSON nested deeper than " + std::to_string(max_depth) + " levels at byte " +
                                      std::to_string(i));
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded()) return Error::invalid("not valid JSON (or not valid UTF-8)");
    return j;
}

// EINVAL 400, ENOENT 404, EBUSY/EEXIST 409 (conflict), ENOSPC/E2BIG/ENOMEM 507 (full),
// ENOTSUP 501, EAGAIN/ENODEV 503, anything else 500.
inline int status_for(const Error& e) {
    switch (e.errnum()) {
        case EINVAL: return 400;
        case ENOENT: return 404;
        case EBUSY:
        case EEXIST: return 409;
        case ENOSPC:
        case E2BIG:
        case ENOMEM: return 507;
        case ENOTSUP: return 501;
        case EAGAIN:
        case ENODEV: return 503;
        default: return 500;
    }
}

}  // namespace flywall::api
