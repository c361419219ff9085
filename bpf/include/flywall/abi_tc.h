/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Kernel/user ABI of the TC classifier (bpf/tc_classifier.bpf.c): flow state, QoS rules, inline
 * IPS patterns, statistics and events. Fixed-width types only; the C++ side static_asserts the
 * layout in src/runtime/abi_check_tc.cpp. */
#ifndef FLYWALL_ABI_TC_H
#define FLYWALL_ABI_TC_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define FW_TC_FLOW_MAX        262144    /* tracked flows (LRU) */
#define FW_QOS_RULES_MAX      64        /* QoS rules, first match (lowest index) wins */
#define FW_IPS_PATTERNS_MAX   64        /* one bit each in the prefix table's u64 masks */
#define FW_IPS_PATTERN_LEN    32        /* bytes, minimum 2 (the prefix table keys on 2 bytes) */
#define FW_IPS_SCAN_MAX       256       /* payload bytes scanned per packet, upper bound */
#define FW_IPS_PREFIX_SLOTS   65536     /* one u64 mask per leading byte pair */
#define FW_TC_EVENTS_RING_BYTES (1 << 20)

/* ---- runtime feature switches: fw_tc_config.features (a toggle never reloads) ---- */
enum fw_tc_feature_bit {
	FW_TC_F_FLOWS  = 1u << 0, /* flow table + TCP state; also the IPS verdict cache */
	FW_TC_F_QOS    = 1u << 1, /* QoS classification (priority, tc_classid, DSCP rewrite) */
	FW_TC_F_IPS    = 1u << 2, /* inline payload pattern matching */
	FW_TC_F_STATS  = 1u << 3, /* per-CPU counters */
	FW_TC_F_EVENTS = 1u << 4, /* IPS alert/drop events to the ring buffer */
};

/* Global runtime configuration: the program's .bss, written through the skeleton's mmap. */
struct fw_tc_config {
	__u32 features;         /* fw_tc_feature_bit */
	__u32 qos_rule_count;   /* rules [0, count) of fw_qos_rules are evaluated */
	__u32 qos_generation;   /* bumped by user space on every rule change: flows reclassify */
	__u32 ips_pattern_count;/* patterns [0, count) may match (the prefix table says which) */
	__u32 ips_scan_bytes;   /* payload bytes scanned, 2..FW_IPS_SCAN_MAX */
	__u32 pass_unspec;      /* 1: passing packets return TC_ACT_UNSPEC so later filters run;
				 * 0: TC_ACT_OK (needed when attached as an HTB filter) */
	__u32 time_sample_shift;/* self-timing (fw_tc_stats.timed_*): 1 packet in 2^shift; 0..63,
				 * default FW_TIME_SAMPLE_SHIFT_DEFAULT of abi.h */
	__u32 pad_time;         /* 0 */
};

/* ---- flows: one LRU entry per connection, both directions (canonical key: the lower
 * (address, port) endpoint first), so replies find the same entry. ---- */
struct fw_tc_flow_key {
	__u8 addr_lo[16];   /* IPv4 uses the first 4 bytes, rest zero */
	__u8 addr_hi[16];
	__be16 port_lo;     /* port of addr_lo's endpoint (ICMP: echo id in both) */
	__be16 port_hi;
	__u8 proto;
	__u8 family;        /* 4 or 6 */
	__u16 pad;
};

enum fw_tcp_state {
	FW_TCP_NEW         = 0, /* first packet was not a SYN (mid-stream pickup), or not TCP */
	FW_TCP_SYN_SENT    = 1, /* SYN from the originator */
	FW_TCP_SYN_RECV    = 2, /* SYN+ACK from the responder */
	FW_TCP_ESTABLISHED = 3, /* ACK after SYN+ACK, or ACK-bearing traffic after a pickup */
	FW_TCP_FIN_WAIT    = 4, /* FIN seen from one side */
	FW_TCP_CLOSED      = 5, /* FIN from both sides, or RST */
};

enum fw_flow_dir {
	FW_DIR_ORIG  = 0,   /* the direction of the flow's first packet */
	FW_DIR_REPLY = 1,
};

enum fw_tc_verdict {
	FW_TC_VERDICT_NONE = 0,
	FW_TC_VERDICT_DROP = 1, /* IPS matched a drop pattern: every later packet is dropped */
};

