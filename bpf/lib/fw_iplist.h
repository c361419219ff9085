/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* IP allowlist and blocklist: exact addresses (hash) and CIDR prefixes (LPM trie), IPv4 and
 * IPv6, source match by default and destination match per entry, optional expiry, per-entry
 * hit counters. Tables that user space marks empty in fw_cfg.tables are never looked up.
 * Exact addresses live in the fast tables of fw_fasttable.h; their overflow in the hash maps,
 * consulted only when the table misses and fw_fasttable.h's skip bit and hints say the hash may
 * hold the key.
 * A trie lookup yields only the longest matching prefix: when that entry names the other direction
 * or has expired, a shorter prefix of the same list and family is not consulted (an entry is one
 * prefix with one direction set; use MatchDir::Both or a separate list rather than nesting
 * prefixes of different directions). */
#ifndef FW_IPLIST_H
#define FW_IPLIST_H

#include "fw_xdp_maps.h"
#include "fw_parse.h"
#include "fw_fasttable.h"
#include "flywall/guard.h"

/* Lazily read clock: most entries never expire, so most packets never read it. */
struct fw_clock {
	__u64 now;
};

static __always_inline __u64 fw_now(struct fw_clock *c)
{
	if (!c->now)
		c->now = bpf_ktime_get_ns();
	return c->now;
}

/* An entry matches when it exists, names this direction and has not expired. */
static __always_inline int fw_entry_hit(struct fw_ip_entry *e, __u32 dir_flag, struct fw_clock *c)
{
	if (!e || !(e->flags & dir_flag))
		return 0;
	if (e->expires_ns && fw_now(c) >= e->expires_ns)
		return 0;
	__sync_fetch_and_add(&e->hits, 1);
	return 1;
}

static __always_inline int fw_lpm4_hit(void *lpm, __u8 guard_bit, __be32 addr, __u32 dir_flag,
				       struct fw_clock *c)
{
	struct fw_lpm4_key key = { .prefixlen = 32 };
	__u32 slot;
	__u8 *g;

	__builtin_memcpy(key.addr, &addr, 4);
	slot = fw_guard4_slot(key.addr);
	g = bpf_map_lookup_elem(&fw_lpm_guard4, &slot);
	if (!g || !(*g & guard_bit))
		return 0;
	return fw_entry_hit(bpf_map_lookup_elem(lpm, &key), dir_flag, c);
}

static __always_inline int fw_lpm6_hit(void *lpm, __u8 guard_bit, int unguarded,
				       const struct in6_addr *addr, __u32 dir_flag, struct fw_clock *c)
{
	struct fw_lpm6_key key = { .prefixlen = 128 };

	__builtin_memcpy(key.addr, addr, 16);
	if (!unguarded) {
		__u32 slot = fw_guard6_slot(key.addr);
		__u8 *g = bpf_map_lookup_elem(&fw_lpm_guard6, &slot);
		if (!g || !(*g & guard_bit))
			return 0;
	}
	return fw_entry_hit(bpf_map_lookup_elem(lpm, &key), dir_flag, c);
}

/* Table bits for one list and family are laid out as: EXACT_SRC, EXACT_DST, LPM_SRC, LPM_DST. */
#define FW_T_EXACT_SRC(base) (base)
#define FW_T_EXACT_DST(base) ((base) << 1)
#define FW_T_LPM_SRC(base)   ((base) << 2)
#define FW_T_LPM_DST(base)   ((base) << 3)

