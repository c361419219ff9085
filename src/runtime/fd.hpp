// UniqueFd: the one move-only owner of a file descriptor (BPF programs, maps, sockets,
// namespace handles). Closing is the destructor's job so no error path can leak an fd.
#pragma once

#include <unistd.h>

#include <utility>

namespace flywall {

class UniqueFd {
public:
    UniqueFd() noexcept = default;
    // Takes ownership; a negative value means "no fd".
    explicit UniqueFd(int fd) noexcept : fd_(fd < 0 ? -1 : fd) {}
    ~UniqueFd() { reset(); }

    UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
    UniqueFd& operator=(UniqueFd&& other) noexcept {
        if (this != &other) reset(other.release());
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;

    [[nodiscard]] int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

    // Gives up ownership without closing.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

    // Closes the current fd (if any) and takes ownership of `fd`. close() errors are
    // deliberately ignored: the fd is gone either way and retrying close is wrong on Linux.
    void reset(int fd = -1) noexcept {
        const int old = std::exchange(fd_, fd < 0 ? -1 : fd);
        if (old >= 0) ::close(old);
    }

private:
    int fd_ = -1;
};

}  // namespace flywall
