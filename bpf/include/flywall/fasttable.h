/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Exact-address fast tables of the IP lists: the layout and the hash, shared by the BPF program
 * (bpf/lib/fw_fasttable.h) and user space (src/runtime/fasttable.hpp), plain C, so both sides
 * compute the same home slot by construction.
 *
 * Design (the full argument is in bpf/lib/fw_fasttable.h):
 *  - one BPF_MAP_TYPE_ARRAY with BPF_F_MMAPABLE per list and family (fw_ft_allow4, fw_ft_block4,
 *    fw_ft_allow6, fw_ft_block6); each element is one slot of an open-addressing hash table with
 *    a power-of-two slot count, written by user space through mmap and read by the program with
 *    array lookups the JIT inlines;
 *  - slot = {key, state (EMPTY / USED / TOMBSTONE), struct fw_ip_entry};
 *  - home slot = the top log2(slots) bits of a keyed multiply-fold-multiply hash of the key; the seed is drawn at load by user space (getrandom) so collisions cannot be aimed;
 *  - linear probing bounded by FW_FT_MAX_PROBE slots: an entry lives within FW_FT_MAX_PROBE
 *    slots of its home with no EMPTY slot in between; an entry that finds no free slot there
 *    goes to the overflow store, the list's kernel hash map (fw_allow4 ... fw_block6);
 *  - overflow hints: one bit per home slot (fw_ft_hint_*, mmapped u64 words) set when a key with
 *    that home went to the overflow hash; a lookup that misses the table consults the hash only
 *    when its home's bit is set (and the hash is non-empty), so a few overflow entries do not
 *    put a hash lookup on every passing packet. Stale bits only cost a lookup.
 * Addresses are read as little-endian words of their network-order bytes on both sides (the
 * BPF target is bpfel; user space is x86-64 or arm64). */
#ifndef FW_FASTTABLE_SHARED_H
#define FW_FASTTABLE_SHARED_H
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "flywall/abi.h"

#define FW_FT_MAX_PROBE      16          /* slots examined per lookup (unrolled in BPF) */
#define FW_FT_SLOTS4_DEFAULT (1u << 21)  /* 2x FW_IP_EXACT_MAX: load <= 0.5 at capacity */
#define FW_FT_SLOTS6_DEFAULT (1u << 21)
#define FW_FT_MIN_BITS       4           /* at least FW_FT_MAX_PROBE slots */
#define FW_FT_MAX_BITS       26

#define FW_FT_HASH_K1 0x9E3779B97F4A7C15ULL /* 2^64 / golden ratio */
#define FW_FT_HASH_K2 0xC2B2AE3D27D4EB4FULL

enum fw_ft_state {
	FW_FT_EMPTY = 0,     /* never used since the last clear: ends every probe sequence */
	FW_FT_USED  = 1,     /* holds a live entry */
	FW_FT_TOMB  = 2,     /* deleted: probing continues past it; reusable by inserts */
};

/* Which exact store: bit positions of fw_ft_config.hash_skip. */
enum fw_ft_table {
	FW_FT_ALLOW4 = 0,
	FW_FT_BLOCK4 = 1,
	FW_FT_ALLOW6 = 2,
	FW_FT_BLOCK6 = 3,
};

struct fw_ft4_slot {
	__u32 key;                /* IPv4 address, network byte order */
	__u32 state;              /* fw_ft_state; written last with a release store */
	struct fw_ip_entry e;
};

struct fw_ft6_slot {
	struct fw_ip6_addr key;
	__u32 state;
	__u32 pad;
	struct fw_ip_entry e;
};

/* Lives in the program's .bss (mmapped by the skeleton). Written by user space only. */
struct fw_ft_config {
	__u64 seed[2];            /* hash key; drawn at load */
	__u32 shift4;             /* 64 - log2(slots of the IPv4 tables) */
	__u32 shift6;             /* 64 - log2(slots of the IPv6 tables) */
	/* Bit (1 << fw_ft_table) set = that list's overflow hash is known to be empty, so the
	 * program skips it. Set only by the owner of the lists (IpLists). 0, the load-time value,
	 * means "consult the hash too", so a writer that only uses the hash map stays correct. */
	__u32 hash_skip;
	/* Bit (1 << fw_ft_table) set = that list's overflow hints are maintained (by IpLists): a
	 * miss consults the hash only when its home's hint bit is set. Clear (the load-time value)
	 * = every miss consults the hash unless hash_skip says it is empty. */
	__u32 hinted;
};

/* Two multiply rounds with a fold in between: one round (Fibonacci hashing) clustered badly on
 * arithmetic key sequences for some seeds (thousands of overflows per million keys). */
static inline __u32 fw_ft_hash4(__u32 key, const __u64 *seed, __u32 shift)
{
	__u64 x = ((__u64)key ^ seed[0]) * FW_FT_HASH_K1;
	x ^= (x >> 32) ^ seed[1];
	x *= FW_FT_HASH_K2;
	return (__u32)(x >> shift);
}

/* lo, hi: the address's first and last 8 bytes loaded as little-endian u64. */
static inline __u32 fw_ft_hash6(__u64 lo, __u64 hi, const __u64 *seed, __u32 shift)
{
	__u64 x = ((lo ^ seed[0]) * FW_FT_HASH_K1) ^ (hi ^ seed[1]);
	x *= FW_FT_HASH_K2;
	x ^= x >> 32;
	x *= FW_FT_HASH_K1;
	return (__u32)(x >> shift);
}

#endif /* FW_FASTTABLE_SHARED_H */
