#include "runtime/ja3.hpp"
#include "common/text.hpp"

#include <openssl/evp.h>

#include <memory>

namespace flywall {

bool is_grease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

ClientHelloFields hello_fields(const fw_tls_hello& rec) {
    ClientHelloFields f;
    f.version = rec.client_version;
    auto take16 = [](const __u16* a, size_t n, size_t cap, std::vector<uint16_t>& out) {
        for (size_t i = 0; i < std::min(n, cap); ++i)
            if (!is_grease(a[i])) out.push_back(a[i]);
    };
    take16(rec.ciphers, rec.n_ciphers, FW_TLS_MAX_CIPHERS, f.ciphers);
    take16(rec.exts, rec.n_exts, FW_TLS_MAX_EXTS, f.extensions);
    take16(rec.groups, rec.n_groups, FW_TLS_MAX_GROUPS, f.curves);
    f.point_formats.assign(rec.pf, rec.pf + std::min<size_t>(rec.n_pf, FW_TLS_MAX_PF));
    f.sni = text::safe(std::string_view(rec.sni, std::min<size_t>(rec.sni_len, FW_TLS_SNI_MAX - 1)));
    return f;
}

namespace {

class Reader {
public:
    explicit Reader(std::span<const uint8_t> b) : b_(b) {}
    bool u8(uint32_t& v) {
        if (pos_ + 1 > b_.size()) return false;
        v = b_[pos_++];
        return true;
    }
    bool u16(uint32_t& v) {
        if (pos_ + 2 > b_.size()) return false;
        v = (uint32_t(b_[pos_]) << 8) | b_[pos_ + 1];
        pos_ += 2;
        return true;
    }
    bool u24(uint32_t& v) {
        if (pos_ + 3 > b_.size()) return false;
        v = (uint32_t(b_[pos_]) << 16) | (uint32_t(b_[pos_ + 1]) << 8) | b_[pos_ + 2];
        pos_ += 3;
        return true;
    }
    bool skip(size_t n) {
        if (pos_ + n > b_.size()) return false;
        pos_ += n;
        return true;
    }
    bool sub(size_t n, Reader& out) {
        if (pos_ + n > b_.size()) return false;
        out = Reader(b_.subspan(pos_, n));
        pos_ += n;
        return true;
    }
    bool empty() const { return pos_ >= b_.size(); }
    std::span<const uint8_t> rest() const { return b_.subspan(pos_); }

private:
    std::span<const uint8_t> b_;
    size_t pos_ = 0;
};

}  // namespace

Result<ClientHelloFields> parse_client_hello(std::span<const uint8_t> record) {
    auto bad = [](const char* what) { return Error::invalid(std::string("parse ClientHello: ") + what); };
    Reader r(record);
    uint32_t type, rec_version, rec_len, hs_type, hs_len, v;
    if (!r.u8(type) || !r.u16(rec_version) || !r.u16(rec_len)) return bad("short record header");
    if (type != 22) return bad("not a handshake record");
    if (!r.u8(hs_type) || !r.u24(hs_len)) return bad("short handshake header");
    if (hs_type != 1) return bad("not a ClientHello");
    Reader hs(record);
    if (!r.sub(hs_len, hs)) return bad("handshake longer than the data");
    ClientHelloFields f;
    if (!hs.u16(v)) return bad("no version");
    f.version = static_cast<uint16_t>(v);
    if (!hs.skip(32)) return bad("no random");
    if (!hs.u8(v) || !hs.skip(v)) return bad("session id");
    Reader cs(record);
    if (!hs.u16(v) || !hs.sub(v, cs)) return bad("cipher suites");
    while (!cs.empty()) {
        if (!cs.u16(v)) return bad("odd cipher suites length");
        if (!is_grease(static_cast<uint16_t>(v))) f.ciphers.push_back(static_cast<uint16_t>(v));
    }
    if (!hs.u8(v) || !hs.skip(v)) return bad("compression methods");
    if (hs.empty()) return f;
    Reader exts(record);
    if (!hs.u16(v) || !hs.sub(v, exts)) return bad("extensions");
    while (!exts.empty()) {
        uint32_t et, el;
        Reader body(record);
        if (!exts.u16(et) || !exts.u16(el) || !exts.sub(el, body)) return bad("extension header");
        if (is_grease(static_cast<uint16_t>(et))) continue;
        f.extensions.push_back(static_cast<uint16_t>(et));
        if (et == 10) {
            Reader g(record);
            if (!body.u16(v) || !body.sub(v, g)) return bad("supported_groups");
            while (!g.empty()) {
                if (!g.u16(v)) return bad("supported_groups length");
                if (!is_grease(static_cast<uint16_t>(v))) f.curves.push_back(static_cast<uint16_t>(v));
            }
        } else if (et == 11) {
            Reader pf(record);
            if (!body.u8(v) || !body.sub(v, pf)) return bad("ec_point_formats");
            while (!pf.empty()) {
                pf.u8(v);
                f.point_formats.push_back(static_cast<uint8_t>(v));
            }
        } else if (et == 0 && !body.empty()) {
            uint32_t list_len, name_type, name_len;
            if (!body.u16(list_len) || !body.u8(name_type) || !body.u16(name_len)) return bad("server_name");
            auto rest = body.rest();
            if (name_type == 0 && name_len <= rest.size())
                f.sni = text::safe(std::string_view(reinterpret_cast<const char*>(rest.data()), name_len));
        }
    }
    return f;
}

std::string ja3_string(const ClientHelloFields& f) {
    std::string s = std::to_string(f.version) + ",";
    auto list = [&s](const auto& v) {
        for (size_t i = 0; i < v.size(); ++i) {
            if (i) s += '-';
            s += std::to_string(static_cast<unsigned>(v[i]));
        }
    };
    list(f.ciphers);
    s += ',';
    list(f.extensions);
    s += ',';
    list(f.curves);
    s += ',';
    list(f.point_formats);
    return s;
}

Result<std::string> md5_hex(std::string_view text) {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), text.data(), text.size()) != 1 || EVP_DigestFinal_ex(ctx.get(), md, &len) != 1)
        return Error::from_errno(EIO, "MD5 (OpenSSL EVP)");
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[md[i] >> 4];
        out += hex[md[i] & 15];
    }
    return out;
}

Result<std::string> ja3_hash(const ClientHelloFields& f) { return md5_hex(ja3_string(f)); }

}  // namespace flywall
