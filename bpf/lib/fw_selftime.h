/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Self-timing shared by XDP and TC: a program times 1 packet in 2^shift itself (two
 * bpf_ktime_get_ns() reads around its body) so the daemon needs no kernel BPF statistics, which
 * would make every BPF program on the host pay two clock reads per run. */
#ifndef FW_SELFTIME_H
#define FW_SELFTIME_H

#include "fw_common.h"

/* Time the packet whose per-CPU packet count (already incremented) is a multiple of 2^shift, so
 * after M packets on one CPU exactly M >> shift were timed; an untimed packet pays one mask test. */
static __always_inline int fw_time_this_packet(__u64 processed, __u32 shift)
{
	return (processed & ((1ULL << (shift & 63)) - 1)) == 0;
}

/* s: struct fw_stats or struct fw_tc_stats (fields timed_packets, timed_ns). */
#define FW_TIME_ACCOUNT(s, ns) do { (s)->timed_packets++; (s)->timed_ns += (ns); } while (0)

#endif /* FW_SELFTIME_H */
