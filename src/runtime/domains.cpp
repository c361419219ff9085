#include "runtime/domains.hpp"

#include "common/domain_name.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "flywall/dns_hash.h"
#include "runtime/xdp_fastpath.hpp"

namespace flywall {

Result<std::string> normalize_domain(std::string_view text) { return parse_domain_name(text); }

Result<std::vector<uint8_t>> domain_to_wire(std::string_view text) {
    FW_TRY_ASSIGN(std::string name, normalize_domain(text));
    std::vector<uint8_t> wire;
    wire.reserve(name.size() + 2);
    size_t start = 0;
    while (start <= name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        wire.push_back(static_cast<uint8_t>(dot - start));
        wire.insert(wire.end(), name.begin() + start, name.begin() + dot);
        start = dot + 1;
    }
    wire.push_back(0);
    return wire;
}

namespace {

// Lower-cased wire name without the root label.
Result<std::vector<uint8_t>> key_wire(std::string_view text) {
    FW_TRY_ASSIGN(auto wire, domain_to_wire(text));
    wire.pop_back();  // the root label is not part of the key
    return wire;
}

fw_dns_key key_of_wire(const std::vector<uint8_t>& wire) {
    fw_dns_key key{};
    key.len = static_cast<__u32>(wire.size());
    key.hash = fw_dns_name_hash(wire.data(), key.len);
    return key;
}

}  // namespace

Result<fw_dns_key> domain_key(std::string_view text) {
    FW_TRY_ASSIGN(auto wire, key_wire(text));
    return key_of_wire(wire);
}

uint64_t domain_bloom_hash(const fw_dns_key& key) { return key.hash; }

Result<std::string> domain_from_entry(const fw_dns_entry& entry) {
    std::string out;
    size_t pos = 0;
    while (pos < FW_DNS_NAME_MAX && entry.name[pos] != 0) {
        size_t len = entry.name[pos];
        if (len > kMaxLabelLength || pos + 1 + len > FW_DNS_NAME_MAX)
            return Error::invalid("domain entry: bad label");
        if (!out.empty()) out += '.';
        out.append(reinterpret_cast<const char*>(&entry.name[pos + 1]), len);
        pos += 1 + len;
    }
    if (out.empty()) return Error::invalid("domain entry: empty name");
    return out;
}

Result<DomainAction> parse_domain_action(std::string_view text) {
    if (text == "drop") return DomainAction::Drop;
    if (text == "nxdomain") return DomainAction::Nxdomain;
    if (text == "default" || text == "global") return DomainAction::Global;
    return Error::invalid("DNS action '" + std::string(text) + "': expected drop, nxdomain or default");
}

std::string_view to_string(DomainAction action) {
    switch (action) {
        case DomainAction::Drop: return "drop";
        case DomainAction::Nxdomain: return "nxdomain";
        case DomainAction::Global: return "default";
    }
    return "unknown";
}

DomainBlocklist DomainBlocklist::of(const XdpFastPath& fp) {
    return {fp.dns_exact(), fp.dns_bloom(), fp.policy_gen_word()};
}

namespace {
fw_dns_entry entry_of(const DomainRule& r, const std::vector<uint8_t>& wire) {
    fw_dns_entry e{};
    e.action = static_cast<__u32>(r.action);
    e.expires_ns = r.expires_ns;
    e.source_id = r.source_id;
    std::copy(wire.begin(), wire.end(), e.name);  // <= 254 bytes, the rest stays zero
    return e;
}

bool same_name(const fw_dns_entry& a, const fw_dns_entry& b) { return std::memcmp(a.name, b.name, sizeof(a.name)) == 0; }

Error collision(std::string_view domain, const fw_dns_entry& other) {
    auto name = domain_from_entry(other);
    return Error::invalid("domain '" + std::string(domain) + "': its 64-bit key hash collides with '" +
                          (name ? *name : std::string("?")) + "' (one of the two cannot be listed)");
}
}  // namespace

Status DomainBlocklist::add(const DomainRule& rule) {
    FW_TRY_ASSIGN(auto wire, key_wire(rule.domain));
    fw_dns_key key = key_of_wire(wire);
    fw_dns_entry entry = entry_of(rule, wire);
    FW_TRY_ASSIGN(auto existing, exact_.lookup(key));
    if (existing && !same_name(*existing, entry)) return collision(rule.domain, *existing);
    FW_TRY(bloom_.push(static_cast<__u64>(domain_bloom_hash(key))));
    FW_TRY(exact_.update(key, entry));
    bump_policy_generation(policy_gen_);
    return {};
}

Result<size_t> DomainBlocklist::add_many(std::span<const DomainRule> rules) {
    std::vector<fw_dns_key> keys;
    std::vector<fw_dns_entry> values;
    keys.reserve(rules.size());
    values.reserve(rules.size());
    // Two different names with one {hash, len} inside the batch would silently replace each
    // other; a repeated name is fine (the later rule wins, as with update).
    std::unordered_map<uint64_t, size_t> seen;
    seen.reserve(rules.size());
    for (const auto& r : rules) {
        auto wire = key_wire(r.domain);
        if (!wire) return std::move(wire).error();
        keys.push_back(key_of_wire(*wire));
        values.push_back(entry_of(r, *wire));
        auto [it, fresh] = seen.emplace(keys.back().hash ^ keys.back().len, values.size() - 1);
        if (!fresh && keys[it->second].len == keys.back().len && keys[it->second].hash == keys.back().hash &&
            !same_name(values[it->second], values.back()))
            return collision(r.domain, values[it->second]);
    }
    for (const auto& k : keys) FW_TRY(bloom_.push(static_cast<__u64>(domain_bloom_hash(k))));
    auto written = exact_.update_batch(keys, values);
    bump_policy_generation(policy_gen_);  // also after a partial batch: some entries are in
    return written;
}

Result<bool> DomainBlocklist::remove(std::string_view domain) {
    FW_TRY_ASSIGN(fw_dns_key key, domain_key(domain));
    return exact_.remove(key);
}

Result<std::optional<fw_dns_entry>> DomainBlocklist::lookup(std::string_view domain) const {
    FW_TRY_ASSIGN(fw_dns_key key, domain_key(domain));
    return exact_.lookup(key);
}

Result<std::vector<DomainEntry>> DomainBlocklist::list(size_t limit) const {
    std::vector<DomainEntry> out;
    Status bad;
    FW_TRY(exact_.for_each([&](const fw_dns_key&, const fw_dns_entry& v) {
        if (out.size() >= limit) return false;
        auto name = domain_from_entry(v);
        if (!name) {
            bad = std::move(name).error().wrap("list domains");
            return false;
        }
        out.push_back({std::move(*name), v});
        return true;
    }));
    if (!bad) return std::move(bad).error();
    return out;
}

}  // namespace flywall
