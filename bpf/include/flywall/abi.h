/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The one kernel/user ABI of Flywall eBPF. Every struct and enum that crosses the boundary is
 * defined here, once, with fixed-width types; the C++ side static_asserts sizes and offsets
 * (src/runtime/abi_check.cpp). Change a struct here and both sides change together. */
#ifndef FLYWALL_ABI_H
#define FLYWALL_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* ---- map sizes (also used by user space for capacity reporting) ---- */
#define FW_IP_EXACT_MAX      1048576   /* >= 1,000,000 exact addresses per family and list */
#define FW_IP_LPM_MAX        65536     /* CIDR prefixes per family and list */
#define FW_LPM_GUARD4_SLOTS  65536     /* one slot per IPv4 /16 */
#define FW_LPM_GUARD6_SLOTS  65536     /* IPv6 /32 prefixes hashed into 16 bits */
#define FW_DNS_MAX           1048576   /* >= 1,000,000 blocked domains */
#define FW_DNS_NAME_MAX      256       /* wire-format name buffer; names up to 253 chars */
#define FW_RATE_MAX          262144    /* rate limiter sources (own table, separate from lists) */
#define FW_FLOW_MAX          262144    /* tracked flows; both tables: flywall/flowtable.h */
#define FW_EVENTS_RING_BYTES (1 << 22)

/* ---- runtime feature switches: fw_xdp_config.features ---- */
enum fw_feature_bit {
	FW_F_IP_ALLOWLIST   = 1u << 0,
	FW_F_IP_BLOCKLIST   = 1u << 1,
	FW_F_DNS_BLOCKLIST  = 1u << 2,
	FW_F_RATE_LIMIT     = 1u << 3,
	FW_F_FLOW_TRACKING  = 1u << 4,
	FW_F_TRUSTED_OFFLOAD= 1u << 5,
	FW_F_EVENTS         = 1u << 6,
	FW_F_STATS          = 1u << 7,
	FW_F_NEW_FLOW_EVENTS= 1u << 8,
};

/* ---- which tables hold entries (maintained by user space) so empty tables cost nothing ----
 * bit = list(allow/block) x family(4/6) x kind(exact/lpm) x direction(src/dst). */
enum fw_table_bit {
	FW_T_ALLOW4_EXACT_SRC = 1u << 0,  FW_T_ALLOW4_EXACT_DST = 1u << 1,
	FW_T_ALLOW4_LPM_SRC   = 1u << 2,  FW_T_ALLOW4_LPM_DST   = 1u << 3,
	FW_T_ALLOW6_EXACT_SRC = 1u << 4,  FW_T_ALLOW6_EXACT_DST = 1u << 5,
	FW_T_ALLOW6_LPM_SRC   = 1u << 6,  FW_T_ALLOW6_LPM_DST   = 1u << 7,
	FW_T_BLOCK4_EXACT_SRC = 1u << 8,  FW_T_BLOCK4_EXACT_DST = 1u << 9,
	FW_T_BLOCK4_LPM_SRC   = 1u << 10, FW_T_BLOCK4_LPM_DST   = 1u << 11,
	FW_T_BLOCK6_EXACT_SRC = 1u << 12, FW_T_BLOCK6_EXACT_DST = 1u << 13,
	FW_T_BLOCK6_LPM_SRC   = 1u << 14, FW_T_BLOCK6_LPM_DST   = 1u << 15,
	/* IPv6 prefixes shorter than /32 cannot be summarised by the guard: always walk the trie. */
	FW_T_ALLOW6_LPM_UNGUARDED = 1u << 16,
	FW_T_BLOCK6_LPM_UNGUARDED = 1u << 17,
};

/* Verdicts for malformed packets etc. (XDP action values). */
#define FW_VERDICT_PASS 2 /* XDP_PASS */
#define FW_VERDICT_DROP 1 /* XDP_DROP */

enum fw_dns_action {
	FW_DNS_ACTION_DROP     = 0,
	FW_DNS_ACTION_NXDOMAIN = 1,
	FW_DNS_ACTION_GLOBAL   = 2, /* per-domain entry only: use fw_xdp_config.dns_action */
};

