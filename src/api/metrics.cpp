#include "api/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <sstream>

#include "common/text.hpp"

namespace flywall::api {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

double num(const nlohmann::json& j) { return j.is_number() ? j.get<double>() : 0.0; }

struct Families {
    std::vector<MetricFamily> out;

    MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
        for (auto& f : out)
            if (f.name == name) return f;
        out.push_back(MetricFamily{name, help, type, {}});
        return out.back();
    }
    void add(const std::string& name, const std::string& help, MetricType type, double value,
             std::vector<ClientMetric::Label> labels = {}) {
        auto& f = family(name, help, type);
        ClientMetric m;
        for (auto& l : labels) l.value = text::safe(l.value);  // the text policy, for label values too
        m.label = std::move(labels);
        if (type == MetricType::Counter) m.counter.value = value;
        else m.gauge.value = value;
        f.metric.push_back(std::move(m));
    }
    void counter(const std::string& name, const std::string& help, const nlohmann::json& v,
                 std::vector<ClientMetric::Label> labels = {}) {
        if (v.is_number()) add(name, help, MetricType::Counter, num(v), std::move(labels));
    }
    void gauge(const std::string& name, const std::string& help, const nlohmann::json& v,
               std::vector<ClientMetric::Label> labels = {}) {
        if (v.is_number()) add(name, help, MetricType::Gauge, num(v), std::move(labels));
        else if (v.is_boolean()) add(name, help, MetricType::Gauge, v.get<bool>() ? 1 : 0, std::move(labels));
    }
};

const nlohmann::json& at(const nlohmann::json& j, const char* key) {
    static const nlohmann::json null;
    if (!j.is_object()) return null;
    auto it = j.find(key);
    return it == j.end() ? null : *it;
}

}  // namespace

std::string render_metrics(const nlohmann::json& stats, const nlohmann::json& features, const nlohmann::json& health) {
    Families f;
    if (stats.is_object()) {
        f.counter("flywall_packets_processed_total", "Packets seen by the XDP fast path", at(stats, "processed"));
        f.counter("flywall_packets_passed_total", "Packets passed by the XDP fast path", at(stats, "passed"));
        f.counter("flywall_packets_dropped_total", "Packets dropped by the XDP fast path", at(stats, "dropped"));
        f.counter("flywall_packets_tx_total", "Packets answered from XDP (DNS NXDOMAIN)", at(stats, "tx"));
        f.counter("flywall_bytes_total", "Bytes seen by the XDP fast path", at(stats, "bytes"));
        for (auto& [reason, v] : at(stats, "drops_by_reason").items())
            f.counter("flywall_drops_total", "Dropped packets by reason", v, {{"reason", reason}});
        for (auto& [reason, v] : at(stats, "malformed").items())
            f.counter("flywall_malformed_total", "Malformed packets by reason", v, {{"reason", reason}});
        const auto& flows = at(stats, "flows");
        f.gauge("flywall_flows_active", "Entries in the flow table", at(flows, "active"));
        f.gauge("flywall_flows_max", "Capacity of the flow table", at(flows, "max"));
        const auto& ev = at(stats, "events");
        f.counter("flywall_events_emitted_total", "Events written to the ring buffer by the kernel", at(ev, "emitted"));
        f.counter("flywall_events_suppressed_total", "Events the kernel did not emit", at(ev, "suppressed_rate"),
                  {{"cause", "rate"}});
        f.counter("flywall_events_suppressed_total", "Events the kernel did not emit", at(ev, "suppressed_ring_full"),
                  {{"cause", "ring_full"}});
        f.counter("flywall_events_suppressed_total", "Events the kernel did not emit", at(ev, "sampled_out"),
                  {{"cause", "sampled_out"}});
        f.counter("flywall_events_received_total", "Events read from ring buffers by the daemon", at(ev, "received"));
        f.counter("flywall_events_decode_errors_total", "Ring-buffer records that did not decode",
                  at(ev, "decode_errors"));
        for (const auto& s : at(ev, "subscribers")) {
            std::string name = at(s, "name").is_string() ? at(s, "name").get<std::string>() : "";
            f.counter("flywall_event_subscriber_delivered_total", "Events queued to a subscriber", at(s, "delivered"),
                      {{"subscriber", name}});
            f.counter("flywall_event_subscriber_dropped_total", "Events dropped for a full subscriber queue",
                      at(s, "dropped"), {{"subscriber", name}});
        }
        for (const auto& p : at(stats, "programs")) {
            std::string name = at(p, "name").is_string() ? at(p, "name").get<std::string>() : "";
            f.counter("flywall_program_run_count_total", "BPF program runs (kernel BPF stats)", at(p, "run_cnt"),
                      {{"program", name}});
            f.counter("flywall_program_run_time_ns_total", "BPF program run time in ns (kernel BPF stats)",
                      at(p, "run_time_ns"), {{"program", name}});
        }
        const auto& gov = at(stats, "governor");
        f.gauge("flywall_governor_sampling_rate", "Sampling rate set by the adaptive governor", at(gov, "sampling_rate"));
        f.gauge("flywall_governor_utilisation_percent", "Measured load as a percentage of the budget",
                at(gov, "utilisation_percent"));
    }
    if (features.is_object()) {
        for (const auto& feat : at(features, "features")) {
            std::string name = at(feat, "name").is_string() ? at(feat, "name").get<std::string>() : "";
            f.gauge("flywall_feature_enabled", "1 when the feature is active", at(feat, "enabled"),
                    {{"feature", name}});
        }
    }
    if (health.is_object()) {
        f.gauge("flywall_healthy", "1 when programs are loaded, hooks attached and the event thread alive",
                at(health, "healthy"));
        f.gauge("flywall_programs_loaded", "Programs loaded", at(health, "programs_loaded"));
        f.gauge("flywall_hooks_attached", "Hooks attached", at(health, "hooks_attached"));
    }
    std::ostringstream os;
    prometheus::TextSerializer().Serialize(os, f.out);
    return os.str();
}

}  // namespace flywall::api
