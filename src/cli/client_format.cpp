#include "cli/client_format.hpp"
#include "common/text.hpp"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace flywall::cli {
namespace {

using nlohmann::json;

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string one_decimal(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

// "123", "-4", "12.3", "12.3 MiB", "1.2 Mpps": right-aligned. Addresses and names are not.
bool looks_numeric(const std::string& cell) {
    std::size_t i = 0;
    if (i < cell.size() && cell[i] == '-') ++i;
    const std::size_t digits_start = i;
    while (i < cell.size() && std::isdigit(static_cast<unsigned char>(cell[i]))) ++i;
    if (i == digits_start) return false;
    if (i < cell.size() && cell[i] == '.') {
        ++i;
        const std::size_t frac = i;
        while (i < cell.size() && std::isdigit(static_cast<unsigned char>(cell[i]))) ++i;
        if (i == frac) return false;
    }
    if (i == cell.size()) return true;
    if (cell[i] != ' ') return false;
    for (++i; i < cell.size(); ++i)
        if (!std::isalpha(static_cast<unsigned char>(cell[i])) && cell[i] != '/') return false;
    return true;
}

std::string scalar_text(const json& v) {
    if (v.is_null()) return "-";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3g", d);
        return buf;
    }
    return text::json_text(v);
}

void render_kv_into(const json& object, int indent, std::ostringstream& out) {
    std::size_t width = 0;
    for (auto it = object.begin(); it != object.end(); ++it)
        if (!it->is_object() && !(it->is_array() && !it->empty() && it->front().is_object()))
            width = std::max(width, it.key().size());
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    auto nested = [](const json& v) { return v.is_object() || (v.is_array() && !v.empty() && v.front().is_object()); };
    // Plain values first, then sections, so the short facts stay together at the top.
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (nested(*it)) continue;
        const std::string& key = it.key();
        out << pad << key << std::string(width - key.size() + 2, ' ') << format_value(key, *it) << '\n';
    }
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (!nested(*it)) continue;
        out << pad << it.key() << ":\n";
        if (it->is_object()) {
            render_kv_into(*it, indent + 2, out);
        } else {
            std::istringstream table(render_table(table_from_objects(*it, {"name", "program"})));
            for (std::string line; std::getline(table, line);) out << pad << "  " << line << '\n';
        }
    }
}

}  // namespace

std::string format_bytes(double bytes) {
    static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    if (bytes < 1024) return std::to_string(static_cast<long long>(bytes)) + " B";
    std::size_t u = 0;
    while (bytes >= 1024 && u + 1 < std::size(units)) {
        bytes /= 1024;
        ++u;
    }
    return one_decimal(bytes) + " " + units[u];
}

std::string format_rate(double per_second, std::string_view unit) {
    static const char* const prefixes[] = {"", "k", "M", "G", "T"};
    std::size_t p = 0;
    double v = per_second;
    while (std::fabs(v) >= 1000 && p + 1 < std::size(prefixes)) {
        v /= 1000;
        ++p;
    }
    std::string number = p == 0 && std::floor(v) == v ? std::to_string(static_cast<long long>(v)) : one_decimal(v);
    return number + " " + prefixes[p] + std::string(unit);
}

std::string format_duration_ns(double ns) {
    if (ns < 1000) return std::to_string(static_cast<long long>(std::llround(ns))) + " ns";
    if (ns < 1e6) return one_decimal(ns / 1e3) + " us";
    if (ns < 1e9) return one_decimal(ns / 1e6) + " ms";
    return one_decimal(ns / 1e9) + " s";
}

std::string format_seconds(std::uint64_t s) {
    if (s < 60) return std::to_string(s) + "s";
    if (s < 3600) return std::to_string(s / 60) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
    if (s < 86400) return std::to_string(s / 3600) + "h" + (s % 3600 / 60 ? std::to_string(s % 3600 / 60) + "m" : "");
    return std::to_string(s / 86400) + "d" + (s % 86400 / 3600 ? std::to_string(s % 86400 / 3600) + "h" : "");
}

