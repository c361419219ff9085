// Typed access to BPF maps. Every map is reached through Map<K, V> (or PerCpuMap<K, V>) built
// from a skeleton member, never by name string. Errors follow src/common/result.hpp: errno is
// captured at the failing call.
#pragma once

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "common/result.hpp"

namespace flywall {

struct MapInfo {
    std::string name;
    uint32_t id = 0;
    uint32_t type = 0;
    std::string type_name;
    uint32_t key_size = 0;
    uint32_t value_size = 0;
    uint32_t max_entries = 0;
    uint32_t flags = 0;
    uint64_t memlock_bytes = 0;  // kernel's figure from /proc/self/fdinfo (memlock:)
};

// Facts about a map that do not depend on its key/value types.
Result<MapInfo> map_info(int fd);
// Number of CPUs the kernel sizes per-CPU values for (libbpf_num_possible_cpus).
unsigned possible_cpus();

// Non-owning view of a map fd (the skeleton or a pinned-object owner keeps the fd alive).
class MapRef {
public:
    MapRef() = default;
    MapRef(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
    int fd() const { return fd_; }
    const std::string& name() const { return name_; }
    Result<MapInfo> info() const { return map_info(fd_); }
    // Keys in the map, counted by walking them (any key type; not for ring buffers or blooms).
    Result<std::uint64_t> count_keys() const;

protected:
    std::string ctx(const char* op) const { return std::string(op) + " map " + name_; }
    int fd_ = -1;
    std::string name_;
};

template <class K, class V>
class Map : public MapRef {
    static_assert(std::is_trivially_copyable_v<K> && std::is_trivially_copyable_v<V>);

public:
    using MapRef::MapRef;

    Result<std::optional<V>> lookup(const K& key) const {
        V v{};
        if (bpf_map_lookup_elem(fd_, &key, &v) == 0) return std::optional<V>(v);
        int err = errno;
        if (err == ENOENT) return std::optional<V>{};
        return Error::from_errno(err, ctx("lookup in"));
    }

    Status update(const K& key, const V& value, uint64_t flags = BPF_ANY) {
        if (bpf_map_update_elem(fd_, &key, &value, flags) != 0)
            return Error::from_errno(errno, ctx("update"));
        return {};
    }

    // Returns whether the key existed.
    Result<bool> remove(const K& key) {
        if (bpf_map_delete_elem(fd_, &key) == 0) return true;
        int err = errno;
        if (err == ENOENT) return false;
        return Error::from_errno(err, ctx("delete from"));
    }

    // Kernel batch update (BPF_MAP_UPDATE_BATCH); map types without batch support (LPM trie)
    // fall back to one syscall per element. Returns the number of elements written.
    Result<size_t> update_batch(std::span<const K> keys, std::span<const V> values,
                                uint64_t elem_flags = BPF_ANY, size_t chunk = 65536) {
        if (keys.size() != values.size()) return Error::invalid(ctx("batch update") + ": keys/values size mismatch");
        size_t done = 0;
        LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = elem_flags);
        while (done < keys.size()) {
            uint32_t n = static_cast<uint32_t>(std::min(chunk, keys.size() - done));
            uint32_t count = n;
            int rc = bpf_map_update_batch(fd_, keys.data() + done, values.data() + done, &count, &opts);
            if (rc != 0) {
                int err = errno;
                if ((err == EINVAL || err == ENOTSUPP_ || err == EOPNOTSUPP) && done == 0 && count == 0) {
                    return update_loop(keys, values, elem_flags);
                }
                return Error::from_errno(err, ctx("batch update") + " after " + std::to_string(done + count) + " elements");
            }
            done += count;
        }
        return done;
    }

    // Kernel batch delete; missing keys are an error in the kernel's batch op, so this deletes
    // what exists and reports how many were removed.
    Result<size_t> delete_batch(std::span<const K> keys, size_t chunk = 65536) {
        size_t done = 0, removed = 0;
        LIBBPF_OPTS(bpf_map_batch_opts, opts);
        while (done < keys.size()) {
            uint32_t n = static_cast<uint32_t>(std::min(chunk, keys.size() - done));
            uint32_t count = n;
            int rc = bpf_map_delete_batch(fd_, keys.data() + done, &count, &opts);
            if (rc == 0) {
                done += count;
                removed += count;
                continue;
            }
            int err = errno;
            if (err == ENOENT) {  // element `done + count` is absent: skip it and go on
                removed += count;
                done += count + 1;
                continue;
            }
            if (err == EINVAL || err == ENOTSUPP_ || err == EOPNOTSUPP) {
                for (size_t i = done; i < keys.size(); ++i) {
                    FW_TRY_ASSIGN(bool existed, remove(keys[i]));
                    removed += existed ? 1 : 0;
                }
                return removed;
            }
            return Error::from_errno(err, ctx("batch delete"));
        }
        return removed;
    }

