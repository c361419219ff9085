#include "runtime/carry_over.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <sys/mman.h>

#include <cstring>
#include <memory>

#include "runtime/fd.hpp"

namespace flywall {

namespace {

void layout_of(const btf* b, std::uint32_t id, std::string& out, int depth) {
    if (depth > 16) {
        out += "…";
        return;
    }
    const btf_type* t = btf__type_by_id(b, id);
    if (!t) {
        out += "?";
        return;
    }
    switch (btf_kind(t)) {
        case BTF_KIND_INT: out += "i" + std::to_string(t->size); return;
        case BTF_KIND_ENUM: out += "e" + std::to_string(t->size); return;
        case BTF_KIND_PTR: out += "p"; return;
        case BTF_KIND_TYPEDEF:
        case BTF_KIND_VOLATILE:
        case BTF_KIND_CONST:
        case BTF_KIND_RESTRICT:
        case BTF_KIND_TYPE_TAG: layout_of(b, t->type, out, depth + 1); return;
        case BTF_KIND_ARRAY: {
            const struct btf_array* a = btf_array(t);
            out += "[" + std::to_string(a->nelems) + "]";
            layout_of(b, a->type, out, depth + 1);
            return;
        }
        case BTF_KIND_STRUCT:
        case BTF_KIND_UNION: {
            out += (btf_kind(t) == BTF_KIND_STRUCT ? "s" : "u") + std::to_string(t->size) + "{";
            const btf_member* m = btf_members(t);
            for (int i = 0; i < btf_vlen(t); ++i, ++m) {
                out += std::string(btf__name_by_offset(b, m->name_off)) + "@" +
                       std::to_string(btf_member_bit_offset(t, static_cast<__u32>(i))) + ":";
                layout_of(b, m->type, out, depth + 1);
                out += ";";
            }
            out += "}";
            return;
        }
        default: out += "k" + std::to_string(btf_kind(t)); return;
    }
}

struct OldMap {
    UniqueFd fd;
    bpf_map_info info{};
    btf* b = nullptr;
    ~OldMap() { btf__free(b); }
};

std::unique_ptr<OldMap> open_pinned(const std::string& path) {
    auto m = std::make_unique<OldMap>();
    m->fd = UniqueFd(bpf_obj_get(path.c_str()));
    if (!m->fd) return nullptr;
    __u32 len = sizeof(m->info);
    if (bpf_obj_get_info_by_fd(m->fd.get(), &m->info, &len) != 0) return nullptr;
    if (m->info.btf_id) m->b = btf__load_from_kernel_by_id(m->info.btf_id);
    return m;
}

// The slots of an mmapable array map, copied.
std::optional<CarriedTable> read_table(const std::string& path, std::string* why) {
    auto m = open_pinned(path);
    if (!m) {
        *why = "no pinned map at " + path;
        return std::nullopt;
    }
    if (!m->b || !m->info.btf_value_type_id || m->info.type != BPF_MAP_TYPE_ARRAY) {
        *why = path + " has no BTF of its value, or is not an array";
        return std::nullopt;
    }
    CarriedTable t;
    t.value_size = m->info.value_size;
    t.max_entries = m->info.max_entries;
    t.layout = btf_layout(m->b, m->info.btf_value_type_id);
    const size_t bytes = size_t(t.value_size) * t.max_entries;
    void* p = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, m->fd.get(), 0);
    if (p == MAP_FAILED) {
        *why = "mmap " + path + ": " + std::strerror(errno);
        return std::nullopt;
    }
    t.bytes.assign(static_cast<const std::uint8_t*>(p), static_cast<const std::uint8_t*>(p) + bytes);
    ::munmap(p, bytes);
    return t;
}

}  // namespace

std::optional<BtfVar> btf_section_var(const btf* b, const char* section, const char* name) {
    const int sec = b ? btf__find_by_name_kind(b, section, BTF_KIND_DATASEC) : -1;
    if (sec <= 0) return std::nullopt;
    const btf_type* t = btf__type_by_id(b, static_cast<__u32>(sec));
    const btf_var_secinfo* v = btf_var_secinfos(t);
    for (int i = 0; i < btf_vlen(t); ++i, ++v) {
        const btf_type* var = btf__type_by_id(b, v->type);
        if (std::string(btf__name_by_offset(b, var->name_off)) == name) return BtfVar{v->offset, v->size, var->type};
    }
    return std::nullopt;
}

std::string btf_layout(const btf* b, std::uint32_t type_id) {
    std::string out;
    layout_of(b, type_id, out, 0);
    return out;
}

std::optional<CarriedTables> read_previous_tables(const std::string& maps_dir, std::string* why) {
    // The previous .bss: its fw_tbl holds the seeds the slots were placed with.
    std::string bss;
    {
        std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(maps_dir.c_str()), ::closedir);
        if (!dir) {
            *why = "no previous pins under " + maps_dir;
            return std::nullopt;
        }
        while (const dirent* e = ::readdir(dir.get())) {
            const std::string n = e->d_name;
            if (n.rfind("xdp_", 0) == 0 && n.size() > 4 && n.compare(n.size() - 4, 4, "_bss") == 0) bss = maps_dir + "/" + n;
        }
    }
    if (bss.empty()) {
        *why = "no previous xdp_blocklist .bss under " + maps_dir;
        return std::nullopt;
    }
    auto m = open_pinned(bss);
    if (!m || !m->b) {
        *why = "cannot read " + bss + " and its BTF";
        return std::nullopt;
    }
    std::vector<std::uint8_t> value(m->info.value_size);
    __u32 zero = 0;
    if (bpf_map_lookup_elem(m->fd.get(), &zero, value.data()) != 0) {
        *why = "cannot read " + bss;
        return std::nullopt;
    }
    CarriedTables out;
    const auto tbl = btf_section_var(m->b, ".bss", "fw_tbl");
    const bool found = tbl && tbl->size == sizeof(fw_tbl_config) && tbl->offset + tbl->size <= value.size();
    if (found) {
        std::memcpy(&out.seeds, value.data() + tbl->offset, sizeof(fw_tbl_config));
        out.seeds_layout = btf_layout(m->b, tbl->type_id);
    }
    if (!found) {
        *why = "the previous .bss has no fw_tbl of this build's size";
        return std::nullopt;
    }
    std::string w1, w2;
    out.flows = read_table(maps_dir + "/fw_flows", &w1);
    out.rl = read_table(maps_dir + "/fw_rl_map", &w2);
    if (!out.flows && !out.rl) {
        *why = w1 + "; " + w2;
        return std::nullopt;
    }
    return out;
}

bool fits(const CarriedTable& t, const bpf_map* map, const btf* obj_btf, std::string* why) {
    const std::string name = bpf_map__name(map);
    if (bpf_map__value_size(map) != t.value_size || bpf_map__max_entries(map) != t.max_entries) {
        *why = name + ": size changed (" + std::to_string(t.max_entries) + " x " + std::to_string(t.value_size) + " -> " +
               std::to_string(bpf_map__max_entries(map)) + " x " + std::to_string(bpf_map__value_size(map)) + ")";
        return false;
    }
    const std::string now = obj_btf ? btf_layout(obj_btf, bpf_map__btf_value_type_id(map)) : std::string();
    if (now.empty() || now != t.layout) {
        *why = name + ": slot layout changed";
        return false;
    }
    return true;
}

}  // namespace flywall