/* Global runtime configuration of xdp_blocklist: lives in the program's .bss, written by user
 * space through the skeleton's mmap; toggling never reloads the program. */
struct fw_xdp_config {
	__u32 features;            /* fw_feature_bit */
	__u32 tables;              /* fw_table_bit */
	__u32 malformed_verdict;   /* FW_VERDICT_PASS (default) or FW_VERDICT_DROP: packets that do not
	                            * parse and whose addresses are unknown or matched no list */
	__u32 dns_action;          /* fw_dns_action */
	/* rate limiting (bpf/lib/fw_ratelimit.h): rates per second per source, bursts in packets
	 * or bytes; a burst of 0 means "one second's worth" (= the rate). */
	__u64 rl_pps;              /* packets per second per source, 0 = unlimited */
	__u64 rl_burst_packets;
	__u64 rl_bps;              /* bytes per second per source, 0 = unlimited */
	__u64 rl_burst_bytes;
	__u64 rl_syn_pps;          /* TCP SYN (without ACK), 0 = no separate limit */
	__u64 rl_icmp_pps;         /* ICMP and ICMPv6 */
	__u64 rl_udp_pps;
	__u32 rl_ipv6_prefix_len;  /* IPv6 sources are grouped by this prefix (default 64) */
	__u32 flow_sample_shift;   /* track 1 of 2^shift new flows; 0 = every flow */
	__u32 event_sample_shift;  /* emit 1 of 2^shift events; 0 = every event */
	__u32 trusted_after_packets; /* 0 = never auto-trust */
	__u64 max_events_per_sec;  /* BPF-side token bucket for events, 0 = unlimited */
	__u64 event_burst;         /* 0 = max_events_per_sec */
	__u64 rl_syn_burst;        /* bursts of the per-protocol limits, 0 = their rate */
	__u64 rl_icmp_burst;
	__u64 rl_udp_burst;
	/* Self-timing (fw_stats.timed_*): 1 packet in 2^time_sample_shift is timed with two
	 * bpf_ktime_get_ns() reads, so the daemon never needs kernel BPF statistics (which make every
	 * BPF program on the host pay two clock reads per run). 0 = every packet; 0..63. */
	__u32 time_sample_shift;
	/* Policy generation: user space adds one after every change of the IP or domain lists,
	 * the features or the limiter (after the change is in the maps). A trusted flow skips the
	 * checks only while its trust_gen equals this; an older stamp sends its next packet
	 * through every check, and a packet that passes them stamps the flow again. So a block
	 * added later reaches established trusted flows at once (one compare per packet). */
	__u32 policy_gen;
};

#define FW_TIME_SAMPLE_SHIFT_DEFAULT 10 /* 1 packet in 1024 */

/* ---- IP lists ---- */
enum fw_entry_flag {
	FW_ENTRY_MATCH_SRC = 1u << 0, /* default */
	FW_ENTRY_MATCH_DST = 1u << 1,
};

struct fw_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct fw_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

struct fw_ip6_addr {
	__u8 addr[16];
};

/* Value of every exact and LPM list map. */
struct fw_ip_entry {
	__u64 hits;        /* atomically incremented on every match */
	__u64 expires_ns;  /* CLOCK_MONOTONIC (bpf_ktime_get_ns); 0 = never. Expired = no match. */
	__u32 flags;       /* fw_entry_flag */
	__u32 source_id;   /* which configured source added it (user-space bookkeeping) */
};

/* ---- statistics (per-CPU array, one slot) ---- */
enum fw_drop_reason {
	FW_DROP_IP_BLOCKLIST = 0,
	FW_DROP_MALFORMED,
	FW_DROP_DNS_BLOCKLIST,
	FW_DROP_RATE_LIMIT,
	FW_DROP_REASON_MAX = 8,
};

