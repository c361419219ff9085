/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* DNS domain blocking for UDP/53 queries (IPv4, IPv6, any VLAN depth the parser accepts).
 *
 * 1. The UDP header, DNS header and question are copied (bpf_xdp_load_bytes) into a per-CPU
 *    scratch buffer; only standard queries (QR=0, OPCODE=0) with QDCOUNT=1 are inspected.
 * 2. QNAME is walked label by label (bpf_loop, one callback per label): labels 1..63 bytes, at
 *    most 253 characters (254 wire bytes without the root label), no compression pointers or
 *    extended label types (a query has no earlier name to point to). Anything else is
 *    malformed and counted.
 * 3. One right-to-left pass over the labels (bpf_loop, one callback per label) extends the key
 *    hash (flywall/dns_hash.h) by the label's length and its bytes, 8 at a time, lower-cased
 *    with word arithmetic; after each label the hash is that of the suffix ending there, so
 *    "x.y.ads.example.com" tries com, example.com, ads.example.com, y.ads..., and never
 *    "badads.example.com" against "ads.example.com" (not at a label boundary). Each candidate:
 *    bloom filter first (one peek), then the exact hash keyed by {hash, suffix length} (16
 *    bytes), then the stored name is compared with the query's suffix; a bloom or hash hit that
 *    the name does not confirm is a counted false positive, never a drop. Nothing is zeroed or
 *    copied per candidate.
 * 4. Action (entry's, or fw_cfg.dns_action for FW_DNS_ACTION_GLOBAL): drop, or rewrite the query
 *    in place into an NXDOMAIN answer and XDP_TX it. */
#ifndef FW_DNS_H
#define FW_DNS_H

#include "fw_xdp_maps.h"
#include "fw_stats.h"
#include "fw_parse.h"
#include "fw_events.h"
#include "fw_iplist.h" /* fw_clock */
#include "flywall/dns_hash.h"

#define FW_DNS_RAW        512   /* scratch size: a power of two so indices can be masked */
#define FW_DNS_HDR        8     /* raw[] starts at the UDP header; DNS header at raw[8] */
#define FW_DNS_QNAME      20    /* QNAME at raw[20] */
#define FW_DNS_WIRE_MAX   254   /* wire bytes of a name without the root label (253 dotted) */
#define FW_DNS_LOAD_MAX   (FW_DNS_QNAME + FW_DNS_WIRE_MAX + 1 + 4)
#define FW_DNS_MAX_LABELS 128

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, FW_DNS_MAX);
	__uint(map_extra, 3); /* hash functions */
	__type(value, __u64);
} fw_dns_bloom SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, FW_DNS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct fw_dns_key);
	__type(value, struct fw_dns_entry);
} fw_dns_exact SEC(".maps");

struct fw_dns_scratch {
	/* UDP header + DNS header + question, as received; the tail keeps 8-byte word loads at
	 * any masked index in bounds. */
	__u8 raw[FW_DNS_RAW + 64];
	__u8 starts[FW_DNS_MAX_LABELS];   /* offset in the name of each label's length byte */
	char dotted[FW_DNS_NAME_MAX];     /* the queried name as text, for events */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_dns_scratch);
} fw_dns_scratch_map SEC(".maps");

#define FW_DNS_IDX(i) ((i) & (FW_DNS_RAW - 1))

/* ---- step 2: label walk ---- */
struct fw_dns_parse_ctx {
	struct fw_dns_scratch *sc;
	__u32 avail;   /* valid bytes in raw */
	__u32 pos;     /* offset in the name of the next length byte */
	__u32 nlabels;
	__u32 state;   /* 0 running, 1 done, 2 malformed */
};

static long fw_dns_parse_cb(__u32 i, void *data)
{
	struct fw_dns_parse_ctx *c = data;
	struct fw_dns_scratch *sc = c->sc;
	__u32 pos = c->pos;
	__u8 len;

	if (FW_DNS_QNAME + pos >= c->avail)
		goto bad; /* truncated */
	len = sc->raw[FW_DNS_IDX(FW_DNS_QNAME + pos)];
	if (len == 0) {
		c->state = 1;
		return 1;
	}
	if (len > 63)
		goto bad; /* 0xC0 compression pointer, 0x40 extended label, or over-long label */
	if (pos + 1 + len > FW_DNS_WIRE_MAX)
		goto bad; /* name longer than 253 characters */
	sc->starts[c->nlabels & (FW_DNS_MAX_LABELS - 1)] = (__u8)pos;
	c->nlabels++;
	c->pos = pos + 1 + len;
	return 0;
bad:
	c->state = 2;
	return 1;
}

