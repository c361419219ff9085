/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* XDP fast path. Logic lives in bpf/lib/; this file fixes the order of the checks:
 *
 *   parse -> flow lookup (trusted flow under the current policy generation: count it and pass,
 *            nothing else runs; trusted under an older one: every check below, then re-stamped)
 *         -> allowlist (pass) / blocklist (drop, event)
 *         -> per-source rate limit (drop, event)
 *         -> DNS query check (drop or NXDOMAIN via XDP_TX, event)
 *         -> flow update (existing flow) or creation (sampled, optional event) -> pass
 *
 *   parse failed -> addresses known (IP fixed header read)? allowlist (pass) / blocklist (drop)
 *               -> fw_cfg.malformed_verdict (default pass)
 *
 * Why this order: the trusted-flow offload must come first to be worth anything; the lists come
 * before the rate limiter so blocked sources do not fill its table and allowlisted ones are
 * never limited; the limiter comes before DNS so a query flood is cut before name parsing; only
 * packets that pass create flows, so dropped floods cannot evict tracked flows.
 * A packet that does not parse fully is still judged by the lists as soon as its addresses are
 * known, and only then by the malformed verdict: otherwise a blocked source would pass by
 * adding extension headers or cutting its L4 header short (fail closed, DESIGN.md). Such a
 * packet has no flow key and no L4 fields, so the flow, limiter and DNS stages do not apply.
 * Every feature is one bit in fw_cfg.features; a disabled feature costs one test of that bit.
 *
 * The program times itself (fw_stats.timed_*) on 1 packet in 2^fw_cfg.time_sample_shift, so
 * the daemon needs no kernel BPF statistics, which would make every BPF program on the host
 * pay two clock reads per run. The choice reuses the per-CPU `processed` counter: an untimed
 * packet pays one mask test. */

#include "fw_common.h"
#include "fw_xdp_maps.h"
#include "fw_stats.h"
#include "fw_parse.h"
#include "fw_iplist.h"
#include "fw_events.h"
#include "fw_flow.h"
#include "fw_ratelimit.h"
#include "fw_dns.h"

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

/* A packet that did not parse and that no list decided. */
static __always_inline int fw_malformed_verdict(struct fw_stats *s)
{
	if (fw_cfg.malformed_verdict == FW_VERDICT_DROP) {
		if (s)
			s->drop_reason[FW_DROP_MALFORMED]++;
		return fw_finish(s, XDP_DROP);
	}
	return fw_finish(s, XDP_PASS);
}

/* Everything after the stats lookup and the `processed` count: the part that is timed. */
static __always_inline int fw_xdp_body(struct xdp_md *ctx, struct fw_stats *s, __u32 features)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct fw_flow_key fkey = {};
	struct fw_flow_slot *flow = NULL;
	__u64 fhash = 0;
	struct fw_pkt pkt = {};
	struct fw_clock clock = {};
	__u32 ifindex = ctx->ingress_ifindex;
	__u32 gen = fw_policy_gen();
	int rc;

	FW_STAT_ADD(s, bytes, data_end - data);

	rc = fw_parse(&pkt, data, data_end);
	if (likely(rc == FW_PARSE_OK)) {
		if (pkt.family == 4)
			FW_STAT_INC(s, ipv4);
		else if (pkt.family == 6)
			FW_STAT_INC(s, ipv6);
		else
			return fw_finish(s, XDP_PASS);
		if (pkt.fragment)
			FW_STAT_INC(s, fragments);

		if (features & (FW_F_FLOW_TRACKING | FW_F_TRUSTED_OFFLOAD)) {
			fw_flow_key_fill(&fkey, &pkt, ifindex);
			fhash = fw_flow_hash(&fkey, fw_tbl.flow_seed);
			flow = fw_flow_find(&fkey, fhash);
			if (flow && (features & FW_F_TRUSTED_OFFLOAD) && fw_flow_trusted(&flow->v, gen)) {
				fw_flow_touch(&flow->v, &pkt, s, gen);
				FW_STAT_INC(s, flows_trusted_fastpath);
				return fw_finish(s, XDP_PASS);
			}
		}
	} else {
		/* Counted whatever decides the packet below. */
		__u32 reason = (__u32)(rc - 1) & (FW_MAL_REASON_MAX - 1);
		if (s)
			s->malformed[reason]++;
		if (!pkt.family)
			return fw_malformed_verdict(s); /* no addresses to check */
	}

	switch (fw_iplist_check(&pkt, features, fw_cfg.tables, &clock)) {
	case FW_LIST_ALLOWED:
		FW_STAT_INC(s, allowlist_hits);
		return fw_finish(s, XDP_PASS);
	case FW_LIST_BLOCKED:
		FW_STAT_INC(s, blocklist_hits);
		if (s)
			s->drop_reason[FW_DROP_IP_BLOCKLIST]++;
		if (features & FW_F_EVENTS)
			fw_event_emit(s, &pkt, FW_EV_IP_BLOCKED, ifindex, FW_DROP_IP_BLOCKLIST,
				      fw_now(&clock));
		return fw_finish(s, XDP_DROP);
	default:
		break;
	}
	if (unlikely(rc != FW_PARSE_OK))
		return fw_malformed_verdict(s); /* unlisted addresses, unparseable packet */

	if ((features & FW_F_RATE_LIMIT) && fw_ratelimit(&pkt, s, &clock, ifindex, flow ? &flow->v : NULL)) {
		if (s)
			s->drop_reason[FW_DROP_RATE_LIMIT]++;
		return fw_finish(s, XDP_DROP);
	}

	if (features & FW_F_DNS_BLOCKLIST) {
		rc = fw_dns_check(ctx, &pkt, s, &clock, ifindex);
		if (rc != FW_DNS_CONTINUE)
			return fw_finish(s, rc);
	}

	if (features & FW_F_FLOW_TRACKING) {
		if (flow)
			fw_flow_touch(&flow->v, &pkt, s, gen);
		else
			fw_flow_create(&fkey, fhash, &pkt, s, &clock, gen);
	}
	return fw_finish(s, XDP_PASS);
}

SEC("xdp")
int xdp_blocklist(struct xdp_md *ctx)
{
	__u32 features = fw_cfg.features;
	struct fw_stats *s = fw_stats_get(features);
	__u64 t0 = 0;
	int action;

	/* One call of the body for timed and untimed packets: the verifier walks the timed path
	 * first (t0 unknown) and prunes the untimed one (t0 = 0) against it, where two calls would
	 * double its work. bpf_ktime_get_ns() is never 0 after boot. */
	if (s) {
		s->processed++;
		if (fw_time_this_packet(s->processed, fw_cfg.time_sample_shift))
			t0 = bpf_ktime_get_ns();
	}
	action = fw_xdp_body(ctx, s, features);
	if (t0 && s)
		FW_TIME_ACCOUNT(s, bpf_ktime_get_ns() - t0);
	return action;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
