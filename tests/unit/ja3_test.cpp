// JA3 known answers: the JA3 project's README example, and a ClientHello that
// `openssl s_client -servername flywall.example` (OpenSSL 3.0, Debian 12) sent over loopback in
// a private netns, whose JA3 string and hash were computed by tshark 4.0 from the capture
// (`tshark -T fields -e tls.handshake.ja3_full -e tls.handshake.ja3`).
#include <gtest/gtest.h>

#include <cstring>

#include "runtime/ja3.hpp"
#include "tls_vectors.hpp"

using namespace flywall;

TEST(Ja3, ReadmeExampleHash) {
    ClientHelloFields f;
    f.version = 769;
    f.ciphers = {47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4};
    f.extensions = {0, 10, 11};
    f.curves = {23, 24, 25};
    f.point_formats = {0};
    EXPECT_EQ(ja3_string(f), "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0");
    auto h = ja3_hash(f);
    ASSERT_TRUE(h.ok()) << h.error().message();
    EXPECT_EQ(*h, "ada70206e40642a3e4461f35503241d5");
}

TEST(Ja3, EmptyFieldsKeepTheirCommas) {
    ClientHelloFields f;
    f.version = 771;
    f.ciphers = {4865};
    EXPECT_EQ(ja3_string(f), "771,4865,,,");
}

TEST(Ja3, OpensslClientHelloMatchesTshark) {
    auto hello = test::openssl_client_hello();
    auto f = parse_client_hello(hello);
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(ja3_string(*f), test::kOpensslJa3String);
    auto h = ja3_hash(*f);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(*h, test::kOpensslJa3Hash);
    EXPECT_EQ(f->sni, "flywall.example");
}

TEST(Ja3, GreaseValuesAreIgnored) {
    for (unsigned i = 0; i < 16; ++i) {
        const auto g = static_cast<uint16_t>(0x0a0a + 0x1010 * i);
        EXPECT_TRUE(is_grease(g)) << std::hex << g;
    }
    EXPECT_FALSE(is_grease(0x0a1a));
    EXPECT_FALSE(is_grease(0x1301));
    auto plain = parse_client_hello(test::openssl_client_hello());
    auto greased = parse_client_hello(test::with_grease(test::openssl_client_hello()));
    ASSERT_TRUE(plain.ok() && greased.ok()) << (greased.ok() ? "" : greased.error().message());
    EXPECT_EQ(ja3_string(*plain), ja3_string(*greased));
}

TEST(Ja3, KernelRecordFields) {
    fw_tls_hello rec{};
    rec.client_version = 771;
    rec.n_ciphers = 3;
    rec.ciphers[0] = 4865;
    rec.ciphers[1] = 0x2a2a;  // GREASE dropped even if the kernel let one through
    rec.ciphers[2] = 49195;
    rec.n_exts = 2;
    rec.exts[0] = 0;
    rec.exts[1] = 10;
    rec.n_groups = 1;
    rec.groups[0] = 29;
    rec.n_pf = 1;
    rec.pf[0] = 0;
    std::strcpy(rec.sni, "a.example");
    rec.sni_len = 9;
    auto f = hello_fields(rec);
    EXPECT_EQ(ja3_string(f), "771,4865-49195,0-10,29,0");
    EXPECT_EQ(f.sni, "a.example");
}

TEST(Ja3, MalformedHellosAreErrorsNotCrashes) {
    auto hello = test::openssl_client_hello();
    for (size_t n : {0ul, 4ul, 9ul, 43ul, 60ul, hello.size() - 1}) {
        std::vector<uint8_t> cut(hello.begin(), hello.begin() + static_cast<long>(n));
        EXPECT_FALSE(parse_client_hello(cut).ok()) << "cut at " << n;
    }
    hello[5] = 2;  // ServerHello
    EXPECT_FALSE(parse_client_hello(hello).ok());
}
