// DurableEntries (SQLite state store): round trip of IP and domain entries with their expiry,
// replacement and removal, expired rows dropped at load, and hostile files: a path that is not
// absolute, a file that is not a database, a schema from another version, rows with bad values.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "core/durable_entries.hpp"

using namespace flywall;
using std::chrono::seconds;

namespace {

class DurableEntriesTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("flywall-durable-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    static IpEntrySpec spec(const char* text, std::optional<std::chrono::nanoseconds> ttl, uint32_t source = 0,
                            IpListKind list = IpListKind::Block) {
        IpEntrySpec e;
        e.prefix = *parse_ip_prefix(text);
        e.list = list;
        e.ttl = ttl;
        e.source_id = source;
        return e;
    }
    void sql(const std::string& stmt) {
        sqlite3* db = nullptr;
        ASSERT_EQ(sqlite3_open((dir_ / "state.db").c_str(), &db), SQLITE_OK);
        char* err = nullptr;
        EXPECT_EQ(sqlite3_exec(db, stmt.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
        sqlite3_free(err);
        sqlite3_close(db);
    }
    std::filesystem::path dir_;
};

TEST_F(DurableEntriesTest, RoundTripWithRemainingTtlReplacementAndRemoval) {
    {
        auto d = DurableEntries::open(dir_.string());
        ASSERT_TRUE(d.ok()) << d.error().message();
        std::vector<IpEntrySpec> v{spec("198.18.0.1", std::nullopt), spec("198.18.1.0/24", seconds(100)),
                                   spec("2001:db8::/32", seconds(50), 0x4c524e31),
                                   spec("198.18.0.2", std::nullopt, 0, IpListKind::Allow),
                                   spec("198.18.0.3", std::chrono::milliseconds(1))};
        ASSERT_TRUE((*d)->put_ips(v).ok());
        // Same prefix and list again: replaced (now without expiry); another list is another row.
        std::vector<IpEntrySpec> again{spec("198.18.1.0/24", std::nullopt), spec("198.18.0.1", std::nullopt, 0, IpListKind::Allow)};
        ASSERT_TRUE((*d)->put_ips(again).ok());
        std::vector<IpPrefix> drop{*parse_ip_prefix("198.18.0.1")};
        ASSERT_TRUE((*d)->drop_ips(drop, IpListKind::Allow).ok());
        // Source-scoped removal leaves a row of another source alone.
        std::vector<IpPrefix> v6{*parse_ip_prefix("2001:db8::/32")};
        ASSERT_TRUE((*d)->drop_ips(v6, IpListKind::Block, 0u).ok());
        std::vector<std::pair<std::string, DomainAction>> names{{"a.example", DomainAction::Nxdomain},
                                                                {"b.example", DomainAction::Drop}};
        std::vector<std::optional<seconds>> ttls{seconds(30), std::nullopt};
        ASSERT_TRUE((*d)->put_domains(names, ttls).ok());
        std::vector<std::string> gone{"b.example"};
        ASSERT_TRUE((*d)->drop_domains(gone).ok());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto d = DurableEntries::open(dir_.string());
    ASSERT_TRUE(d.ok()) << d.error().message();
    auto r = (*d)->load();
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->expired, 1u) << "198.18.0.3 (1 ms)";
    std::map<std::string, IpEntrySpec> by;
    for (const auto& e : r->ips) by[e.prefix.to_string() + (e.list == IpListKind::Allow ? " allow" : "")] = e;
    ASSERT_EQ(by.size(), 4u);
    EXPECT_FALSE(by["198.18.1.0/24"].ttl) << "replaced without expiry";
    ASSERT_TRUE(by["2001:db8::/32"].ttl);
    EXPECT_GT(by["2001:db8::/32"].ttl->count(), 49'000'000'000);
    EXPECT_LE(by["2001:db8::/32"].ttl->count(), 50'000'000'000);
    EXPECT_EQ(by["2001:db8::/32"].source_id, 0x4c524e31u);
    EXPECT_TRUE(by.count("198.18.0.2 allow"));
    EXPECT_TRUE(by.count("198.18.0.1"));
    EXPECT_FALSE(by.count("198.18.0.1 allow"));
    ASSERT_EQ(r->domains.size(), 1u);
    EXPECT_EQ(r->domains[0].domain, "a.example");
    EXPECT_EQ(r->domains[0].action, DomainAction::Nxdomain);
    EXPECT_GT(r->domains[0].expires_ns, monotonic_now_ns() + 29'000'000'000ull);
    // Expired rows are gone from the file too.
    auto again = (*d)->load();
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->expired, 0u);
    EXPECT_EQ(std::filesystem::status(dir_ / "state.db").permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);
}

TEST_F(DurableEntriesTest, HostileFilesAreRefusedWithTheirPath) {
    auto rel = DurableEntries::open("relative/dir");
    ASSERT_FALSE(rel.ok());
    EXPECT_NE(rel.error().message().find("not an absolute path"), std::string::npos);

    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "state.db") << std::string(8192, '\xff');
    auto junk = DurableEntries::open(dir_.string());
    ASSERT_FALSE(junk.ok()) << "a file that is not a database";
    EXPECT_NE(junk.error().message().find("state store"), std::string::npos) << junk.error().message();
    std::filesystem::remove(dir_ / "state.db");

    ASSERT_TRUE(DurableEntries::open(dir_.string()).ok());
    sql("UPDATE meta SET value = 99 WHERE key = 'schema'");
    auto future = DurableEntries::open(dir_.string());
    ASSERT_FALSE(future.ok());
    EXPECT_NE(future.error().message().find("schema 99"), std::string::npos) << future.error().message();
    sql("UPDATE meta SET value = 1 WHERE key = 'schema'");

    for (const char* bad : {"INSERT INTO ip_entries VALUES ('not-an-ip', 1, 1, NULL, 0)",
                            "INSERT INTO ip_entries VALUES ('198.18.0.1', 7, 1, NULL, 0)",
                            "INSERT INTO domain_entries VALUES ('x.example', 42, NULL)"}) {
        sql(bad);
        auto d = DurableEntries::open(dir_.string());
        ASSERT_TRUE(d.ok());
        auto r = (*d)->load();
        EXPECT_FALSE(r.ok()) << bad;
        if (!r.ok()) {
            EXPECT_NE(r.error().message().find("state.db"), std::string::npos) << r.error().message();
        }
        sql("DELETE FROM ip_entries; DELETE FROM domain_entries");
    }
}

}  // namespace
