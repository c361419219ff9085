// A Backend without a kernel for the API tests, and an event source fed by the test.
#pragma once

#include <httplib.h>

#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "api/backend.hpp"
#include "core/event_processor.hpp"

namespace flywall::api {

using nlohmann::json;
using namespace std::chrono_literals;

class FakeBackend final : public Backend {
public:
    std::vector<std::vector<IpEntrySpec>> ip_adds, ip_removes;
    std::vector<std::vector<DomainEntrySpec>> domain_adds, domain_removes;
    std::vector<std::tuple<std::string, bool, bool>> feature_calls;
    std::optional<Error> fail_next_add;
    bool healthy = true;
    std::size_t last_flow_limit = 0;
    std::unique_ptr<EventProcessor> events;

    Result<json> stats() override {
        return json{{"processed", 10}, {"passed", 7}, {"dropped", 3}, {"tx", 0}, {"bytes", 1500},
                    {"drops_by_reason", {{"ip_blocklist", 3}}},
                    {"flows", {{"active", 2}, {"max", 262144}}},
                    {"events", {{"emitted", 4}, {"suppressed_rate", 1}, {"subscribers", json::array()}}},
                    {"programs", json::array({{{"name", "xdp_blocklist"}, {"id", 42}, {"run_cnt", 10}, {"run_time_ns", 900}}})}};
    }
    Result<json> features() override {
        return json{{"features", json::array({{{"name", "statistics"}, {"enabled", true}},
                                               {{"name", "qos"}, {"enabled", false}}})}};
    }
    Result<json> set_feature(const std::string& name, bool enable, bool force) override {
        feature_calls.emplace_back(name, enable, force);
        if (name == "nope") return Error::from_errno(ENOENT, "unknown feature \"nope\"");
        if (name == "flow_monitoring" && !enable && !force)
            return Error::from_errno(EBUSY, "feature \"flow_monitoring\" is needed by \"qos\"");
        if (name == "qos" && enable) return Error::invalid("feature \"qos\" requires \"flow_monitoring\" (disabled)");
        return json{{"feature", name}, {"enabled", enable}, {"changed", json::array({name})}};
    }
    Result<json> maps() override { return json{{"maps", json::array()}}; }
    Result<json> hooks() override {
        return json{{"hooks", json::array({{{"program", "xdp_blocklist"}, {"interface", "veth0"},
                                             {"attach_point", "xdp"}, {"mode", "generic"}}})}};
    }
    std::optional<ListPage> last_page;
    Result<json> list_ips(const ListPage& page) override {
        last_page = page;
        return json{{"entries", json::array()}, {"count", 0}, {"total", 0}, {"next", nullptr}};
    }
    Result<BulkResult> add_ips(const std::vector<IpEntrySpec>& e) override {
        if (fail_next_add) {
            Error err = *fail_next_add;
            fail_next_add.reset();
            return err;
        }
        ip_adds.push_back(e);
        return BulkResult{e.size(), e.size()};
    }
    Result<BulkResult> remove_ips(const std::vector<IpEntrySpec>& e) override {
        ip_removes.push_back(e);
        return BulkResult{e.size(), e.size() - 1};
    }
    Result<json> list_domains(const ListPage& page) override {
        last_page = page;
        return json{{"entries", json::array()}, {"count", 0}, {"total", 0}, {"next", nullptr}};
    }
    Result<BulkResult> add_domains(const std::vector<DomainEntrySpec>& e) override {
        domain_adds.push_back(e);
        return BulkResult{e.size(), e.size()};
    }
    Result<BulkResult> remove_domains(const std::vector<DomainEntrySpec>& e) override {
        domain_removes.push_back(e);
        return BulkResult{e.size(), e.size()};
    }
    Result<json> flows(std::size_t limit) override {
        last_flow_limit = limit;
        return json{{"flows", json::array()}, {"count", 0}, {"active", 0}};
    }
    json health() override { return json{{"healthy", healthy}, {"programs_loaded", 1}, {"hooks_attached", 1}}; }
    std::optional<std::chrono::seconds> default_ttl() override { return std::nullopt; }
    Result<json> profile(std::chrono::seconds length) override {
        profiles.push_back(length);
        return json{{"kernel_bpf_stats", {{"on", true}, {"until_ns", 1000}, {"seconds", length.count()}}}};
    }
    std::vector<std::chrono::seconds> profiles;  // lengths the profile route passed on
    std::shared_ptr<Subscription> subscribe_events(const std::string& client) override {
        return events ? events->subscribe(client, 64) : nullptr;
    }
    void unsubscribe_events(const std::shared_ptr<Subscription>& s) override {
        if (events) events->unsubscribe(s);
    }
};

// Injected event records for the SSE test.
class QueueSource final : public EventSource {
public:
    void feed(std::vector<std::uint8_t> r) {
        std::lock_guard lk(mu_);
        q_.push_back(std::move(r));
    }
    Result<std::size_t> poll(std::chrono::milliseconds, const Sink& sink) override {
        std::vector<std::vector<std::uint8_t>> batch;
        {
            std::lock_guard lk(mu_);
            batch.swap(q_);
        }
        for (auto& r : batch) sink(RecordKind::Xdp, r);
        if (batch.empty()) std::this_thread::sleep_for(5ms);
        return batch.size();
    }

private:
    std::mutex mu_;
    std::vector<std::vector<std::uint8_t>> q_;
};

}  // namespace flywall::api
