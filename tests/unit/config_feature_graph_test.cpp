// The config's feature switches meet the coordinator's dependency graph: the seed's example
// must configure as written, and ddos_protection turns on its parts unless the file sets them.
#include <gtest/gtest.h>

#include "config/config.hpp"
#include "core/coordinator.hpp"
#include "core/feature_check.hpp"

using namespace flywall;

namespace {

constexpr const char* kSeedEbpf = R"(ebpf {
  enabled = true

  features {
    ddos_protection = true
    dns_blocklist = true
    inline_ips = true
    flow_monitoring = true
    qos = true
    learning_engine = true
  }
}
)";

Status configure(const config::Config& c) {
    Coordinator coord;
    FW_TRY(coord.register_builtin_features());
    return coord.configure(c.ebpf.features);
}

}  // namespace

TEST(ConfigFeatureGraph, SeedFeaturesConfigureAsWritten) {
    auto lr = config::load_string(kSeedEbpf, "seed.hcl");
    ASSERT_TRUE(lr.ok()) << lr.error_text();
    EXPECT_TRUE(lr.config().ebpf.features.at("ip_blocklist"));
    EXPECT_TRUE(lr.config().ebpf.features.at("rate_limiting"));
    auto st = configure(lr.config());
    EXPECT_TRUE(st.ok()) << st.error().message();
}

TEST(ConfigFeatureGraph, ExplicitPartOverridesTheUmbrellaAndIsThenRefused) {
    auto lr = config::load_string("ebpf {\n  features {\n    ddos_protection = true\n    rate_limiting = false\n  }\n}\n",
                                  "x.hcl");
    ASSERT_TRUE(lr.ok()) << lr.error_text();
    EXPECT_TRUE(lr.config().ebpf.features.at("ip_blocklist"));
    EXPECT_FALSE(lr.config().ebpf.features.at("rate_limiting"));
    auto st = configure(lr.config());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().context.find("rate_limiting"), std::string::npos) << st.error().context;
}

TEST(ConfigFeatureGraph, MissingDependencyIsNamed) {
    auto lr = config::load_string("ebpf {\n  features {\n    inline_ips = true\n  }\n}\n", "x.hcl");
    ASSERT_TRUE(lr.ok()) << lr.error_text();
    auto st = configure(lr.config());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().context.find("flow_monitoring"), std::string::npos) << st.error().context;
}

// Issue 8: a feature-dependency error carried no line:col; it now points at the feature.
TEST(ConfigFeatureGraph, DependencyErrorsCarryTheFeaturesPosition) {
    auto lr = config::load_string("ebpf {\n  features {\n    flow_monitoring = false\n    qos   = true\n  }\n}\n", "f.hcl");
    ASSERT_TRUE(lr.ok()) << lr.error_text();
    auto problem = feature_graph_problem(lr);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->to_string(),
              "f.hcl:4:5: ebpf.features: feature \"qos\" requires \"flow_monitoring\", which is disabled");
    // The same graph accepts it once the dependency is on, and configure() agrees with the check.
    auto fixed = config::load_string("ebpf {\n  features {\n    flow_monitoring = true\n    qos = true\n  }\n}\n", "f.hcl");
    ASSERT_TRUE(fixed.ok());
    EXPECT_FALSE(feature_graph_problem(fixed));
    EXPECT_FALSE(configure(lr.config()).ok());
    EXPECT_TRUE(configure(fixed.config()).ok());
}
