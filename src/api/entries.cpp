#include "api/entries.hpp"

#include "common/domain_name.hpp"

#include <algorithm>
#include <cctype>

namespace flywall::api {

namespace {

constexpr std::uint64_t kMaxTtlSeconds = 10ull * 365 * 24 * 3600;

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::string_view strip_comment(std::string_view line) {
    auto pos = line.find_first_of("#;");
    if (pos != std::string_view::npos) line = line.substr(0, pos);
    return trim(line);
}

std::vector<std::string_view> split_ws(std::string_view s) {
    std::vector<std::string_view> out;
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        size_t j = i;
        while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j > i) out.push_back(s.substr(i, j - i));
        i = j;
    }
    return out;
}

// Splits into lines, accepting \n and \r\n.
template <class F>
std::optional<FieldError> for_each_line(std::string_view text, F&& f) {
    size_t lineno = 0, pos = 0;
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        ++lineno;
        std::string_view content = strip_comment(line);
        if (!content.empty()) {
            if (auto err = f(content, lineno)) return err;
        }
        if (nl == std::string_view::npos) break;
        pos = nl + 1;
    }
    return std::nullopt;
}

std::string field_of(size_t i, const char* name) {
    return "entries[" + std::to_string(i) + "]." + name;
}

// Reads the "entries" array; an error when the body has no such array.
const nlohmann::json* entries_array(const nlohmann::json& body, std::optional<FieldError>& err) {
    if (!body.is_object()) {
        err = FieldError{"request body must be a JSON object with an \"entries\" array", "entries"};
        return nullptr;
    }
    auto it = body.find("entries");
    if (it == body.end() || !it->is_array()) {
        err = FieldError{"\"entries\" must be an array", "entries"};
        return nullptr;
    }
    if (it->empty()) {
        err = FieldError{"\"entries\" is empty", "entries"};
        return nullptr;
    }
    for (auto k = body.begin(); k != body.end(); ++k) {
        if (k.key() != "entries") {
            err = FieldError{"unknown field \"" + k.key() + "\"", k.key()};
            return nullptr;
        }
    }
    return &*it;
}

std::optional<FieldError> read_ttl(const nlohmann::json& e, size_t i, std::optional<std::chrono::seconds>& ttl) {
    auto it = e.find("ttl");
    if (it == e.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer() && !it->is_number_unsigned())
        return FieldError{"ttl must be a whole number of seconds", field_of(i, "ttl")};
    auto v = it->get<std::int64_t>();
    if (v <= 0 || static_cast<std::uint64_t>(v) > kMaxTtlSeconds)
        return FieldError{"ttl must be between 1 and " + std::to_string(kMaxTtlSeconds) + " seconds",
                          field_of(i, "ttl")};
    ttl = std::chrono::seconds(v);
    return std::nullopt;
}

std::optional<FieldError> check_keys(const nlohmann::json& e, size_t i, std::initializer_list<const char*> allowed) {
    for (auto k = e.begin(); k != e.end(); ++k) {
        bool ok = std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return k.key() == a; });
        if (!ok) return FieldError{"unknown field \"" + k.key() + "\"", "entries[" + std::to_string(i) + "]." + k.key()};
    }
    return std::nullopt;
}

std::optional<FieldError> read_string(const nlohmann::json& e, size_t i, const char* key, bool required,
                                      std::string& out) {
    auto it = e.find(key);
    if (it == e.end() || it->is_null()) {
        if (required) return FieldError{std::string("\"") + key + "\" is required", field_of(i, key)};
        return std::nullopt;
    }
    if (!it->is_string()) return FieldError{std::string("\"") + key + "\" must be a string", field_of(i, key)};
    out = it->get<std::string>();
    return std::nullopt;
}

}  // namespace

Parsed<IpEntrySpec> parse_ip_entries(const nlohmann::json& body, std::optional<std::chrono::seconds> default_ttl,
                                     bool for_removal) {
    Parsed<IpEntrySpec> out;
    const nlohmann::json* arr = entries_array(body, out.error);
    if (!arr) return out;
    for (size_t i = 0; i < arr->size(); ++i) {
        const auto& e = (*arr)[i];
        if (!e.is_object()) {
            out.error = FieldError{"entry must be an object", "entries[" + std::to_string(i) + "]"};
            return out;
        }
        if ((out.error = check_keys(e, i, {"value", "ttl", "direction", "list"}))) return out;
        std::string value, dir = "src", list = "block";
        if ((out.error = read_string(e, i, "value", true, value))) return out;
        if ((out.error = read_string(e, i, "direction", false, dir))) return out;
        if ((out.error = read_string(e, i, "list", false, list))) return out;
        auto prefix = parse_ip_prefix(value);
        if (!prefix.ok()) {
            out.error = FieldError{prefix.error().message(), field_of(i, "value")};
            return out;
        }
        auto d = parse_match_dir(dir);
        if (!d.ok()) {
            out.error = FieldError{"direction must be \"src\", \"dst\" or \"both\"", field_of(i, "direction")};
            return out;
        }
        auto l = parse_list_kind(list);
        if (!l.ok()) {
            out.error = FieldError{"list must be \"block\" or \"allow\"", field_of(i, "list")};
            return out;
        }
        IpEntrySpec spec;
        spec.prefix = *prefix;
        spec.dir = *d;
        spec.list = *l;
        if (!for_removal) {
            std::optional<std::chrono::seconds> ttl = default_ttl;
            if ((out.error = read_ttl(e, i, ttl))) return out;
            if (ttl) spec.ttl = std::chrono::duration_cast<std::chrono::nanoseconds>(*ttl);
        }
        out.entries.push_back(spec);
    }
    return out;
}

