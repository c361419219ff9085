#include "config/hcl.hpp"

#include <gtest/gtest.h>

#include <string>

namespace {

using flywall::config::Position;
using flywall::config::hcl::Body;
using flywall::config::hcl::parse;
using flywall::config::hcl::ParseResult;
using flywall::config::hcl::quote;
using Kind = flywall::config::hcl::Value::Kind;

ParseResult parse_ok(const std::string& text) {
    auto r = parse(text, "t.hcl");
    EXPECT_TRUE(r.ok()) << flywall::config::format_diagnostics(r.diagnostics);
    return r;
}

// The single diagnostic's "file:line:col: message" text.
std::string parse_error(const std::string& text) {
    auto r = parse(text, "t.hcl");
    if (r.ok()) return "<no error>";
    return r.diagnostics.front().to_string();
}

TEST(ConfigHcl, EmptyAndCommentOnlyFiles) {
    EXPECT_TRUE(parse_ok("").body.attributes.empty());
    auto r = parse_ok("# hash\n// slashes\n/* block\n comment */\n\n");
    EXPECT_TRUE(r.body.attributes.empty());
    EXPECT_TRUE(r.body.blocks.empty());
}

TEST(ConfigHcl, AttributesWithPositions) {
    auto r = parse_ok("a = 1\n  bb = \"x\"\nc=true\n");
    ASSERT_EQ(r.body.attributes.size(), 3u);
    EXPECT_EQ(r.body.attributes[0].name, "a");
    EXPECT_EQ(r.body.attributes[0].pos, (Position{1, 1}));
    EXPECT_EQ(r.body.attributes[0].value.pos, (Position{1, 5}));
    EXPECT_EQ(r.body.attributes[1].name, "bb");
    EXPECT_EQ(r.body.attributes[1].pos, (Position{2, 3}));
    EXPECT_EQ(r.body.attributes[1].value.pos, (Position{2, 8}));
    EXPECT_EQ(r.body.attributes[2].pos, (Position{3, 1}));
    EXPECT_EQ(r.body.attributes[2].value.kind, Kind::Bool);
    EXPECT_TRUE(r.body.attributes[2].value.boolean);
    EXPECT_NE(r.body.find_attribute("bb"), nullptr);
    EXPECT_EQ(r.body.find_attribute("zz"), nullptr);
}

TEST(ConfigHcl, NoTrailingNewlineAndCrlf) {
    auto r = parse_ok("a = 1\r\nb = 2");
    ASSERT_EQ(r.body.attributes.size(), 2u);
    EXPECT_EQ(r.body.attributes[1].pos, (Position{2, 1}));
    EXPECT_EQ(r.body.attributes[1].value.integer, 2);
}

TEST(ConfigHcl, BlocksWithZeroOneAndTwoLabels) {
    auto r = parse_ok(
        "api {\n"
        "  listen = \"x\"\n"
        "}\n"
        "interface \"eth0\" {\n"
        "  tc = false\n"
        "}\n"
        "thing a \"b c\" {\n"
        "  inner {\n"
        "    deep = null\n"
        "  }\n"
        "}\n");
    ASSERT_EQ(r.body.blocks.size(), 3u);
    EXPECT_EQ(r.body.blocks[0].type, "api");
    EXPECT_TRUE(r.body.blocks[0].labels.empty());
    EXPECT_EQ(r.body.blocks[0].body.open, (Position{1, 5}));
    EXPECT_EQ(r.body.blocks[0].body.close, (Position{3, 1}));
    EXPECT_EQ(r.body.blocks[1].pos, (Position{4, 1}));
    ASSERT_EQ(r.body.blocks[1].labels.size(), 1u);
    EXPECT_EQ(r.body.blocks[1].labels[0], "eth0");
    EXPECT_EQ(r.body.blocks[1].label_pos[0], (Position{4, 11}));
    ASSERT_EQ(r.body.blocks[2].labels.size(), 2u);
    EXPECT_EQ(r.body.blocks[2].labels[0], "a");
    EXPECT_EQ(r.body.blocks[2].labels[1], "b c");
    ASSERT_EQ(r.body.blocks[2].body.blocks.size(), 1u);
    const auto& deep = r.body.blocks[2].body.blocks[0].body.attributes.at(0);
    EXPECT_EQ(deep.name, "deep");
    EXPECT_EQ(deep.pos, (Position{9, 5}));
    EXPECT_EQ(deep.value.kind, Kind::Null);
}

TEST(ConfigHcl, OneLineBlocks) {
    auto r = parse_ok("interface \"eth0\" { xdp_mode = \"auto\" }\nempty {}\n");
    ASSERT_EQ(r.body.blocks.size(), 2u);
    ASSERT_EQ(r.body.blocks[0].body.attributes.size(), 1u);
    EXPECT_EQ(r.body.blocks[0].body.attributes[0].value.string, "auto");
    EXPECT_TRUE(r.body.blocks[1].body.attributes.empty());
}

TEST(ConfigHcl, StringEscapes) {
    auto r = parse_ok(R"(s = "a\nb\tc\"d\\e\r\u00e9\U0001F600 $$ %% $${x} %%{y} ünï")" "\n");
    EXPECT_EQ(r.body.attributes[0].value.string,
              "a\nb\tc\"d\\e\r\xc3\xa9\xf0\x9f\x98\x80 $$ %% ${x} %{y} \xc3\xbcn\xc3\xaf");
}

TEST(ConfigHcl, ColumnsCountCodePoints) {
    auto r = parse_ok("a = \"ééé\"\nb = \"ü\" # ü\n");
    // Errors after multibyte characters must point at the right column.
    EXPECT_EQ(parse_error("a = \"ééé\" x\n"), "t.hcl:1:11: unexpected 'x' after attribute value, expected newline");
}

TEST(ConfigHcl, Numbers) {
    auto r = parse_ok("a = 0\nb = -42\nc = 3.25\nd = -0.5\ne = 1e3\nf = 2.5E-2\ng = 9223372036854775807\n");
    const auto& at = r.body.attributes;
    EXPECT_EQ(at[0].value.kind, Kind::Int);
    EXPECT_EQ(at[0].value.integer, 0);
    EXPECT_EQ(at[1].value.integer, -42);
    EXPECT_EQ(at[2].value.kind, Kind::Float);
    EXPECT_DOUBLE_EQ(at[2].value.number, 3.25);
    EXPECT_DOUBLE_EQ(at[3].value.number, -0.5);
    EXPECT_EQ(at[4].value.kind, Kind::Float);
    EXPECT_DOUBLE_EQ(at[4].value.number, 1000.0);
    EXPECT_DOUBLE_EQ(at[5].value.number, 0.025);
    EXPECT_EQ(at[6].value.integer, INT64_MAX);
}

TEST(ConfigHcl, ListsTrailingCommaMultiLineNested) {
    auto r = parse_ok(
        "a = []\n"
        "b = [1, \"two\", true,]\n"
        "c = [\n"
        "  \"x\", # comment\n"
        "  \"y\",\n"
        "  [1, [2]],\n"
        "]\n");
    const auto& at = r.body.attributes;
    EXPECT_EQ(at[0].value.kind, Kind::List);
    EXPECT_TRUE(at[0].value.list.empty());
    ASSERT_EQ(at[1].value.list.size(), 3u);
    EXPECT_EQ(at[1].value.list[1].string, "two");
    EXPECT_EQ(at[1].value.list[2].pos, (Position{2, 16}));
    ASSERT_EQ(at[2].value.list.size(), 3u);
    EXPECT_EQ(at[2].value.list[1].pos, (Position{5, 3}));
    EXPECT_EQ(at[2].value.list[2].list[1].list[0].integer, 2);
}

TEST(ConfigHcl, Objects) {
    auto r = parse_ok(
        "m = { k = 1, \"k2\" : \"v\" }\n"
        "n = {\n"
        "  a = [1]\n"
        "  \"b-c\" = { inner = true }\n"
        "}\n"
        "e = {}\n");
    const auto& m = r.body.attributes[0].value;
    ASSERT_EQ(m.kind, Kind::Object);
    ASSERT_EQ(m.object.size(), 2u);
    EXPECT_EQ(m.object[0].key, "k");
    EXPECT_EQ(m.object[0].value.integer, 1);
    EXPECT_EQ(m.object[1].key, "k2");
    EXPECT_EQ(m.object[1].key_pos, (Position{1, 14}));
    EXPECT_EQ(m.object[1].value.string, "v");
    const auto& n = r.body.attributes[1].value;
    ASSERT_EQ(n.object.size(), 2u);
    EXPECT_EQ(n.object[1].key, "b-c");
    EXPECT_TRUE(n.object[1].value.object[0].value.boolean);
    EXPECT_TRUE(r.body.attributes[2].value.object.empty());
}

TEST(ConfigHcl, CommentsEverywhere) {
    auto r = parse_ok(
        "a = 1 # trailing hash\n"
        "b = 2 // trailing slashes\n"
        "c = /* inline */ 3\n"
        "blk { /* x */\n"
        "  d = [1, /* in list */ 2]\n"
        "} # after block\n");
    EXPECT_EQ(r.body.attributes.size(), 3u);
    EXPECT_EQ(r.body.attributes[2].value.integer, 3);
    EXPECT_EQ(r.body.blocks[0].body.attributes[0].value.list.size(), 2u);
}

TEST(ConfigHcl, Heredocs) {
    auto r = parse(
        "a = <<EOF\n"
        "line one\n"
        "  line two ${x} literal? no: $${x}\n"
        "EOF\n"
        "b = <<-EOT\n"
        "    indented\n"
        "      more\n"
        "\n"
        "    last\n"
        "    EOT\n"
        "c = 1\n",
        "t.hcl");
    ASSERT_EQ(r.diagnostics.size(), 1u);  // the first heredoc contains an interpolation
    EXPECT_EQ(r.diagnostics[0].to_string(),
              "t.hcl:3:12: template interpolation '${' is not supported (write '$${' for a literal '${')");
    auto r2 = parse_ok(
        "a = <<EOF\n"
        "line one\n"
        "  line two \\n $${x}\n"
        "EOF\n"
        "b = <<-EOT\n"
        "    indented\n"
        "      more\n"
        "\n"
        "    last\n"
        "    EOT\n"
        "c = 1\n");
    ASSERT_EQ(r2.body.attributes.size(), 3u);
    EXPECT_EQ(r2.body.attributes[0].value.string, "line one\n  line two \\n ${x}\n");
    EXPECT_EQ(r2.body.attributes[1].value.string, "indented\n  more\n\nlast\n");
    EXPECT_EQ(r2.body.attributes[2].pos, (Position{11, 1}));
    EXPECT_EQ(parse_ok("e = <<E\nE\n").body.attributes[0].value.string, "");
}

TEST(ConfigHcl, DuplicateAttributeIsReportedAndParsingContinues) {
    auto r = parse("a = 1\nb = 2\na = 3\nblk {\n  x = 1\n  x = 2\n}\n", "t.hcl");
    ASSERT_EQ(r.diagnostics.size(), 2u);
    EXPECT_EQ(r.diagnostics[0].to_string(), "t.hcl:3:1: duplicate attribute \"a\" (first defined at 1:1)");
    EXPECT_EQ(r.diagnostics[1].to_string(), "t.hcl:6:3: duplicate attribute \"x\" (first defined at 5:3)");
    EXPECT_EQ(parse_error("m = { a = 1, a = 2 }\n"),
              "t.hcl:1:14: duplicate object key \"a\" (first defined at 1:7)");
}

struct ErrorCase {
    const char* text;
    const char* expected;
};

class ConfigHclErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigHclErrors, ExactPositionAndMessage) {
    EXPECT_EQ(parse_error(GetParam().text), GetParam().expected) << "input:\n" << GetParam().text;
}

