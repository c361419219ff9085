#include "config/hcl.hpp"

#include "common/text.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <string>
#include <system_error>
#include <utility>

namespace flywall::config {

std::string Diagnostic::to_string() const {
    std::string out = file;
    if (line > 0) {
        out += ':';
        out += std::to_string(line);
        out += ':';
        out += std::to_string(column);
    }
    out += ": ";
    out += message;
    return out;
}

std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics) {
    std::string out;
    for (const auto& d : diagnostics) {
        if (!out.empty()) out += '\n';
        out += d.to_string();
    }
    return out;
}

namespace hcl {

std::string_view kind_name(Value::Kind kind) {
    switch (kind) {
        case Value::Kind::Null: return "null";
        case Value::Kind::Bool: return "bool";
        case Value::Kind::Int:
        case Value::Kind::Float: return "number";
        case Value::Kind::String: return "string";
        case Value::Kind::List: return "list";
        case Value::Kind::Object: return "object";
    }
    return "value";
}

const Attribute* Body::find_attribute(std::string_view name) const {
    for (const auto& a : attributes)
        if (a.name == name) return &a;
    return nullptr;
}

namespace {

bool is_id_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_id_char(char c) { return is_id_start(c) || (c >= '0' && c <= '9') || c == '-'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

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

// Thrown only inside this file to unwind to parse() at the first syntax error.
// Bounds that keep a hostile or broken file from exhausting the stack or memory: the parser
// recurses once per nested block, list or object, and a line is held whole in messages.
constexpr int kMaxNesting = 64;
constexpr std::size_t kMaxLineBytes = 1u << 20;

struct SyntaxError {
    Position pos;
    std::string message;
};

class Parser {
public:
    Parser(std::string_view src, std::string_view file) : src_(src), file_(file) {}

    ParseResult run() {
        ParseResult result;
        try {
            check_line_lengths();
            result.body.open = Position{1, 1};
            parse_body(result.body, /*top=*/true);
        } catch (const SyntaxError& e) {
            diags_.push_back(Diagnostic{file_, e.pos.line, e.pos.column, e.message});
            result.complete = false;
        }
        std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
            return a.line != b.line ? a.line < b.line : a.column < b.column;
        });
        result.diagnostics = std::move(diags_);
        return result;
    }

private:
    std::string_view src_;
    std::string file_;
    std::size_t i_ = 0;
    Position pos_{1, 1};
    std::vector<Diagnostic> diags_;
    int depth_ = 0;

    // One more level of blocks, lists or objects; past kMaxNesting the file is rejected.
    class Nesting {
    public:
        Nesting(Parser& p, Position at) : p_(p) {
            if (++p_.depth_ > kMaxNesting)
                p_.fail(at, "nested deeper than " + std::to_string(kMaxNesting) +
                                " levels of blocks, lists and objects");
        }
        ~Nesting() { --p_.depth_; }
        Nesting(const Nesting&) = delete;
        Nesting& operator=(const Nesting&) = delete;

    private:
        Parser& p_;
    };

    // HCL files are UTF-8: a byte that is not (a Latin-1 file, binary junk) is reported where
    // it is, instead of ending up in a path or a name. Also bounds the length of a line.
    void check_line_lengths() const {
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

    // ---- character level -------------------------------------------------------------
    [[nodiscard]] bool eof() const { return i_ >= src_.size(); }
    [[nodiscard]] char peek(std::size_t k = 0) const {
        return i_ + k < src_.size() ? src_[i_ + k] : '\0';
    }
    void advance() {
        if (eof()) return;
        char c = src_[i_++];
        if (c == '\n') {
            ++pos_.line;
            pos_.column = 1;
        } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
            // Count code points: UTF-8 continuation bytes do not start a new column.
            ++pos_.column;
        }
    }
    // Call after advance() over a lead byte so the following continuation bytes are consumed
    // together with it; used where we copy raw text.
    void copy_char(std::string& out) {
        out += src_[i_];
        advance();
        while (!eof() && (static_cast<unsigned char>(src_[i_]) & 0xC0) == 0x80) {
            out += src_[i_];
            advance();
        }
    }

    [[noreturn]] void fail(Position p, std::string msg) const { throw SyntaxError{p, std::move(msg)}; }
    void report(Position p, std::string msg) {
        diags_.push_back(Diagnostic{file_, p.line, p.column, std::move(msg)});
    }

