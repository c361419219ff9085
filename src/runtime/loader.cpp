#include "runtime/loader.hpp"

#include <bpf/bpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <sstream>

namespace flywall {

namespace {

thread_local std::string t_verifier_log;
thread_local bool t_in_verifier_log = false;

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list args) {
    char buf[4096];
    int n = vsnprintf(buf, sizeof(buf), fmt, args);
    std::string text(buf, n > 0 ? std::min<size_t>(static_cast<size_t>(n), sizeof(buf) - 1) : 0);
    // libbpf prints the kernel's verifier log between these markers when a load fails.
    if (text.find("-- BEGIN PROG LOAD LOG --") != std::string::npos) {
        t_in_verifier_log = true;
        t_verifier_log.clear();
    }
    if (t_in_verifier_log) t_verifier_log += text;
    if (text.find("-- END PROG LOAD LOG --") != std::string::npos) t_in_verifier_log = false;

    while (!text.empty() && text.back() == '\n') text.pop_back();
    switch (level) {
        case LIBBPF_WARN: spdlog::warn("libbpf: {}", text); break;
        case LIBBPF_INFO: spdlog::debug("libbpf: {}", text); break;
        case LIBBPF_DEBUG: spdlog::trace("libbpf: {}", text); break;
    }
    return n;
}

int mkdir_p(const std::string& path, bool* created) {
    std::string cur;
    std::stringstream ss(path);
    std::string part;
    if (!path.empty() && path[0] == '/') cur = "/";
    while (std::getline(ss, part, '/')) {
        if (part.empty()) continue;
        cur += part;
        if (mkdir(cur.c_str(), 0700) == 0) {
            if (created) *created = true;
        } else if (errno != EEXIST) {
            return errno;
        }
        cur += "/";
    }
    return 0;
}

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

bool on_bpffs(const std::string& dir) {
    struct statfs st {};
    return statfs(dir.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == BPF_FS_MAGIC;
}

// Pins need a bpffs. A fresh machine may boot without one at /sys/fs/bpf (bpftool and libxdp
// mount it themselves then, and so do we); a pin_path elsewhere that is not on a bpffs is an
// error that says how to fix it.
Status ensure_bpffs(const std::string& path) {
    std::string existing = path;
    struct stat st {};
    while (!existing.empty() && stat(existing.c_str(), &st) != 0) {
        auto slash = existing.find_last_of('/');
        existing = slash == 0 ? "/" : existing.substr(0, slash);
        if (slash == std::string::npos) existing.clear();
    }
    if (!existing.empty() && on_bpffs(existing)) return {};
    static const std::string kDefault = "/sys/fs/bpf";
    if (path.rfind(kDefault + "/", 0) == 0 || path == kDefault) {
        if (on_bpffs(kDefault)) return {};
        if (mkdir(kDefault.c_str(), 0700) != 0 && errno != EEXIST)
            return Error::from_errno(errno, "create " + kDefault + " to mount bpffs on");
        if (mount("bpf", kDefault.c_str(), "bpf", 0, "mode=0700") != 0)
            return Error::from_errno(errno, "mount bpffs at " + kDefault + " (mount -t bpf bpf " + kDefault + ")");
        spdlog::info("flywall: mounted bpffs at {} (it was not mounted)", kDefault);
        return {};
    }
    return Error::from_errno(ENOTSUP, "pin_path " + path + " is not on a bpffs: mount one there first (mount -t bpf bpf DIR) "
                                      "or use a path under /sys/fs/bpf");
}

}  // namespace

void install_libbpf_logging() {
    static std::once_flag once;
    std::call_once(once, [] { libbpf_set_print(libbpf_print); });
}

std::string last_verifier_log_tail(size_t max_lines) {
    std::deque<std::string> lines;
    std::stringstream ss(t_verifier_log);
    std::string line;
    while (std::getline(ss, line)) {
        lines.push_back(line);
        if (lines.size() > max_lines) lines.pop_front();
    }
    std::string out;
    for (auto& l : lines) out += l + "\n";
    return out;
}

void clear_last_verifier_log() { t_verifier_log.clear(); }

Result<PinDir> PinDir::acquire(const std::string& path) {
    PinDir d;
    d.path_ = path;
    FW_TRY(ensure_bpffs(path));
    if (int err = mkdir_p(path, &d.created_dir_)) return Error::from_errno(err, "create pin directory " + path);
    int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Error::from_errno(errno, "open pin directory " + path);
    d.lock_fd_ = UniqueFd(fd);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK)
            return Error::from_errno(EBUSY, "pin directory " + path + " is held by another flywall instance");
        return Error::from_errno(err, "lock pin directory " + path);
    }
    for (const auto& sub : {d.progs_dir(), d.maps_dir()}) {
        if (mkdir(sub.c_str(), 0700) == 0) continue;
        if (errno != EEXIST) return Error::from_errno(errno, "create " + sub);
        // A previous instance's layout (left attached on purpose, or after a crash): the
        // directory is flywall's, and goes when the datapath is detached.
        d.created_dir_ = true;
    }
    return d;
}

