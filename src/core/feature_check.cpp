#include "core/feature_check.hpp"

#include "core/coordinator.hpp"

namespace flywall {

std::optional<config::Diagnostic> feature_graph_problem(const config::LoadResult& lr) {
    Coordinator graph;
    if (Status st = graph.register_builtin_features(); !st.ok())
        return config::Diagnostic{"(built-in)", 0, 0, "feature graph: " + st.error().context};
    auto problem = graph.check_config(lr.config().ebpf.features);
    if (!problem) return std::nullopt;
    return lr.at_feature(problem->feature, "ebpf.features: " + problem->error.context);
}

}  // namespace flywall
