// State a previous instance left pinned (it stopped with detach_on_exit = false, or crashed) that
// the next instance carries over: the flow table and the rate limiter's table of xdp_blocklist.
// Both are set-associative arrays whose slots sit where the table seeds put them, so the new
// instance loads with the previous seeds and copies the slots as they are, but only when the
// slot types have the same layout in both builds: compared member by member from the maps' BTF
// (names, offsets, sizes), not trusted from a version number. Anything else (a changed layout, a
// different size, no previous pins) starts the tables empty and says why.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "flywall/flowtable.h"

struct bpf_map;
struct btf;

namespace flywall {

struct CarriedTable {
    std::string layout;          // BTF signature of the slot type in the previous build
    std::uint32_t value_size = 0;
    std::uint32_t max_entries = 0;
    std::vector<std::uint8_t> bytes;  // the slots, as the previous instance left them
};

struct CarriedTables {
    fw_tbl_config seeds{};       // the previous instance's: load with these
    std::string seeds_layout;    // BTF signature of fw_tbl_config in the previous build
    std::optional<CarriedTable> flows, rl;
};

// The previous instance's tables under `maps_dir` (pin names fw_flows, fw_rl_map and the .bss
// of xdp_blocklist), or nullopt with the reason in *why when there are none to carry over.
std::optional<CarriedTables> read_previous_tables(const std::string& maps_dir, std::string* why);

// A canonical text of a BTF type's layout: kinds, member names, offsets and sizes, recursively.
std::string btf_layout(const btf* b, std::uint32_t type_id);

// A variable of a BTF data section (".bss"): where it sits and its type.
struct BtfVar {
    std::uint32_t offset = 0, size = 0, type_id = 0;
};
std::optional<BtfVar> btf_section_var(const btf* b, const char* section, const char* name);

// Whether `t` fits `map` of a loaded object (same size, entries and BTF layout of the value).
bool fits(const CarriedTable& t, const bpf_map* map, const btf* obj_btf, std::string* why);

}  // namespace flywall
