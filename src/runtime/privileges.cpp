#include "runtime/privileges.hpp"

#include <sys/capability.h>
#include <dirent.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace flywall {

namespace {

std::string cap_name(int cap) {
    char* n = cap_to_name(static_cast<cap_value_t>(cap));
    std::string s = n ? n : "cap_" + std::to_string(cap);
    cap_free(n);
    return s;
}

}  // namespace

std::vector<int> runtime_capabilities() {
    return {CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_NET_RAW, CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN};
}

Result<CapabilityChange> drop_to_runtime_capabilities() {
    // capset() and the bounding-set and no_new_privs prctls act on the calling thread only: with
    // another thread running, that thread would keep every capability. Refuse rather than
    // pretend.
    {
        std::unique_ptr<DIR, int (*)(DIR*)> tasks(::opendir("/proc/self/task"), ::closedir);
        if (!tasks) return Error::from_errno(errno, "list own threads");
        int n = 0;
        while (const dirent* e = ::readdir(tasks.get()))
            if (e->d_name[0] != '.') ++n;
        if (n != 1)
            return Error::from_errno(EBUSY, std::to_string(n) + " threads are running; capabilities can only be "
                                                              "dropped for all of them before the second one starts");
    }
    const std::vector<int> keep = runtime_capabilities();
    const auto kept = [&](int c) { return std::find(keep.begin(), keep.end(), c) != keep.end(); };
    std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> now(cap_get_proc(), cap_free);
    if (!now) return Error::from_errno(errno, "read own capabilities");

    CapabilityChange out;
    const int last = static_cast<int>(cap_max_bits()) - 1;
    for (int c = 0; c <= last; ++c) {
        cap_flag_value_t had = CAP_CLEAR;
        cap_get_flag(now.get(), static_cast<cap_value_t>(c), CAP_PERMITTED, &had);
        if (kept(c)) {
            if (had == CAP_SET) out.kept.push_back(cap_name(c));
        } else if (had == CAP_SET) {
            out.dropped.push_back(cap_name(c));
        }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Error::from_errno(errno, "set no_new_privs");
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes right after.
    for (int c = 0; c <= last; ++c) {
        if (kept(c) || CAP_IS_SUPPORTED(c) == 0) continue;
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1 && cap_drop_bound(static_cast<cap_value_t>(c)) != 0)
            return Error::from_errno(errno, "drop " + cap_name(c) + " from the bounding set");
    }
    if (cap_reset_ambient() != 0 && errno != EINVAL) return Error::from_errno(errno, "clear ambient capabilities");
    std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void*)> next(cap_init(), cap_free);
    if (!next) return Error::from_errno(errno, "capability set");
    std::vector<cap_value_t> vals;
    for (int c : keep) {
        cap_flag_value_t had = CAP_CLEAR;
        cap_get_flag(now.get(), static_cast<cap_value_t>(c), CAP_PERMITTED, &had);
        if (had == CAP_SET) vals.push_back(static_cast<cap_value_t>(c));
    }
    if (!vals.empty() && (cap_set_flag(next.get(), CAP_PERMITTED, static_cast<int>(vals.size()), vals.data(), CAP_SET) != 0 ||
                          cap_set_flag(next.get(), CAP_EFFECTIVE, static_cast<int>(vals.size()), vals.data(), CAP_SET) != 0))
        return Error::from_errno(errno, "build the capability set");
    if (cap_set_proc(next.get()) != 0) return Error::from_errno(errno, "set own capabilities");
    return out;
}

}  // namespace flywall
