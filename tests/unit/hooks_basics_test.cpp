// Hook manager pieces that need no kernel privileges: fd ownership, mode names, argument
// validation before any attach is tried.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <type_traits>

#include "runtime/fd.hpp"
#include "runtime/hooks.hpp"

namespace flywall {
namespace {

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

TEST(UniqueFd, ClosesOnDestructionAndMoves) {
    static_assert(!std::is_copy_constructible_v<UniqueFd>);
    static_assert(std::is_nothrow_move_constructible_v<UniqueFd>);
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    {
        UniqueFd r(p[0]);
        UniqueFd w(p[1]);
        EXPECT_TRUE(r);
        UniqueFd moved(std::move(r));
        EXPECT_FALSE(r);  // NOLINT(bugprone-use-after-move): moved-from is documented empty
        EXPECT_EQ(r.get(), -1);
        EXPECT_EQ(moved.get(), p[0]);
        w = std::move(moved);  // closes the write end, takes the read end
        EXPECT_FALSE(is_open(p[1]));
        EXPECT_TRUE(is_open(p[0]));
    }
    EXPECT_FALSE(is_open(p[0]));
}

TEST(UniqueFd, ReleaseAndReset) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    UniqueFd a(p[0]);
    const int raw = a.release();
    EXPECT_EQ(raw, p[0]);
    EXPECT_FALSE(a);
    EXPECT_TRUE(is_open(raw));
    a.reset(raw);
    a.reset(p[1]);
    EXPECT_FALSE(is_open(raw));
    EXPECT_TRUE(is_open(p[1]));
    a.reset();
    EXPECT_FALSE(is_open(p[1]));
    EXPECT_FALSE(UniqueFd(-5));
}

TEST(HookNames, XdpModesRoundTrip) {
    for (const XdpMode m : {XdpMode::Auto, XdpMode::Native, XdpMode::Generic, XdpMode::Offload}) {
        auto parsed = parse_xdp_mode(to_string(m));
        ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(*parsed, m);
    }
    EXPECT_EQ(*parse_xdp_mode("skb"), XdpMode::Generic);
    EXPECT_EQ(*parse_xdp_mode("drv"), XdpMode::Native);
    EXPECT_EQ(*parse_xdp_mode("hw"), XdpMode::Offload);
    auto bad = parse_xdp_mode("Native ");
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().errnum(), EINVAL);
    EXPECT_NE(bad.error().message().find("'Native '"), std::string::npos);
}

TEST(HookNames, AttachPoints) {
    EXPECT_EQ(to_string(AttachPoint::Xdp), "xdp");
    EXPECT_EQ(to_string(AttachPoint::TcIngress), "tc-ingress");
    EXPECT_EQ(to_string(AttachPoint::TcEgress), "tc-egress");
    EXPECT_EQ(to_string(AttachPoint::Socket), "socket");
    EXPECT_EQ(to_string(DetachOutcome::ReplacedByOther), "replaced-by-other");
}

TEST(HookManagerArgs, UnknownInterfaceAndBadFdFailBeforeTouchingTheKernel) {
    HookManager hooks;
    auto no_dev = hooks.attach_xdp(3, "fwh-does-not-exist", XdpMode::Native);
    ASSERT_FALSE(no_dev.ok());
    EXPECT_EQ(no_dev.error().errnum(), ENODEV);
    EXPECT_NE(no_dev.error().message().find("fwh-does-not-exist"), std::string::npos);

    auto bad_index = hooks.attach_tc(3, 0, TcDirection::Ingress);
    ASSERT_FALSE(bad_index.ok());
    EXPECT_EQ(bad_index.error().errnum(), ENODEV);

    auto bad_fd = hooks.attach_xdp(-1, "lo", XdpMode::Native);
    ASSERT_FALSE(bad_fd.ok());
    EXPECT_EQ(bad_fd.error().errnum(), EBADF);
    EXPECT_NE(bad_fd.error().message().find("attach xdp to lo"), std::string::npos)
        << bad_fd.error().message();

    auto bad_sock = hooks.attach_socket_filter(-1);
    ASSERT_FALSE(bad_sock.ok());
    EXPECT_EQ(bad_sock.error().errnum(), EBADF);

    EXPECT_EQ(hooks.size(), 0u);
    EXPECT_TRUE(hooks.list().empty());
    auto missing = hooks.detach(42);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().errnum(), ENOENT);
    EXPECT_TRUE(hooks.detach_all().ok());
}

}  // namespace
}  // namespace flywall