struct fw_tc_flow {
	__u64 first_seen_ns;
	__u64 last_seen_ns;
	__u64 packets[2];      /* indexed by fw_flow_dir */
	__u64 bytes[2];
	__u32 ifindex;         /* interface of the last packet */
	__u32 qos_classid;     /* TC_H_MAKE(major, minor) of the cached QoS result, 0 = none */
	__u32 qos_priority;    /* skb->priority given to the flow's packets */
	__u32 qos_generation;  /* fw_tc_config.qos_generation the cached result belongs to */
	__u16 qos_rule;        /* index of the matching rule + 1, 0 = no rule matched */
	__u8 orig_is_lo;       /* 1 when the originator is the key's lo endpoint */
	__u8 tcp_state;        /* fw_tcp_state */
	__u8 tcp_flags_seen[2];/* OR of TCP flags per direction */
	__u8 verdict;          /* fw_tc_verdict */
	__u8 pad;
	__u32 ips_pattern_id;  /* pattern that set the verdict (its user id) */
	__u32 ips_alerts;      /* alert matches on this flow */
	/* Slot of tc_ips_patterns that set the verdict. A cached DROP holds only while IPS is on and
	 * that slot still holds an enabled drop pattern of the same id: removing, disabling or
	 * turning the pattern into an alert lets the flow through again (bpf/lib/fw_tc_ips.h). */
	__u32 ips_pattern_slot;
	__u32 pad2;
};

/* ---- QoS rules (array map, first match wins) ---- */
enum fw_qos_rule_flag {
	FW_QOS_MATCH_PROTO  = 1u << 0,
	FW_QOS_MATCH_SPORT  = 1u << 1,
	FW_QOS_MATCH_DPORT  = 1u << 2,
	FW_QOS_MATCH_DSCP   = 1u << 3,
	FW_QOS_MATCH_PORT_EITHER = 1u << 4, /* the dport range matches either port */
	FW_QOS_SET_DSCP     = 1u << 5,      /* rewrite DSCP to set_dscp (checksum fixed) */
	FW_QOS_ENABLED      = 1u << 7,      /* written last by user space */
};

struct fw_qos_rule {
	__u32 flags;        /* fw_qos_rule_flag */
	__u32 classid;      /* TC_H_MAKE(major << 16, minor) -> skb->tc_classid */
	__u32 priority;     /* skb->priority; 0 = use classid (what HTB reads behind clsact) */
	__u16 sport_lo, sport_hi;  /* host order, inclusive */
	__u16 dport_lo, dport_hi;
	__u8 proto;         /* IPPROTO_* */
	__u8 dscp;          /* 0..63, match */
	__u8 set_dscp;      /* 0..63, rewrite */
	__u8 pad;
};

struct fw_qos_class_stats {  /* per-CPU, indexed like the rules */
	__u64 packets;
	__u64 bytes;
};

/* ---- inline IPS ---- */
enum fw_ips_action {
	FW_IPS_ALERT = 1,
	FW_IPS_DROP  = 2,
};

enum fw_ips_pattern_flag {
	FW_IPS_P_ENABLED = 1u << 0,  /* written last by user space */
};

/* Compared as four u64 words under a byte mask, so matching needs no per-byte loop. */
struct fw_ips_pattern {
	__u8 bytes[FW_IPS_PATTERN_LEN]; /* zero-padded */
	__u8 mask[FW_IPS_PATTERN_LEN];  /* 0xff for the first len bytes, then 0 */
	__u32 id;           /* user-visible pattern id, reported in events */
	__u8 len;           /* 2..FW_IPS_PATTERN_LEN */
	__u8 action;        /* fw_ips_action */
	__u8 proto;         /* 0 = TCP and UDP, else IPPROTO_TCP / IPPROTO_UDP */
	__u8 flags;         /* fw_ips_pattern_flag */
	__u16 port;         /* host order; 0 = any, else matches source or destination port */
	__u16 pad;
};

/* ---- statistics (per-CPU array, one slot) ---- */
struct fw_tc_stats {
	__u64 packets;
	__u64 bytes;
	__u64 passed;
	__u64 shot;
	__u64 non_ip;
	__u64 malformed;
	__u64 flows_new;
	__u64 flows_closed;
	__u64 flow_update_failed;
	__u64 qos_classified;     /* packets given a class */
	__u64 qos_cache_hits;     /* class taken from the flow entry */
	__u64 qos_dscp_rewritten;
	__u64 qos_rewrite_failed;
	__u64 ips_scanned;        /* packets whose payload was scanned */
	__u64 ips_bytes_scanned;
	__u64 ips_alerts;
	__u64 ips_drops;          /* drops decided by a scan */
	__u64 ips_cached_drops;   /* drops from the per-flow verdict cache, no scan */
	__u64 events_emitted;
	__u64 events_ring_full;
	/* self-timing: packets timed (those whose `packets` count became a multiple of
	 * 2^fw_tc_config.time_sample_shift) and their summed run time in ns; only with FW_TC_F_STATS */
	__u64 timed_packets;
	__u64 timed_ns;
};

/* ---- events (ring buffer) ---- */
enum fw_tc_event_type {
	FW_TC_EV_IPS_ALERT = 1,
	FW_TC_EV_IPS_DROP  = 2,
};

struct fw_tc_event {
	__u64 ts_ns;
	__u32 type;          /* fw_tc_event_type */
	__u32 pattern_id;
	__u32 ifindex;
	__u16 payload_offset;/* where in the payload the pattern started */
	__u8 family;
	__u8 proto;
	__be16 sport;
	__be16 dport;
	__u32 pad;
	__u8 saddr[16];
	__u8 daddr[16];
};

#endif /* FLYWALL_ABI_TC_H */
