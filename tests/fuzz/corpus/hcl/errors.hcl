interface "eth0" {
  xdp_mode = "fast"
}
x = 1 + 2
/* c */ # c
// c
