/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Slot computation for the LPM guards; also compiled by user space (plain C, no BPF helpers),
 * so both sides agree on the slot of an address by construction. */
#ifndef FW_GUARD_H
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#define FW_GUARD_H

/* IPv4: the /16, i.e. the first two address bytes. */
static inline __u32 fw_guard4_slot(const __u8 *addr)
{
	return ((__u32)addr[0] << 8) | addr[1];
}

/* IPv6: the first 32 bits folded into 16. Prefixes shorter than /32 are flagged unguarded. */
static inline __u32 fw_guard6_slot(const __u8 *addr)
{
	__u32 hi = ((__u32)addr[0] << 8) | addr[1];
	__u32 lo = ((__u32)addr[2] << 8) | addr[3];
	return (hi ^ (lo * 0x9E37u)) & 0xFFFFu;
}

#endif /* FW_GUARD_H */
