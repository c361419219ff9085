// The lexical half of the HCL parser: UTF-8 and line checks, blanks and comments, identifiers,
// numbers, quoted strings with escapes, heredocs. The Parser class is in hcl_parser.hpp.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "common/text.hpp"
#include "config/hcl_parser.hpp"

namespace flywall::config::hcl::detail {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

}  // namespace

// HCL files are UTF-8: a byte that is not (a Latin-1 file, binary junk) is reported where
// it is, instead of ending up in a path or a name. Also bounds the length of a line.
void Parser::check_line_lengths() const {
    Position at{1, 1};
    std::size_t start = 0;
    for (std::size_t k = 0; k <= src_.size(); ++k) {
        if (k < src_.size() && static_cast<unsigned char>(src_[k]) >= 0x80) {
            const std::size_t n = text::utf8_sequence_length(src_, k);
            if (n == 0) {
                int column = 1;
                for (std::size_t j = start; j < k; ++j)
                    if ((static_cast<unsigned char>(src_[j]) & 0xC0) != 0x80) ++column;
                fail(Position{at.line, column}, "invalid UTF-8 byte " + text::safe(src_.substr(k, 1)) +
                                                    " (configuration files are UTF-8)");
            }
            k += n - 1;
            continue;
        }
        if (k == src_.size() || src_[k] == '\n') {
            if (k - start > kMaxLineBytes)
                fail(Position{at.line, 1}, "line is longer than " + std::to_string(kMaxLineBytes) +
                                               " bytes (put long lists one item per line, or in a file: ip_files, "
                                               "domain_files)");
            ++at.line;
            start = k + 1;
        }
    }
}

std::string Parser::describe_here() const {
    if (eof()) return "end of file";
    char c = peek();
    if (c == '\n') return "newline";
    if (c == '\r' && peek(1) == '\n') return "newline";
    if (static_cast<unsigned char>(c) < 0x20) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "character 0x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
        return buf;
    }
    if (is_id_start(c)) {
        std::size_t j = i_;
        while (j < src_.size() && is_id_char(src_[j])) ++j;
        return "'" + std::string(src_.substr(i_, j - i_)) + "'";
    }
    std::size_t len = 1;
    while (i_ + len < src_.size() && (static_cast<unsigned char>(src_[i_ + len]) & 0xC0) == 0x80) ++len;
    return "'" + std::string(src_.substr(i_, len)) + "'";
}

// Skips blanks and comments. With newlines == false stops at a newline (the end of an
// attribute or block line), which line comments leave in place.
void Parser::skip_space(bool newlines) {
    while (!eof()) {
        char c = peek();
        if (c == ' ' || c == '\t') {
            advance();
        } else if (c == '\n' || (c == '\r' && peek(1) == '\n')) {
            if (!newlines) return;
            advance();
        } else if (c == '#' || (c == '/' && peek(1) == '/')) {
            while (!eof() && peek() != '\n' && !(peek() == '\r' && peek(1) == '\n')) advance();
        } else if (c == '/' && peek(1) == '*') {
            Position start = pos_;
            advance();
            advance();
            while (!(peek() == '*' && peek(1) == '/')) {
                if (eof()) fail(start, "unterminated comment: '/*' without '*/'");
                advance();
            }
            advance();
            advance();
        } else {
            return;
        }
    }
}

std::string Parser::read_identifier() {
    std::size_t start = i_;
    while (!eof() && is_id_char(peek())) advance();
    return std::string(src_.substr(start, i_ - start));
}

void Parser::parse_number(Value& v) {
    Position start = pos_;
    std::size_t begin = i_;
    bool is_float = false;
    if (peek() == '-') advance();
    if (!is_digit(peek())) fail(start, "invalid number: expected digit");
    while (is_digit(peek())) advance();
    if (peek() == '.') {
        if (!is_digit(peek(1))) fail(pos_, "invalid number: expected digit after '.'");
        is_float = true;
        advance();
        while (is_digit(peek())) advance();
    }
    if (peek() == 'e' || peek() == 'E') {
        std::size_t k = 1;
        if (peek(1) == '+' || peek(1) == '-') k = 2;
        if (!is_digit(peek(k))) fail(pos_, "invalid number: expected digit in exponent");
        is_float = true;
        for (std::size_t n = 0; n < k; ++n) advance();
        while (is_digit(peek())) advance();
    }
    if (is_id_char(peek()) || peek() == '.')
        fail(pos_, "invalid number: unexpected " + describe_here() + " after digits (units must be written as a string)");
    std::string_view text = src_.substr(begin, i_ - begin);
    if (!is_float) {
        std::int64_t iv = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), iv);
        if (ec == std::errc() && p == text.data() + text.size()) {
            v.kind = Value::Kind::Int;
            v.integer = iv;
            v.number = static_cast<double>(iv);
            return;
        }
        fail(start, "integer " + std::string(text) + " is out of range");
    }
    double dv = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), dv);
    if (ec != std::errc() || p != text.data() + text.size())
        fail(start, "number " + std::string(text) + " is out of range");
    v.kind = Value::Kind::Float;
    v.number = dv;
}