INSTANTIATE_TEST_SUITE_P(
    All, ConfigHclErrors,
    ::testing::Values(
        ErrorCase{"a = 1\n}\n", "t.hcl:2:1: unexpected '}', expected attribute or block"},
        ErrorCase{"blk {\n  a = 1\n", "t.hcl:3:1: unexpected end of file, expected '}' to close the block opened at 1:5"},
        ErrorCase{"s = \"${var.x}\"\n", "t.hcl:1:6: template interpolation '${' is not supported (write '$${' for a literal '${')"},
        ErrorCase{"s = \"a %{ if x }\"\n", "t.hcl:1:8: template directive '%{' is not supported (write '%%{' for a literal '%{')"},
        ErrorCase{"h = <<EOF\nok\n  ${x}\nEOF\n", "t.hcl:3:3: template interpolation '${' is not supported (write '$${' for a literal '${')"},
        ErrorCase{"x = max(1, 2)\n", "t.hcl:1:5: function calls are not supported: max(...)"},
        ErrorCase{"x = 1 + 2\n", "t.hcl:1:7: operator '+' is not supported: expressions are not allowed, only literal values"},
        ErrorCase{"x = 1 == 2\n", "t.hcl:1:7: operator '==' is not supported: expressions are not allowed, only literal values"},
        ErrorCase{"x = [1, 2 * 3]\n", "t.hcl:1:11: operator '*' is not supported: expressions are not allowed, only literal values"},
        ErrorCase{"x = !true\n", "t.hcl:1:5: unary operator '!' is not supported, only literal values"},
        ErrorCase{"x = -y\n", "t.hcl:1:5: unary operator '-' is not supported, only literal values"},
        ErrorCase{"x = (1)\n", "t.hcl:1:5: parenthesized expressions are not supported, only literal values"},
        ErrorCase{"x = var.y\n", "t.hcl:1:5: references are not supported: \"var\"; only literal values are allowed"},
        ErrorCase{"x = true ? 1 : 2\n", "t.hcl:1:10: operator '?' is not supported: expressions are not allowed, only literal values"},
        ErrorCase{"mode = auto\n", "t.hcl:1:8: unexpected bare word \"auto\"; strings must be quoted (variables are not supported)"},
        ErrorCase{"s = \"abc\n", "t.hcl:1:5: unterminated string: missing closing '\"'"},
        ErrorCase{"s = \"a\\qb\"\n", "t.hcl:1:7: invalid escape sequence '\\q' (valid: \\n \\r \\t \\\" \\\\ \\uXXXX \\UXXXXXXXX)"},
        ErrorCase{"s = \"\\u12\"\n", "t.hcl:1:6: invalid unicode escape: expected 4 hex digits"},
        ErrorCase{"s = \"\\ud800\"\n", "t.hcl:1:6: invalid unicode escape: not a Unicode scalar value"},
        ErrorCase{"n = 1.\n", "t.hcl:1:6: invalid number: expected digit after '.'"},
        ErrorCase{"n = 1e\n", "t.hcl:1:6: invalid number: expected digit in exponent"},
        ErrorCase{"n = 10s\n", "t.hcl:1:7: invalid number: unexpected 's' after digits (units must be written as a string)"},
        ErrorCase{"n = 99999999999999999999\n", "t.hcl:1:5: integer 99999999999999999999 is out of range"},
        ErrorCase{"a = 1 b = 2\n", "t.hcl:1:7: unexpected 'b' after attribute value, expected newline"},
        ErrorCase{"a = 1; b = 2\n", "t.hcl:1:6: unexpected ';', put each attribute on its own line"},
        ErrorCase{"a =\n1\n", "t.hcl:1:4: expected value, found newline"},
        ErrorCase{"a = \n", "t.hcl:1:5: expected value, found newline"},
        ErrorCase{"a = [1, 2\n", "t.hcl:1:5: unterminated list: '[' without ']'"},
        ErrorCase{"a = [1 2]\n", "t.hcl:1:8: unexpected '2' in list, expected ',' or ']'"},
        ErrorCase{"a = [,]\n", "t.hcl:1:6: unexpected ',' in list, expected value"},
        ErrorCase{"a = { k 1 }\n", "t.hcl:1:9: unexpected '1' after object key \"k\", expected '=' or ':'"},
        ErrorCase{"a = { k = 1 j = 2 }\n", "t.hcl:1:13: unexpected 'j' in object, expected ',', newline or '}'"},
        ErrorCase{"a = { (k) = 1 }\n", "t.hcl:1:7: computed object keys are not supported, write the key as a name or string"},
        ErrorCase{"a = {\n  k = 1\n", "t.hcl:1:5: unterminated object: '{' without '}'"},
        ErrorCase{"blk \"x\" y\n", "t.hcl:1:10: unexpected newline after block labels, expected '{'"},
        ErrorCase{"name\n", "t.hcl:1:5: unexpected newline after \"name\", expected '=' or '{'"},
        ErrorCase{"key: 1\n", "t.hcl:1:4: unexpected ':' after \"key\", expected '=' (attributes are written name = value)"},
        ErrorCase{"\"quoted\" = 1\n", "t.hcl:1:1: unexpected string, expected attribute or block name (names are not quoted)"},
        ErrorCase{"= 1\n", "t.hcl:1:1: unexpected '=', expected attribute or block"},
        ErrorCase{"/* open\n", "t.hcl:1:1: unterminated comment: '/*' without '*/'"},
        ErrorCase{"h = <<EOF\nnever closed\n", "t.hcl:1:5: unterminated heredoc: closing marker \"EOF\" not found"},
        ErrorCase{"h = <<EOF x\nEOF\n", "t.hcl:1:10: unexpected ' ' after heredoc marker, expected newline"},
        ErrorCase{"h = << EOF\nEOF\n", "t.hcl:1:7: expected heredoc marker identifier after '<<'"},
        ErrorCase{"blk {\n  a = 1\n} x\n", "t.hcl:3:3: unexpected 'x' after block, expected newline"},
        ErrorCase{"a = [1][0]\n", "t.hcl:1:8: index expressions are not supported, only literal values"}));

