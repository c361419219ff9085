/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Maps and runtime configuration of the XDP fast path (xdp_blocklist). */
#ifndef FW_XDP_MAPS_H
#define FW_XDP_MAPS_H

#include "fw_common.h"

/* Runtime knobs (features, table presence, limits): written by user space through the
 * skeleton's mmapped .bss; a toggle never reloads the program. */
struct fw_xdp_config fw_cfg;

#define FW_DEFINE_EXACT(name, key_t)                     \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_HASH);                 \
		__uint(max_entries, FW_IP_EXACT_MAX);            \
		__uint(map_flags, BPF_F_NO_PREALLOC);            \
		__type(key, key_t);                              \
		__type(value, struct fw_ip_entry);               \
	} name SEC(".maps")

#define FW_DEFINE_LPM(name, key_t)                       \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);             \
		__uint(max_entries, FW_IP_LPM_MAX);              \
		__uint(map_flags, BPF_F_NO_PREALLOC);            \
		__type(key, key_t);                              \
		__type(value, struct fw_ip_entry);               \
	} name SEC(".maps")

FW_DEFINE_EXACT(fw_allow4, __u32);
FW_DEFINE_EXACT(fw_block4, __u32);
FW_DEFINE_EXACT(fw_allow6, struct fw_ip6_addr);
FW_DEFINE_EXACT(fw_block6, struct fw_ip6_addr);
FW_DEFINE_LPM(fw_allow4_lpm, struct fw_lpm4_key);
FW_DEFINE_LPM(fw_block4_lpm, struct fw_lpm4_key);
FW_DEFINE_LPM(fw_allow6_lpm, struct fw_lpm6_key);
FW_DEFINE_LPM(fw_block6_lpm, struct fw_lpm6_key);

/* LPM guards: one byte per IPv4 /16 (or per hashed IPv6 /32); bit FW_GUARD_ALLOW / FW_GUARD_BLOCK
 * is set when some prefix of that list overlaps the slot. A clear bit proves the trie cannot
 * match, so the common passing packet skips the trie walk. Maintained by user space. */
#define FW_GUARD_ALLOW 1
#define FW_GUARD_BLOCK 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW_LPM_GUARD4_SLOTS);
	__type(key, __u32);
	__type(value, __u8);
} fw_lpm_guard4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW_LPM_GUARD6_SLOTS);
	__type(key, __u32);
	__type(value, __u8);
} fw_lpm_guard6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_stats);
} fw_stats_map SEC(".maps");

#endif /* FW_XDP_MAPS_H */
