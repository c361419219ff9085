/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Common includes and constants for every Flywall BPF program. */
#ifndef FW_COMMON_H
#define FW_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "flywall/abi.h"

#ifndef ETH_P_IP
#define ETH_P_IP     0x0800
#define ETH_P_IPV6   0x86DD
#define ETH_P_8021Q  0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_ARP    0x0806
#endif

#ifndef IPPROTO_HOPOPTS
#define IPPROTO_HOPOPTS  0
#define IPPROTO_ROUTING  43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ICMPV6   58
#define IPPROTO_DSTOPTS  60
#endif

#define FW_IP_MF     0x2000
#define FW_IP_OFFSET 0x1FFF

#define FW_MAX_VLAN_DEPTH   2
/* Extension headers followed before the L4 header; a longer chain is malformed (its addresses
 * are still checked against the lists, bpf/lib/fw_parse.h). RFC 8200 chains seldom exceed 3. */
#define FW_MAX_IPV6_EXT_HDR 8

#ifndef likely
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* A BPF_F_MMAPABLE array of `slots` values: the slot tables user space reads and writes
 * through mmap (IP fast tables, flow and rate-limiter tables). max_entries may be resized by
 * user space before load. */
#define FW_DEFINE_MMAP_ARRAY(name, value_t, slots)      \
	struct {                                             \
		__uint(type, BPF_MAP_TYPE_ARRAY);                \
		__uint(max_entries, slots);                      \
		__uint(map_flags, BPF_F_MMAPABLE);               \
		__type(key, __u32);                              \
		__type(value, value_t);                          \
	} name SEC(".maps")

#endif /* FW_COMMON_H */
