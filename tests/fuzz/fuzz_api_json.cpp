// libFuzzer target: the API's request bodies: the bounded JSON reader and every body parser
// behind it (IP and domain entries, plain-text imports, QoS rules, IPS patterns). The first byte
// picks the route; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/entries.hpp"
#include "api/http_reply.hpp"
#include "api/tc_entries.hpp"
#include "common/text.hpp"

using flywall::api::ImportOptions;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t route = data[0] % 6;
    std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    if (route == 4 || route == 5) {
        ImportOptions opts;
        auto p = route == 4 ? flywall::api::parse_ip_import(body, opts).ok() : flywall::api::parse_domain_import(body, opts).ok();
        (void)p;
        return 0;
    }
    auto j = flywall::api::parse_json_bounded(body, 64);
    if (!j.ok()) {
        (void)flywall::text::json_text(nlohmann::json{{"error", j.error().message()}});
        return 0;
    }
    switch (route) {
        case 0: {
            auto p = flywall::api::parse_ip_entries(*j, std::nullopt);
            if (!p.ok()) (void)flywall::text::json_text(nlohmann::json{{"error", p.error->message}, {"field", p.error->field}});
            break;
        }
        case 1: {
            auto p = flywall::api::parse_domain_entries(*j, std::nullopt, true);
            if (!p.ok()) (void)flywall::text::json_text(nlohmann::json{{"error", p.error->message}, {"field", p.error->field}});
            break;
        }
        case 2: {
            auto p = flywall::api::parse_qos_rule(*j);
            if (p.ok()) (void)flywall::text::json_text(flywall::api::to_json(*p.value));
            break;
        }
        case 3: {
            auto p = flywall::api::parse_ips_pattern(*j);
            if (p.ok()) (void)flywall::text::json_text(flywall::api::to_json(*p.value));
            break;
        }
    }
    return 0;
}