    [[nodiscard]] std::string describe_here() const {
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
    void skip_space(bool newlines) {
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
    [[nodiscard]] bool at_newline() const {
        return peek() == '\n' || (peek() == '\r' && peek(1) == '\n');
    }

    std::string read_identifier() {
        std::size_t start = i_;
        while (!eof() && is_id_char(peek())) advance();
        return std::string(src_.substr(start, i_ - start));
    }

    // ---- structure -------------------------------------------------------------------
    void parse_body(Body& body, bool top) {
        std::map<std::string, Position> seen;
        for (;;) {
            skip_space(true);
            if (eof()) {
                if (!top) fail(pos_, "unexpected end of file, expected '}' to close the block opened at " +
                                         std::to_string(body.open.line) + ":" + std::to_string(body.open.column));
                body.close = pos_;
                return;
            }
            if (peek() == '}') {
                if (top) fail(pos_, "unexpected '}', expected attribute or block");
                body.close = pos_;
                advance();
                return;
            }
            if (!is_id_start(peek())) {
                if (peek() == '"') fail(pos_, "unexpected string, expected attribute or block name (names are not quoted)");
                fail(pos_, "unexpected " + describe_here() + ", expected attribute or block");
            }
            Position name_pos = pos_;
            std::string name = read_identifier();
            skip_space(false);
            if (peek() == '=' && peek(1) != '=') {
                advance();
                Attribute attr;
                attr.name = std::move(name);
                attr.pos = name_pos;
                skip_space(false);
                attr.value = parse_expression();
                expect_item_end("attribute value", top);
                if (auto it = seen.find(attr.name); it != seen.end()) {
                    report(name_pos, "duplicate attribute \"" + attr.name + "\" (first defined at " +
                                         std::to_string(it->second.line) + ":" +
                                         std::to_string(it->second.column) + ")");
                    continue;
                }
                seen.emplace(attr.name, name_pos);
                body.attributes.push_back(std::move(attr));
                continue;
            }
            if (peek() == ':') fail(pos_, "unexpected ':' after \"" + name + "\", expected '=' (attributes are written name = value)");
            Block block;
            block.type = std::move(name);
            block.pos = name_pos;
            for (;;) {
                if (peek() == '"') {
                    block.label_pos.push_back(pos_);
                    block.labels.push_back(parse_quoted_string());
                } else if (is_id_start(peek())) {
                    block.label_pos.push_back(pos_);
                    block.labels.push_back(read_identifier());
                } else {
                    break;
                }
                skip_space(false);
            }
            if (peek() != '{') {
                if (block.labels.empty())
                    fail(pos_, "unexpected " + describe_here() + " after \"" + block.type +
                                   "\", expected '=' or '{'");
                fail(pos_, "unexpected " + describe_here() + " after block labels, expected '{'");
            }
            block.body.open = pos_;
            Nesting nested(*this, pos_);
            advance();
            parse_body(block.body, /*top=*/false);
            expect_item_end("block", top);
            body.blocks.push_back(std::move(block));
        }
    }

    // After an attribute or a block: a newline, end of file, or the '}' closing the body.
    void expect_item_end(const char* what, bool top) {
        skip_space(false);
        if (eof() || at_newline()) return;
        if (peek() == '}' && !top) return;
        reject_operator();
        if (peek() == ';') fail(pos_, "unexpected ';', put each attribute on its own line");
        if (peek() == ',') fail(pos_, "unexpected ',' after " + std::string(what) + ", put each attribute on its own line");
        fail(pos_, "unexpected " + describe_here() + " after " + what + ", expected newline");
    }

    // Called when something follows a complete value: explains operators explicitly.
    void reject_operator() {
        static constexpr std::string_view ops[] = {"==", "!=", "<=", ">=", "&&", "||", "+", "-", "*", "/",
                                                   "%", "<", ">", "!", "?", "."};
        for (auto op : ops) {
            if (src_.substr(i_, op.size()) == op) {
                if (op == "/" && (peek(1) == '/' || peek(1) == '*')) continue;
                fail(pos_, "operator '" + std::string(op) +
                               "' is not supported: expressions are not allowed, only literal values");
            }
        }
        if (peek() == '[')
            fail(pos_, "index expressions are not supported, only literal values");
    }

    // ---- values ------------------------------------------------------------------------
    Value parse_expression() {
        Position start = pos_;
        if (eof() || at_newline()) fail(pos_, "expected value, found " + describe_here());
        char c = peek();
        Value v;
        v.pos = start;
        if (c == '"') {
            v.kind = Value::Kind::String;
            v.string = parse_quoted_string();
        } else if (c == '<' && peek(1) == '<') {
            v.kind = Value::Kind::String;
            v.string = parse_heredoc();
        } else if (is_digit(c) || (c == '-' && (is_digit(peek(1)) || peek(1) == '.'))) {
            parse_number(v);
        } else if (c == '[') {
            parse_list(v);
        } else if (c == '{') {
            parse_object(v);
        } else if (is_id_start(c)) {
            std::string word = read_identifier();
            if (word == "true" || word == "false") {
                v.kind = Value::Kind::Bool;
                v.boolean = word == "true";
            } else if (word == "null") {
                v.kind = Value::Kind::Null;
            } else if (peek() == '(') {
                fail(start, "function calls are not supported: " + word + "(...)");
            } else if (peek() == '.' || peek() == '[') {
                fail(start, "references are not supported: \"" + word + "\"; only literal values are allowed");
            } else if (word == "for") {
                fail(start, "'for' expressions are not supported, only literal values");
            } else {
                fail(start, "unexpected bare word \"" + word +
                                "\"; strings must be quoted (variables are not supported)");
            }
        } else if (c == '-' || c == '!') {
            fail(start, std::string("unary operator '") + c + "' is not supported, only literal values");
        } else if (c == '(') {
            fail(start, "parenthesized expressions are not supported, only literal values");
        } else {
            fail(start, "unexpected " + describe_here() + ", expected value");
        }
        return v;
    }

    void parse_number(Value& v) {
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

    void parse_list(Value& v) {
        v.kind = Value::Kind::List;
        Position open = pos_;
        Nesting nested(*this, open);
        advance();  // [
        for (;;) {
            skip_space(true);
            if (eof()) fail(open, "unterminated list: '[' without ']'");
            if (peek() == ']') {
                advance();
                return;
            }
            if (peek() == ',') fail(pos_, "unexpected ',' in list, expected value");
            v.list.push_back(parse_expression());
            skip_space(true);
            if (peek() == ',') {
                advance();
                continue;
            }
            if (peek() == ']') {
                advance();
                return;
            }
            if (eof()) fail(open, "unterminated list: '[' without ']'");
            reject_operator();
            fail(pos_, "unexpected " + describe_here() + " in list, expected ',' or ']'");
        }
    }

    void parse_object(Value& v) {
        v.kind = Value::Kind::Object;
        Position open = pos_;
        Nesting nested(*this, open);
        advance();  // {
        std::map<std::string, Position> seen;
        for (;;) {
            skip_space(true);
            if (eof()) fail(open, "unterminated object: '{' without '}'");
            if (peek() == '}') {
                advance();
                return;
            }
            ObjectEntry entry;
            entry.key_pos = pos_;
            if (peek() == '"') {
                entry.key = parse_quoted_string();
            } else if (is_id_start(peek())) {
                entry.key = read_identifier();
            } else if (peek() == '(') {
                fail(pos_, "computed object keys are not supported, write the key as a name or string");
            } else {
                fail(pos_, "unexpected " + describe_here() + " in object, expected key");
            }
            skip_space(false);
            if ((peek() == '=' && peek(1) != '=') || peek() == ':') {
                advance();
            } else {
                fail(pos_, "unexpected " + describe_here() + " after object key \"" + entry.key +
                               "\", expected '=' or ':'");
            }
            skip_space(false);
            entry.value = parse_expression();
            skip_space(false);
            bool separated = false;
            if (peek() == ',') {
                advance();
                separated = true;
            }
            skip_space(false);
            if (at_newline()) separated = true;
            if (!separated && peek() != '}') {
                if (eof()) fail(open, "unterminated object: '{' without '}'");
                reject_operator();
                fail(pos_, "unexpected " + describe_here() + " in object, expected ',', newline or '}'");
            }
            if (auto it = seen.find(entry.key); it != seen.end()) {
                report(entry.key_pos, "duplicate object key \"" + entry.key + "\" (first defined at " +
                                          std::to_string(it->second.line) + ":" +
                                          std::to_string(it->second.column) + ")");
                continue;
            }
            seen.emplace(entry.key, entry.key_pos);
            v.object.push_back(std::move(entry));
        }
    }

    // Handles "$${" / "%%{" escapes and rejects "${" / "%{"; returns true when it consumed
    // the character(s) at the cursor.
    bool template_char(std::string& out) {
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

    std::uint32_t read_hex(int digits, Position esc) {
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

    std::string parse_quoted_string() {
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

    std::string parse_heredoc() {
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
};

}  // namespace

ParseResult parse(std::string_view text, std::string_view filename) {
    return Parser(text, filename).run();
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '$':
            case '%':
                out += c;
                if (i + 1 < s.size() && s[i + 1] == '{') out += c;  // "${" -> "$${"
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
    return out;
}

bool is_identifier(std::string_view s) {
    if (s.empty() || !is_id_start(s[0])) return false;
    return std::all_of(s.begin(), s.end(), is_id_char);
}

}  // namespace hcl
}  // namespace flywall::config
