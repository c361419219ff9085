// Prometheus text exposition of the daemon's state, rendered from the same JSON views the API
// serves (GET /api/stats/ebpf, /api/ebpf/features, /api/ebpf/health), so the two never disagree.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace flywall::api {

// Any of the inputs may be null (that part is left out).
std::string render_metrics(const nlohmann::json& stats, const nlohmann::json& features, const nlohmann::json& health);

}  // namespace flywall::api
