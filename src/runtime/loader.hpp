// Loader: owns kernel program objects (bpftool skeletons), sets load-time state between open
// and load, surfaces the verifier log's tail on rejection, pins under a locked bpffs directory.
#pragma once

#include <bpf/libbpf.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "runtime/fd.hpp"

namespace flywall {

// Routes libbpf's print callback into spdlog and keeps the last verifier log it printed, so a
// rejected load can carry it. Installed once per process (idempotent).
void install_libbpf_logging();
// Tail (last `max_lines` lines) of the most recent verifier log libbpf printed on this thread.
std::string last_verifier_log_tail(size_t max_lines = 40);
void clear_last_verifier_log();

// The instance's bpffs directory: <path>/progs and <path>/maps, held under an exclusive flock
// so two instances (or parallel tests) never share pins. Removes only what it pinned.
class PinDir {
public:
    static Result<PinDir> acquire(const std::string& path);
    PinDir(PinDir&&) noexcept;
    PinDir& operator=(PinDir&&) noexcept;
    PinDir(const PinDir&) = delete;
    PinDir& operator=(const PinDir&) = delete;
    ~PinDir();

    const std::string& path() const { return path_; }
    std::string progs_dir() const { return path_ + "/progs"; }
    std::string maps_dir() const { return path_ + "/maps"; }

    // Pin every program and map of obj (names from the object). Pins are remembered.
    Status pin_object(bpf_object* obj);
    // Unlink the pins this owner made, then the directories if empty.
    void unpin_all();
    // Leaves the pins in place (the datapath stays attached on them): forgets them, so the
    // destructor removes nothing. The lock goes with the object.
    void keep_pins() { pins_.clear(); path_.clear(); }
    // Opens every pin under progs/ and maps/ (a previous instance's), to hold them for a while.
    std::vector<UniqueFd> open_existing() const;
    // Unlinks every pin under progs/ and maps/ (also those a previous instance left) and the
    // directories; returns the paths removed.
    std::vector<std::string> remove_every_pin();
    const std::vector<std::string>& pins() const { return pins_; }

private:
    PinDir() = default;
    std::string path_;
    UniqueFd lock_fd_;
    bool created_dir_ = false;
    std::vector<std::string> pins_;
};

// Traits to adapt a bpftool skeleton type: specialised next to each program wrapper.
template <class S>
struct SkeletonTraits;

// RAII owner of one skeleton instance. Move-only.
template <class S>
class Skeleton {
    using T = SkeletonTraits<S>;

public:
    // Open, let `configure` set rodata/bss/map sizes, then load. On verifier rejection the error
    // carries the log tail in Error::detail.
    static Result<Skeleton> open_and_load(const std::function<Status(S*)>& configure = {}) {
        install_libbpf_logging();
        clear_last_verifier_log();
        S* raw = T::open();
        if (!raw) return Error::from_errno(errno, std::string("open ") + T::name);
        Skeleton sk(raw);
        if (configure) {
            auto st = configure(raw);
            if (!st) return std::move(st).error().wrap(std::string("configure ") + T::name);
        }
        int rc = T::load(raw);
        if (rc != 0) {
            return Error::from_neg(rc, std::string("load ") + T::name).with_detail(last_verifier_log_tail());
        }
        return sk;
    }

    Skeleton(Skeleton&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    Skeleton& operator=(Skeleton&& o) noexcept {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    Skeleton(const Skeleton&) = delete;
    Skeleton& operator=(const Skeleton&) = delete;
    ~Skeleton() { reset(); }

    S* get() const { return s_; }
    S* operator->() const { return s_; }
    bpf_object* object() const { return s_->obj; }

private:
    explicit Skeleton(S* s) : s_(s) {}
    void reset() {
        if (s_) T::destroy(s_);
        s_ = nullptr;
    }
    S* s_ = nullptr;
};

}  // namespace flywall
