// libFuzzer target: the user-space decoders of what the kernel hands up from packets: DNS, TLS
// and DHCP socket-monitor records, XDP events, and the TLS ClientHello parser (JA3). The first
// byte picks the decoder; the rest are the record's bytes (short input zero-filled, as a torn
// record would be). Every string they produce must be safe to write as JSON.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "common/text.hpp"
#include "core/event_processor.hpp"
#include "runtime/events_decode.hpp"
#include "runtime/ja3.hpp"
#include "runtime/socket_monitors.hpp"

namespace {

template <typename T>
T record_from(const uint8_t* data, size_t size) {
    T rec{};
    std::memcpy(&rec, data, std::min(size, sizeof rec));
    return rec;
}

void must_be_clean(const std::string& s) {
    if (!flywall::text::is_valid_utf8(s)) __builtin_trap();
    (void)flywall::text::json_text(nlohmann::json{{"s", s}});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t which = data[0] % 6;
    ++data;
    --size;
    using flywall::SocketMonitors;
    switch (which) {
        case 0: {
            auto e = SocketMonitors::decode(record_from<fw_dns_record>(data, size));
            must_be_clean(e.name);
            break;
        }
        case 1: {
            auto e = SocketMonitors::decode(record_from<fw_tls_hello>(data, size));
            if (e.ok()) {
                must_be_clean(e->fields.sni);
                must_be_clean(e->ja3);
            }
            break;
        }
        case 2: {
            auto e = SocketMonitors::decode(record_from<fw_dhcp_record>(data, size));
            must_be_clean(e.hostname);
            must_be_clean(e.vendor_class);
            must_be_clean(e.fingerprint);
            break;
        }
        case 3: {
            auto f = flywall::parse_client_hello(std::span<const uint8_t>(data, size));
            if (f.ok()) {
                must_be_clean(f->sni);
                must_be_clean(flywall::ja3_string(*f));
            }
            break;
        }
        case 4: {
            auto e = flywall::decode_event(std::span<const uint8_t>(data, size));
            if (e.ok()) (void)flywall::text::json_text(flywall::to_json(*e));
            break;
        }
        case 5: {
            auto e = flywall::decode_tc_event(std::span<const uint8_t>(data, size));
            if (e.ok()) (void)flywall::text::json_text(flywall::to_json(*e));
            break;
        }
    }
    return 0;
}
