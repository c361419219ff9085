#include "runtime/map.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <fstream>

namespace flywall {

unsigned possible_cpus() {
    static const unsigned n = [] {
        int c = libbpf_num_possible_cpus();
        return c > 0 ? static_cast<unsigned>(c) : 1u;
    }();
    return n;
}

Result<MapInfo> map_info(int fd) {
    bpf_map_info raw{};
    uint32_t len = sizeof(raw);
    if (bpf_obj_get_info_by_fd(fd, &raw, &len) != 0) return Error::from_errno(errno, "get map info");
    MapInfo info;
    info.name = raw.name;
    info.id = raw.id;
    info.type = raw.type;
    const char* tn = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(raw.type));
    info.type_name = tn ? tn : "unknown";
    info.key_size = raw.key_size;
    info.value_size = raw.value_size;
    info.max_entries = raw.max_entries;
    info.flags = raw.map_flags;
    std::ifstream fdinfo("/proc/self/fdinfo/" + std::to_string(fd));
    std::string line;
    while (std::getline(fdinfo, line)) {
        if (line.rfind("memlock:", 0) == 0) info.memlock_bytes = std::stoull(line.substr(8));
    }
    return info;
}

Result<std::uint64_t> MapRef::count_keys() const {
    FW_TRY_ASSIGN(MapInfo i, info());
    std::vector<std::uint8_t> cur(std::max<std::uint32_t>(i.key_size, 1)), next(cur.size());
    std::uint64_t n = 0;
    bool first = true;
    while (bpf_map_get_next_key(fd_, first ? nullptr : cur.data(), next.data()) == 0) {
        ++n;
        cur.swap(next);
        first = false;
    }
    if (errno != ENOENT) return Error::from_errno(errno, ctx("count entries of"));
    return n;
}

}  // namespace flywall
