// Decoding of the XDP fast path's ring-buffer records (struct fw_event, flywall/abi.h) into a
// plain C++ value for the event processor and its subscribers, plus a JSON rendering.
// The ring buffer itself is XdpFastPath::events_fd(); draining it is the event processor's job.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "flywall/abi.h"

namespace flywall {

enum class XdpEventType : uint32_t {
    IpBlocked = FW_EV_IP_BLOCKED,
    DomainBlocked = FW_EV_DOMAIN_BLOCKED,
    RateLimited = FW_EV_RATE_LIMITED,
    NewFlow = FW_EV_NEW_FLOW,
};
std::string_view to_string(XdpEventType type);  // "ip_blocked", "domain_blocked", ...

struct XdpEvent {
    XdpEventType type = XdpEventType::IpBlocked;
    uint64_t ts_ns = 0;  // CLOCK_MONOTONIC
    uint32_t ifindex = 0;
    uint8_t family = 0;  // 4 or 6
    uint8_t proto = 0;   // IPPROTO_*
    std::string src;     // text address
    std::string dst;
    uint16_t sport = 0;  // host order (ICMP: echo id)
    uint16_t dport = 0;  // host order (ICMP: type << 8 | code)
    uint32_t reason = 0;
    std::string reason_text;  // "ip_blocklist", "nxdomain", "drop", "packets", "syn", ...
    std::string domain;       // DomainBlocked: the queried name, dotted (non-printables as \DDD)
};

namespace events {
// Validates size, type, family and the name length; never reads past `size`.
Result<XdpEvent> decode(const void* data, size_t size);
}  // namespace events

// One JSON object, keys: type, ts_ns, ifindex, family, proto, src, dst, sport, dport, reason,
// and domain for DomainBlocked.
std::string to_json(const XdpEvent& e);

}  // namespace flywall