/* ---- step 3: right-to-left suffix match ---- */
struct fw_dns_match_ctx {
	struct fw_dns_scratch *sc;
	__u64 h;           /* key hash of the suffix tried so far */
	__u32 name_len;    /* wire bytes of the whole name (no root) */
	__u32 nlabels;
	__u32 matched;
	__u32 action;
	__u32 false_pos;
};

/* 8 bytes of raw at a masked offset (the scratch has 64 bytes of slack past FW_DNS_RAW). */
static __always_inline __u64 fw_dns_word(const struct fw_dns_scratch *sc, __u32 off)
{
	return *(const __u64 *)(const void *)&sc->raw[off & (FW_DNS_RAW - 1)];
}

/* Does the query's suffix at name offset `start` (len wire bytes) equal the stored name? */
static __always_inline int fw_dns_name_equal(const struct fw_dns_scratch *sc, __u32 start, __u32 len,
					     const struct fw_dns_entry *e)
{
	int k;

#pragma unroll
	for (k = 0; k < FW_DNS_NAME_MAX / 8; k++) {
		__u64 m;

		if (8 * k >= len)
			break;
		m = fw_dns_word_mask(len - 8 * k);
		if ((fw_dns_lower8(fw_dns_word(sc, FW_DNS_QNAME + start + 8 * k)) & m) !=
		    (*(const __u64 *)(const void *)&e->name[8 * k] & m))
			return 0;
	}
	return 1;
}

static long fw_dns_match_cb(__u32 idx, void *data)
{
	struct fw_dns_match_ctx *c = data;
	struct fw_dns_scratch *sc = c->sc;
	struct fw_dns_entry *e;
	struct fw_dns_key key;
	__u32 start = sc->starts[(c->nlabels - 1 - idx) & (FW_DNS_MAX_LABELS - 1)];
	__u32 len = sc->raw[FW_DNS_IDX(FW_DNS_QNAME + start)]; /* 1..63: checked by the walk */
	__u64 h = fw_dns_hash_word(c->h, len);
	int k;

#pragma unroll
	for (k = 0; k < 8; k++) {
		if (8 * k >= len)
			break;
		h = fw_dns_hash_word(h, fw_dns_lower8(fw_dns_word(sc, FW_DNS_QNAME + start + 1 + 8 * k)) &
					     fw_dns_word_mask(len - 8 * k));
	}
	c->h = h;
	if (bpf_map_peek_elem(&fw_dns_bloom, &h) != 0)
		return 0; /* certainly not blocked */
	key.hash = h;
	key.len = c->name_len - start;
	key.pad = 0;
	e = bpf_map_lookup_elem(&fw_dns_exact, &key);
	if (!e || !fw_dns_name_equal(sc, start, key.len, e)) {
		c->false_pos++;
		return 0;
	}
	if (e->expires_ns && bpf_ktime_get_ns() >= e->expires_ns)
		return 0;
	__sync_fetch_and_add(&e->hits, 1);
	c->action = e->action;
	c->matched = 1;
	return 1;
}

/* ---- event name: wire format to dotted text ---- */
struct fw_dns_text_ctx {
	struct fw_dns_scratch *sc;
	__u32 next_len_pos;
};

static long fw_dns_text_cb(__u32 pos, void *data)
{
	struct fw_dns_text_ctx *c = data;
	struct fw_dns_scratch *sc = c->sc;
	__u8 ch = sc->raw[FW_DNS_IDX(FW_DNS_QNAME + pos)];

	if (pos == c->next_len_pos) {
		c->next_len_pos = pos + 1 + ch;
		if (pos == 0)
			return 0;
		ch = '.';
	}
	sc->dotted[(pos - 1) & (FW_DNS_NAME_MAX - 1)] = (char)ch;
	return 0;
}

/* ---- step 4: NXDOMAIN in place ---- */
struct fw_csum_ctx {
	struct fw_dns_scratch *sc;
	__u32 start;
	__u32 end;
	__u64 sum;
};

static long fw_csum_cb(__u32 k, void *data)
{
	struct fw_csum_ctx *c = data;
	__u32 off = c->start + 2 * k;
	__u32 hi = c->sc->raw[FW_DNS_IDX(off)];
	__u32 lo = off + 1 < c->end ? c->sc->raw[FW_DNS_IDX(off + 1)] : 0;

	c->sum += (hi << 8) | lo;
	return 0;
}

