// The feature graph's verdict on a loaded configuration, positioned in the file: `flywall config
// check` and `flywall run` refuse a file whose features the coordinator would refuse, with
// "file:line:col" of the feature at fault (its attribute in ebpf.features).
#pragma once

#include <optional>

#include "config/config.hpp"

namespace flywall {

// nullopt when the built-in feature graph accepts lr.config().ebpf.features. Runs dry: no
// program is loaded and no hook is called.
[[nodiscard]] std::optional<config::Diagnostic> feature_graph_problem(const config::LoadResult& lr);

}  // namespace flywall
