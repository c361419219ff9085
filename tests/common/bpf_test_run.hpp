// BPF_PROG_TEST_RUN helpers for kernel tests and benchmarks.
#pragma once

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace flywall::test {

struct RunResult {
    uint32_t retval = 0;
    std::vector<uint8_t> out;  // packet after the program (XDP_TX rewrites are visible here)
    uint32_t duration_ns = 0;  // average per repeat, as measured by the kernel
};

inline Result<RunResult> run_prog(int prog_fd, const std::vector<uint8_t>& pkt, uint32_t repeat = 1) {
    RunResult r;
    r.out.resize(pkt.size() + 512);
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt.data(), .data_out = r.out.data(),
                .data_size_in = static_cast<uint32_t>(pkt.size()),
                .data_size_out = static_cast<uint32_t>(r.out.size()), .repeat = static_cast<int>(repeat));
    if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) return Error::from_errno(errno, "BPF_PROG_TEST_RUN");
    r.out.resize(opts.data_size_out);
    r.retval = opts.retval;
    r.duration_ns = opts.duration;
    return r;
}

// Why kernel tests cannot run here, or empty when they can (root and a working bpf()).
inline std::string bpf_unavailable_reason() {
    if (geteuid() != 0) return "kernel tests need root (CAP_BPF, CAP_NET_ADMIN)";
    LIBBPF_OPTS(bpf_map_create_opts, o);
    int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "fw_probe", 4, 4, 1, &o);
    if (fd < 0) return std::string("bpf() unavailable: ") + strerror(errno);
    close(fd);
    return {};
}

}  // namespace flywall::test

// Skip loudly (counted as skipped by GoogleTest) when BPF is unavailable.
#define FW_REQUIRE_BPF()                                                               \
    do {                                                                               \
        auto fw_reason_ = ::flywall::test::bpf_unavailable_reason();                   \
        if (!fw_reason_.empty()) GTEST_SKIP() << "SKIP (no BPF): " << fw_reason_;      \
    } while (0)
