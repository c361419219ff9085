// The manager's part of the learning engine (src/core/learning_engine.hpp): the blocklist it
// writes (the IP block list, source direction, source id kLearningSourceId), the runner fed by
// the event processor, and the control-plane operations.
//
// Lock order: the engine's mutex may be held while the blocklist adapter takes the manager's
// mu_; nothing takes the engine's mutex while holding mu_ (the feature hook only flips the
// engine's atomic enabled flag, tick() and stop() call the engine without mu_).
#include <spdlog/spdlog.h>

#include "core/manager.hpp"

namespace flywall {

namespace {

class ManagerLearningBlocklist final : public LearningBlocklist {
public:
    ManagerLearningBlocklist(std::mutex& mu, std::optional<IpLists>& lists, std::unique_ptr<DurableEntries>& durable)
        : mu_(mu), lists_(lists), durable_(durable) {}

    Status add(const IpPrefix& prefix, std::chrono::seconds ttl) override {
        std::lock_guard lk(mu_);
        if (!lists_) return Error::from_errno(ENODEV, "IP lists not loaded");
        IpEntrySpec s;
        s.prefix = prefix;
        s.list = IpListKind::Block;
        s.dir = MatchDir::Src;
        s.ttl = std::chrono::duration_cast<std::chrono::nanoseconds>(ttl);
        s.source_id = kLearningSourceId;
        // Recorded first: a rule the engine applied survives a restart with its remaining TTL.
        if (durable_) FW_TRY(durable_->put_ips(std::span<const IpEntrySpec>(&s, 1)));
        FW_TRY(lists_->add_bulk(std::span<const IpEntrySpec>(&s, 1)));
        return {};
    }
    Result<bool> remove(const IpPrefix& prefix) override {
        std::lock_guard lk(mu_);
        if (!lists_) return Error::from_errno(ENODEV, "IP lists not loaded");
        // Only our own entry: an operator's entry for the same address stays.
        FW_TRY_ASSIGN(auto cur, lists_->get(prefix, IpListKind::Block));
        if (!cur || cur->source_id != kLearningSourceId) return false;
        FW_TRY_ASSIGN(bool removed, lists_->remove(prefix, IpListKind::Block));
        if (durable_) FW_TRY(durable_->drop_ips(std::span<const IpPrefix>(&prefix, 1), IpListKind::Block, kLearningSourceId));
        return removed;
    }
    Result<std::optional<Entry>> get(const IpPrefix& prefix) override {
        std::lock_guard lk(mu_);
        if (!lists_) return Error::from_errno(ENODEV, "IP lists not loaded");
        FW_TRY_ASSIGN(auto cur, lists_->get(prefix, IpListKind::Block));
        // Gone, or replaced by an operator's entry: the learned rule no longer exists.
        if (!cur || cur->source_id != kLearningSourceId) return std::optional<Entry>{};
        return std::optional<Entry>{Entry{cur->hits}};
    }

private:
    std::mutex& mu_;
    std::optional<IpLists>& lists_;
    std::unique_ptr<DurableEntries>& durable_;
};

}  // namespace

void Manager::init_learning() {
    learning_blocklist_ = std::make_unique<ManagerLearningBlocklist>(mu_, lists_, durable_);
    learning_ = std::make_unique<LearningEngine>(clock_, *learning_blocklist_);
}

Status Manager::configure_learning(const config::Config& cfg) {
    if (!learning_) return Error::from_errno(ENODEV, "learning engine not initialised");
    const auto& l = cfg.learning;
    LearningConfig c = learning_->config();
    c.auto_apply = l.auto_apply;
    c.rule_ttl = std::chrono::seconds(l.rule_ttl_sec);
    c.rate_limit_trips = static_cast<std::uint32_t>(l.rate_limit_trips);
    c.rate_limit_window = std::chrono::seconds(l.rate_limit_window_sec);
    c.scan_ports = static_cast<std::uint32_t>(l.scan_ports);
    c.scan_window = std::chrono::seconds(l.scan_window_sec);
    c.ips_alerts = static_cast<std::uint32_t>(l.ips_alerts);
    c.ips_window = std::chrono::seconds(l.ips_window_sec);
    c.reject_cooldown = std::chrono::seconds(l.reject_cooldown_sec);
    c.idle_expiry = std::chrono::seconds(l.idle_expiry_sec);
    return learning_->configure(c);
}

Status Manager::set_learning_enabled(bool enabled) {
    if (!learning_) return Error::from_errno(ENODEV, "learning engine not initialised");
    learning_->set_enabled(enabled);
    return {};
}

void Manager::start_learning_runner() {
    if (learning_ && events_ && !learning_runner_) learning_runner_ = LearningRunner::start(*events_, *learning_);
}

void Manager::stop_learning() {
    if (learning_runner_) learning_runner_->stop();
}

void Manager::tick_learning() {
    if (!learning_) return;
    if (auto st = learning_->tick(); !st.ok()) record_error(st.error());
}

Result<nlohmann::json> Manager::learning_view() const {
    if (!learning_) return Error::from_errno(ENODEV, "learning engine not initialised");
    return learning_->to_json();
}

Result<nlohmann::json> Manager::learning_decide(std::uint64_t id, bool apply) {
    if (!learning_) return Error::from_errno(ENODEV, "learning engine not initialised");
    auto r = apply ? learning_->apply(id) : learning_->reject(id);
    if (!r.ok()) return std::move(r).error();
    spdlog::info("flywall: learning proposal {} ({}) {}", id, r->source, apply ? "applied" : "rejected");
    return nlohmann::json{{"id", r->id}, {"source", r->source}, {"state", to_string(r->state)}, {"reason", r->reason}};
}

Result<nlohmann::json> Manager::learning_set_auto_apply(bool on) {
    if (!learning_) return Error::from_errno(ENODEV, "learning engine not initialised");
    LearningConfig c = learning_->config();
    c.auto_apply = on;
    FW_TRY(learning_->configure(c));
    return nlohmann::json{{"auto_apply", on}};
}

}  // namespace flywall
