// The one policy for text leaving the daemon (common/text.hpp), the one address parser
// (common/ip_prefix.hpp) and the HCL parser's bounds: table-driven, hostile cases included.
#include <gtest/gtest.h>

#include <cstring>

#include "common/domain_name.hpp"
#include "common/ip_prefix.hpp"
#include "common/text.hpp"
#include "config/config.hpp"
#include "config/hcl.hpp"
#include "core/event_processor.hpp"
#include "runtime/socket_monitors.hpp"

namespace flywall {
namespace {

using nlohmann::json;

TEST(TextPolicy, SafeKeepsPrintableUtf8AndEscapesEverythingElse) {
    struct Case {
        std::string in, out;
    };
    const Case cases[] = {
        {"www.example.com", "www.example.com"},
        {"b\xc3\xbc" "cher.example", "b\xc3\xbc" "cher.example"},   // valid UTF-8 kept
        {"bad\xff.example", "bad\\xff.example"},                  // invalid byte
        {"\xc3", "\\xc3"},                                          // truncated sequence
        {"\xc0\xaf", "\\xc0\\xaf"},                                 // overlong '/'
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"},                        // UTF-16 surrogate
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},               // above U+10FFFF
        {std::string("a\0b", 3), "a\\x00b"},                        // NUL
        {"line\nbreak\x1b[31m", "line\\x0abreak\\x1b[31m"},          // control, terminal escape
        {"back\\slash", "back\\\\slash"},                           // unambiguous
        {"\x7f", "\\x7f"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(text::safe(c.in), c.out) << c.in;
        EXPECT_TRUE(text::is_valid_utf8(text::safe(c.in)));
    }
    EXPECT_TRUE(text::is_clean("www.example.com"));
    EXPECT_FALSE(text::is_clean("bad\xff"));
    EXPECT_FALSE(text::is_clean(std::string("a\0b", 3)));
}

TEST(TextPolicy, JsonTextNeverThrowsOnInvalidUtf8) {
    json j{{"name", "q\xff\xfe.example"}, {"nested", {{"k\xc3", "v"}}}};
    EXPECT_THROW((void)j.dump(), json::type_error);  // what used to abort the daemon
    std::string out;
    ASSERT_NO_THROW(out = text::json_text(j));
    EXPECT_TRUE(text::is_valid_utf8(out));
    EXPECT_FALSE(json::parse(out, nullptr, false).is_discarded());
}

// Defect 2: a DNS query whose name holds 0xFF reached json::dump() raw and aborted the daemon.
TEST(TextPolicy, DnsNameFromAPacketIsEscapedAtTheDecoder) {
    fw_dns_record rec{};
    const char name[] = "evil\xff\x01.example";
    std::memcpy(rec.name, name, sizeof name - 1);
    rec.name_len = sizeof name - 1;
    rec.family = 4;
    DnsEvent e = SocketMonitors::decode(rec);
    EXPECT_EQ(e.name, "evil\\xff\\x01.example");
    Event ev;
    ev.type_name = "dns_query";
    ev.name = "raw\xff";  // even a raw byte that slipped through cannot abort the writer
    EXPECT_NO_THROW((void)text::json_text(to_json(ev)));
}

TEST(TextPolicy, DhcpAndTlsStringsAreEscapedAtTheDecoder) {
    fw_dhcp_record d{};
    const char host[] = "ph\xffne\n";
    std::memcpy(d.hostname, host, sizeof host - 1);
    d.hostname_len = sizeof host - 1;
    EXPECT_EQ(SocketMonitors::decode(d).hostname, "ph\\xffne\\x0a");
}

struct PrefixCase {
    const char* in;
    bool ok;
    const char* out_or_error;  // canonical text, or a piece of the error
};

class IpPrefixTable : public ::testing::TestWithParam<PrefixCase> {};

TEST_P(IpPrefixTable, AcceptsAndRejects) {
    const auto& c = GetParam();
    auto r = parse_ip_prefix(c.in);
    if (c.ok) {
        ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().message();
        EXPECT_EQ(r->to_string(), c.out_or_error);
    } else {
        ASSERT_FALSE(r.ok()) << c.in << " was accepted as " << r->to_string();
        EXPECT_NE(r.error().context.find(c.out_or_error), std::string::npos) << r.error().context;
        EXPECT_TRUE(text::is_valid_utf8(r.error().context));
    }
}

INSTANTIATE_TEST_SUITE_P(
    Table, IpPrefixTable,
    ::testing::Values(PrefixCase{"198.18.10.9", true, "198.18.10.9"},
                      PrefixCase{"198.18.10.9/24", true, "198.18.10.0/24"},
                      PrefixCase{"0.0.0.0/0", true, "0.0.0.0/0"},
                      PrefixCase{"2001:db8::1", true, "2001:db8::1"},
                      PrefixCase{"2001:DB8::/32", true, "2001:db8::/32"},
                      PrefixCase{"::ffff:198.18.10.6", true, "198.18.10.6"},          // mapped -> IPv4
                      PrefixCase{"::ffff:198.18.0.0/112", true, "198.18.0.0/16"},
                      PrefixCase{"::ffff:c612:a06", true, "198.18.10.6"},
                      PrefixCase{"::ffff:0:0/64", false, "IPv4-mapped prefix shorter than /96"},
                      PrefixCase{" 198.18.10.9", false, "unexpected character ' '"},
                      PrefixCase{"198.18.10.9 ", false, "unexpected character ' '"},
                      PrefixCase{"198.18.10.9\xff", false, "unexpected character '\\xff'"},
                      PrefixCase{"fe80::1%eth0", false, "unexpected character '%'"},
                      PrefixCase{"198.18.10.256", false, "not an IPv4 address"},
                      PrefixCase{"198.18.010.9", false, "not an IPv4 address"},
                      PrefixCase{"2001:db8:::1", false, "not an IPv6 address"},
                      PrefixCase{"198.18.0.0/33", false, "0..32"},
                      PrefixCase{"2001:db8::/129", false, "0..128"},
                      PrefixCase{"198.18.0.0/", false, "prefix length must be a number"},
                      PrefixCase{"198.18.0.0/0024", false, "prefix length must be a number"},
                      PrefixCase{"198.18.0.0/2/4", false, "prefix length must be a number"},
                      PrefixCase{"", false, "empty"}));

// The one domain parser (common/domain_name.hpp): config, API, CLI and runtime agree on this table.
struct DomainCase {
    std::string in;
    bool ok;
    std::string out_or_error;
};

TEST(DomainName, AcceptsAndRejects) {
    const std::string l63(63, 'a');
    const DomainCase cases[] = {
        {"Ads.Example.COM.", true, "ads.example.com"},
        {"*.tracker.example", true, "tracker.example"},
        {"x_y-z.example", true, "x_y-z.example"},
        {"zip", true, "zip"},
        {"xn--caf-dma.fr", true, "xn--caf-dma.fr"},
        {l63 + ".example", true, l63 + ".example"},
        {"", false, "(empty name)"},
        {"*.", false, "(invalid character '*')"},
        {".", false, "(empty name)"},
        {"a..b", false, "(empty label)"},
        {"-a.example", false, "(label starts or ends with '-')"},
        {"a-.example", false, "(label starts or ends with '-')"},
        {"a b.example", false, "(invalid character ' ')"},
        {std::string("a\0b.example", 11), false, "(invalid character '\\x00')"},
        {"caf\xc3\xa9.fr", false, "(invalid character '\\xc3')"},
        {"198.18.0.1", false, "(an IP address, not a name)"},
        {"2001:db8::1", false, "(an IP address, not a name)"},
        {l63 + "a.example", false, "(label longer than 63 characters)"},
        {std::string(250, 'a') + ".com", false, "(longer than 253 characters)"},
    };
    for (const auto& c : cases) {
        auto r = parse_domain_name(c.in);
        if (c.ok) {
            ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().context;
            EXPECT_EQ(*r, c.out_or_error);
        } else {
            ASSERT_FALSE(r.ok()) << text::safe(c.in) << " was accepted as " << *r;
            EXPECT_NE(r.error().context.find(c.out_or_error), std::string::npos) << r.error().context;
            EXPECT_NE(r.error().context.find("is not a valid domain name"), std::string::npos);
        }
    }
}

// The embedded NUL case above needs its length: string literals stop at NUL.
TEST(IpPrefix, TrailingBytesAfterNulAreRejected) {
    const std::string s("198.18.10.9\0garbage", 19);
    auto r = parse_ip_prefix(s);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().context.find("\\x00"), std::string::npos) << r.error().context;
}

// Defect 5: a file nested ~12,000 deep overflowed the parser's stack (SIGSEGV).
TEST(HclBounds, DeepNestingIsAPositionedError) {
    for (const std::string& text : {std::string("x = ") + std::string(12000, '['),
                                    [] {
                                        std::string s = "x = ";
                                        for (int i = 0; i < 100000; ++i) s += "{a = ";
                                        return s;
                                    }(),
                                    [] {
                                        std::string s;
                                        for (int i = 0; i < 5000; ++i) s += "b {\n";
                                        return s;
                                    }()}) {
        auto r = config::hcl::parse(text, "deep.hcl");
        ASSERT_FALSE(r.diagnostics.empty());
        EXPECT_NE(r.diagnostics[0].message.find("nested deeper than 64 levels"), std::string::npos)
            << r.diagnostics[0].to_string();
        EXPECT_GT(r.diagnostics[0].line, 0);
    }
    // Exactly 64 levels parse.
    auto ok = config::hcl::parse("x = " + std::string(64, '[') + std::string(64, ']') + "\n", "ok.hcl");
    EXPECT_TRUE(ok.diagnostics.empty()) << format_diagnostics(ok.diagnostics);
    auto r = config::hcl::parse("x = " + std::string(65, '[') + std::string(65, ']') + "\n", "deep.hcl");
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].to_string(), "deep.hcl:1:69: nested deeper than 64 levels of blocks, lists and objects");
}

