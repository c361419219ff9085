// JA3 TLS client fingerprints (https://github.com/salesforce/ja3): the ClientHello's
// "version,ciphers,extensions,curves,point_formats" (decimal, '-' inside a field, GREASE values
// removed) and its MD5. socket_tls reports the raw fields (struct fw_tls_hello); a user-space
// parser of a TLS record is provided too (tests, pcaps, records the kernel could only partly see).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "flywall/abi_sock.h"

namespace flywall {

struct ClientHelloFields {
    uint16_t version = 0;                 // ClientHello.legacy_version
    std::vector<uint16_t> ciphers;
    std::vector<uint16_t> extensions;     // types, in order
    std::vector<uint16_t> curves;         // supported_groups (10)
    std::vector<uint8_t> point_formats;   // ec_point_formats (11)
    std::string sni;                      // server_name host_name, empty if absent
};

// RFC 8701 GREASE values: 0x0a0a, 0x1a1a, ..., 0xfafa.
[[nodiscard]] bool is_grease(uint16_t v);

// Fields of a kernel record (GREASE is dropped again, so the result never depends on it).
[[nodiscard]] ClientHelloFields hello_fields(const fw_tls_hello& rec);

// Parses a TLS record that starts with a ClientHello handshake (record header included).
[[nodiscard]] Result<ClientHelloFields> parse_client_hello(std::span<const uint8_t> record);

[[nodiscard]] std::string ja3_string(const ClientHelloFields& f);
// Lower-case hex MD5 (OpenSSL EVP).
[[nodiscard]] Result<std::string> md5_hex(std::string_view text);
[[nodiscard]] Result<std::string> ja3_hash(const ClientHelloFields& f);

}  // namespace flywall
