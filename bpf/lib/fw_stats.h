/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Per-CPU statistics: one lookup per packet, then plain increments (no atomics needed). */
#ifndef FW_STATS_H
#define FW_STATS_H

#include "fw_xdp_maps.h"
#include "fw_selftime.h"

static __always_inline struct fw_stats *fw_stats_get(__u32 features)
{
	__u32 zero = 0;

	if (!(features & FW_F_STATS))
		return NULL;
	return bpf_map_lookup_elem(&fw_stats_map, &zero);
}

#define FW_STAT_INC(s, field)      do { if (s) (s)->field++; } while (0)
#define FW_STAT_ADD(s, field, n)   do { if (s) (s)->field += (n); } while (0)

#endif /* FW_STATS_H */
