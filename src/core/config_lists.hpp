// The IP list entries a configuration asks for (blocklist.ips, blocklist.ip_files,
// blocklist.allow_ips), and the diff between two such sets, so a reload touches only what
// changed: entries in both keep their hit counters, entries added at run time through the API
// are never removed by a reload.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "config/config.hpp"
#include "runtime/iplists.hpp"

namespace flywall {

// source_id of entries that come from the configuration (API entries use 0).
inline constexpr std::uint32_t kConfigSourceId = 1;

struct ConfigIpEntry {
    IpListKind list;
    IpPrefix prefix;
    friend bool operator<(const ConfigIpEntry& a, const ConfigIpEntry& b) {
        return std::tie(a.list, a.prefix.family, a.prefix.prefix_len, a.prefix.addr) <
               std::tie(b.list, b.prefix.family, b.prefix.prefix_len, b.prefix.addr);
    }
    friend bool operator==(const ConfigIpEntry&, const ConfigIpEntry&) = default;
};

// Reads the inline lists and the files (one address/CIDR per line, '#' comments). Errors name
// the file and line.
Result<std::set<ConfigIpEntry>> config_ip_entries(const config::BlocklistConfig& cfg);

// blocklist.domains and blocklist.domain_files (one domain per line, or hosts-file lines
// "0.0.0.0 name [name...]"), normalized (runtime/domains.hpp); a leading "*." is dropped since
// a blocked domain covers its subdomains.
Result<std::set<std::string>> config_domains(const config::BlocklistConfig& cfg);

template <class T>
struct SetDiff {
    std::vector<T> to_add;
    std::vector<T> to_remove;
};
template <class T>
SetDiff<T> diff_sets(const std::set<T>& before, const std::set<T>& after) {
    SetDiff<T> d;
    for (const auto& e : after)
        if (!before.count(e)) d.to_add.push_back(e);
    for (const auto& e : before)
        if (!after.count(e)) d.to_remove.push_back(e);
    return d;
}

struct ListDiff {
    std::vector<ConfigIpEntry> to_add;
    std::vector<ConfigIpEntry> to_remove;
};
ListDiff diff_entries(const std::set<ConfigIpEntry>& before, const std::set<ConfigIpEntry>& after);

}  // namespace flywall
