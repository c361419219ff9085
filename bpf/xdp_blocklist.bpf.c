/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* XDP fast path: parse, allowlist, IP blocklist, statistics. Logic lives in bpf/lib/. */
#include "fw_common.h"
#include "fw_xdp_maps.h"
#include "fw_stats.h"
#include "fw_parse.h"
#include "fw_iplist.h"

static __always_inline int fw_finish(struct fw_stats *s, int action)
{
	if (action == XDP_DROP)
		FW_STAT_INC(s, dropped);
	else if (action == XDP_TX)
		FW_STAT_INC(s, tx);
	else
		FW_STAT_INC(s, passed);
	return action;
}

SEC("xdp")
int xdp_blocklist(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 features = fw_cfg.features;
	struct fw_stats *s = fw_stats_get(features);
	struct fw_pkt pkt = {};
	struct fw_clock clock = {};
	int rc;

	FW_STAT_INC(s, processed);
	FW_STAT_ADD(s, bytes, data_end - data);

	rc = fw_parse(&pkt, data, data_end);
	if (unlikely(rc != FW_PARSE_OK)) {
		__u32 reason = (__u32)(rc - 1) & (FW_MAL_REASON_MAX - 1);
		if (s)
			s->malformed[reason]++;
		if (fw_cfg.malformed_verdict == FW_VERDICT_DROP) {
			if (s)
				s->drop_reason[FW_DROP_MALFORMED]++;
			return fw_finish(s, XDP_DROP);
		}
		return fw_finish(s, XDP_PASS);
	}

	if (pkt.family == 4)
		FW_STAT_INC(s, ipv4);
	else if (pkt.family == 6)
		FW_STAT_INC(s, ipv6);
	else
		return fw_finish(s, XDP_PASS);
	if (pkt.fragment)
		FW_STAT_INC(s, fragments);

	switch (fw_iplist_check(&pkt, features, fw_cfg.tables, &clock)) {
	case FW_LIST_ALLOWED:
		FW_STAT_INC(s, allowlist_hits);
		return fw_finish(s, XDP_PASS);
	case FW_LIST_BLOCKED:
		FW_STAT_INC(s, blocklist_hits);
		if (s)
			s->drop_reason[FW_DROP_IP_BLOCKLIST]++;
		return fw_finish(s, XDP_DROP);
	default:
		break;
	}
	return fw_finish(s, XDP_PASS);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