std::string format_value(std::string_view key, const json& v) {
    if (v.is_array()) {
        std::string joined;
        for (const auto& e : v) {
            if (!joined.empty()) joined += ",";
            joined += e.is_object() || e.is_array() ? text::json_text(e) : scalar_text(e);
        }
        return joined.empty() ? "-" : joined;
    }
    if (v.is_object()) return text::json_text(v);
    if (!v.is_number()) return scalar_text(v);
    const double d = v.get<double>();
    if (d < 0) return scalar_text(v);
    // Sizes of keys and values are small byte counts best shown exactly.
    const bool exact_size = ends_with(key, "key_size") || ends_with(key, "value_size");
    if (!exact_size && !ends_with(key, "_mb") && (ends_with(key, "bytes") || contains(key, "memory")))
        return format_bytes(d);
    if (ends_with(key, "pps")) return format_rate(d, "pps");
    if (ends_with(key, "bps")) return format_rate(d, "bit/s");
    if (ends_with(key, "_ns")) return format_duration_ns(d);
    if (contains(key, "ttl") || contains(key, "expires_in") ||
        ends_with(key, "uptime_sec") || ends_with(key, "uptime_seconds") || key == "age_sec" || ends_with(key, "idle_sec"))
        return format_seconds(static_cast<std::uint64_t>(d));
    return scalar_text(v);
}