static __always_inline __u16 fw_csum_fold(__u64 sum)
{
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	sum = (sum & 0xFFFF) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline __u64 fw_sum16(const void *p, int words)
{
	const __be16 *w = p;
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < 16; i++)
		if (i < words)
			sum += bpf_ntohs(w[i]);
	return sum;
}

static __always_inline void fw_swap_bytes(__u8 *a, __u8 *b, int n)
{
	int i;

#pragma unroll
	for (i = 0; i < 16; i++) {
		if (i < n) {
			__u8 t = a[i];
			a[i] = b[i];
			b[i] = t;
		}
	}
}

/* raw[0, qend) is the answer's UDP header + DNS message. Returns an XDP action. */
static __always_inline int fw_dns_nxdomain(struct xdp_md *ctx, const struct fw_pkt *p,
					   struct fw_dns_scratch *sc, __u32 qend,
					   struct fw_stats *s)
{
	__u32 l3 = p->l3_off, l4 = p->l4_off;
	__u32 iphl = p->family == 4 ? 20 : 40;
	struct fw_csum_ctx cs = { .sc = sc, .start = FW_DNS_HDR, .end = qend };
	void *data, *data_end;
	struct udphdr *uh;
	__u8 *eth;
	__u64 sum;
	int delta;

	/* The answer reuses the query's headers; IPv4 options and IPv6 extension headers would
	 * have to be rewritten, not echoed: such (rare) queries are dropped instead. */
	if (l4 - l3 != iphl || l3 > 22) {
		FW_STAT_INC(s, dns_nxdomain_unsupported);
		return XDP_DROP;
	}
	delta = (int)(l4 + qend) - (int)p->len;
	if (delta > 0)
		return XDP_DROP;
	if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta))
		return XDP_DROP;

	/* DNS header: QR=1, opcode and RD kept, AA=TC=0; RA=1, Z=AD=0, CD kept, RCODE=3;
	 * QDCOUNT stays 1, AN/NS/AR=0 (EDNS and any additional data were trimmed above). */
	sc->raw[FW_DNS_HDR + 2] = 0x80 | (sc->raw[FW_DNS_HDR + 2] & 0x79);
	sc->raw[FW_DNS_HDR + 3] = 0x80 | (sc->raw[FW_DNS_HDR + 3] & 0x10) | 3;
	__builtin_memset(&sc->raw[FW_DNS_HDR + 6], 0, 6);
	bpf_loop((qend - FW_DNS_HDR + 1) / 2, fw_csum_cb, &cs, 0);

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 14) > data_end)
		return XDP_DROP;
	fw_swap_bytes(eth, eth + 6, 6);

	sum = cs.sum + IPPROTO_UDP + qend /* pseudo-header length */ + qend /* UDP length */;
	if (p->family == 4) {
		struct iphdr *iph = data + l3;
		if ((void *)iph + 20 + 8 + 12 > data_end)
			return XDP_DROP;
		fw_swap_bytes((__u8 *)&iph->saddr, (__u8 *)&iph->daddr, 4);
		iph->tot_len = bpf_htons(20 + qend);
		iph->ttl = 64;
		iph->check = 0;
		iph->check = bpf_htons(fw_csum_fold(fw_sum16(iph, 10)));
		sum += fw_sum16(&iph->saddr, 4);
		uh = (void *)iph + 20;
	} else {
		struct ipv6hdr *ip6 = data + l3;
		if ((void *)ip6 + 40 + 8 + 12 > data_end)
			return XDP_DROP;
		fw_swap_bytes((__u8 *)&ip6->saddr, (__u8 *)&ip6->daddr, 16);
		ip6->payload_len = bpf_htons(qend);
		ip6->hop_limit = 64;
		sum += fw_sum16(&ip6->saddr, 16);
		uh = (void *)ip6 + 40;
	}
	{
		__be16 t = uh->source;
		uh->source = uh->dest;
		uh->dest = t;
	}
	uh->len = bpf_htons(qend);
	sum += bpf_ntohs(uh->source) + bpf_ntohs(uh->dest);
	{
		__u16 c = fw_csum_fold(sum);
		uh->check = bpf_htons(c ? c : 0xFFFF);
	}
	__builtin_memcpy((void *)(uh + 1), &sc->raw[FW_DNS_HDR], 12);
	FW_STAT_INC(s, dns_blocked_nxdomain);
	return XDP_TX;
}

#define FW_DNS_CONTINUE (-1)

