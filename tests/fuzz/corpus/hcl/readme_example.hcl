pin_path = "/sys/fs/bpf/flywall"          # one directory per instance, locked while running
interface "eth0" {
  xdp_mode = "auto"                       # auto | native | generic | offload; block repeatable
}
api {
  listen     = "127.0.0.1:8080"
  token_file = "/etc/flywall/api.token"   # created (0600) if missing; mutations need it
}
ebpf {                                    # the seed's block, as written there
  enabled = true
  features {
    ddos_protection = true                # needs ip_blocklist and rate_limiting
    ip_blocklist    = true
    rate_limiting   = true
    dns_blocklist   = true
    flow_monitoring = true
    statistics      = true
  }
  performance {
    max_cpu_percent = 50
    max_memory_mb   = 500
  }
  adaptive {
    enabled              = true
    scale_back_threshold = 80
    minimum_features     = ["ddos_protection"]
  }
}
blocklist {
  ips            = ["198.18.0.66", "2001:db8:bad::/48"]
  domains        = ["ads.example.com"]    # blocks the name and every subdomain
  dns_action     = "nxdomain"             # or "drop"
  malformed_verdict = "pass"              # or "drop": packets that do not parse, from unlisted addresses
  exact_capacity = 131072                 # exact addresses per list held in the fast tables
}
rate_limit {
  enabled       = true
  pps           = 1000
  burst_packets = 2000
}
learning {                                # thresholds of the learning engine (ebpf.features.learning_engine)
  auto_apply       = false                # propose only; true applies proposals at once
  rate_limit_trips = 20                   # rate-limit events from one source ...
  rate_limit_window_sec = 60              # ... within this window
  scan_ports       = 20                   # distinct destination ports of new flows (scan_window_sec)
  ips_alerts       = 5                    # IPS alerts from one source (ips_window_sec)
  rule_ttl_sec     = 3600                 # lifetime of an applied rule; idle_expiry_sec removes unused ones
}