std::string render_table(const Table& table) {
    const std::size_t ncols = table.headers.size();
    if (ncols == 0) return {};  // no rows, so no columns known: only the caller's count line
    std::vector<std::size_t> width(ncols, 0);
    std::vector<bool> numeric(ncols, true);
    std::vector<bool> any_value(ncols, false);
    for (std::size_t c = 0; c < ncols; ++c) width[c] = table.headers[c].size();
    for (const auto& row : table.rows)
        for (std::size_t c = 0; c < ncols && c < row.size(); ++c) {
            width[c] = std::max(width[c], row[c].size());
            if (row[c] != "-" && !row[c].empty()) {
                any_value[c] = true;
                if (!looks_numeric(row[c])) numeric[c] = false;
            }
        }
    auto emit = [&](const std::vector<std::string>& cells, bool header, std::ostringstream& out) {
        std::string line;
        for (std::size_t c = 0; c < ncols; ++c) {
            std::string cell = c < cells.size() ? cells[c] : "";
            if (header) cell = upper(cell);
            const std::size_t gap = width[c] - cell.size();
            if (c) line += "  ";
            if (numeric[c] && any_value[c]) line += std::string(gap, ' ') + cell;
            else line += cell + std::string(gap, ' ');
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << line << '\n';
    };
    std::ostringstream out;
    emit(table.headers, true, out);
    for (const auto& row : table.rows) emit(row, false, out);
    return out.str();
}

Table table_from_objects(const json& rows, const std::vector<std::string>& preferred) {
    Table t;
    if (!rows.is_array()) return t;
    // Nested objects become "parent.child" columns (one level), e.g. cost.memory_bytes.
    json flat = json::array();
    for (const auto& row : rows) {
        if (!row.is_object()) {
            flat.push_back(row);
            continue;
        }
        json f = json::object();
        for (auto it = row.begin(); it != row.end(); ++it) {
            if (it->is_object() && !it->empty()) {
                for (auto sub = it->begin(); sub != it->end(); ++sub) f[it.key() + "." + sub.key()] = *sub;
            } else {
                f[it.key()] = *it;
            }
        }
        flat.push_back(std::move(f));
    }
    std::vector<std::string> seen;
    for (const auto& row : rows) {  // the API's key order (objects keep theirs sorted)
        if (!row.is_object()) continue;
        for (auto it = row.begin(); it != row.end(); ++it) {
            std::vector<std::string> keys;
            if (it->is_object() && !it->empty())
                for (auto sub = it->begin(); sub != it->end(); ++sub) keys.push_back(it.key() + "." + sub.key());
            else
                keys.push_back(it.key());
            for (auto& k : keys)
                if (std::find(seen.begin(), seen.end(), k) == seen.end()) seen.push_back(k);
        }
    }
    for (const auto& p : preferred)
        if (std::find(seen.begin(), seen.end(), p) != seen.end()) t.headers.push_back(p);
    for (const auto& s : seen)
        if (std::find(t.headers.begin(), t.headers.end(), s) == t.headers.end()) t.headers.push_back(s);
    for (const auto& row : flat) {
        std::vector<std::string> cells;
        if (!row.is_object()) {
            cells.push_back(scalar_text(row));
        } else {
            for (const auto& h : t.headers) cells.push_back(row.contains(h) ? format_value(h, row.at(h)) : "-");
        }
        t.rows.push_back(std::move(cells));
    }
    if (t.headers.empty() && !t.rows.empty()) t.headers.push_back("value");
    return t;
}

json extract_rows(const json& body, const std::vector<std::string>& keys) {
    if (body.is_array()) return body;
    if (!body.is_object()) return json::array();
    for (const auto& k : keys)
        if (body.contains(k) && body.at(k).is_array()) return body.at(k);
    for (const auto& k : keys)  // {"features": {"qos": {...}, ...}}
        if (body.contains(k) && body.at(k).is_object()) return extract_rows(body.at(k), {});
    bool all_objects = !body.empty();
    for (const auto& v : body) all_objects = all_objects && v.is_object();
    if (!all_objects) return json::array();
    json rows = json::array();
    for (auto it = body.begin(); it != body.end(); ++it) {
        json row = json::object();
        row["name"] = it.key();
        for (auto f = it->begin(); f != it->end(); ++f) row[f.key()] = *f;
        rows.push_back(std::move(row));
    }
    return rows;
}

std::string render_key_values(const json& object) {
    std::ostringstream out;
    if (object.is_object()) render_kv_into(object, 0, out);
    else out << (object.is_string() ? object.get<std::string>() : text::json_text(object)) << '\n';
    return out.str();
}

std::string render_status(const json& health) { return render_key_values(health); }

std::string render_stats(const json& stats) { return render_key_values(stats); }

std::string render_features(const json& features) {
    json rows = extract_rows(features, {"features"});
    // {"features": {"qos": true, ...}}: a plain name -> enabled map.
    if (rows.empty()) {
        const json* map = &features;
        if (features.is_object() && features.contains("features") && features.at("features").is_object())
            map = &features.at("features");
        if (map->is_object())
            for (auto it = map->begin(); it != map->end(); ++it)
                if (it->is_boolean()) rows.push_back(json{{"name", it.key()}, {"enabled", *it}});
    }
    // Measured memory first; the budget columns (the governor's model) after it.
    for (auto& r : rows) {
        if (!r.is_object() || !r.contains("measured")) continue;
        if (r["measured"].is_object())
            r["measured"].erase("maps");
        else
            r["measured"] = json{{"memory_bytes", nullptr}};  // a feature with no map of its own
    }
    std::string out = render_table(table_from_objects(
        rows, {"name", "enabled", "priority", "dependencies", "changed_by", "measured.memory_bytes"}));
    // CPU is measured per program (self-timing), not per feature.
    if (features.is_object() && features.contains("measured_cpu") && features["measured_cpu"].is_array()) {
        out += "\nmeasured CPU (the programs time 1 packet in sample_1_in themselves):\n";
        for (const auto& p : features["measured_cpu"]) {
            if (!p.is_object()) continue;
            char line[256];
            const auto& avg = p.contains("avg_ns_per_packet") ? p["avg_ns_per_packet"] : json();
            if (!avg.is_number()) {
                std::snprintf(line, sizeof(line), "  %-14s no packet timed yet (%llu packets, 1 in %llu is timed)\n",
                              p.value("program", std::string("?")).c_str(),
                              static_cast<unsigned long long>(p.value("packets", std::uint64_t{0})),
                              static_cast<unsigned long long>(p.value("sample_1_in", std::uint64_t{0})));
                out += line;
                continue;
            }
            std::snprintf(line, sizeof(line), "  %-14s %8.1f ns/packet over %llu packets (%llu timed, 1 in %llu)\n",
                          p.value("program", std::string("?")).c_str(), avg.get<double>(),
                          static_cast<unsigned long long>(p.value("packets", std::uint64_t{0})),
                          static_cast<unsigned long long>(p.value("timed_packets", std::uint64_t{0})),
                          static_cast<unsigned long long>(p.value("sample_1_in", std::uint64_t{0})));
            out += line;
        }
    }
    return out;
}

std::string render_maps(const json& maps) {
    return render_table(table_from_objects(
        extract_rows(maps, {"maps"}),
        {"name", "type", "key_size", "value_size", "max_entries", "entries", "memory_bytes", "memory"}));
}

std::string render_hooks(const json& hooks) {
    return render_table(table_from_objects(
        extract_rows(hooks, {"hooks"}), {"program", "interface", "attach_point", "mode", "mode_requested", "prog_id"}));
}

// " of TOTAL; next page: --after CURSOR" for a paged list answer, "" otherwise.
std::string page_note(const json& list) {
    if (!list.is_object()) return "";
    std::string note;
    if (list.contains("total") && list.at("total").is_number()) note += " of " + text::json_text(list.at("total"));
    if (list.contains("next") && list.at("next").is_string())
        note += "; next page: --after " + text::safe(list.at("next").get<std::string>());
    return note;
}

std::string render_ip_list(const json& list) {
    json rows = extract_rows(list, {"entries", "ips", "blocklist", "items"});
    std::ostringstream out;
    out << render_table(table_from_objects(
        rows, {"value", "list", "direction", "hits", "ttl_remaining", "ttl", "source"}));
    out << rows.size() << (rows.size() == 1 ? " entry" : " entries");
    out << page_note(list) << "\n";
    return out.str();
}

std::string render_domain_list(const json& list) {
    json rows = extract_rows(list, {"entries", "domains", "blocklist", "items"});
    json objects = json::array();
    for (const auto& r : rows) objects.push_back(r.is_string() ? json{{"domain", r}} : r);
    std::ostringstream out;
    out << render_table(table_from_objects(objects, {"value", "domain", "action", "hits", "ttl_remaining", "ttl", "source"}));
    out << objects.size() << (objects.size() == 1 ? " domain" : " domains");
    out << page_note(list) << "\n";
    return out.str();
}

std::string render_flows(const json& flows) {
    json rows = extract_rows(flows, {"flows", "entries"});
    std::ostringstream out;
    out << render_table(table_from_objects(
        rows, {"src", "src_ip", "sport", "src_port", "dst", "dst_ip", "dport", "dst_port", "proto", "protocol",
               "packets", "bytes", "trusted", "age_sec", "idle_sec"}));
    if (flows.is_object() && flows.contains("total") && flows.at("total").is_number())
        out << rows.size() << " of " << text::json_text(flows.at("total")) << " flows\n";
    else
        out << rows.size() << (rows.size() == 1 ? " flow\n" : " flows\n");
    return out.str();
}

std::string render_mutation(const json& answer) {
    if (answer.is_null() || (answer.is_object() && answer.empty())) return "ok\n";
    if (answer.is_object() && answer.contains("message") && answer.at("message").is_string())
        return answer.at("message").get<std::string>() + "\n";
    if (answer.is_object() && answer.contains("requested") && answer.at("requested").is_number()) {
        for (const char* verb : {"added", "removed"})
            if (answer.contains(verb) && answer.at(verb).is_number())
                return std::string(verb) + " " + text::json_text(answer.at(verb)) + " of " + text::json_text(answer.at("requested")) +
                       " requested\n";
    }
    if (answer.is_object() && answer.contains("feature") && answer.contains("enabled") &&
        answer.at("enabled").is_boolean()) {
        std::string line = scalar_text(answer.at("feature")) + (answer.at("enabled").get<bool>() ? " enabled" : " disabled");
        if (answer.contains("changed") && answer.at("changed").is_array() && !answer.at("changed").empty())
            line += " (changed: " + format_value("changed", answer.at("changed")) + ")";
        return line + "\n";
    }
    if (answer.is_object()) {
        std::string line;
        for (auto it = answer.begin(); it != answer.end(); ++it) {
            if (it->is_object() || (it->is_array() && it->size() > 8)) continue;
            if (!line.empty()) line += " ";
            line += it.key() + "=" + format_value(it.key(), *it);
        }
        return (line.empty() ? "ok" : line) + "\n";
    }
    return text::json_text(answer) + "\n";
}

std::string render_event_line(const json& event, std::string_view received_at) {
    std::string line(received_at);
    if (!event.is_object()) return line + (line.empty() ? "" : " ") + text::json_text(event);
    const json* type = event.contains("type") ? &event.at("type") : event.contains("kind") ? &event.at("kind") : nullptr;
    line += (line.empty() ? "" : " ") + (type ? scalar_text(*type) : std::string("event"));
    for (auto it = event.begin(); it != event.end(); ++it) {
        const std::string& k = it.key();
        if (k == "type" || k == "kind" || k == "type_id" || k == "ts_ns") continue;
        if (it->is_null() || (it->is_string() && it->get<std::string>().empty())) continue;
        line += " " + k + "=" + (it->is_object() ? it->dump() : format_value(k, *it));
    }
    return line;
}

std::string local_time_of_day() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

std::string error_text(int http_status, std::string_view body) {
    json j = json::parse(body, nullptr, false);
    std::string text;
    if (j.is_object() && j.contains("error")) {
        const json& e = j.at("error");
        text = e.is_string() ? e.get<std::string>() : flywall::text::json_text(e);
        for (const char* extra : {"field", "dependents", "missing", "dependencies"})
            if (j.contains(extra)) text += std::string(" (") + extra + ": " + format_value(extra, j.at(extra)) + ")";
    } else {
        text = std::string(body);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        if (text.empty()) text = "(empty answer)";
    }
    return "HTTP " + std::to_string(http_status) + ": " + text;
}

}  // namespace flywall::cli
