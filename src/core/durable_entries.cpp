#include "core/durable_entries.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <ctime>

namespace flywall {

namespace {

constexpr int kSchemaVersion = 1;

std::int64_t realtime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000000ll + ts.tv_nsec;
}

Error sql_error(sqlite3* db, const std::string& what) {
    return Error::from_errno(EIO, "state store: " + what + ": " + (db ? sqlite3_errmsg(db) : "no database"));
}

// One prepared statement, finalized on scope exit.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql) : db_(db) {
        if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) s_ = nullptr;
    }
    ~Stmt() { sqlite3_finalize(s_); }
    Stmt(const Stmt&) = delete;
    Stmt& operator=(const Stmt&) = delete;
    explicit operator bool() const { return s_ != nullptr; }
    sqlite3_stmt* get() const { return s_; }
    // Runs a statement that returns no rows, then resets it for the next bindings.
    bool run() {
        const int rc = sqlite3_step(s_);
        sqlite3_reset(s_);
        sqlite3_clear_bindings(s_);
        return rc == SQLITE_DONE;
    }

private:
    sqlite3* db_;
    sqlite3_stmt* s_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed.
class Txn {
public:
    explicit Txn(sqlite3* db) : db_(db) { ok_ = sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK; }
    ~Txn() {
        if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    bool began() const { return ok_; }
    bool commit() {
        done_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
        return done_;
    }

private:
    sqlite3* db_;
    bool ok_ = false;
    bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<DurableEntries>> DurableEntries::open(const std::string& dir) {
    if (dir.empty() || dir[0] != '/') return Error::invalid("state_dir '" + dir + "' is not an absolute path");
    // mkdir -p, mode 0700 for what we create.
    for (size_t at = 1; at <= dir.size(); ++at) {
        if (at != dir.size() && dir[at] != '/') continue;
        const std::string part = dir.substr(0, at);
        if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
            return Error::from_errno(errno, "state store: create " + part);
    }
    std::unique_ptr<DurableEntries> d(new DurableEntries);
    d->path_ = dir + "/state.db";
    if (sqlite3_open_v2(d->path_.c_str(), &d->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK)
        return sql_error(d->db_, "open " + d->path_);
    ::chmod(d->path_.c_str(), 0600);
    sqlite3_busy_timeout(d->db_, 5000);
    FW_TRY(d->exec("PRAGMA journal_mode = WAL"));
    FW_TRY(d->exec("PRAGMA synchronous = FULL"));
    FW_TRY(d->exec(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS ip_entries (prefix TEXT NOT NULL, list INTEGER NOT NULL, dir INTEGER NOT NULL,"
        " expires_realtime_ns INTEGER, source INTEGER NOT NULL, PRIMARY KEY (prefix, list));"
        "CREATE TABLE IF NOT EXISTS domain_entries (name TEXT PRIMARY KEY, action INTEGER NOT NULL,"
        " expires_realtime_ns INTEGER);"
        "CREATE TABLE IF NOT EXISTS tc_policy (kind TEXT NOT NULL, name TEXT NOT NULL, hcl TEXT NOT NULL,"
        " PRIMARY KEY (kind, name));"));
    {
        Stmt v(d->db_, "SELECT value FROM meta WHERE key = 'schema'");
        if (!v) return sql_error(d->db_, "read schema version");
        if (sqlite3_step(v.get()) == SQLITE_ROW) {
            const int have = sqlite3_column_int(v.get(), 0);
            if (have != kSchemaVersion)
                return Error::from_errno(EPROTO, "state store " + d->path_ + " has schema " + std::to_string(have) +
                                                     ", this build reads " + std::to_string(kSchemaVersion));
        } else {
            FW_TRY(d->exec("INSERT INTO meta (key, value) VALUES ('schema', 1)"));
        }
    }
    return d;
}

DurableEntries::~DurableEntries() { sqlite3_close_v2(db_); }

Status DurableEntries::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "?";
        sqlite3_free(err);
        return Error::from_errno(EIO, "state store: " + msg);
    }
    return {};
}

Status DurableEntries::put_ips(std::span<const IpEntrySpec> specs) {
    std::lock_guard lk(mu_);
    Txn t(db_);
    if (!t.began()) return sql_error(db_, "begin");
    Stmt s(db_, "INSERT OR REPLACE INTO ip_entries (prefix, list, dir, expires_realtime_ns, source) VALUES (?, ?, ?, ?, ?)");
    if (!s) return sql_error(db_, "prepare");
    const std::int64_t now = realtime_ns();
    for (const auto& e : specs) {
        const std::string p = e.prefix.to_string();
        sqlite3_bind_text(s.get(), 1, p.c_str(), static_cast<int>(p.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int(s.get(), 2, static_cast<int>(e.list));
        sqlite3_bind_int(s.get(), 3, static_cast<int>(e.dir));
        if (e.ttl)
            sqlite3_bind_int64(s.get(), 4, now + static_cast<std::int64_t>(e.ttl->count()));
        else
            sqlite3_bind_null(s.get(), 4);
        sqlite3_bind_int64(s.get(), 5, e.source_id);
        if (!s.run()) return sql_error(db_, "record " + p);
    }
    if (!t.commit()) return sql_error(db_, "commit");
    return {};
}

Status DurableEntries::drop_ips(std::span<const IpPrefix> prefixes, IpListKind list,
                                std::optional<std::uint32_t> only_source) {
    std::lock_guard lk(mu_);
    Txn t(db_);
    if (!t.began()) return sql_error(db_, "begin");
    Stmt s(db_, only_source ? "DELETE FROM ip_entries WHERE prefix = ? AND list = ? AND source = ?"
                            : "DELETE FROM ip_entries WHERE prefix = ? AND list = ?");
    if (!s) return sql_error(db_, "prepare");
    for (const auto& p : prefixes) {
        const std::string text = p.to_string();
        sqlite3_bind_text(s.get(), 1, text.c_str(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int(s.get(), 2, static_cast<int>(list));
        if (only_source) sqlite3_bind_int64(s.get(), 3, *only_source);
        if (!s.run()) return sql_error(db_, "forget " + text);
    }
    if (!t.commit()) return sql_error(db_, "commit");
    return {};
}

Status DurableEntries::put_domains(std::span<const std::pair<std::string, DomainAction>> names,
                                   std::span<const std::optional<std::chrono::seconds>> ttls) {
    std::lock_guard lk(mu_);
    Txn t(db_);
    if (!t.began()) return sql_error(db_, "begin");
    Stmt s(db_, "INSERT OR REPLACE INTO domain_entries (name, action, expires_realtime_ns) VALUES (?, ?, ?)");
    if (!s) return sql_error(db_, "prepare");
    const std::int64_t now = realtime_ns();
    for (size_t i = 0; i < names.size(); ++i) {
        const auto& [name, action] = names[i];
        sqlite3_bind_text(s.get(), 1, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(s.get(), 2, static_cast<std::int64_t>(action));
        if (i < ttls.size() && ttls[i])
            sqlite3_bind_int64(s.get(), 3, now + static_cast<std::int64_t>(ttls[i]->count()) * 1000000000ll);
        else
            sqlite3_bind_null(s.get(), 3);
        if (!s.run()) return sql_error(db_, "record " + name);
    }
    if (!t.commit()) return sql_error(db_, "commit");
    return {};
}

Status DurableEntries::drop_domains(std::span<const std::string> names) {
    std::lock_guard lk(mu_);
    Txn t(db_);
    if (!t.began()) return sql_error(db_, "begin");
    Stmt s(db_, "DELETE FROM domain_entries WHERE name = ?");
    if (!s) return sql_error(db_, "prepare");
    for (const auto& n : names) {
        sqlite3_bind_text(s.get(), 1, n.c_str(), static_cast<int>(n.size()), SQLITE_TRANSIENT);
        if (!s.run()) return sql_error(db_, "forget " + n);
    }
    if (!t.commit()) return sql_error(db_, "commit");
    return {};
}

Status DurableEntries::put_policy(const std::string& kind, const std::string& name, const std::string& hcl) {
    std::lock_guard lk(mu_);
    Stmt s(db_, "INSERT INTO tc_policy (kind, name, hcl) VALUES (?, ?, ?) ON CONFLICT (kind, name) DO UPDATE SET hcl = excluded.hcl");
    if (!s) return sql_error(db_, "prepare");
    sqlite3_bind_text(s.get(), 1, kind.c_str(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s.get(), 2, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s.get(), 3, hcl.c_str(), static_cast<int>(hcl.size()), SQLITE_TRANSIENT);
    if (!s.run()) return sql_error(db_, "record " + kind + " " + name);
    return {};
}

Status DurableEntries::drop_policy(const std::string& kind, const std::string& name) {
    std::lock_guard lk(mu_);
    Stmt s(db_, "DELETE FROM tc_policy WHERE kind = ? AND name = ?");
    if (!s) return sql_error(db_, "prepare");
    sqlite3_bind_text(s.get(), 1, kind.c_str(), static_cast<int>(kind.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s.get(), 2, name.c_str(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
    if (!s.run()) return sql_error(db_, "forget " + kind + " " + name);
    return {};
}

Result<DurableEntries::Restored> DurableEntries::load() {
    std::lock_guard lk(mu_);
    Restored out;
    const std::int64_t now = realtime_ns();
    const std::uint64_t mono = monotonic_now_ns();
    {
        Stmt s(db_, "SELECT prefix, list, dir, expires_realtime_ns, source FROM ip_entries");
        if (!s) return sql_error(db_, "prepare");
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
            const char* text = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
            auto prefix = parse_ip_prefix(text ? text : "");
            if (!prefix) return Error::invalid("state store " + path_ + ": bad prefix '" + (text ? text : "") + "'");
            const int list = sqlite3_column_int(s.get(), 1);
            const int dir = sqlite3_column_int(s.get(), 2);
            if ((list != 0 && list != 1) || dir < 1 || dir > 3)
                return Error::invalid("state store " + path_ + ": bad list/direction for " + prefix->to_string());
            IpEntrySpec e;
            e.prefix = *prefix;
            e.list = static_cast<IpListKind>(list);
            e.dir = static_cast<MatchDir>(dir);
            e.source_id = static_cast<std::uint32_t>(sqlite3_column_int64(s.get(), 4));
            if (sqlite3_column_type(s.get(), 3) != SQLITE_NULL) {
                const std::int64_t left = sqlite3_column_int64(s.get(), 3) - now;
                if (left <= 0) {
                    ++out.expired;
                    continue;
                }
                e.ttl = std::chrono::nanoseconds(left);
            }
            out.ips.push_back(e);
        }
        if (rc != SQLITE_DONE) return sql_error(db_, "read ip entries");
    }
    {
        Stmt s(db_, "SELECT name, action, expires_realtime_ns FROM domain_entries");
        if (!s) return sql_error(db_, "prepare");
        int rc;
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
            const char* name = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
            const std::int64_t action = sqlite3_column_int64(s.get(), 1);
            const auto known = [](std::int64_t a) {
                return a == static_cast<std::int64_t>(DomainAction::Drop) ||
                       a == static_cast<std::int64_t>(DomainAction::Nxdomain) ||
                       a == static_cast<std::int64_t>(DomainAction::Global);
            };
            if (!known(action))
                return Error::invalid("state store " + path_ + ": bad action for domain " + (name ? name : ""));
            DomainRule r{name ? name : "", static_cast<DomainAction>(action), 0, 0};
            if (sqlite3_column_type(s.get(), 2) != SQLITE_NULL) {
                const std::int64_t left = sqlite3_column_int64(s.get(), 2) - now;
                if (left <= 0) {
                    ++out.expired;
                    continue;
                }
                r.expires_ns = mono + static_cast<std::uint64_t>(left);
            }
            out.domains.push_back(std::move(r));
        }
        if (rc != SQLITE_DONE) return sql_error(db_, "read domain entries");
    }
    {
        Stmt s(db_, "SELECT kind, name, hcl FROM tc_policy ORDER BY rowid");
        if (!s) return sql_error(db_, "prepare");
        int rc;
        const auto text = [&](int col) {
            const char* t = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), col));
            return std::string(t ? t : "");
        };
        while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.policies.push_back({text(0), text(1), text(2)});
        if (rc != SQLITE_DONE) return sql_error(db_, "read tc policy");
    }
    if (out.expired) {
        const std::string now_s = std::to_string(now);
        FW_TRY(exec(("DELETE FROM ip_entries WHERE expires_realtime_ns IS NOT NULL AND expires_realtime_ns <= " + now_s +
                     "; DELETE FROM domain_entries WHERE expires_realtime_ns IS NOT NULL AND expires_realtime_ns <= " + now_s)
                        .c_str()));
    }
    return out;
}

}  // namespace flywall