Parsed<IpEntrySpec> parse_ip_import(std::string_view text, const ImportOptions& opts) {
    Parsed<IpEntrySpec> out;
    out.error = for_each_line(text, [&](std::string_view line, size_t lineno) -> std::optional<FieldError> {
        auto tokens = split_ws(line);
        if (tokens.size() != 1)
            return FieldError{"expected one address or CIDR per line, got \"" + std::string(line) + "\"",
                              "line " + std::to_string(lineno)};
        auto prefix = parse_ip_prefix(tokens[0]);
        if (!prefix.ok()) return FieldError{prefix.error().message(), "line " + std::to_string(lineno)};
        IpEntrySpec spec;
        spec.prefix = *prefix;
        spec.list = opts.list;
        spec.dir = opts.dir;
        if (opts.ttl) spec.ttl = std::chrono::duration_cast<std::chrono::nanoseconds>(*opts.ttl);
        out.entries.push_back(spec);
        return std::nullopt;
    });
    if (!out.error && out.entries.empty()) out.error = FieldError{"no entries in the imported text", "body"};
    if (out.error) out.entries.clear();
    return out;
}

std::optional<std::string> clean_domain(std::string_view text, std::string* error) {
    auto r = parse_domain_name(trim(text));
    if (!r.ok()) {
        if (error) *error = r.error().context;
        return std::nullopt;
    }
    return *r;
}

Parsed<DomainEntrySpec> parse_domain_entries(const nlohmann::json& body,
                                             std::optional<std::chrono::seconds> default_ttl, bool for_removal) {
    Parsed<DomainEntrySpec> out;
    const nlohmann::json* arr = entries_array(body, out.error);
    if (!arr) return out;
    for (size_t i = 0; i < arr->size(); ++i) {
        const auto& e = (*arr)[i];
        if (!e.is_object()) {
            out.error = FieldError{"entry must be an object", "entries[" + std::to_string(i) + "]"};
            return out;
        }
        if ((out.error = check_keys(e, i, {"value", "ttl", "action"}))) return out;
        std::string value, action;
        if ((out.error = read_string(e, i, "value", true, value))) return out;
        if ((out.error = read_string(e, i, "action", false, action))) return out;
        std::string why;
        auto name = clean_domain(value, &why);
        if (!name) {
            out.error = FieldError{why, field_of(i, "value")};
            return out;
        }
        DomainEntrySpec spec;
        spec.name = *name;
        if (!action.empty()) {
            auto a = parse_domain_action(action);
            if (!a.ok()) {
                out.error = FieldError{"action must be \"drop\", \"nxdomain\" or \"default\"", field_of(i, "action")};
                return out;
            }
            spec.action = *a;
        }
        if (!for_removal) {
            std::optional<std::chrono::seconds> ttl = default_ttl;
            if ((out.error = read_ttl(e, i, ttl))) return out;
            spec.ttl = ttl;
        }
        out.entries.push_back(std::move(spec));
    }
    return out;
}

Parsed<DomainEntrySpec> parse_domain_import(std::string_view text, const ImportOptions& opts) {
    static const std::vector<std::string_view> kHostsLocalNames{
        "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost", "ip6-loopback",
        "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0"};
    Parsed<DomainEntrySpec> out;
    out.error = for_each_line(text, [&](std::string_view line, size_t lineno) -> std::optional<FieldError> {
        auto tokens = split_ws(line);
        std::vector<std::string_view> names;
        if (tokens.size() == 1) {
            names.push_back(tokens[0]);
        } else if (parse_ip_prefix(tokens[0]).ok() && tokens[0].find('/') == std::string_view::npos) {
            // hosts file: "ADDRESS name [name...]"
            for (size_t i = 1; i < tokens.size(); ++i) {
                if (std::find(kHostsLocalNames.begin(), kHostsLocalNames.end(), tokens[i]) == kHostsLocalNames.end())
                    names.push_back(tokens[i]);
            }
        } else {
            return FieldError{"expected a domain or a hosts-file line \"ADDRESS NAME\", got \"" + std::string(line) +
                                  "\"",
                              "line " + std::to_string(lineno)};
        }
        for (auto n : names) {
            std::string why;
            auto name = clean_domain(n, &why);
            if (!name) return FieldError{why, "line " + std::to_string(lineno)};
            DomainEntrySpec spec;
            spec.name = *name;
            spec.ttl = opts.ttl;
            spec.action = opts.action;
            out.entries.push_back(std::move(spec));
        }
        return std::nullopt;
    });
    if (!out.error && out.entries.empty()) out.error = FieldError{"no entries in the imported text", "body"};
    if (out.error) out.entries.clear();
    return out;
}

}  // namespace flywall::api