static __always_inline int fw_list_match4(struct fw_pkt *p, __u32 tables, __u32 base, int ft,
					  void *exact, void *lpm, __u8 guard_bit, struct fw_clock *c)
{
	if ((tables & FW_T_EXACT_SRC(base)) &&
	    FW_FT4_WITH(ft, exact, &p->saddr4, fw_entry_hit(e, FW_ENTRY_MATCH_SRC, c)))
		return 1;
	if ((tables & FW_T_EXACT_DST(base)) &&
	    FW_FT4_WITH(ft, exact, &p->daddr4, fw_entry_hit(e, FW_ENTRY_MATCH_DST, c)))
		return 1;
	if ((tables & FW_T_LPM_SRC(base)) &&
	    fw_lpm4_hit(lpm, guard_bit, p->saddr4, FW_ENTRY_MATCH_SRC, c))
		return 1;
	if ((tables & FW_T_LPM_DST(base)) &&
	    fw_lpm4_hit(lpm, guard_bit, p->daddr4, FW_ENTRY_MATCH_DST, c))
		return 1;
	return 0;
}

static __always_inline int fw_list_match6(struct fw_pkt *p, __u32 tables, __u32 base, int ft,
					  void *exact, void *lpm, __u8 guard_bit, int unguarded,
					  struct fw_clock *c)
{
	if ((tables & FW_T_EXACT_SRC(base)) &&
	    FW_FT6_WITH(ft, exact, &p->saddr6, fw_entry_hit(e, FW_ENTRY_MATCH_SRC, c)))
		return 1;
	if ((tables & FW_T_EXACT_DST(base)) &&
	    FW_FT6_WITH(ft, exact, &p->daddr6, fw_entry_hit(e, FW_ENTRY_MATCH_DST, c)))
		return 1;
	if ((tables & FW_T_LPM_SRC(base)) &&
	    fw_lpm6_hit(lpm, guard_bit, unguarded, &p->saddr6, FW_ENTRY_MATCH_SRC, c))
		return 1;
	if ((tables & FW_T_LPM_DST(base)) &&
	    fw_lpm6_hit(lpm, guard_bit, unguarded, &p->daddr6, FW_ENTRY_MATCH_DST, c))
		return 1;
	return 0;
}

enum fw_list_verdict {
	FW_LIST_NONE = 0,
	FW_LIST_ALLOWED = 1,
	FW_LIST_BLOCKED = 2,
};

/* Allowlist before blocklist. */
static __always_inline int fw_iplist_check(struct fw_pkt *p, __u32 features, __u32 tables,
					   struct fw_clock *c)
{
	if (p->family == 4) {
		if ((features & FW_F_IP_ALLOWLIST) && (tables & 0xFu) &&
		    fw_list_match4(p, tables, FW_T_ALLOW4_EXACT_SRC, FW_FT_ALLOW4, &fw_allow4,
				   &fw_allow4_lpm, FW_GUARD_ALLOW, c))
			return FW_LIST_ALLOWED;
		if ((features & FW_F_IP_BLOCKLIST) && (tables & 0xF00u) &&
		    fw_list_match4(p, tables, FW_T_BLOCK4_EXACT_SRC, FW_FT_BLOCK4, &fw_block4,
				   &fw_block4_lpm, FW_GUARD_BLOCK, c))
			return FW_LIST_BLOCKED;
	} else if (p->family == 6) {
		if ((features & FW_F_IP_ALLOWLIST) && (tables & 0xF0u) &&
		    fw_list_match6(p, tables, FW_T_ALLOW6_EXACT_SRC, FW_FT_ALLOW6, &fw_allow6,
				   &fw_allow6_lpm, FW_GUARD_ALLOW,
				   !!(tables & FW_T_ALLOW6_LPM_UNGUARDED), c))
			return FW_LIST_ALLOWED;
		if ((features & FW_F_IP_BLOCKLIST) && (tables & 0xF000u) &&
		    fw_list_match6(p, tables, FW_T_BLOCK6_EXACT_SRC, FW_FT_BLOCK6, &fw_block6,
				   &fw_block6_lpm, FW_GUARD_BLOCK,
				   !!(tables & FW_T_BLOCK6_LPM_UNGUARDED), c))
			return FW_LIST_BLOCKED;
	}
	return FW_LIST_NONE;
}

#endif /* FW_IPLIST_H */