PinDir::PinDir(PinDir&& o) noexcept
    : path_(std::move(o.path_)),
      lock_fd_(std::move(o.lock_fd_)),
      created_dir_(o.created_dir_),
      pins_(std::move(o.pins_)) {
    o.pins_.clear();
    o.path_.clear();
}

PinDir& PinDir::operator=(PinDir&& o) noexcept {
    if (this != &o) {
        unpin_all();
        path_ = std::move(o.path_);
        lock_fd_ = std::move(o.lock_fd_);
        created_dir_ = o.created_dir_;
        pins_ = std::move(o.pins_);
        o.pins_.clear();
        o.path_.clear();
    }
    return *this;
}

PinDir::~PinDir() { unpin_all(); }

Status PinDir::pin_object(bpf_object* obj) {
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) {
        std::string p = progs_dir() + "/" + bpf_program__name(prog);
        unlink(p.c_str());  // a stale pin from a crashed run of this same (locked) instance
        int rc = bpf_program__pin(prog, p.c_str());
        if (rc != 0) return Error::from_neg(rc, "pin program at " + p);
        pins_.push_back(p);
    }
    bpf_map* map;
    bpf_object__for_each_map(map, obj) {
        std::string name = bpf_map__name(map);
        for (auto& c : name)
            if (c == '/' || c == '.') c = '_';  // bpffs refuses names with a dot (EPERM)
        std::string p = maps_dir() + "/" + name;
        unlink(p.c_str());
        int rc = bpf_map__pin(map, p.c_str());
        if (rc != 0) return Error::from_neg(rc, "pin map at " + p);
        pins_.push_back(p);
    }
    return {};
}

std::vector<UniqueFd> PinDir::open_existing() const {
    std::vector<UniqueFd> fds;
    for (const auto& sub : {progs_dir(), maps_dir()}) {
        std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(sub.c_str()), closedir);
        if (!dir) continue;
        while (const dirent* e = readdir(dir.get())) {
            if (e->d_name[0] == '.') continue;
            UniqueFd fd(bpf_obj_get((sub + "/" + e->d_name).c_str()));
            if (fd) fds.push_back(std::move(fd));
        }
    }
    return fds;
}

std::vector<std::string> PinDir::remove_every_pin() {
    std::vector<std::string> removed;
    for (const auto& sub : {progs_dir(), maps_dir()}) {
        std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(sub.c_str()), closedir);
        if (!dir) continue;
        while (const dirent* e = readdir(dir.get())) {
            if (e->d_name[0] == '.') continue;
            std::string p = sub + "/" + e->d_name;
            if (unlink(p.c_str()) == 0) removed.push_back(p);
        }
    }
    pins_.clear();
    created_dir_ = true;  // everything under it is gone: the directory goes too
    unpin_all();
    return removed;
}

void PinDir::unpin_all() {
    for (auto it = pins_.rbegin(); it != pins_.rend(); ++it) unlink(it->c_str());
    pins_.clear();
    if (!path_.empty()) {
        rmdir(progs_dir().c_str());
        rmdir(maps_dir().c_str());
        if (created_dir_) rmdir(path_.c_str());
    }
}

}  // namespace flywall
