// Private to the HCL reader (hcl.cpp, hcl_lexer.cpp): the Parser class, its character-level
// primitives, and the limits and character classes both halves use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/hcl.hpp"

namespace flywall::config::hcl::detail {

inline bool is_id_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
inline bool is_id_char(char c) { return is_id_start(c) || (c >= '0' && c <= '9') || c == '-'; }
inline bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Bounds that keep a hostile or broken file from exhausting the stack or memory: the parser
// recurses once per nested block, list or object, and a line is held whole in messages.
constexpr int kMaxNesting = 64;
constexpr std::size_t kMaxLineBytes = 1u << 20;

// Thrown only inside the parser (hcl.cpp, hcl_lexer.cpp) to unwind to parse() at the first
// syntax error.
struct SyntaxError {
    Position pos;
    std::string message;
};

// A recursive-descent parser over the source text. The lexical half (comments, identifiers,
// numbers, strings, heredocs) is in hcl_lexer.cpp; the structure (bodies, blocks, attributes,
// lists, objects) is in hcl.cpp.
class Parser {
public:
    Parser(std::string_view src, std::string_view file) : src_(src), file_(file) {}

    ParseResult run();

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
    [[nodiscard]] bool at_newline() const {
        return peek() == '\n' || (peek() == '\r' && peek(1) == '\n');
    }

    // ---- lexical (hcl_lexer.cpp) -----------------------------------------------------
    void check_line_lengths() const;
    [[nodiscard]] std::string describe_here() const;
    void skip_space(bool newlines);
    std::string read_identifier();
    void parse_number(Value& v);
    bool template_char(std::string& out);
    std::uint32_t read_hex(int digits, Position esc);
    std::string parse_quoted_string();
    std::string parse_heredoc();

    // ---- structure (hcl.cpp) ---------------------------------------------------------
    void parse_body(Body& body, bool top);
    void expect_item_end(const char* what, bool top);
    void reject_operator();
    Value parse_expression();
    void parse_list(Value& v);
    void parse_object(Value& v);
};

}  // namespace flywall::config::hcl::detail
