// The HCL reader's public side (parse, quote, diagnostics) and the structural half of the
// parser: bodies, attributes, blocks, values, lists, objects. Lexing is in hcl_lexer.cpp.
#include "config/hcl.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <utility>

#include "config/hcl_parser.hpp"

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

namespace detail {

ParseResult Parser::run() {
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

// ---- structure -------------------------------------------------------------------
void Parser::parse_body(Body& body, bool top) {
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
void Parser::expect_item_end(const char* what, bool top) {
    skip_space(false);
    if (eof() || at_newline()) return;
    if (peek() == '}' && !top) return;
    reject_operator();
    if (peek() == ';') fail(pos_, "unexpected ';', put each attribute on its own line");
    if (peek() == ',') fail(pos_, "unexpected ',' after " + std::string(what) + ", put each attribute on its own line");
    fail(pos_, "unexpected " + describe_here() + " after " + what + ", expected newline");
}

// Called when something follows a complete value: explains operators explicitly.
void Parser::reject_operator() {
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
Value Parser::parse_expression() {
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

void Parser::parse_list(Value& v) {
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

void Parser::parse_object(Value& v) {
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

}  // namespace detail

using detail::is_id_char;
using detail::is_id_start;

ParseResult parse(std::string_view text, std::string_view filename) {
    return detail::Parser(text, filename).run();
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
