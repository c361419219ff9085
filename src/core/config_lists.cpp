#include "core/config_lists.hpp"

#include <fstream>
#include <sstream>

#include "runtime/domains.hpp"

namespace flywall {

namespace {

Status add_text(std::set<ConfigIpEntry>& out, const std::string& text, IpListKind list, const std::string& where) {
    auto p = parse_ip_prefix(text);
    if (!p.ok()) return std::move(p).error().wrap(where);
    out.insert({list, *p});
    return {};
}

}  // namespace

Result<std::set<ConfigIpEntry>> config_ip_entries(const config::BlocklistConfig& cfg) {
    std::set<ConfigIpEntry> out;
    for (const auto& s : cfg.ips) FW_TRY(add_text(out, s, IpListKind::Block, "blocklist.ips"));
    for (const auto& s : cfg.allow_ips) FW_TRY(add_text(out, s, IpListKind::Allow, "blocklist.allow_ips"));
    for (const auto& file : cfg.ip_files) {
        std::ifstream in(file);
        if (!in) return Error::from_errno(errno ? errno : ENOENT, "read blocklist file " + file);
        std::string line;
        int lineno = 0;
        while (std::getline(in, line)) {
            ++lineno;
            auto hash = line.find_first_of("#;");
            if (hash != std::string::npos) line.resize(hash);
            size_t b = line.find_first_not_of(" \t\r");
            if (b == std::string::npos) continue;
            size_t e = line.find_last_not_of(" \t\r");
            FW_TRY(add_text(out, line.substr(b, e - b + 1), IpListKind::Block, file + ":" + std::to_string(lineno)));
        }
    }
    return out;
}

namespace {

bool hosts_local_name(const std::string& n) {
    static const std::set<std::string> names{"localhost", "localhost.localdomain", "local", "broadcasthost",
                                             "ip6-localhost", "ip6-loopback", "ip6-localnet", "ip6-mcastprefix",
                                             "ip6-allnodes", "ip6-allrouters", "ip6-allhosts", "0.0.0.0"};
    return names.count(n) > 0;
}

Status add_domain(std::set<std::string>& out, std::string text, const std::string& where) {
    if (text.rfind("*.", 0) == 0) text.erase(0, 2);
    auto n = normalize_domain(text);
    if (!n.ok()) return std::move(n).error().wrap(where);
    out.insert(*n);
    return {};
}

}  // namespace

Result<std::set<std::string>> config_domains(const config::BlocklistConfig& cfg) {
    std::set<std::string> out;
    for (const auto& d : cfg.domains) FW_TRY(add_domain(out, d, "blocklist.domains"));
    for (const auto& file : cfg.domain_files) {
        std::ifstream in(file);
        if (!in) return Error::from_errno(errno ? errno : ENOENT, "read domain file " + file);
        std::string line;
        int lineno = 0;
        while (std::getline(in, line)) {
            ++lineno;
            auto hash = line.find('#');
            if (hash != std::string::npos) line.resize(hash);
            std::istringstream words(line);
            std::vector<std::string> tokens;
            for (std::string w; words >> w;) tokens.push_back(w);
            if (tokens.empty()) continue;
            const std::string where = file + ":" + std::to_string(lineno);
            if (tokens.size() == 1) {
                FW_TRY(add_domain(out, tokens[0], where));
                continue;
            }
            if (!parse_ip_prefix(tokens[0]).ok())
                return Error::invalid(where + ": expected a domain or \"ADDRESS NAME\" (hosts file)");
            for (size_t i = 1; i < tokens.size(); ++i)
                if (!hosts_local_name(tokens[i])) FW_TRY(add_domain(out, tokens[i], where));
        }
    }
    return out;
}

ListDiff diff_entries(const std::set<ConfigIpEntry>& before, const std::set<ConfigIpEntry>& after) {
    ListDiff d;
    for (const auto& e : after)
        if (!before.count(e)) d.to_add.push_back(e);
    for (const auto& e : before)
        if (!after.count(e)) d.to_remove.push_back(e);
    return d;
}

}  // namespace flywall
