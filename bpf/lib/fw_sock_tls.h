/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* TLS ClientHello parser: the JA3 fields (legacy version, cipher suites, extension types,
 * supported groups, EC point formats; GREASE removed) and the SNI host name. The hello is
 * copied once into a per-CPU buffer; lists are walked by bpf_loop callbacks whose state lives
 * in that map value (so the verifier checks each callback once). */
#ifndef FW_SOCK_TLS_H
#define FW_SOCK_TLS_H

#include "fw_sock_common.h"

#define FW_TLS_BUF_MAX  2048   /* hello bytes captured (power of two: used as a mask) */
#define FW_TLS_BUF_SIZE (FW_TLS_BUF_MAX + FW_TLS_SNI_MAX + 8)

#define FW_TLS_EXT_SNI        0
#define FW_TLS_EXT_GROUPS     10
#define FW_TLS_EXT_PF         11

struct fw_tls_scratch {
	__u8 buf[FW_TLS_BUF_SIZE];
	struct fw_tls_hello rec;
	__u32 len;           /* bytes captured in buf */
	__u32 off;           /* walk cursor */
	__u32 end;           /* end of the list being walked */
	__u32 sni_off, sni_len;
	__u32 groups_off, groups_len;
	__u32 pf_off, pf_len;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_tls_scratch);
} tls_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_tls_stats);
} tls_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FW_SOCK_RING_BYTES);
} tls_hellos SEC(".maps");

static __always_inline struct fw_tls_scratch *fw_tls_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&tls_scratch, &zero);
}

