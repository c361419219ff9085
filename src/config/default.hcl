# Flywall eBPF built-in default configuration.
# Used when no configuration file is given; protects the lab interface fw-lab0 with
# conservative settings. Print the effective configuration with defaults filled in to start
# your own file.

pin_path  = "/sys/fs/bpf/flywall"
# The lab: Ctrl-C leaves no program attached and no pin behind. A production config leaves this
# false, so a restart or upgrade takes the running datapath over without a gap.
detach_on_exit = true
log_level = "info"

ebpf {
  enabled = true

  features {
    ddos_protection    = true
    flow_monitoring    = true
    statistics         = true
    dns_blocklist      = true
    ip_blocklist       = true
    rate_limiting      = true
    inline_ips         = false
    qos                = false
    learning_engine    = false
    tls_fingerprinting = false
    socket_filters     = false
    dns_monitoring     = false
    dhcp_monitoring    = false
    events             = false
  }

  performance {
    max_cpu_percent    = 50
    max_memory_mb      = 500
    max_events_per_sec = 10000
    max_pps            = 10000000
    time_sample_shift  = 10       # the programs time 1 packet in 2^10 themselves
  }

  adaptive {
    enabled              = true
    scale_back_threshold = 80
    scale_back_rate      = 0.1
    minimum_features     = ["ddos_protection", "flow_monitoring"]
  }
}

interface "fw-lab0" {
  xdp_mode = "auto"
  tc       = true
}

api {
  listen     = "127.0.0.1:8080"
  token_file = "/etc/flywall/api.token"
}

blocklist {
  ips          = []
  ip_files     = []
  allow_ips    = []
  domains      = []
  domain_files = []
  dns_action   = "nxdomain"
}

# Per source address (IPv6 sources grouped by /64). Generous enough for normal hosts,
# low enough to blunt a single-source flood.
rate_limit {
  enabled         = true
  pps             = 20000
  bps             = 200000000 # bits per second
  burst_packets   = 40000
  burst_bytes     = 50000000
  syn_pps         = 2000
  icmp_pps        = 200
  udp_pps         = 10000
  ipv6_prefix_len = 64
}

flows {
  idle_timeout_sec      = 300
  trusted_after_packets = 0
  sample_rate           = 1
}

events {
}
