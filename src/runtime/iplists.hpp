// IpLists: the allowlist and blocklist of the XDP fast path, managed through typed maps.
//
// Entries are written as "198.18.0.1", "198.18.0.0/24", "2001:db8::1" or "2001:db8::/48".
// Host routes (/32, /128) go to the exact store; real prefixes go to the LPM trie.
//
// The exact store of each list and family is a fast table (open addressing in an mmapped BPF
// array, see src/runtime/fasttable.hpp for the design) plus that list's kernel hash map as the
// overflow for entries that find no slot within the probe bound. A key lives in one of the two.
// fw_ft.hash_skip tells the program which overflow hashes are empty, and the overflow hints which
// home slots have a key in the hash (both kept only here, from the first write on). Removals
// leave tombstones; when they exceed 1/8 of a table's slots the table is compacted and overflow
// entries move into the freed slots (compact() does the same on demand).
//
// CIDR host bits are NORMALISED, not rejected: "198.18.0.7/24" is stored, listed and removed
// as "198.18.0.0/24" (the kernel's LPM trie ignores those bits anyway; normalising makes two
// spellings of one prefix the same entry instead of two entries that only one can remove).
//
// Bookkeeping that the kernel program relies on for speed is maintained here, and only here:
//  * fw_cfg.tables bits: one bit per list x family x kind x direction; set while that table
//    holds an entry matching that direction (per-table src/dst entry counts), so empty tables
//    cost no lookup;
//  * LPM guards: per-slot reference counts of the prefixes overlapping each IPv4 /16 slot
//    (every slot a prefix covers) and each IPv6 slot (fw_guard6_slot of the first 32 bits, for
//    prefixes >= /32; shorter IPv6 prefixes set FW_T_*6_LPM_UNGUARDED instead). A guard bit is
//    cleared only when the last prefix of its list leaves that slot.
// The maps are the truth: rebuild() recomputes all bookkeeping from map contents (a restart on
// existing pins), and a failed kernel write triggers a rebuild so counts never drift.
//
// Writes are ordered so a concurrently running program never sees a table bit or guard bit
// without the entries behind it: entries first, then guards, then table bits on add; the
// reverse on remove.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "flywall/abi.h"
#include "runtime/fasttable.hpp"

#include "common/ip_prefix.hpp"

namespace flywall {

class XdpFastPath;

enum class IpListKind : uint8_t { Allow = 0, Block = 1 };
// Which packet address an entry is compared with. Values are the fw_entry_flag bits.
enum class MatchDir : uint8_t { Src = FW_ENTRY_MATCH_SRC, Dst = FW_ENTRY_MATCH_DST, Both = FW_ENTRY_MATCH_SRC | FW_ENTRY_MATCH_DST };

const char* to_string(IpListKind k);
const char* to_string(MatchDir d);
Result<IpListKind> parse_list_kind(std::string_view s);  // "allow" | "block"
Result<MatchDir> parse_match_dir(std::string_view s);    // "src" | "dst" | "both"


// parse_ip_prefix(): the one address parser, common/ip_prefix.hpp.

// Which LPM guard slots a prefix marks. IPv4: the /16 slots [first, first + count) the prefix
// overlaps. IPv6 >= /32: the single slot fw_guard6_slot(first 32 bits). IPv6 < /32: unguarded.
// Host entries (/32, /128) live in the exact hash and mark no slot (count 0).
struct GuardSlots {
    uint32_t first = 0;
    uint32_t count = 0;
    bool unguarded = false;
};
GuardSlots guard_slots(const IpPrefix& p);

// The fw_table_bit of one table (list x family x exact/lpm) for one direction (Src or Dst).
uint32_t table_bit(IpListKind list, uint8_t family, bool lpm, MatchDir single_dir);

// Tables are indexed list*4 + (family == 6)*2 + lpm.
constexpr size_t kIpTables = 8;
constexpr size_t table_index(IpListKind list, uint8_t family, bool lpm) {
    return static_cast<size_t>(list) * 4 + (family == 6 ? 2 : 0) + (lpm ? 1 : 0);
}
std::string table_name(size_t table);  // "allow4", "block6_lpm", ...

struct IpEntrySpec {
    IpPrefix prefix;
    IpListKind list = IpListKind::Block;
    MatchDir dir = MatchDir::Src;
    std::optional<std::chrono::nanoseconds> ttl;  // none = never expires
    uint32_t source_id = 0;
};

struct IpListEntry {
    IpListKind list = IpListKind::Block;
    IpPrefix prefix;
    MatchDir dir = MatchDir::Src;
    uint64_t hits = 0;
    uint64_t expires_ns = 0;                     // CLOCK_MONOTONIC; 0 = never
    std::optional<uint64_t> remaining_ns;        // set when expires_ns != 0 (0 = expired)
    uint32_t source_id = 0;
};

struct TableCounts {
    size_t entries = 0;  // keys in the map
    size_t src = 0;      // entries matching the source address
    size_t dst = 0;      // entries matching the destination address
    friend bool operator==(const TableCounts&, const TableCounts&) = default;
};

// Occupancy of one exact store (fast table + overflow hash).
struct ExactStoreStats {
    uint32_t slots = 0;          // fast-table slots
    size_t used = 0;             // entries in the fast table
    size_t tombstones = 0;       // deleted slots not yet reclaimed
    size_t overflow = 0;         // entries in the overflow hash map
    uint64_t table_bytes = 0;    // memory of the fast table
};

// CLOCK_MONOTONIC in ns: the clock of bpf_ktime_get_ns().
uint64_t monotonic_now_ns();

class IpLists {
public:
    // Bookkeeping starts empty; call rebuild() when the maps may already hold entries.
    explicit IpLists(XdpFastPath& fp);

