// libFuzzer target: the HCL parser and the config schema behind it (what `flywall config check`
// and SIGHUP read). Any input must give a config or positioned diagnostics; never a crash, a
// stack overflow or a hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/text.hpp"
#include "config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    flywall::config::LoadResult lr = flywall::config::load_string(text, "fuzz.hcl");
    if (lr.ok()) {
        // What `config check` prints must serialise, and read back to the same config.
        (void)flywall::text::json_text(flywall::config::to_json(lr.config()));
        auto again = flywall::config::load_string(flywall::config::to_hcl(lr.config()), "roundtrip.hcl");
        if (!again.ok() || !(again.config() == lr.config())) __builtin_trap();
    } else {
        (void)lr.error_text();
    }
    return 0;
}
