// MapMmap: a move-assigned mapping releases what the target held and keeps working (the old
// operator= ran the destructor on a live object and then used it).
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/fd.hpp"
#include "runtime/xdp_fastpath.hpp"

namespace flywall {
namespace {

UniqueFd mmapable_array(std::uint32_t entries) {
    LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
    return UniqueFd(bpf_map_create(BPF_MAP_TYPE_ARRAY, "fw_mmap_test", 4, 8, entries, &o));
}

bool mapped(void* p) {
    // msync on an address that is not mapped fails with ENOMEM.
    const long page = sysconf(_SC_PAGESIZE);
    void* base = reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(p) & ~static_cast<std::uintptr_t>(page - 1));
    return msync(base, static_cast<size_t>(page), MS_ASYNC) == 0 || errno != ENOMEM;
}

TEST(MapMmap, MoveAssignReleasesTheOldMappingAndKeepsTheNewOne) {
    if (geteuid() != 0) GTEST_SKIP() << "SKIP: needs root (BPF maps)";
    UniqueFd a = mmapable_array(1024), b = mmapable_array(2048);
    ASSERT_TRUE(a && b) << std::strerror(errno);
    auto ma = MapMmap::map(a.get(), 1024 * 8, "a");
    auto mb = MapMmap::map(b.get(), 2048 * 8, "b");
    ASSERT_TRUE(ma.ok() && mb.ok());
    void* old_a = ma->data();
    void* old_b = mb->data();
    static_cast<std::uint64_t*>(old_b)[7] = 0xfeedULL;

    *ma = std::move(*mb);  // a's mapping is released, b's moves over
    EXPECT_FALSE(mapped(old_a));
    EXPECT_EQ(ma->data(), old_b);
    EXPECT_EQ(ma->size(), 2048u * 8);
    EXPECT_EQ(mb->data(), nullptr);
    EXPECT_EQ(mb->size(), 0u);
    EXPECT_EQ(static_cast<std::uint64_t*>(ma->data())[7], 0xfeedULL);
    std::uint32_t key = 7;
    std::uint64_t v = 0;
    ASSERT_EQ(bpf_map_lookup_elem(b.get(), &key, &v), 0);
    EXPECT_EQ(v, 0xfeedULL);  // the mapping still is the map

    *ma = std::move(*ma);  // self-move keeps it
    EXPECT_EQ(ma->data(), old_b);
    *ma = MapMmap{};  // assigning an empty one unmaps
    EXPECT_FALSE(mapped(old_b));
}

}  // namespace
}  // namespace flywall