    // Parse-and-add convenience: add("198.18.0.0/24", IpListKind::Block).
    Status add(std::string_view text, IpListKind list, MatchDir dir = MatchDir::Src,
               std::optional<std::chrono::nanoseconds> ttl = {}, uint32_t source_id = 0);
    // Adding an existing entry replaces its direction, expiry and source, keeping its hits.
    Status add(const IpEntrySpec& spec);
    // All-or-nothing validation (syntax, capacity) before any write; the error names the first
    // bad input. Duplicates within the call: the last one wins. Returns entries written.
    Result<size_t> add_bulk(std::span<const IpEntrySpec> specs);
    Result<size_t> add_bulk(std::span<const std::string> texts, IpListKind list, MatchDir dir = MatchDir::Src,
                            std::optional<std::chrono::nanoseconds> ttl = {}, uint32_t source_id = 0);

    // Returns whether the entry existed.
    Result<bool> remove(const IpPrefix& prefix, IpListKind list);
    Result<bool> remove(std::string_view text, IpListKind list);
    // Returns how many of the given entries existed and were removed.
    Result<size_t> remove_bulk(std::span<const IpPrefix> prefixes, IpListKind list);

    // Every entry of both lists with hit counters and remaining TTL.
    Result<std::vector<IpListEntry>> list() const;
    Result<std::optional<IpListEntry>> get(const IpPrefix& prefix, IpListKind list) const;

    // Bookkeeping counts per table (index: table_index()).
    const std::array<TableCounts, kIpTables>& counts() const { return counts_; }
    size_t total_entries() const;

    // Deletes entries whose expiry has passed; returns how many.
    Result<size_t> reap_expired();
    // Removes every entry of both lists, clears guards and table bits.
    Status clear();
    // Recomputes counts, guards and table bits from the maps' contents.
    Status rebuild();

    // Fast table and overflow occupancy of one exact store.
    ExactStoreStats exact_stats(IpListKind list, uint8_t family) const;
    // Compacts every fast table holding tombstones and moves overflow entries into free slots;
    // returns how many entries moved from the overflow hashes into the fast tables.
    Result<size_t> compact();

    // The table bits this object maintains (what it last wrote into fw_cfg.tables).
    uint32_t table_bits() const;
    uint32_t guard4_refs(IpListKind list, uint32_t slot) const { return guard4_[idx(list)][slot]; }
    uint32_t guard6_refs(IpListKind list, uint32_t slot) const { return guard6_[idx(list)][slot]; }
    uint32_t unguarded6_refs(IpListKind list) const { return unguarded6_[idx(list)]; }

private:
    struct Change;  // one planned write, with the old state it replaces
    static size_t idx(IpListKind l) { return static_cast<size_t>(l); }

    Status apply_adds(std::vector<IpEntrySpec>& specs);
    Result<size_t> apply_removes(std::span<const IpPrefix> prefixes, IpListKind list);
    void account(size_t table, const IpPrefix& p, uint32_t flags, int sign,
                 std::vector<uint32_t>& dirty4, std::vector<uint32_t>& dirty6);
    Status write_guards(const std::vector<uint32_t>& dirty4, const std::vector<uint32_t>& dirty6);
    void publish_table_bits();
    void reset_bookkeeping();
    Error rebuild_after_failure(Error err);

    // Per exact store (index fw_ft_table): fast-table occupancy and overflow entries. Updated by
    // the store adapters in iplists_store.hpp, also from const members' lookups (which only read).
    struct ExactState {
        FtCounts ft;
        size_t overflow = 0;
    };
    Status maintain(size_t ft_index, bool force, size_t* migrated);
    void publish_hash_skip();

    XdpFastPath* fp_;
    mutable std::array<ExactState, 4> exact_{};
    std::array<TableCounts, kIpTables> counts_{};
    std::array<std::vector<uint32_t>, 2> guard4_;  // [list][slot] prefix reference counts
    std::array<std::vector<uint32_t>, 2> guard6_;
    std::array<uint32_t, 2> unguarded6_{};
};

}  // namespace flywall
