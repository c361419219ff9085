/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Inline IPS: multi-pattern search over the first ips_scan_bytes of the TCP/UDP payload.
 * For each payload position the leading byte pair indexes tc_ips_prefix (one u64 bit per
 * pattern slot); only blocks where some mask is set enter the slow path, which verifies each
 * candidate pattern with four masked 64-bit compares. The search runs in bpf_loop callbacks,
 * so the verifier checks it once whatever the payload length. */
#ifndef FW_TC_IPS_H
#define FW_TC_IPS_H

#include "fw_tc_maps.h"
#include "fw_parse.h"

struct fw_ips_result {
	__u32 pattern_id;
	__u16 offset;
	__u8 action;       /* 0, FW_IPS_ALERT or FW_IPS_DROP */
	__u8 pad;
	__u32 slot;        /* tc_ips_patterns index of the strongest match */
};

/* de Bruijn index of the lowest set bit of a 64-bit word. */
static const __u8 fw_debruijn64[64] = {
	0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6,
};

static __always_inline __u32 fw_lowest_bit_index(__u64 low)
{
	return fw_debruijn64[(low * 0x03f79d71b4cb0a89ULL) >> 58];
}

/* Masks in a way the compiler cannot drop, so the verifier sees the bound on the index even
 * where the optimizer already proved it by other means. */
static __always_inline __u64 fw_ips_bound(__u64 v, const __u64 mask)
{
	asm volatile("%0 &= %1" : "+r"(v) : "i"(mask));
	return v;
}

static __always_inline struct fw_ips_buf *fw_ips_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&tc_ips_scratch, &zero);
}

static __always_inline __u32 fw_ips_slot_at(const struct fw_ips_buf *b, __u32 pos)
{
	return ((__u32)b->data[fw_ips_bound(pos, FW_IPS_SCAN_MAX - 1)] << 8) |
	       b->data[fw_ips_bound(pos + 1, FW_IPS_BUF_SIZE - 1)];
}

static __always_inline int fw_ips_verify(const struct fw_ips_buf *b, __u32 pos,
					 const struct fw_ips_pattern *pt)
{
	const __u64 *pb = (const __u64 *)pt->bytes;
	const __u64 *pm = (const __u64 *)pt->mask;
	const __u8 *at = b->data + fw_ips_bound(pos, FW_IPS_SCAN_MAX - 1);
	__u64 diff = 0;
	int w;

#pragma unroll
	for (w = 0; w < FW_IPS_PATTERN_LEN / 8; w++)
		diff |= (*(const __u64 *)(at + 8 * w) ^ pb[w]) & pm[w];
	return diff == 0;
}

/* One step of the slow path over a block: either moves to the next position of the block
 * (sc->blk_hits) and loads its candidate mask, or verifies one candidate pattern (the lowest
 * set bit of sc->cand) at sc->pos. */
static long fw_ips_check_step(__u32 unused, void *ctx)
{
	struct fw_ips_buf *b = fw_ips_scratch();
	struct fw_ips_scan *sc;
	struct fw_ips_pattern *pt;
	__u64 cand, low;
	__u32 j, pos;

	if (!b)
		return 1;
	sc = &b->sc;
	cand = sc->cand;
	if (!cand) {
		__u64 hits = sc->blk_hits, *maskp;
		__u32 slot;

		if (!hits)
			return 1;
		low = hits & -hits;
		sc->blk_hits = hits ^ low;
		pos = sc->base + fw_lowest_bit_index(low);
		if (pos + 1 >= sc->len)
			return 1;
		slot = fw_ips_slot_at(b, pos);
		maskp = bpf_map_lookup_elem(&tc_ips_prefix, &slot);
		sc->cand = maskp ? *maskp : 0;
		sc->pos = pos;
		return 0;
	}
	pos = sc->pos;
	low = cand & -cand;
	sc->cand = cand ^ low;
	j = fw_lowest_bit_index(low);
	if (j >= sc->count)
		return 0;
	pt = bpf_map_lookup_elem(&tc_ips_patterns, &j);
	if (!pt || !(pt->flags & FW_IPS_P_ENABLED))
		return 0;
	if (pt->proto && pt->proto != sc->proto)
		return 0;
	if (pt->port && pt->port != sc->sport && pt->port != sc->dport)
		return 0;
	if (pt->len < 2 || pos + pt->len > sc->len)
		return 0;
	if (!fw_ips_verify(b, pos, pt))
		return 0;
	if (pt->action > sc->action) {
		sc->action = pt->action;
		sc->offset = (__u16)pos;
		sc->pattern_id = pt->id;
		sc->slot = j;
	}
	return sc->action == FW_IPS_DROP; /* nothing outranks a drop */
}

/* Positions per callback: a BPF-to-BPF call costs more than the per-position work on CPUs
 * with return-thunk mitigations, so each callback handles an unrolled block of positions and
 * only a block with a prefix hit (rare) enters the slow path. */
#define FW_IPS_BLOCK 16

