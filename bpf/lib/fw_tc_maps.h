/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Maps and runtime configuration of the TC classifier (tc_classifier.bpf.c). */
#ifndef FW_TC_MAPS_H
#define FW_TC_MAPS_H

#include "fw_common.h"
#include "flywall/abi_tc.h"

#ifndef TC_ACT_OK
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK     0
#define TC_ACT_SHOT   2
#endif

/* Runtime knobs: written by user space through the skeleton's mmapped .bss. */
struct fw_tc_config fw_tc_cfg;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, FW_TC_FLOW_MAX);
	__type(key, struct fw_tc_flow_key);
	__type(value, struct fw_tc_flow);
} tc_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW_QOS_RULES_MAX);
	__type(key, __u32);
	__type(value, struct fw_qos_rule);
} tc_qos_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, FW_QOS_RULES_MAX);
	__type(key, __u32);
	__type(value, struct fw_qos_class_stats);
} tc_qos_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW_IPS_PATTERNS_MAX);
	__type(key, __u32);
	__type(value, struct fw_ips_pattern);
} tc_ips_patterns SEC(".maps");

/* Leading byte pair (b0 << 8 | b1) -> bit j set when pattern slot j starts with it. A zero mask
 * (the common case) rejects a payload position with one inlined array access. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FW_IPS_PREFIX_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} tc_ips_prefix SEC(".maps");

/* Scratch copy of the scanned payload. Larger than FW_IPS_SCAN_MAX so the 32-byte word compare
 * at the last position stays inside the buffer (bytes past the payload are never compared:
 * a pattern must fit in the copied length). */
#define FW_IPS_BUF_SIZE 512

/* State of one payload scan. It lives in the per-CPU scratch map rather than on the stack on
 * purpose: map values are unknown to the verifier, so the bpf_loop callbacks that update it
 * converge after one pass instead of being re-verified once per precise value. */
struct fw_ips_scan {
	__u32 len;           /* payload bytes copied to data[] */
	__u32 count;         /* pattern slots in use */
	__u16 sport, dport;  /* host order */
	__u8 proto;
	__u8 action;         /* strongest match so far: 0, FW_IPS_ALERT or FW_IPS_DROP */
	__u16 offset;        /* where the reported match starts */
	__u32 pattern_id;    /* the reported pattern's id */
	__u32 pos;           /* slow path: position being verified */
	__u32 base;          /* slow path: first position of the block */
	__u32 slot;          /* the reported pattern's slot in tc_ips_patterns */
	__u64 blk_hits;      /* slow path: block positions not yet verified */
	__u64 cand;          /* slow path: candidate pattern slots left at pos */
};

struct fw_ips_buf {
	__u8 data[FW_IPS_BUF_SIZE];
	struct fw_ips_scan sc;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_ips_buf);
} tc_ips_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fw_tc_stats);
} tc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, FW_TC_EVENTS_RING_BYTES);
} tc_events SEC(".maps");

#define FW_TC_STAT_INC(s, field)    do { if (s) (s)->field++; } while (0)
#define FW_TC_STAT_ADD(s, field, n) do { if (s) (s)->field += (n); } while (0)

#endif /* FW_TC_MAPS_H */
