#include "runtime/events_decode.hpp"

#include "common/text.hpp"

#include <arpa/inet.h>

#include <cstdio>
#include <cstring>

namespace flywall {

std::string_view to_string(XdpEventType type) {
    switch (type) {
        case XdpEventType::IpBlocked: return "ip_blocked";
        case XdpEventType::DomainBlocked: return "domain_blocked";
        case XdpEventType::RateLimited: return "rate_limited";
        case XdpEventType::NewFlow: return "new_flow";
    }
    return "unknown";
}

namespace {

std::string reason_text(XdpEventType type, uint32_t reason) {
    switch (type) {
        case XdpEventType::IpBlocked: return reason == FW_DROP_IP_BLOCKLIST ? "ip_blocklist" : "other";
        case XdpEventType::DomainBlocked: return reason == FW_DNS_ACTION_NXDOMAIN ? "nxdomain" : "drop";
        case XdpEventType::RateLimited:
            switch (reason) {
                case FW_RL_PACKETS: return "packets";
                case FW_RL_BYTES: return "bytes";
                case FW_RL_SYN: return "syn";
                case FW_RL_ICMP: return "icmp";
                case FW_RL_UDP: return "udp";
                default: return "unknown";
            }
        case XdpEventType::NewFlow: return "";
    }
    return "";
}

}  // namespace

Result<XdpEvent> events::decode(const void* data, size_t size) {
    if (!data || size < sizeof(fw_event))
        return Error::invalid("decode xdp event: record of " + std::to_string(size) + " bytes, expected " +
                              std::to_string(sizeof(fw_event)));
    fw_event raw;
    std::memcpy(&raw, data, sizeof(raw));
    if (raw.type < FW_EV_IP_BLOCKED || raw.type > FW_EV_NEW_FLOW)
        return Error::invalid("decode xdp event: unknown type " + std::to_string(raw.type));
    if (raw.family != 4 && raw.family != 6)
        return Error::invalid("decode xdp event: bad family " + std::to_string(raw.family));
    XdpEvent e;
    e.type = static_cast<XdpEventType>(raw.type);
    e.ts_ns = raw.ts_ns;
    e.ifindex = raw.ifindex;
    e.family = raw.family;
    e.proto = raw.proto;
    char buf[INET6_ADDRSTRLEN] = {};
    int af = raw.family == 4 ? AF_INET : AF_INET6;
    inet_ntop(af, raw.saddr, buf, sizeof(buf));
    e.src = buf;
    inet_ntop(af, raw.daddr, buf, sizeof(buf));
    e.dst = buf;
    e.sport = ntohs(raw.sport);
    e.dport = ntohs(raw.dport);
    e.reason = raw.reason;
    e.reason_text = reason_text(e.type, raw.reason);
    if (e.type == XdpEventType::DomainBlocked) {
        if (raw.name_len == 0 || raw.name_len >= FW_DNS_NAME_MAX)
            return Error::invalid("decode xdp event: bad name length " + std::to_string(raw.name_len));
        for (size_t i = 0; i < raw.name_len; ++i) {
            unsigned char c = static_cast<unsigned char>(raw.name[i]);
            if (c > 0x20 && c < 0x7F && c != '\\') {
                e.domain += static_cast<char>(c);
            } else {  // RFC 1035 master-file escape
                char esc[8];
                std::snprintf(esc, sizeof(esc), "\\%03u", c);
                e.domain += esc;
            }
        }
    }
    return e;
}

std::string to_json(const XdpEvent& e) {
    nlohmann::ordered_json o{{"type", to_string(e.type)}, {"ts_ns", e.ts_ns}, {"ifindex", e.ifindex},
                             {"family", e.family},         {"proto", e.proto}, {"src", e.src},
                             {"dst", e.dst},               {"sport", e.sport}, {"dport", e.dport},
                             {"reason", e.reason_text}};
    if (e.type == XdpEventType::DomainBlocked) o["domain"] = e.domain;
    return text::json_text(o);
}

}  // namespace flywall