static long fw_ips_scan_block(__u32 blk, void *ctx)
{
	struct fw_ips_buf *b = fw_ips_scratch();
	__u32 base = blk * FW_IPS_BLOCK, k, n = FW_IPS_BLOCK, len;
	__u64 any = 0;

	if (!b)
		return 1;
	len = b->sc.len;
	/* OR the masks without branching on them: a branch per unrolled position would double
	 * the verifier's states at each one */
#pragma unroll
	for (k = 0; k < FW_IPS_BLOCK; k++) {
		__u32 pos = base + k;
		__u32 slot;
		__u64 *maskp;

		if (pos + 1 >= len || pos >= FW_IPS_SCAN_MAX) {
			n = k;
			break;
		}
		slot = fw_ips_slot_at(b, pos);
		maskp = bpf_map_lookup_elem(&tc_ips_prefix, &slot);
		if (!maskp)
			return 1;
		any |= *maskp;
	}
	if (any) {
		b->sc.base = base;
		b->sc.blk_hits = (1ULL << n) - 1;
		b->sc.cand = 0;
		bpf_loop(FW_IPS_BLOCK * (FW_IPS_PATTERNS_MAX + 1), fw_ips_check_step, NULL, 0);
		if (b->sc.action == FW_IPS_DROP)
			return 1;
	}
	return n < FW_IPS_BLOCK;
}

#define FW_L4_OFF_MAX 4096

/* Offset of the L4 payload, or 0 when there is none to scan. */
static __always_inline __u32 fw_l4_payload_off(const struct fw_pkt *p)
{
	if (p->l4_proto == IPPROTO_UDP)
		return (__u32)p->l4_off + 8;
	if (p->l4_proto == IPPROTO_TCP) {
		__u32 l4 = p->l4_off;
		__u8 *th;

		if (l4 > FW_L4_OFF_MAX)  /* bounded for the verifier's packet range check */
			return 0;
		th = p->data + l4;
		if ((void *)(th + 13) > p->data_end)
			return 0;
		return l4 + ((__u32)(th[12] >> 4) * 4);
	}
	return 0;
}

/* Scans the payload into *res. Returns the number of bytes scanned (0: nothing to scan). */
static __always_inline __u32 fw_ips_scan(struct __sk_buff *skb, const struct fw_pkt *p,
					 struct fw_ips_result *res, __u32 scan_bytes, __u32 count)
{
	__u32 off, avail, n;
	struct fw_ips_buf *b;

	res->action = 0;
	if (!p->has_l4 || (p->l4_proto != IPPROTO_TCP && p->l4_proto != IPPROTO_UDP))
		return 0;
	off = fw_l4_payload_off(p);
	if (off == 0 || off >= skb->len)
		return 0;
	avail = skb->len - off;
	n = scan_bytes < avail ? scan_bytes : avail;
	if (n > FW_IPS_SCAN_MAX)
		n = FW_IPS_SCAN_MAX;
	if (n < 2)
		return 0;
	b = fw_ips_scratch();
	if (!b)
		return 0;
	n = fw_ips_bound(n - 1, FW_IPS_SCAN_MAX - 1) + 1; /* [1, FW_IPS_SCAN_MAX] for the verifier */
	if (bpf_skb_load_bytes(skb, off, b->data, n))
		return 0;
	b->sc.len = n;
	b->sc.count = count > FW_IPS_PATTERNS_MAX ? FW_IPS_PATTERNS_MAX : count;
	b->sc.sport = bpf_ntohs(p->sport);
	b->sc.dport = bpf_ntohs(p->dport);
	b->sc.proto = p->l4_proto;
	b->sc.action = 0;
	b->sc.offset = 0;
	b->sc.pattern_id = 0;
	b->sc.slot = 0;
	bpf_loop(FW_IPS_SCAN_MAX / FW_IPS_BLOCK, fw_ips_scan_block, NULL, 0);
	res->action = b->sc.action;
	res->offset = b->sc.offset;
	res->pattern_id = b->sc.pattern_id;
	res->slot = b->sc.slot;
	return n;
}

/* Whether a flow's cached DROP verdict still stands: IPS is on and the slot that set it still
 * holds an enabled drop pattern with the same id. Otherwise the verdict is forgotten and the
 * flow's packets are scanned again like any other (a removed pattern stops dropping at once). */
static __always_inline int fw_ips_verdict_holds(const struct fw_tc_flow *f, __u32 features)
{
	const struct fw_ips_pattern *pt;
	__u32 slot = f->ips_pattern_slot;

	if (!(features & FW_TC_F_IPS) || slot >= FW_IPS_PATTERNS_MAX)
		return 0;
	pt = bpf_map_lookup_elem(&tc_ips_patterns, &slot);
	return pt && (pt->flags & FW_IPS_P_ENABLED) && pt->action == FW_IPS_DROP && pt->id == f->ips_pattern_id;
}

#endif /* FW_TC_IPS_H */
