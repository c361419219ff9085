// TLS test vectors shared by tests/unit/ja3_test.cpp and tests/kernel/socket_tls_test.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flywall::test {

// The TLS record (record header included) carrying the ClientHello of
// `openssl s_client -connect 127.0.0.1:4433 -servername flywall.example` (OpenSSL 3.0.x).
inline std::vector<uint8_t> openssl_client_hello() {
    static const char* hex =
    "160301013c010001380303584fa41824566d782943a0e52a94951fbd455f0ce76a54f860b8d1e6f6f4d16f2071b5931a"
    "839453c47218fcc13066467312ea48ef6ad30bebe6a3627a7428e4e2003e130213031301c02cc030009fcca9cca8ccaa"
    "c02bc02f009ec024c028006bc023c0270067c00ac0140039c009c0130033009d009c003d003c0035002f00ff010000b1"
    "00000014001200000f666c7977616c6c2e6578616d706c65000b000403000102000a00160014001d0017001e00190018"
    "01000101010201030104002300000016000000170000000d002a0028040305030603080708080809080a080b08040805"
    "0806040105010601030303010302040205020602002b0009080304030303020301002d00020101003300260024001d00"
    "20e65a4573d28ba6a93d3f5557a0cf9747a1ff217e1e92349125b11623d032df52";
    std::vector<uint8_t> out;
    for (const char* p = hex; p[0] && p[1]; p += 2) {
        auto nib = [](char c) { return static_cast<uint8_t>(c <= '9' ? c - '0' : c - 'a' + 10); };
        out.push_back(static_cast<uint8_t>(nib(p[0]) << 4 | nib(p[1])));
    }
    return out;
}

// tshark 4.0 on the capture of that hello.
inline const std::string kOpensslJa3String =
    "771,4866-4867-4865-49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-"
    "49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-35-22-23-13-43-45-51,"
    "29-23-30-25-24-256-257-258-259-260,0-1-2";
inline const std::string kOpensslJa3Hash = "a3afc2c46ba4a7d7fbe1cfb7a3031c2f";

// The same hello with GREASE (RFC 8701) added where browsers put it: a first cipher suite,
// a first (empty) extension and a first supported group. Lengths are fixed up.
inline std::vector<uint8_t> with_grease(std::vector<uint8_t> h) {
    auto get16 = [&](size_t at) { return static_cast<size_t>(h[at] << 8 | h[at + 1]); };
    auto put16 = [&](size_t at, size_t v) {
        h[at] = static_cast<uint8_t>(v >> 8);
        h[at + 1] = static_cast<uint8_t>(v);
    };
    auto insert = [&](size_t at, std::vector<uint8_t> bytes) {
        h.insert(h.begin() + static_cast<long>(at), bytes.begin(), bytes.end());
    };
    size_t off = 5 + 4 + 2 + 32;
    off += 1 + h[off];                     // session id
    const size_t cs_len_at = off;
    insert(off + 2, {0x0a, 0x0a});          // GREASE cipher
    put16(cs_len_at, get16(cs_len_at) + 2);
    off += 2 + get16(off);
    off += 1 + h[off];                     // compression
    const size_t ext_len_at = off;
    insert(off + 2, {0x1a, 0x1a, 0x00, 0x00});  // GREASE extension, empty
    put16(ext_len_at, get16(ext_len_at) + 4);
    size_t e = off + 2, end = off + 2 + get16(ext_len_at);
    while (e + 4 <= end) {                 // supported_groups: prepend a GREASE group
        const size_t type = get16(e), len = get16(e + 2);
        if (type == 10) {
            insert(e + 6, {0x2a, 0x2a});
            put16(e + 2, len + 2);
            put16(e + 4, get16(e + 4) + 2);
            put16(ext_len_at, get16(ext_len_at) + 2);
            break;
        }
        e += 4 + len;
    }
    const size_t hs_len = h.size() - 9;
    h[6] = static_cast<uint8_t>(hs_len >> 16);
    h[7] = static_cast<uint8_t>(hs_len >> 8);
    h[8] = static_cast<uint8_t>(hs_len);
    put16(3, h.size() - 5);
    return h;
}

}  // namespace flywall::test