/* Returns FW_DNS_CONTINUE, or an XDP action for a blocked (or malformed, when configured) query. */
static __always_inline int fw_dns_check(struct xdp_md *ctx, const struct fw_pkt *p,
					struct fw_stats *s, struct fw_clock *clock, __u32 ifindex)
{
	struct fw_dns_parse_ctx pc = {};
	struct fw_dns_match_ctx mc = {};
	struct fw_dns_scratch *sc;
	__u32 zero = 0, len, avail, udp_len, qend, action;

	if (p->l4_proto != IPPROTO_UDP || !p->has_l4 || p->dport != bpf_htons(53))
		return FW_DNS_CONTINUE;
	sc = bpf_map_lookup_elem(&fw_dns_scratch_map, &zero);
	if (!sc)
		return FW_DNS_CONTINUE;

	if (p->l4_off >= p->len)
		goto malformed;
	len = p->len - p->l4_off;
	if (len > FW_DNS_LOAD_MAX)
		len = FW_DNS_LOAD_MAX;
	if (len < FW_DNS_QNAME + 1)
		goto malformed;
	/* Restate both bounds on the very register passed to the helper (the compiler may test a
	 * copy); for the values that reach here these instructions change nothing. */
	asm volatile("%0 &= 0x1ff\n\tif %0 > 20 goto +1\n\t%0 = 21" : "+r"(len));
	if (bpf_xdp_load_bytes(ctx, p->l4_off, sc->raw, len))
		goto malformed;
	udp_len = ((__u32)sc->raw[4] << 8) | sc->raw[5];
	if (udp_len < FW_DNS_QNAME + 1 || udp_len > p->len - p->l4_off)
		goto malformed;
	avail = udp_len < len ? udp_len : len;

	if ((sc->raw[FW_DNS_HDR + 2] & 0xF8) != 0 || sc->raw[FW_DNS_HDR + 4] != 0 ||
	    sc->raw[FW_DNS_HDR + 5] != 1) {
		FW_STAT_INC(s, dns_not_inspected); /* response, other opcode, or QDCOUNT != 1 */
		return FW_DNS_CONTINUE;
	}
	FW_STAT_INC(s, dns_queries);

	pc.sc = sc;
	pc.avail = avail;
	bpf_loop(FW_DNS_MAX_LABELS, fw_dns_parse_cb, &pc, 0);
	if (pc.state != 1)
		goto malformed;
	qend = FW_DNS_QNAME + pc.pos + 1 + 4; /* QNAME, root label, QTYPE, QCLASS */
	if (qend > avail)
		goto malformed;
	if (pc.nlabels == 0)
		return FW_DNS_CONTINUE; /* the root: nothing to match */

	mc.sc = sc;
	mc.h = FW_DNS_HASH_SEED;
	mc.name_len = pc.pos;
	mc.nlabels = pc.nlabels;
	bpf_loop(pc.nlabels, fw_dns_match_cb, &mc, 0);
	FW_STAT_ADD(s, dns_bloom_false_positive, mc.false_pos);
	if (!mc.matched)
		return FW_DNS_CONTINUE;

	action = mc.action == FW_DNS_ACTION_GLOBAL ? fw_cfg.dns_action : mc.action;
	if (fw_cfg.features & FW_F_EVENTS) {
		__u64 now = fw_now(clock);
		struct fw_event *e = fw_event_reserve(s, now);
		if (e) {
			struct fw_dns_text_ctx tc = { .sc = sc };
			bpf_loop(pc.pos, fw_dns_text_cb, &tc, 0);
			sc->dotted[(pc.pos - 1) & (FW_DNS_NAME_MAX - 1)] = 0;
			fw_event_fill(e, p, FW_EV_DOMAIN_BLOCKED, ifindex, action, now);
			__builtin_memcpy(e->name, sc->dotted, FW_DNS_NAME_MAX);
			e->name_len = pc.pos - 1;
			fw_event_submit(e, s);
		}
	}
	if (s)
		s->drop_reason[FW_DROP_DNS_BLOCKLIST]++;
	if (action == FW_DNS_ACTION_NXDOMAIN)
		return fw_dns_nxdomain(ctx, p, sc, qend, s);
	FW_STAT_INC(s, dns_blocked_drop);
	return XDP_DROP;

malformed:
	if (s)
		s->malformed[FW_MAL_DNS]++;
	if (fw_cfg.malformed_verdict == FW_VERDICT_DROP) {
		if (s)
			s->drop_reason[FW_DROP_MALFORMED]++;
		return XDP_DROP;
	}
	return FW_DNS_CONTINUE;
}

#endif /* FW_DNS_H */