/* RFC 8701: 0x0a0a, 0x1a1a, ... 0xfafa. */
static __always_inline int fw_tls_is_grease(__u16 v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static __always_inline __u32 fw_tls_u8(const struct fw_tls_scratch *s, __u32 off)
{
	return s->buf[fw_sock_bound(off, FW_TLS_BUF_MAX - 1)];
}

static __always_inline __u32 fw_tls_u16(const struct fw_tls_scratch *s, __u32 off)
{
	return (fw_tls_u8(s, off) << 8) | fw_tls_u8(s, off + 1);
}

static long fw_tls_cipher_step(__u32 unused, void *ctx)
{
	struct fw_tls_scratch *s = fw_tls_scratch();
	__u32 off, v, n;

	if (!s)
		return 1;
	off = s->off;
	if (off + 2 > s->end)
		return 1;
	s->off = off + 2;
	v = fw_tls_u16(s, off);
	if (fw_tls_is_grease(v))
		return 0;
	n = s->rec.n_ciphers;
	if (n >= FW_TLS_MAX_CIPHERS) {
		s->rec.flags |= FW_TLS_TRUNC_CIPHERS;
		return 1;
	}
	s->rec.ciphers[fw_sock_bound(n, FW_TLS_MAX_CIPHERS - 1)] = v;
	s->rec.n_ciphers = n + 1;
	return 0;
}

static long fw_tls_ext_step(__u32 unused, void *ctx)
{
	struct fw_tls_scratch *s = fw_tls_scratch();
	__u32 off, type, len, n;

	if (!s)
		return 1;
	off = s->off;
	if (off + 4 > s->end)
		return 1;
	type = fw_tls_u16(s, off);
	len = fw_tls_u16(s, off + 2);
	s->off = off + 4 + len;
	if (type == FW_TLS_EXT_SNI) {
		s->sni_off = off + 4;
		s->sni_len = len;
	} else if (type == FW_TLS_EXT_GROUPS) {
		s->groups_off = off + 4;
		s->groups_len = len;
	} else if (type == FW_TLS_EXT_PF) {
		s->pf_off = off + 4;
		s->pf_len = len;
	}
	if (fw_tls_is_grease(type))
		return 0;
	n = s->rec.n_exts;
	if (n >= FW_TLS_MAX_EXTS) {
		s->rec.flags |= FW_TLS_TRUNC_EXTS;
		return 0; /* keep walking: SNI/groups may come later */
	}
	s->rec.exts[fw_sock_bound(n, FW_TLS_MAX_EXTS - 1)] = type;
	s->rec.n_exts = n + 1;
	return 0;
}

static long fw_tls_group_step(__u32 unused, void *ctx)
{
	struct fw_tls_scratch *s = fw_tls_scratch();
	__u32 off, v, n;

	if (!s)
		return 1;
	off = s->off;
	if (off + 2 > s->end)
		return 1;
	s->off = off + 2;
	v = fw_tls_u16(s, off);
	if (fw_tls_is_grease(v))
		return 0;
	n = s->rec.n_groups;
	if (n >= FW_TLS_MAX_GROUPS) {
		s->rec.flags |= FW_TLS_TRUNC_GROUPS;
		return 1;
	}
	s->rec.groups[fw_sock_bound(n, FW_TLS_MAX_GROUPS - 1)] = v;
	s->rec.n_groups = n + 1;
	return 0;
}

static long fw_tls_pf_step(__u32 unused, void *ctx)
{
	struct fw_tls_scratch *s = fw_tls_scratch();
	__u32 off, n;

	if (!s)
		return 1;
	off = s->off;
	if (off + 1 > s->end)
		return 1;
	s->off = off + 1;
	n = s->rec.n_pf;
	if (n >= FW_TLS_MAX_PF) {
		s->rec.flags |= FW_TLS_TRUNC_PF;
		return 1;
	}
	s->rec.pf[fw_sock_bound(n, FW_TLS_MAX_PF - 1)] = (__u8)fw_tls_u8(s, off);
	s->rec.n_pf = n + 1;
	return 0;
}

static __always_inline __u32 fw_tls_min(__u32 a, __u32 b)
{
	return a < b ? a : b;
}

/* Parses the hello in s->buf[0, s->len). Returns 0 when the fixed part parsed. */
static __always_inline int fw_tls_parse(struct fw_tls_scratch *s)
{
	struct fw_tls_hello *rec = &s->rec;
	__u32 len = s->len, hs_end, off, l;

	/* record header (5) + handshake header (4) + version (2) + random (32) + sid len (1) */
	if (len < 44)
		return -1;
	hs_end = 9 + ((fw_tls_u8(s, 6) << 16) | fw_tls_u16(s, 7));
	if (hs_end > len) {
		rec->flags |= FW_TLS_PARTIAL;
		hs_end = len;
	}
	rec->record_version = fw_tls_u16(s, 1);
	rec->client_version = fw_tls_u16(s, 9);
	off = 43;
	off += 1 + fw_tls_u8(s, off);               /* session id */
	if (off + 2 > hs_end)
		return -1;
	l = fw_tls_u16(s, off);                      /* cipher suites */
	s->off = off + 2;
	s->end = fw_tls_min(off + 2 + l, hs_end);
	bpf_loop(FW_TLS_BUF_MAX / 2, fw_tls_cipher_step, NULL, 0);
	off += 2 + l;
	if (off + 1 > hs_end)
		return -1;
	off += 1 + fw_tls_u8(s, off);               /* compression methods */
	if (off + 2 > hs_end)
		return 0;                                /* no extensions (SSLv3-style hello) */
	l = fw_tls_u16(s, off);
	s->off = off + 2;
	s->end = fw_tls_min(off + 2 + l, hs_end);
	bpf_loop(FW_TLS_BUF_MAX / 4, fw_tls_ext_step, NULL, 0);

	if (s->groups_len >= 2) {                    /* list length (2), then u16 groups */
		s->off = s->groups_off + 2;
		s->end = fw_tls_min(s->groups_off + 2 + fw_tls_u16(s, s->groups_off), hs_end);
		bpf_loop(FW_TLS_BUF_MAX / 2, fw_tls_group_step, NULL, 0);
	}
	if (s->pf_len >= 1) {                        /* list length (1), then u8 formats */
		s->off = s->pf_off + 1;
		s->end = fw_tls_min(s->pf_off + 1 + fw_tls_u8(s, s->pf_off), hs_end);
		bpf_loop(FW_TLS_BUF_MAX, fw_tls_pf_step, NULL, 0);
	}
	/* server_name: list length (2), name type (1, 0 = host_name), name length (2), name */
	if (s->sni_len >= 5 && fw_tls_u8(s, s->sni_off + 2) == 0) {
		__u32 name_off = s->sni_off + 5, name_len = fw_tls_u16(s, s->sni_off + 3);

		if (name_off + name_len > hs_end)
			name_len = name_off < hs_end ? hs_end - name_off : 0;
		if (name_len > FW_TLS_SNI_MAX - 1) {
			name_len = FW_TLS_SNI_MAX - 1;
			rec->flags |= FW_TLS_TRUNC_SNI;
		}
		__builtin_memcpy(rec->sni, s->buf + fw_sock_bound(name_off, FW_TLS_BUF_MAX - 1),
				 FW_TLS_SNI_MAX);
		rec->sni_len = name_len;
		rec->sni[fw_sock_bound(name_len, FW_TLS_SNI_MAX - 1)] = 0;
	}
	return 0;
}

/* Returns 1 when a ClientHello was reported. */
static __always_inline int fw_tls_handle(struct __sk_buff *skb, const struct fw_sock_pkt *p,
					 struct fw_tls_stats *st)
{
	struct fw_tls_scratch *s;
	__u8 head[6], doff;
	__u32 off, avail, n;

	if (fw_sock_load_l3(skb, p, p->l4_off + 12, &doff, 1))
		return 0;
	off = p->l4_off + (doff >> 4) * 4;
	if (off + sizeof(head) > p->l3_len)
		return 0;
	if (st)
		st->tcp_payload++;
	if (fw_sock_load_l3(skb, p, off, head, sizeof(head)))
		return 0;
	/* handshake record, TLS 1.x record version, ClientHello */
	if (head[0] != 22 || head[1] != 3 || head[2] > 4 || head[5] != 1)
		return 0;
	s = fw_tls_scratch();
	if (!s)
		return 0;
	avail = p->l3_len - off;
	n = avail < FW_TLS_BUF_MAX ? avail : FW_TLS_BUF_MAX;
	n = fw_sock_bound(n - 1, FW_TLS_BUF_MAX - 1) + 1;
	if (fw_sock_load_l3(skb, p, off, s->buf, n))
		return 0;
	s->len = n;
	s->sni_len = s->groups_len = s->pf_len = 0;
	__builtin_memset(&s->rec, 0, sizeof(s->rec));
	if (fw_tls_parse(s)) {
		if (st)
			st->malformed++;
		return 0;
	}
	s->rec.ts_ns = bpf_ktime_get_ns();
	s->rec.type = FW_REC_TLS_HELLO;
	s->rec.ifindex = skb->ifindex;
	s->rec.family = p->family;
	s->rec.sport = p->sport;
	s->rec.dport = p->dport;
	__builtin_memcpy(s->rec.saddr, p->saddr, 16);
	__builtin_memcpy(s->rec.daddr, p->daddr, 16);
	if (st) {
		st->hellos++;
		if (s->rec.flags & FW_TLS_PARTIAL)
			st->partial++;
	}
	if (bpf_ringbuf_output(&tls_hellos, &s->rec, sizeof(s->rec), 0)) {
		if (st)
			st->ring_full++;
	}
	return 1;
}

#endif /* FW_SOCK_TLS_H */