TEST(ConfigHcl, QuoteRoundTrips) {
    const std::string samples[] = {"", "plain", "quote\" back\\slash", "nl\ncr\rtab\t", "${x} %{y} $${z}",
                                   "$", "100%", std::string("ctl\x01\x7f", 5), "unicode \xc3\xa9"};
    for (const auto& s : samples) {
        auto r = parse("v = " + quote(s) + "\n", "q.hcl");
        ASSERT_TRUE(r.ok()) << quote(s) << ": " << flywall::config::format_diagnostics(r.diagnostics);
        EXPECT_EQ(r.body.attributes[0].value.string, s) << quote(s);
    }
}

TEST(ConfigHcl, IdentifierCheck) {
    EXPECT_TRUE(flywall::config::hcl::is_identifier("max_cpu_percent"));
    EXPECT_TRUE(flywall::config::hcl::is_identifier("a-b"));
    EXPECT_FALSE(flywall::config::hcl::is_identifier("1a"));
    EXPECT_FALSE(flywall::config::hcl::is_identifier("a.b"));
    EXPECT_FALSE(flywall::config::hcl::is_identifier(""));
}

TEST(ConfigHcl, DiagnosticWithoutPosition) {
    flywall::config::Diagnostic d{"/etc/x.hcl", 0, 0, "cannot read file"};
    EXPECT_EQ(d.to_string(), "/etc/x.hcl: cannot read file");
}

}  // namespace
