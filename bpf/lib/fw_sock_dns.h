/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* DNS monitor: header, question name, type and class of UDP port 53 queries and responses. */
#ifndef FW_SOCK_DNS_H
#define FW_SOCK_DNS_H

#include "fw_sock_common.h"

#define FW_DNS_HDR_LEN 12
/* wire name (<= 255) + QTYPE + QCLASS; the buffer is larger so every masked index fits */
#define FW_DNS_WIRE_MAX 260
#define FW_DNS_BUF_SIZE 512

/* Per-CPU scratch: the question as loaded, the record being built, and the name walk's state
 * (in a map value, not on the stack, so the bpf_loop callback converges in one pass). */
struct fw_dns_scratch {
	__u8 wire[FW_DNS_BUF_SIZE];
	struct fw_dns_record rec;
	__u32 wire_len;    /* bytes loaded into wire[] */
	__u32 pos;         /* next label length byte */
	__u32 end;         /* index of the root label once found */
	__u32 done;        /* 1 = end found, 2 = compressed, 3 = truncated */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_dns_scratch);
} dns_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_dns_stats);
} dns_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_DNS_QTYPE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} dns_qtype_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_DNS_RCODE_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} dns_rcode_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FW_SOCK_RING_BYTES);
} dns_records SEC(".maps");

static __always_inline struct fw_dns_scratch *fw_dns_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&dns_scratch, &zero);
}

/* One label: the name is copied shifted by one byte, so the length byte of every label after
 * the first becomes the dot in front of it. */
static long fw_dns_walk_label(__u32 unused, void *ctx)
{
	struct fw_dns_scratch *sc = fw_dns_scratch();
	__u32 pos, c;

	if (!sc)
		return 1;
	pos = sc->pos;
	if (pos >= sc->wire_len || pos >= FW_DNS_QNAME_MAX) {
		sc->done = 3;
		return 1;
	}
	c = sc->wire[fw_sock_bound(pos, FW_DNS_BUF_SIZE - 1)];
	if (c == 0) {
		sc->end = pos;
		sc->done = 1;
		return 1;
	}
	if (c & 0xC0) {
		sc->end = pos;
		sc->done = 2;
		return 1;
	}
	if (pos > 0)
		sc->rec.name[fw_sock_bound(pos - 1, FW_DNS_QNAME_MAX - 1)] = '.';
	sc->pos = pos + 1 + c;
	return 0;
}

static __always_inline void fw_dns_count(void *map, __u32 slot)
{
	__u64 *c = bpf_map_lookup_elem(map, &slot);

	if (c)
		(*c)++;
}

static __always_inline int fw_dns_handle(struct __sk_buff *skb, const struct fw_sock_pkt *p,
					 struct fw_dns_stats *st)
{
	struct fw_dns_scratch *sc = fw_dns_scratch();
	struct fw_dns_record *rec;
	__u8 hdr[FW_DNS_HDR_LEN];
	__u32 off, avail, n, end;
	__u16 flags;

	if (!sc)
		return 0;
	rec = &sc->rec;
	off = p->l4_off + 8;
	if (p->l3_len < off + FW_DNS_HDR_LEN || fw_sock_load_l3(skb, p, off, hdr, sizeof(hdr))) {
		if (st)
			st->malformed++;
		return 0;
	}
	flags = ((__u16)hdr[2] << 8) | hdr[3];
	if ((((__u16)hdr[4] << 8) | hdr[5]) == 0) { /* QDCOUNT 0: nothing to report */
		if (st)
			st->malformed++;
		return 0;
	}
	off += FW_DNS_HDR_LEN;
	avail = p->l3_len - off;
	n = avail < FW_DNS_WIRE_MAX ? avail : FW_DNS_WIRE_MAX;
	if (n < 1) {
		if (st)
			st->malformed++;
		return 0;
	}
	n = fw_sock_bound(n - 1, FW_DNS_BUF_SIZE - 1) + 1;
	if (n > FW_DNS_WIRE_MAX)
		return 0;
	if (fw_sock_load_l3(skb, p, off, sc->wire, n))
		return 0;
	sc->wire_len = n;
	sc->pos = 0;
	sc->end = 0;
	sc->done = 0;
	/* name bytes after the first length byte, shifted; dots and the NUL are patched in */
	__builtin_memcpy(rec->name, sc->wire + 1, FW_DNS_QNAME_MAX);
	bpf_loop(128, fw_dns_walk_label, NULL, 0);

	end = sc->end;
	rec->name_flags = 0;
	if (sc->done != 1) {
		if (sc->done == 2) {
			rec->name_flags |= FW_DNS_NAME_COMPRESSED;
			if (st)
				st->names_compressed++;
		} else {
			rec->name_flags |= FW_DNS_NAME_TRUNCATED;
			end = sc->pos < n ? sc->pos : n;
			if (st)
				st->names_truncated++;
		}
	}
	end = fw_sock_bound(end, FW_DNS_QNAME_MAX - 1);
	rec->name_len = end ? end - 1 : 0;
	rec->name[rec->name_len & (FW_DNS_QNAME_MAX - 1)] = 0;
	rec->qtype = 0;
	rec->qclass = 0;
	if (sc->done == 1 && end + 5 <= n) {
		__u8 *q = sc->wire + fw_sock_bound(end + 1, 0xff);
		rec->qtype = ((__u16)q[0] << 8) | q[1];
		rec->qclass = ((__u16)q[2] << 8) | q[3];
	}

	rec->ts_ns = bpf_ktime_get_ns();
	rec->type = FW_REC_DNS;
	rec->ifindex = skb->ifindex;
	rec->family = p->family;
	rec->is_response = flags >> 15;
	rec->opcode = (flags >> 11) & 0xf;
	rec->rcode = flags & 0xf;
	rec->id = ((__u16)hdr[0] << 8) | hdr[1];
	rec->flags = flags;
	rec->answers = ((__u16)hdr[6] << 8) | hdr[7];
	if (rec->is_response) {
		__builtin_memcpy(rec->client, p->daddr, 16);
		__builtin_memcpy(rec->server, p->saddr, 16);
		rec->client_port = p->dport;
		rec->server_port = p->sport;
		fw_dns_count(&dns_rcode_counts, rec->rcode);
		if (st)
			st->responses++;
	} else {
		__builtin_memcpy(rec->client, p->saddr, 16);
		__builtin_memcpy(rec->server, p->daddr, 16);
		rec->client_port = p->sport;
		rec->server_port = p->dport;
		fw_dns_count(&dns_qtype_counts, rec->qtype < FW_DNS_QTYPE_SLOTS ? rec->qtype : 0);
		if (st)
			st->queries++;
	}
	if (bpf_ringbuf_output(&dns_records, rec, sizeof(*rec), 0)) {
		if (st)
			st->ring_full++;
	} else if (st) {
		st->records++;
	}
	return 0;
}

#endif /* FW_SOCK_DNS_H */
