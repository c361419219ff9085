#include "api/token.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

namespace flywall::api {

namespace {

Status mkdir_parents(const std::string& file) {
    auto slash = file.find_last_of('/');
    if (slash == std::string::npos || slash == 0) return {};
    std::string dir = file.substr(0, slash);
    for (size_t i = 1; i <= dir.size(); ++i) {
        if (i == dir.size() || dir[i] == '/') {
            std::string part = dir.substr(0, i);
            if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
                return Error::from_errno(errno, "create directory " + part);
        }
    }
    return {};
}

Result<std::string> read_all(int fd, const std::string& path) {
    std::string out;
    char buf[256];
    while (true) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno(errno, "read token file " + path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
        if (out.size() > 4096) return Error::invalid("token file " + path + " is larger than 4 KiB");
    }
    return out;
}

}  // namespace

Result<Token> load_or_create_token(const std::string& path) {
    if (path.empty()) return Error::invalid("api token_file is empty");
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        // The token grants every mutation: a file that others can read (or write, or that
        // belongs to another user) is refused, not used silently.
        struct stat st {};
        if (fstat(fd, &st) != 0) {
            int e = errno;
            close(fd);
            return Error::from_errno(e, "stat token file " + path);
        }
        if (!S_ISREG(st.st_mode)) {
            close(fd);
            return Error::invalid("token file " + path + " is not a regular file");
        }
        if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
            close(fd);
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
            return Error::from_errno(EACCES, "token file " + path + " has mode " + mode + " and owner uid " +
                                                 std::to_string(st.st_uid) +
                                                 ": it must be readable by its owner only (chown root " + path +
                                                 " && chmod 600 " + path + ")");
        }
        auto text = read_all(fd, path);
        close(fd);
        if (!text.ok()) return std::move(text).error();
        std::string t = *text;
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
        while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
        if (t.size() < 16) return Error::invalid("token file " + path + " holds fewer than 16 characters");
        return Token{t, false};
    }
    if (errno != ENOENT) return Error::from_errno(errno, "open token file " + path);

    FW_TRY(mkdir_parents(path));
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error::from_errno(errno, "generate API token");
        }
        got += static_cast<size_t>(n);
    }
    static const char* hex = "0123456789abcdef";
    std::string token;
    for (unsigned char c : raw) {
        token.push_back(hex[c >> 4]);
        token.push_back(hex[c & 15]);
    }
    fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Error::from_errno(errno, "create token file " + path);
    std::string line = token + "\n";
    ssize_t n = write(fd, line.data(), line.size());
    int err = errno;
    close(fd);
    if (n != static_cast<ssize_t>(line.size())) {
        unlink(path.c_str());
        return Error::from_errno(n < 0 ? err : EIO, "write token file " + path);
    }
    return Token{token, true};
}

bool token_equals(const std::string& a, const std::string& b) {
    unsigned diff = a.size() == b.size() ? 0 : 1;
    size_t n = std::max(a.size(), b.size());
    for (size_t i = 0; i < n; ++i) {
        unsigned char x = i < a.size() ? a[i] : 0;
        unsigned char y = i < b.size() ? b[i] : 0;
        diff |= x ^ y;
    }
    return diff == 0;
}

}  // namespace flywall::api