enum fw_malformed_reason {
	FW_MAL_ETH = 0,      /* shorter than an Ethernet header */
	FW_MAL_VLAN,         /* truncated VLAN tag */
	FW_MAL_VLAN_DEPTH,   /* more than two VLAN tags */
	FW_MAL_IPV4,         /* truncated IPv4 header or options, bad version or IHL < 5 */
	FW_MAL_IPV6,         /* truncated IPv6 header */
	FW_MAL_IPV6_EXT,     /* truncated extension header, or more than the parser follows (8) */
	FW_MAL_L4,           /* truncated TCP/UDP/ICMP header */
	FW_MAL_DNS,          /* malformed DNS query */
	FW_MAL_REASON_MAX = 8,
};

struct fw_stats {
	__u64 processed;
	__u64 passed;
	__u64 dropped;
	__u64 tx;                 /* answered from XDP (DNS NXDOMAIN) */
	__u64 bytes;
	__u64 allowlist_hits;
	__u64 blocklist_hits;
	__u64 ipv4;
	__u64 ipv6;
	__u64 other_l3;
	__u64 fragments;
	__u64 drop_reason[FW_DROP_REASON_MAX];
	__u64 malformed[FW_MAL_REASON_MAX]; /* every packet that did not parse, also those the
	                                     * address lists then passed or dropped */
	/* DNS */
	__u64 dns_queries;
	__u64 dns_blocked_drop;
	__u64 dns_blocked_nxdomain;
	__u64 dns_bloom_false_positive;
	/* rate limiting */
	__u64 rl_limited;
	__u64 rl_limited_syn;
	__u64 rl_limited_icmp;
	__u64 rl_limited_udp;
	/* flows */
	__u64 flows_new;
	__u64 flows_sampled_out;
	__u64 flows_trusted_fastpath;
	__u64 flows_auto_trusted;
	/* events */
	__u64 events_emitted;
	__u64 events_suppressed_rate;
	__u64 events_suppressed_ring_full;
	__u64 events_sampled_out;
	/* added with issue 3 */
	__u64 rl_sources_new;          /* sources inserted into the limiter's table */
	__u64 dns_nxdomain_unsupported;/* nxdomain wanted, but IPv4 options / IPv6 ext headers: dropped */
	__u64 dns_not_inspected;       /* UDP/53 that is no single-question standard query */
	/* set-associative state tables (flywall/flowtable.h): a new key replaced the least recently
	 * seen entry of its full bucket */
	__u64 flows_evicted;
	__u64 rl_sources_evicted;
	__u64 flows_insert_lost;       /* another CPU claimed the slot first: created by a later packet */
	__u64 rl_batched;              /* passed on tokens their flow had charged in advance */
	/* self-timing: packets timed (those whose `processed` count became a multiple of
	 * 2^fw_xdp_config.time_sample_shift) and their summed run time in ns. Estimated busy time
	 * of the program = timed_ns / timed_packets * processed. Only counted with FW_F_STATS. */
	__u64 timed_packets;
	__u64 timed_ns;
};

/* ---- DNS blocklist ---- */
/* Key of the exact domain hash: {hash, len} of the lower-cased wire-format name of the blocked
 * domain (length-prefixed labels, no trailing root label); hash as flywall/dns_hash.h defines it
 * (also the bloom filter's value). 16 bytes, so a lookup hashes and compares 16 bytes. */
struct fw_dns_key {
	__u64 hash;
	__u32 len;        /* wire bytes of the name */
	__u32 pad;        /* 0 */
};

struct fw_dns_entry {
	__u64 hits;
	__u64 expires_ns;
	__u32 action;     /* fw_dns_action; applies per domain */
	__u32 source_id;
	/* The name itself (lower-cased wire format, no root label, zero padded): the program
	 * compares it with the query before acting, so a hash collision never blocks a name. */
	__u8 name[FW_DNS_NAME_MAX];
};

/* ---- rate limiter (own table, separate from the lists so a flood cannot evict them) ---- */
struct fw_rl_key {
	__u8 family;      /* 4 or 6 */
	__u8 pad[7];      /* 0; keeps addr 8-aligned: the table hashes the key as 3 u64 words */
	__u8 addr[16];    /* IPv4 in the first 4 bytes; IPv6 masked to rl_ipv6_prefix_len */
} __attribute__((aligned(8)));

