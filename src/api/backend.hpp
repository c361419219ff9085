// What the HTTP API needs from the daemon. The API server talks only to this interface, so its
// routing, authentication and validation are tested with a fake backend and no kernel; the
// daemon's implementation is ManagerBackend (manager_backend.hpp).
//
// Read views are returned as JSON in the exact shapes documented in docs/API.md; mutations take
// validated, typed requests. A bulk mutation is all-or-nothing: the backend either applies every
// entry or none (and says why).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "config/tc_rules.hpp"
#include "core/bpf_stats.hpp"
#include "core/event_processor.hpp"
#include "runtime/domains.hpp"
#include "runtime/iplists.hpp"

namespace flywall::api {

// Longest kernel BPF statistics window POST /api/ebpf/profile accepts.
inline constexpr std::int64_t kMaxProfileSeconds = KernelStatsWindow::kMaxLength.count();

// A blocked domain blocks itself and every subdomain ("*.example.com" is read as "example.com").
struct DomainEntrySpec {
    std::string name;  // normalized (runtime/domains.hpp): lower-case, no trailing dot
    std::optional<std::chrono::seconds> ttl;
    DomainAction action = DomainAction::Global;  // Global = the configured dns_action
};

struct BulkResult {
    std::size_t requested = 0;
    std::size_t applied = 0;  // added/updated, or removed
};

// ?limit=&after= of a list route. Answers carry "entries", "count" (this page), "total" and
// "next" (the cursor of the following page, null on the last one).
struct ListPage {
    static constexpr std::size_t kDefaultLimit = 1000;
    static constexpr std::size_t kMaxLimit = 100000;
    std::size_t limit = kDefaultLimit;
    std::string after;  // empty = from the start
};

class Backend {
public:
    virtual ~Backend() = default;

    virtual Result<nlohmann::json> stats() = 0;
    virtual Result<nlohmann::json> features() = 0;
    // Returns {"feature": name, "enabled": bool, "changed": [names]}.
    virtual Result<nlohmann::json> set_feature(const std::string& name, bool enable, bool force) = 0;
    virtual Result<nlohmann::json> maps() = 0;
    virtual Result<nlohmann::json> hooks() = 0;

    // One page of a list, in a stable order (IPs: family, address, prefix length, list,
    // direction; domains: name). `after` is the "next" cursor of the previous page.
    virtual Result<nlohmann::json> list_ips(const ListPage& page) = 0;
    virtual Result<BulkResult> add_ips(const std::vector<IpEntrySpec>& entries) = 0;
    virtual Result<BulkResult> remove_ips(const std::vector<IpEntrySpec>& entries) = 0;

    virtual Result<nlohmann::json> list_domains(const ListPage& page) = 0;
    virtual Result<BulkResult> add_domains(const std::vector<DomainEntrySpec>& entries) = 0;
    virtual Result<BulkResult> remove_domains(const std::vector<DomainEntrySpec>& entries) = 0;

    virtual Result<nlohmann::json> flows(std::size_t limit) = 0;
    // Always answers; "healthy" is false when anything the daemon should be doing is not done.
    virtual nlohmann::json health() = 0;
    // Default TTL for entries added without one (config blocklist.default_ttl).
    virtual std::optional<std::chrono::seconds> default_ttl() = 0;

    // Socket monitors (docs/API.md "Devices, TLS, DNS"). A backend without them answers ENOTSUP.
    virtual Result<nlohmann::json> devices() { return unsupported("socket monitors"); }
    virtual Result<nlohmann::json> tls_hellos() { return unsupported("socket monitors"); }
    virtual Result<nlohmann::json> dns() { return unsupported("socket monitors"); }

    // QoS rules and IPS patterns of the TC classifier, by name. add_* replaces a rule or
    // pattern of the same name; remove_* answers ENOENT for an unknown name.
    virtual Result<nlohmann::json> qos_rules() { return unsupported("QoS rules"); }
    virtual Result<nlohmann::json> add_qos_rule(const config::QosRuleConfig&) { return unsupported("QoS rules"); }
    virtual Status remove_qos_rule(const std::string&) { return unsupported("QoS rules").error(); }
    virtual Result<nlohmann::json> ips_patterns() { return unsupported("IPS patterns"); }
    virtual Result<nlohmann::json> add_ips_pattern(const config::IpsPatternConfig&) { return unsupported("IPS patterns"); }
    virtual Status remove_ips_pattern(const std::string&) { return unsupported("IPS patterns").error(); }

    // Kernel BPF statistics on for `length` (1..300 s, validated by the route), then off again
    // (docs/API.md "Profiling"). Answers the window.
    virtual Result<nlohmann::json> profile(std::chrono::seconds /*length*/) {
        return unsupported("kernel BPF profiling");
    }

    // Learning engine (docs/API.md "Learning engine"). A backend without it answers ENOTSUP.
    virtual Result<nlohmann::json> learning() { return no_learning(); }
    virtual Result<nlohmann::json> learning_decide(std::uint64_t /*id*/, bool /*apply*/) { return no_learning(); }
    virtual Result<nlohmann::json> learning_auto_apply(bool /*on*/) { return no_learning(); }
    static Result<nlohmann::json> no_learning() {
        return Error::from_errno(ENOTSUP, "the learning engine is not available from this backend");
    }

    // A live event stream for one SSE client; nullptr when events are unavailable.
    virtual std::shared_ptr<Subscription> subscribe_events(const std::string& client) = 0;
    virtual void unsubscribe_events(const std::shared_ptr<Subscription>& sub) = 0;

protected:
    static Result<nlohmann::json> unsupported(const std::string& what) {
        return Error::from_errno(ENOTSUP, what + " are not available from this backend");
    }
};

}  // namespace flywall::api
