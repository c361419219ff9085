// The durable record of the list entries the configuration file does not hold: entries added
// through the API and rules the learning engine applied, with their expiry. SQLite in WAL mode
// (synchronous = FULL) at <state_dir>/state.db, written before the API answers, read at start:
// a restart, a crash, an upgrade and a reboot all bring them back with their remaining TTL.
// Expiry is stored as CLOCK_REALTIME (it must survive a reboot); the kernel's is CLOCK_MONOTONIC.
// Thread-safe (one mutex); owned by the Manager.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "runtime/domains.hpp"
#include "runtime/iplists.hpp"

struct sqlite3;

namespace flywall {

class DurableEntries {
public:
    // Opens (creating) <dir>/state.db; `dir` is created with mode 0700 when missing.
    static Result<std::unique_ptr<DurableEntries>> open(const std::string& dir);
    ~DurableEntries();
    DurableEntries(const DurableEntries&) = delete;
    DurableEntries& operator=(const DurableEntries&) = delete;

    // Records the entries (one transaction); an entry of the same prefix and list is replaced.
    Status put_ips(std::span<const IpEntrySpec> specs);
    // Forgets entries of `list`; with `only_source`, only rows written with that source id.
    Status drop_ips(std::span<const IpPrefix> prefixes, IpListKind list,
                    std::optional<std::uint32_t> only_source = std::nullopt);
    Status put_domains(std::span<const std::pair<std::string, DomainAction>> names,
                       std::span<const std::optional<std::chrono::seconds>> ttls);
    Status drop_domains(std::span<const std::string> names);
    // API-owned TC policy entries ("qos" rules, "ips" patterns), kept as the HCL text of a
    // configuration that holds only them, read back with the config parser.
    Status put_policy(const std::string& kind, const std::string& name, const std::string& hcl);
    Status drop_policy(const std::string& kind, const std::string& name);

    struct Restored {
        std::vector<IpEntrySpec> ips;       // ttl = the time left
        std::vector<DomainRule> domains;    // expires_ns on CLOCK_MONOTONIC
        std::size_t expired = 0;            // rows whose expiry had passed (deleted)
        struct Policy {
            std::string kind, name, hcl;
        };
        std::vector<Policy> policies;       // in the order they were first stored
    };
    // Every live row; rows whose expiry has passed are deleted.
    Result<Restored> load();

    const std::string& path() const { return path_; }

private:
    DurableEntries() = default;
    Status exec(const char* sql);
    std::mutex mu_;
    sqlite3* db_ = nullptr;
    std::string path_;
};

}  // namespace flywall