/* One token bucket in GCRA form (bpf/lib/fw_ratelimit.h): the whole state is one u64, the
 * theoretical arrival time, so it is updated with a single compare-and-swap. Tokens available at
 * time now = (burst_window - max(0, tat_ns - now)) / cost_per_token. 0 = a full bucket. */
struct fw_bucket {
	__u64 tat_ns;     /* bpf_ktime_get_ns() clock */
};

struct fw_rl_state {
	struct fw_bucket pkt;
	struct fw_bucket byte;
	struct fw_bucket syn;
	struct fw_bucket icmp;
	struct fw_bucket udp;
	__u64 limited;       /* packets dropped for this source */
	__u64 last_event_ns; /* at most one FW_EV_RATE_LIMITED per source per second */
	__u64 last_seen_ns;  /* fast clock (fw_gcra.h) of the last packet: the table's LRU replacement */
};

/* fw_event.reason for FW_EV_RATE_LIMITED: which bucket ran dry. */
enum fw_rl_reason {
	FW_RL_PACKETS = 0,
	FW_RL_BYTES   = 1,
	FW_RL_SYN     = 2,
	FW_RL_ICMP    = 3,
	FW_RL_UDP     = 4,
};

/* ---- flows (set-associative table keyed by 5-tuple + ifindex, flywall/flowtable.h) ---- */
struct fw_flow_key {
	__u8 saddr[16];   /* IPv4 uses the first 4 bytes, rest zero */
	__u8 daddr[16];
	__be16 sport;     /* ICMP: id, type/code folded into dport */
	__be16 dport;
	__u8 proto;
	__u8 family;      /* 4 or 6 */
	__u16 pad;
	__u32 ifindex;
	__u32 pad2;       /* 0; the table hashes the key as 6 u64 words */
} __attribute__((aligned(8)));

enum fw_flow_flag {
	FW_FLOW_TRUSTED      = 1u << 0, /* skips remaining checks */
	FW_FLOW_AUTO_TRUSTED = 1u << 1, /* became trusted after trusted_after_packets */
};

struct fw_flow_value {
	__u64 first_seen_ns;  /* CLOCK_MONOTONIC as of <= ~1 ms before (fw_fast_now, bpf/lib/fw_gcra.h) */
	__u64 last_seen_ns;
	__u64 packets;
	__u64 bytes;
	__u16 flags;          /* fw_flow_flag */
	__u8 tcp_flags_seen;  /* OR of TCP flags */
	__u8 pad;
	__u32 trust_gen;      /* fw_xdp_config.policy_gen when the flow last passed every check */
	/* Rate-limit tokens this flow already charged to its source's buckets and not used yet
	 * (bpf/lib/fw_ratelimit.h, "batched charging"): expiry, packets and bytes, bit layout
	 * there (FW_CR_*). */
	__u64 rl_credit;
};

/* ---- events (ring buffer) ---- */
enum fw_event_type {
	FW_EV_IP_BLOCKED     = 1,
	FW_EV_DOMAIN_BLOCKED = 2,
	FW_EV_RATE_LIMITED   = 3,
	FW_EV_NEW_FLOW       = 4,
};

struct fw_event {
	__u64 ts_ns;
	__u32 type;          /* fw_event_type */
	__u32 ifindex;
	__u8 family;         /* 4 or 6 */
	__u8 proto;
	__be16 sport;
	__be16 dport;
	__u16 name_len;      /* DOMAIN_BLOCKED: length of name (dotted text) */
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 reason;        /* IP_BLOCKED: fw_drop_reason; DOMAIN_BLOCKED: fw_dns_action taken;
	                      * RATE_LIMITED: fw_rl_reason; NEW_FLOW: 0 */
	__u32 pad;
	char name[FW_DNS_NAME_MAX]; /* dotted, NUL-terminated when name_len > 0 */
};

#endif /* FLYWALL_ABI_H */
