blocklist {
  ips = ["198.18.0.66", "2001:db8:bad::/48", "::ffff:198.18.0.7"]
  domains = ["ads.example.com", "*.tracker.example"]
}
meta = { a = [1, 2.5, true, null], "b" = <<EOT
heredoc
EOT
}
