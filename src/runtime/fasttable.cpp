// Layout checks of the fast-table ABI (bpf/include/flywall/fasttable.h): the BPF side and
// user space must agree on every slot offset, since user space writes slots through mmap.
#include "runtime/fasttable.hpp"

#include <cstddef>

#define FW_FT_CHECK_SIZE(T, n) static_assert(sizeof(struct T) == (n), #T " size changed: update ABI users")
#define FW_FT_CHECK_OFF(T, f, n) static_assert(offsetof(struct T, f) == (n), #T "." #f " moved")

FW_FT_CHECK_SIZE(fw_ft4_slot, 32);
FW_FT_CHECK_OFF(fw_ft4_slot, key, 0);
FW_FT_CHECK_OFF(fw_ft4_slot, state, 4);
FW_FT_CHECK_OFF(fw_ft4_slot, e, 8);
FW_FT_CHECK_SIZE(fw_ft6_slot, 48);
FW_FT_CHECK_OFF(fw_ft6_slot, key, 0);
FW_FT_CHECK_OFF(fw_ft6_slot, state, 16);
FW_FT_CHECK_OFF(fw_ft6_slot, e, 24);
FW_FT_CHECK_SIZE(fw_ft_config, 32);
FW_FT_CHECK_OFF(fw_ft_config, shift4, 16);
FW_FT_CHECK_OFF(fw_ft_config, hash_skip, 24);
FW_FT_CHECK_OFF(fw_ft_config, hinted, 28);
static_assert(flywall::ft_valid_slots(FW_FT_SLOTS4_DEFAULT) && flywall::ft_valid_slots(FW_FT_SLOTS6_DEFAULT));
static_assert(FW_FT_SLOTS4_DEFAULT >= 2ull * FW_IP_EXACT_MAX, "fast table below 2x capacity");
static_assert((1u << FW_FT_MIN_BITS) >= FW_FT_MAX_PROBE, "a probe sequence must not revisit a slot");
