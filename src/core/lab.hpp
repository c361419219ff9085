// The lab network `flywall run --lab` protects: a veth pair whose near end (fw-lab0) stays in
// the root namespace with 198.18.0.1/24 and 2001:db8:f0::1/64, and whose far end
// (fw-lab0-peer) lives in the network namespace `fw-lab` with 198.18.0.2/24 and
// 2001:db8:f0::2/64. Built with iproute2 (the same commands an operator would type) and removed
// on destruction: only what this object created is removed.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"

namespace flywall {

struct LabSpec {
    std::string netns = "fw-lab";
    std::string iface = "fw-lab0";
    std::string peer = "fw-lab0-peer";
    std::string addr4 = "198.18.0.1/24";
    std::string peer_addr4 = "198.18.0.2/24";
    std::string addr6 = "2001:db8:f0::1/64";
    std::string peer_addr6 = "2001:db8:f0::2/64";
};

class Lab {
public:
    // Fails with EEXIST when the interface or the namespace already exists (another run).
    static Result<Lab> create(LabSpec spec = {});
    Lab(Lab&& o) noexcept;
    Lab& operator=(Lab&&) = delete;
    Lab(const Lab&) = delete;
    Lab& operator=(const Lab&) = delete;
    ~Lab();

    const LabSpec& spec() const { return spec_; }
    // Removes the veth (both ends) and the namespace. Idempotent.
    void destroy();

private:
    explicit Lab(LabSpec spec) : spec_(std::move(spec)) {}
    LabSpec spec_;
    bool created_netns_ = false;
    bool created_link_ = false;
};

// Runs a program (no shell) and returns its exit status; stderr is captured into *err_out.
Result<int> run_command(const std::vector<std::string>& argv, std::string* err_out = nullptr);

}  // namespace flywall
