/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Device discovery: DHCPv4 client messages (chaddr, message type, hostname, vendor class,
 * parameter request list, requested address) and ARP (IP <-> MAC bindings, last seen). */
#ifndef FW_SOCK_DHCP_H
#define FW_SOCK_DHCP_H

#include "fw_sock_common.h"

#define FW_BOOTP_FIXED   236   /* op .. file */
#define FW_DHCP_MAGIC    0x63825363
#define FW_DHCP_OPT_MAX  1024  /* option bytes captured (power of two: used as a mask) */
#define FW_DHCP_BUF_SIZE (FW_DHCP_OPT_MAX + FW_DHCP_PRL_MAX + 8)

#define FW_DHCP_OPT_PAD      0
#define FW_DHCP_OPT_HOSTNAME 12
#define FW_DHCP_OPT_REQ_IP   50
#define FW_DHCP_OPT_MSG_TYPE 53
#define FW_DHCP_OPT_PRL      55
#define FW_DHCP_OPT_VENDOR   60
#define FW_DHCP_OPT_END      255

struct fw_dhcp_scratch {
	__u8 buf[FW_DHCP_BUF_SIZE];
	struct fw_dhcp_record rec;
	__u32 len;
	__u32 off;
	__u32 host_off, vendor_off, prl_off;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_dhcp_scratch);
} dhcp_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_dhcp_stats);
} dhcp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FW_ARP_MAX);
	__type(key, struct fw_arp_key);
	__type(value, struct fw_arp_entry);
} arp_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FW_SOCK_RING_BYTES);
} dhcp_records SEC(".maps");

static __always_inline struct fw_dhcp_scratch *fw_dhcp_scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&dhcp_scratch, &zero);
}

static __always_inline __u32 fw_dhcp_u8(const struct fw_dhcp_scratch *s, __u32 off)
{
	return s->buf[fw_sock_bound(off, FW_DHCP_OPT_MAX - 1)];
}

static long fw_dhcp_opt_step(__u32 unused, void *ctx)
{
	struct fw_dhcp_scratch *s = fw_dhcp_scratch();
	struct fw_dhcp_record *rec;
	__u32 off, code, len, body;

	if (!s)
		return 1;
	rec = &s->rec;
	off = s->off;
	if (off >= s->len)
		return 1;
	code = fw_dhcp_u8(s, off);
	if (code == FW_DHCP_OPT_END)
		return 1;
	if (code == FW_DHCP_OPT_PAD) {
		s->off = off + 1;
		return 0;
	}
	if (off + 2 > s->len)
		return 1;
	len = fw_dhcp_u8(s, off + 1);
	body = off + 2;
	s->off = body + len;
	if (body + len > s->len)
		return 1; /* option runs past the captured bytes */
	switch (code) {
	case FW_DHCP_OPT_MSG_TYPE:
		if (len >= 1)
			rec->msg_type = fw_dhcp_u8(s, body);
		break;
	case FW_DHCP_OPT_REQ_IP:
		if (len == 4) {
			rec->requested_ip = bpf_htonl((fw_dhcp_u8(s, body) << 24) | (fw_dhcp_u8(s, body + 1) << 16) |
						      (fw_dhcp_u8(s, body + 2) << 8) | fw_dhcp_u8(s, body + 3));
			rec->flags |= FW_DHCP_HAS_REQ_IP;
		}
		break;
	case FW_DHCP_OPT_HOSTNAME:
		s->host_off = body;
		if (len > FW_DHCP_STR_MAX) {
			len = FW_DHCP_STR_MAX;
			rec->flags |= FW_DHCP_TRUNC_HOSTNAME;
		}
		rec->hostname_len = len;
		break;
	case FW_DHCP_OPT_VENDOR:
		s->vendor_off = body;
		if (len > FW_DHCP_STR_MAX) {
			len = FW_DHCP_STR_MAX;
			rec->flags |= FW_DHCP_TRUNC_VENDOR;
		}
		rec->vendor_len = len;
		break;
	case FW_DHCP_OPT_PRL:
		s->prl_off = body;
		if (len > FW_DHCP_PRL_MAX) {
			len = FW_DHCP_PRL_MAX;
			rec->flags |= FW_DHCP_TRUNC_PRL;
		}
		rec->prl_len = len;
		break;
	default:
		break;
	}
	return 0;
}

static __always_inline int fw_dhcp_handle(struct __sk_buff *skb, const struct fw_sock_pkt *p,
					  struct fw_dhcp_stats *st)
{
	struct fw_dhcp_scratch *s = fw_dhcp_scratch();
	struct fw_dhcp_record *rec;
	__u8 fixed[44];    /* op .. chaddr */
	__be32 magic;
	__u32 bootp = p->l4_off + 8, opts, avail, n;

