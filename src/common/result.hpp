// The project's one error policy (see docs/ERRORS.md):
//  * Fallible functions return Result<T>. No exceptions cross component boundaries;
//    only main() and test code turn errors into exit codes or assertions.
//  * Error carries a std::error_code (errno in std::generic_category() at the libbpf and
//    syscall boundary) plus human context ("attach xdp_blocklist to eth0"), and an optional
//    detail (e.g. the verifier log's tail).
//  * errno is captured immediately at the failing call (Error::from_errno) before anything
//    else can clobber it; libbpf's negative return codes go through Error::from_neg.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace flywall {

struct Error {
    std::error_code code;
    std::string context;
    std::string detail;

    // "context: strerror" (+ "\n" + detail when present).
    [[nodiscard]] std::string message() const {
        std::string m = context;
        if (code) {
            if (!m.empty()) m += ": ";
            m += code.message();
        }
        if (!detail.empty()) {
            m += "\n";
            m += detail;
        }
        return m;
    }
    [[nodiscard]] int errnum() const { return code.value(); }

    static Error from_errno(int err, std::string context) {
        return Error{std::error_code(err, std::generic_category()), std::move(context), {}};
    }
    // libbpf style: negative errno return values.
    static Error from_neg(long rc, std::string context) {
        return from_errno(static_cast<int>(rc < 0 ? -rc : rc), std::move(context));
    }
    static Error invalid(std::string context) { return from_errno(EINVAL, std::move(context)); }

    Error&& with_detail(std::string d) && {
        detail = std::move(d);
        return std::move(*this);
    }
    // Prefix more context: "load xdp_blocklist" + "open object" -> "load xdp_blocklist: open object".
    Error&& wrap(const std::string& outer) && {
        context = context.empty() ? outer : outer + ": " + context;
        return std::move(*this);
    }
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
    Result(Error err) : v_(std::in_place_index<1>, std::move(err)) {}   // NOLINT(implicit)

    [[nodiscard]] bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    const T* operator->() const { return &std::get<0>(v_); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error err) : err_(std::move(err)), failed_(true) {}  // NOLINT(implicit)
    [[nodiscard]] bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const& { return err_; }
    Error&& error() && { return std::move(err_); }

private:
    Error err_{};
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace flywall

// Propagate an error: FW_TRY(expr) for Result<void>; FW_TRY_ASSIGN(var, expr) for values.
#define FW_CONCAT_INNER(a, b) a##b
#define FW_CONCAT(a, b) FW_CONCAT_INNER(a, b)
#define FW_TRY(expr)                                              \
    do {                                                          \
        auto&& fw_try_r_ = (expr);                                \
        if (!fw_try_r_.ok()) return std::move(fw_try_r_).error(); \
    } while (0)
#define FW_TRY_ASSIGN(lhs, expr)                                          \
    auto&& FW_CONCAT(fw_try_tmp_, __LINE__) = (expr);                     \
    if (!FW_CONCAT(fw_try_tmp_, __LINE__).ok())                           \
        return std::move(FW_CONCAT(fw_try_tmp_, __LINE__)).error();       \
    lhs = std::move(FW_CONCAT(fw_try_tmp_, __LINE__)).value()
