// Typed access to a BPF_MAP_TYPE_BLOOM_FILTER map: values are pushed (there is no key and no
// delete; the kernel cannot clear single bits), and a query answers "maybe present" or "absent".
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <type_traits>

#include "common/result.hpp"
#include "runtime/map.hpp"

namespace flywall {

template <class V>
class BloomMap : public MapRef {
    static_assert(std::is_trivially_copyable_v<V>);

public:
    using MapRef::MapRef;

    Status push(const V& value) {
        if (bpf_map_update_elem(fd_, nullptr, &value, BPF_ANY) != 0)
            return Error::from_errno(errno, ctx("push to"));
        return {};
    }

    // true: maybe present (false positives possible); false: certainly absent.
    Result<bool> maybe_contains(const V& value) const {
        V v = value;
        if (bpf_map_lookup_elem(fd_, nullptr, &v) == 0) return true;
        int err = errno;
        if (err == ENOENT) return false;
        return Error::from_errno(err, ctx("query"));
    }
};

}  // namespace flywall
