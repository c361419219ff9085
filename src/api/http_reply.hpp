// How every API route answers: JSON bodies, {"error", "field"} on failure, and one mapping from
// an Error's errno to an HTTP status (shared by all route files).
#pragma once

#include <httplib.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.hpp"

namespace flywall::api {

inline void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}

inline void send_error(httplib::Response& res, int status, const std::string& message,
                       const std::string& field = {}) {
    using nlohmann::json;
    send_json(res, status, json{{"error", message}, {"field", field.empty() ? json(nullptr) : json(field)}});
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
