// A hand-written parser for the subset of HCL native syntax that configuration files use:
// attributes, labelled blocks, literal values (strings with escapes, heredocs, numbers, bools,
// null), lists and objects, and all three comment styles. Everything that would need an
// evaluator (template interpolation, function calls, variable references, operators) is
// rejected with a positioned message instead of being half-supported.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flywall::config {

// 1-based line and column; columns count Unicode code points, a tab counts as one.
struct Position {
    int line = 1;
    int column = 1;
    bool operator==(const Position&) const = default;
};

// One positioned problem: "file:line:column: message". line == 0 means the problem concerns
// the whole file (e.g. it cannot be read) and no position is printed.
struct Diagnostic {
    std::string file;
    int line = 0;
    int column = 0;
    std::string message;

    [[nodiscard]] std::string to_string() const;
    bool operator==(const Diagnostic&) const = default;
};

// Joins diagnostics one per line.
[[nodiscard]] std::string format_diagnostics(const std::vector<Diagnostic>& diagnostics);

namespace hcl {

struct ObjectEntry;

struct Value {
    enum class Kind { Null, Bool, Int, Float, String, List, Object };

    Kind kind = Kind::Null;
    Position pos;
    bool boolean = false;
    std::int64_t integer = 0;  // Kind::Int
    double number = 0;         // Kind::Float, and the same value for Kind::Int
    std::string string;        // Kind::String (quoted or heredoc)
    std::vector<Value> list;   // Kind::List
    std::vector<ObjectEntry> object;  // Kind::Object, in source order, keys unique

    [[nodiscard]] bool is_number() const { return kind == Kind::Int || kind == Kind::Float; }
};

struct ObjectEntry {
    std::string key;
    Position key_pos;
    Value value;
};

// "string", "number", "bool", "null", "list", "object".
[[nodiscard]] std::string_view kind_name(Value::Kind kind);

struct Attribute {
    std::string name;
    Position pos;  // of the name
    Value value;
};

struct Block;

struct Body {
    std::vector<Attribute> attributes;  // source order, names unique
    std::vector<Block> blocks;          // source order
    Position open;                      // '{' of the owning block, or 1:1 for a file
    Position close;                     // '}' of the owning block, or end of file

    [[nodiscard]] const Attribute* find_attribute(std::string_view name) const;
};

struct Block {
    std::string type;
    Position pos;  // of the type name
    std::vector<std::string> labels;
    std::vector<Position> label_pos;
    Body body;
};

struct ParseResult {
    Body body;
    std::vector<Diagnostic> diagnostics;  // empty on success
    bool complete = true;  // false after a syntax error: body then holds only what came before it

    [[nodiscard]] bool ok() const { return diagnostics.empty(); }
};

// Parses a whole HCL file. A syntax error stops the parse (the first one is reported and
// complete is false); duplicate attributes and duplicate object keys are reported without
// stopping (the first definition is kept).
[[nodiscard]] ParseResult parse(std::string_view text, std::string_view filename);

// A quoted HCL string literal for s, escaping quotes, backslashes, control characters and the
// template introducers "${" / "%{" so that parse() reads back exactly s.
[[nodiscard]] std::string quote(std::string_view s);

// True when s is a valid HCL identifier (may be written as a bare attribute or object key).
[[nodiscard]] bool is_identifier(std::string_view s);

}  // namespace hcl
}  // namespace flywall::config