	if (!s)
		return 0;
	rec = &s->rec;
	opts = bootp + FW_BOOTP_FIXED + 4;
	if (p->l3_len < opts || fw_sock_load_l3(skb, p, bootp, fixed, sizeof(fixed)) ||
	    fw_sock_load_l3(skb, p, bootp + FW_BOOTP_FIXED, &magic, 4) || magic != bpf_htonl(FW_DHCP_MAGIC)) {
		if (st)
			st->malformed++;
		return 0;
	}
	if (fixed[0] != 1)    /* BOOTREQUEST: the client speaks; server replies carry no fingerprint */
		return 0;
	__builtin_memset(rec, 0, sizeof(*rec));
	rec->op = fixed[0];
	__builtin_memcpy(&rec->xid, fixed + 4, 4);
	__builtin_memcpy(&rec->ciaddr, fixed + 12, 4);
	if (fixed[1] == 1 && fixed[2] == 6)   /* Ethernet hardware address */
		__builtin_memcpy(rec->mac, fixed + 28, 6);
	__builtin_memcpy(&rec->src_ip, p->saddr, 4);

	avail = p->l3_len - opts;
	s->len = 0;
	if (avail > 0) {
		n = avail < FW_DHCP_OPT_MAX ? avail : FW_DHCP_OPT_MAX;
		n = fw_sock_bound(n - 1, FW_DHCP_OPT_MAX - 1) + 1;
		if (fw_sock_load_l3(skb, p, opts, s->buf, n) == 0)
			s->len = n;
	}
	s->off = 0;
	s->host_off = s->vendor_off = s->prl_off = 0;
	bpf_loop(FW_DHCP_OPT_MAX / 2, fw_dhcp_opt_step, NULL, 0);
	/* fixed-size copies from bounded offsets; the lengths say how much is real */
	__builtin_memcpy(rec->hostname, s->buf + fw_sock_bound(s->host_off, FW_DHCP_OPT_MAX - 1), FW_DHCP_STR_MAX);
	__builtin_memcpy(rec->vendor, s->buf + fw_sock_bound(s->vendor_off, FW_DHCP_OPT_MAX - 1), FW_DHCP_STR_MAX);
	__builtin_memcpy(rec->prl, s->buf + fw_sock_bound(s->prl_off, FW_DHCP_OPT_MAX - 1), FW_DHCP_PRL_MAX);

	rec->ts_ns = bpf_ktime_get_ns();
	rec->type = FW_REC_DHCP;
	rec->ifindex = skb->ifindex;
	if (bpf_ringbuf_output(&dhcp_records, rec, sizeof(*rec), 0)) {
		if (st)
			st->ring_full++;
	} else if (st) {
		st->dhcp_records++;
	}
	return 1;
}

static __always_inline int fw_mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

/* Ethernet/IPv4 ARP: learns the sender's binding (not from probes with sender IP 0). */
static __always_inline int fw_arp_handle(struct __sk_buff *skb, struct fw_dhcp_stats *st)
{
	struct {
		__be16 htype, ptype;
		__u8 hlen, plen;
		__be16 op;
		__u8 sha[6];
		__u8 spa[4];
		__u8 tha[6];
		__u8 tpa[4];
	} __attribute__((packed)) arp;
	struct fw_arp_key key = {};
	struct fw_arp_entry *e;
	__u64 now;
	__u16 op;

	if (fw_sock_load(skb, 0, &arp, sizeof(arp)))
		return 0;
	if (arp.htype != bpf_htons(1) || arp.ptype != bpf_htons(ETH_P_IP) || arp.hlen != 6 || arp.plen != 4)
		return 0;
	if (st)
		st->arp_packets++;
	op = bpf_ntohs(arp.op);
	key.ifindex = skb->ifindex;
	__builtin_memcpy(&key.ip, arp.spa, 4);
	if (key.ip == 0)
		return 0;
	now = bpf_ktime_get_ns();
	e = bpf_map_lookup_elem(&arp_table, &key);
	if (e && fw_mac_eq(e->mac, arp.sha)) {
		e->last_seen_ns = now;
		e->last_op = op;
		__sync_fetch_and_add(&e->packets, 1);
		return 0;
	}

	struct fw_arp_record r = {};
	struct fw_arp_entry ne = {};

	r.ts_ns = now;
	r.type = FW_REC_ARP;
	r.ifindex = skb->ifindex;
	r.ip = key.ip;
	r.op = op;
	__builtin_memcpy(r.mac, arp.sha, 6);
	if (e) {
		__builtin_memcpy(r.old_mac, e->mac, 6);
		r.change = FW_ARP_CHANGED;
		ne = *e;
		ne.mac_changes++;
		if (st)
			st->arp_changed++;
	} else {
		ne.first_seen_ns = now;
		r.change = FW_ARP_NEW;
		if (st)
			st->arp_new++;
	}
	__builtin_memcpy(ne.mac, arp.sha, 6);
	ne.last_seen_ns = now;
	ne.last_op = op;
	ne.packets++;
	bpf_map_update_elem(&arp_table, &key, &ne, BPF_ANY);
	if (bpf_ringbuf_output(&dhcp_records, &r, sizeof(r), 0) && st)
		st->ring_full++;
	return 1;
}

#endif /* FW_SOCK_DHCP_H */
