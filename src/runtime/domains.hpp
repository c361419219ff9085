// DNS domain blocklist (user side of bpf/lib/fw_dns.h): name validation and the key encoding
// shared with the kernel (bpf/include/flywall/dns_hash.h), and the table that keeps the bloom
// prefilter and the exact hash in step.
//
// A blocked domain blocks itself and every subdomain. Keys are {hash, wire length} of the
// lower-cased wire-format name, the hash taken over the labels right to left
// (flywall/dns_hash.h); the bloom filter holds the hash; the exact entry stores the name.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "flywall/abi.h"
#include "runtime/bloom_map.hpp"
#include "runtime/map.hpp"

namespace flywall {

class XdpFastPath;

inline constexpr size_t kMaxDomainLength = 253;  // dotted, without a trailing dot
inline constexpr size_t kMaxLabelLength = 63;

// Lower-cases, drops one trailing '.', and validates: labels 1..63 of [a-z0-9_-], name 1..253.
Result<std::string> normalize_domain(std::string_view text);
// Wire format of a (normalized or not) name, with the root label: for building queries.
Result<std::vector<uint8_t>> domain_to_wire(std::string_view text);
// The kernel key of a domain: {fw_dns_name_hash of the lower-cased wire name, its length}.
Result<fw_dns_key> domain_key(std::string_view text);
// Bloom filter value of a key: its hash.
uint64_t domain_bloom_hash(const fw_dns_key& key);
// The dotted name an exact entry stores (for listing).
Result<std::string> domain_from_entry(const fw_dns_entry& entry);

enum class DomainAction : uint32_t {
    Drop = FW_DNS_ACTION_DROP,
    Nxdomain = FW_DNS_ACTION_NXDOMAIN,
    Global = FW_DNS_ACTION_GLOBAL,  // whatever fw_xdp_config.dns_action says at packet time
};
Result<DomainAction> parse_domain_action(std::string_view text);  // "drop", "nxdomain", "default"
std::string_view to_string(DomainAction action);

struct DomainRule {
    std::string domain;
    DomainAction action = DomainAction::Global;
    uint64_t expires_ns = 0;  // CLOCK_MONOTONIC; 0 = never
    uint32_t source_id = 0;
};

struct DomainEntry {
    std::string domain;
    fw_dns_entry entry{};
};

// Non-owning: the XdpFastPath (or whoever owns the maps) must outlive it.
class DomainBlocklist {
public:
    // policy_gen: the program's fw_xdp_config.policy_gen, bumped after every change (null: none).
    DomainBlocklist(Map<fw_dns_key, fw_dns_entry> exact, BloomMap<__u64> bloom, __u32* policy_gen = nullptr)
        : exact_(std::move(exact)), bloom_(std::move(bloom)), policy_gen_(policy_gen) {}
    static DomainBlocklist of(const XdpFastPath& fp);

    // Bloom first, then the exact entry: a query sees the domain blocked once add() returns.
    // Fails (writing nothing) when another listed name has the same 64-bit key hash.
    Status add(const DomainRule& rule);
    // Validates everything first (nothing is written on a bad name or on two names of one key
    // hash inside the batch), then writes in batches. Returns the number of entries written.
    // A name whose key hash equals one listed by an earlier call replaces it (probability
    // ~n^2/2^65 over n names: about 3e-8 for a million).
    Result<size_t> add_many(std::span<const DomainRule> rules);
    // Removes the exact entry (the bloom filter cannot forget; the stale bits only cost an
    // exact-hash lookup, counted as dns_bloom_false_positive). Returns whether it existed.
    Result<bool> remove(std::string_view domain);
    Result<std::optional<fw_dns_entry>> lookup(std::string_view domain) const;
    Result<std::vector<DomainEntry>> list(size_t limit = SIZE_MAX) const;
    Result<size_t> size() const { return exact_.count(); }
    static constexpr size_t capacity() { return FW_DNS_MAX; }

private:
    Map<fw_dns_key, fw_dns_entry> exact_;
    BloomMap<__u64> bloom_;
    __u32* policy_gen_ = nullptr;
};

}  // namespace flywall
