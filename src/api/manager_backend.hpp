// The daemon's Backend: the HTTP API's view of a running Manager. Builds the JSON shapes
// documented in docs/API.md from the manager's typed views.
#pragma once

#include "api/backend.hpp"
#include "core/manager.hpp"

namespace flywall::api {

class ManagerBackend final : public Backend {
public:
    explicit ManagerBackend(Manager& m) : m_(m) {}

    Result<nlohmann::json> stats() override;
    Result<nlohmann::json> features() override;
    Result<nlohmann::json> set_feature(const std::string& name, bool enable, bool force) override;
    Result<nlohmann::json> maps() override;
    Result<nlohmann::json> hooks() override;
    Result<nlohmann::json> list_ips(const ListPage& page) override;
    Result<BulkResult> add_ips(const std::vector<IpEntrySpec>& entries) override;
    Result<BulkResult> remove_ips(const std::vector<IpEntrySpec>& entries) override;
    Result<nlohmann::json> list_domains(const ListPage& page) override;
    Result<BulkResult> add_domains(const std::vector<DomainEntrySpec>& entries) override;
    Result<BulkResult> remove_domains(const std::vector<DomainEntrySpec>& entries) override;
    Result<nlohmann::json> flows(std::size_t limit) override;
    nlohmann::json health() override;
    Result<nlohmann::json> profile(std::chrono::seconds length) override;
    std::optional<std::chrono::seconds> default_ttl() override;
    // learning_routes.cpp
    Result<nlohmann::json> learning() override;
    Result<nlohmann::json> learning_decide(std::uint64_t id, bool apply) override;
    Result<nlohmann::json> learning_auto_apply(bool on) override;
    std::shared_ptr<Subscription> subscribe_events(const std::string& client) override;
    void unsubscribe_events(const std::shared_ptr<Subscription>& sub) override;
    Result<nlohmann::json> devices() override;
    Result<nlohmann::json> tls_hellos() override;
    Result<nlohmann::json> dns() override;
    Result<nlohmann::json> qos_rules() override;
    Result<nlohmann::json> add_qos_rule(const config::QosRuleConfig& rule) override;
    Status remove_qos_rule(const std::string& name) override;
    Result<nlohmann::json> ips_patterns() override;
    Result<nlohmann::json> add_ips_pattern(const config::IpsPatternConfig& pattern) override;
    Status remove_ips_pattern(const std::string& name) override;

private:
    Manager& m_;
};

// The JSON of the datapath counters (the "stats" shape's counter part); exposed for tests.
nlohmann::json stats_json(const fw_stats& s);

}  // namespace flywall::api