TEST(HclBounds, OverlongLineIsAPositionedError) {
    std::string text = "a = 1\nb = \"" + std::string(2u << 20, 'x') + "\"\n";
    auto r = config::hcl::parse(text, "long.hcl");
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].line, 2);
    EXPECT_NE(r.diagnostics[0].message.find("longer than 1048576 bytes"), std::string::npos);
    // A 1 MB line of '[' (the reported crash) is refused the same way.
    auto l = config::hcl::parse("x = " + std::string(1u << 20, '['), "brackets.hcl");
    ASSERT_FALSE(l.diagnostics.empty());
}

TEST(HclBounds, InvalidUtf8IsAPositionedError) {
    auto r = config::hcl::parse("a = 1\npin_path = \"/sys/fs/bpf/\xc3\xa9x\xff\"\n", "u.hcl");
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_EQ(r.diagnostics[0].to_string(), "u.hcl:2:27: invalid UTF-8 byte \\xff (configuration files are UTF-8)");
    EXPECT_TRUE(config::hcl::parse("name = \"b\xc3\xbc" "cher\"\n", "ok.hcl").diagnostics.empty());
}

TEST(HclBounds, ConfigLoaderReportsTheBoundToo) {
    auto lr = config::load_string("log_level = " + std::string(80, '[') + "\n", "c.hcl");
    ASSERT_FALSE(lr.ok());
    EXPECT_NE(lr.error_text().find("c.hcl:1:"), std::string::npos) << lr.error_text();
    EXPECT_NE(lr.error_text().find("nested deeper than 64 levels"), std::string::npos) << lr.error_text();
}

}  // namespace
}  // namespace flywall