// Handles "$${" / "%%{" escapes and rejects "${" / "%{"; returns true when it consumed
// the character(s) at the cursor.
bool Parser::template_char(std::string& out) {
    char c = peek();
    if (c != '$' && c != '%') return false;
    if (peek(1) == '{') {
        if (c == '$')
            fail(pos_, "template interpolation '${' is not supported (write '$${' for a literal '${')");
        fail(pos_, "template directive '%{' is not supported (write '%%{' for a literal '%{')");
    }
    if (peek(1) == c && peek(2) == '{') {
        out += c;
        out += '{';
        advance();
        advance();
        advance();
        return true;
    }
    return false;
}

std::uint32_t Parser::read_hex(int digits, Position esc) {
    std::uint32_t cp = 0;
    for (int n = 0; n < digits; ++n) {
        char h = peek();
        int d;
        if (h >= '0' && h <= '9') d = h - '0';
        else if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
        else if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
        else fail(esc, "invalid unicode escape: expected " + std::to_string(digits) + " hex digits");
        cp = cp * 16 + static_cast<std::uint32_t>(d);
        advance();
    }
    return cp;
}

std::string Parser::parse_quoted_string() {
    Position open = pos_;
    advance();  // "
    std::string out;
    for (;;) {
        if (eof() || at_newline()) fail(open, "unterminated string: missing closing '\"'");
        char c = peek();
        if (c == '"') {
            advance();
            return out;
        }
        if (c == '\\') {
            Position esc = pos_;
            advance();
            char e = peek();
            switch (e) {
                case 'n': out += '\n'; advance(); break;
                case 'r': out += '\r'; advance(); break;
                case 't': out += '\t'; advance(); break;
                case '"': out += '"'; advance(); break;
                case '\\': out += '\\'; advance(); break;
                case 'u':
                case 'U': {
                    advance();
                    std::uint32_t cp = read_hex(e == 'u' ? 4 : 8, esc);
                    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                        fail(esc, "invalid unicode escape: not a Unicode scalar value");
                    append_utf8(out, cp);
                    break;
                }
                default:
                    if (eof() || at_newline()) fail(open, "unterminated string: missing closing '\"'");
                    fail(esc, "invalid escape sequence '\\" + std::string(1, e) +
                                  "' (valid: \\n \\r \\t \\\" \\\\ \\uXXXX \\UXXXXXXXX)");
            }
            continue;
        }
        if (template_char(out)) continue;
        copy_char(out);
    }
}

std::string Parser::parse_heredoc() {
    Position start = pos_;
    advance();
    advance();  // <<
    bool indented = false;
    if (peek() == '-') {
        indented = true;
        advance();
    }
    if (!is_id_start(peek())) fail(pos_, "expected heredoc marker identifier after '<<'");
    std::string marker = read_identifier();
    if (!at_newline())
        fail(pos_, "unexpected " + describe_here() + " after heredoc marker, expected newline");
    if (peek() == '\r') advance();
    advance();  // newline

    std::vector<std::string> lines;
    for (;;) {
        if (eof())
            fail(start, "unterminated heredoc: closing marker \"" + marker + "\" not found");
        // Is this line the closing marker (optionally indented)?
        std::size_t j = i_;
        while (j < src_.size() && (src_[j] == ' ' || src_[j] == '\t')) ++j;
        if (src_.substr(j, marker.size()) == marker) {
            std::size_t k = j + marker.size();
            if (k == src_.size() || src_[k] == '\n' || src_[k] == '\r' || src_[k] == ' ' ||
                src_[k] == '\t' || src_[k] == '}' || src_[k] == ',' || src_[k] == ']' ||
                src_[k] == '#') {
                while (i_ < k) advance();
                break;
            }
        }
        std::string line;
        while (!eof() && !at_newline()) {
            if (template_char(line)) continue;
            copy_char(line);
        }
        if (peek() == '\r') advance();
        advance();  // newline (no-op at eof, which the loop then reports)
        lines.push_back(std::move(line));
    }

    if (indented) {
        std::size_t strip = std::string::npos;
        for (const auto& l : lines) {
            std::size_t n = 0;
            while (n < l.size() && (l[n] == ' ' || l[n] == '\t')) ++n;
            if (n == l.size()) continue;  // blank lines do not constrain the indent
            strip = std::min(strip, n);
        }
        if (strip == std::string::npos) strip = 0;
        for (auto& l : lines) l.erase(0, std::min(strip, l.size()));
    }
    std::string out;
    for (const auto& l : lines) {
        out += l;
        out += '\n';
    }
    return out;
}

}  // namespace flywall::config::hcl::detail