    // Calls f(key, value) for every entry; entries deleted concurrently are skipped.
    template <class F>
    Status for_each(F&& f) const {
        K cur{}, next{};
        bool first = true;
        while (true) {
            int rc = bpf_map_get_next_key(fd_, first ? nullptr : &cur, &next);
            if (rc != 0) {
                int err = errno;
                if (err == ENOENT) return {};
                return Error::from_errno(err, ctx("iterate"));
            }
            first = false;
            V v{};
            if (bpf_map_lookup_elem(fd_, &next, &v) == 0) {
                if constexpr (std::is_same_v<std::invoke_result_t<F, const K&, const V&>, bool>) {
                    if (!f(static_cast<const K&>(next), static_cast<const V&>(v))) return {};
                } else {
                    f(static_cast<const K&>(next), static_cast<const V&>(v));
                }
            }
            cur = next;
        }
    }

    std::vector<K> keys() const {
        std::vector<K> out;
        (void)for_each([&](const K& k, const V&) { out.push_back(k); });
        return out;
    }

    Result<size_t> count() const {
        K cur{}, next{};
        size_t n = 0;
        bool first = true;
        while (bpf_map_get_next_key(fd_, first ? nullptr : &cur, &next) == 0) {
            ++n;
            cur = next;
            first = false;
        }
        if (errno != ENOENT) return Error::from_errno(errno, ctx("count"));
        return n;
    }

private:
    static constexpr int ENOTSUPP_ = 524;  // kernel-internal ENOTSUPP leaks through bpf()

    Result<size_t> update_loop(std::span<const K> keys, std::span<const V> values, uint64_t flags) {
        for (size_t i = 0; i < keys.size(); ++i) {
            if (bpf_map_update_elem(fd_, &keys[i], &values[i], flags) != 0)
                return Error::from_errno(errno, ctx("update") + " (element " + std::to_string(i) + ")");
        }
        return keys.size();
    }
};

// Per-CPU maps: the kernel hands one value per possible CPU.
template <class K, class V>
class PerCpuMap : public MapRef {
    static_assert(std::is_trivially_copyable_v<V>);

public:
    using MapRef::MapRef;

    Result<std::vector<V>> lookup_all(const K& key) const {
        // The kernel copies values at 8-byte stride per CPU.
        constexpr size_t stride = (sizeof(V) + 7) / 8 * 8;
        unsigned n = possible_cpus();
        std::vector<uint8_t> buf(stride * n);
        if (bpf_map_lookup_elem(fd_, &key, buf.data()) != 0)
            return Error::from_errno(errno, ctx("lookup in"));
        std::vector<V> out(n);
        for (unsigned i = 0; i < n; ++i) std::memcpy(&out[i], buf.data() + i * stride, sizeof(V));
        return out;
    }

    // Sum across CPUs for values made only of uint64_t counters.
    Result<V> lookup_sum(const K& key) const {
        static_assert(sizeof(V) % sizeof(uint64_t) == 0, "lookup_sum needs a struct of u64 counters");
        FW_TRY_ASSIGN(auto per_cpu, lookup_all(key));
        // Summed through memcpy: the counters are __u64 (unsigned long long), and reading them
        // through a uint64_t (unsigned long) pointer breaks strict aliasing (GCC then returned
        // the zero-initialised total for small structs).
        uint64_t t[sizeof(V) / sizeof(uint64_t)] = {};
        for (const V& v : per_cpu) {
            uint64_t p[sizeof(V) / sizeof(uint64_t)];
            std::memcpy(p, &v, sizeof(V));
            for (size_t i = 0; i < sizeof(V) / sizeof(uint64_t); ++i) t[i] += p[i];
        }
        V total;
        std::memcpy(&total, t, sizeof(V));
        return total;
    }

    Status update_all(const K& key, const std::vector<V>& per_cpu) {
        constexpr size_t stride = (sizeof(V) + 7) / 8 * 8;
        unsigned n = possible_cpus();
        if (per_cpu.size() != n) return Error::invalid(ctx("update") + ": need one value per possible CPU");
        std::vector<uint8_t> buf(stride * n);
        for (unsigned i = 0; i < n; ++i) std::memcpy(buf.data() + i * stride, &per_cpu[i], sizeof(V));
        if (bpf_map_update_elem(fd_, &key, buf.data(), BPF_ANY) != 0)
            return Error::from_errno(errno, ctx("update"));
        return {};
    }

    Status reset(const K& key) { return update_all(key, std::vector<V>(possible_cpus())); }
};

}  // namespace flywall
