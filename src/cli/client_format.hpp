// Human-readable rendering of the daemon's API answers for the `flywall` client commands.
// Everything here is a pure function of the JSON it is given, so it is unit-tested without a
// daemon. The renderers do not assume more of the API's JSON than its documented shapes: a
// list may arrive bare or wrapped in an object ({"features": [...]}), and unknown fields are
// shown rather than dropped, so a newer daemon still prints sensibly.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace flywall::cli {

// 512 -> "512 B", 12897484 -> "12.3 MiB".
[[nodiscard]] std::string format_bytes(double bytes);
// A per-second rate with SI prefixes: (1234567, "pps") -> "1.2 Mpps", (0, "pps") -> "0 pps".
[[nodiscard]] std::string format_rate(double per_second, std::string_view unit);
// Nanoseconds: 85 -> "85 ns", 1500 -> "1.5 us", 2500000 -> "2.5 ms", 3e9 -> "3.0 s".
[[nodiscard]] std::string format_duration_ns(double ns);
// Whole seconds: 59 -> "59s", 3720 -> "1h2m", 90000 -> "1d1h".
[[nodiscard]] std::string format_seconds(std::uint64_t seconds);
// A value shown in a table cell, with a unit chosen from its key: *bytes / memory* -> bytes,
// *_pps -> pps, *_bps -> bits/s, *_ns -> duration, ttl / expires_in* / *_sec -> seconds,
// booleans -> yes/no, null -> "-", lists of scalars joined with ",".
[[nodiscard]] std::string format_value(std::string_view key, const nlohmann::json& value);

struct Table {
    std::vector<std::string> headers;
    std::vector<std::vector<std::string>> rows;
};

// Columns separated by two spaces and aligned; numeric columns right-aligned; headers in upper
// case; no trailing spaces. An empty table renders only its header line.
[[nodiscard]] std::string render_table(const Table& table);

// A table from an array of objects: `preferred` columns first (those present in any row), then
// every other key in first-seen order. Cells go through format_value().
[[nodiscard]] Table table_from_objects(const nlohmann::json& rows,
                                       const std::vector<std::string>& preferred);

// The list inside an answer: the answer itself when it is an array; otherwise the first of
// `keys` that holds an array; otherwise an object of objects turned into rows with a "name"
// column from its keys. Anything else gives an empty array.
[[nodiscard]] nlohmann::json extract_rows(const nlohmann::json& body,
                                          const std::vector<std::string>& keys);

// Nested objects as aligned "key  value" lines; sub-objects are indented under a heading and
// arrays of objects become tables.
[[nodiscard]] std::string render_key_values(const nlohmann::json& object);

// One renderer per command (human output; --json prints the API's body unchanged).
[[nodiscard]] std::string render_status(const nlohmann::json& health);
[[nodiscard]] std::string render_stats(const nlohmann::json& stats);
[[nodiscard]] std::string render_features(const nlohmann::json& features);
[[nodiscard]] std::string render_maps(const nlohmann::json& maps);
[[nodiscard]] std::string render_hooks(const nlohmann::json& hooks);
[[nodiscard]] std::string render_ip_list(const nlohmann::json& list);
[[nodiscard]] std::string render_domain_list(const nlohmann::json& list);
[[nodiscard]] std::string render_flows(const nlohmann::json& flows);
// The answer to a mutation (block add, features enable, ...): its message or counters, or "ok".
[[nodiscard]] std::string render_mutation(const nlohmann::json& answer);
// One line for one event of the stream: "RECEIVED_AT TYPE key=value ...". The event's own
// timestamp (ts_ns) is the kernel's monotonic clock, not wall time, so the line starts with the
// time the client received it; empty fields are left out.
[[nodiscard]] std::string render_event_line(const nlohmann::json& event, std::string_view received_at);
// Local wall-clock time of day "HH:MM:SS.mmm".
[[nodiscard]] std::string local_time_of_day();
// The text of an API error answer: its "error" field (plus "field"/"dependents"/"missing" when
// present), or the body itself when it is not JSON.
[[nodiscard]] std::string error_text(int http_status, std::string_view body);

}  // namespace flywall::cli
