#include "core/event_processor.hpp"
#include "common/text.hpp"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "flywall/abi.h"
#include "flywall/abi_tc.h"
#include "runtime/events_decode.hpp"

namespace flywall {

Result<Event> decode_event(std::span<const std::uint8_t> record) {
    // The one decoder of the shared ABI (runtime/events_decode.hpp).
    FW_TRY_ASSIGN(XdpEvent x, events::decode(record.data(), record.size()));
    Event e;
    e.ts_ns = x.ts_ns;
    e.type = static_cast<std::uint32_t>(x.type);
    e.type_name = std::string(to_string(x.type));
    e.ifindex = x.ifindex;
    e.family = x.family;
    e.proto = x.proto;
    e.src = std::move(x.src);
    e.dst = std::move(x.dst);
    e.sport = x.sport;
    e.dport = x.dport;
    e.reason = x.reason;
    e.reason_name = std::move(x.reason_text);
    e.name = std::move(x.domain);
    return e;
}

Result<Event> decode_tc_event(std::span<const std::uint8_t> record) {
    if (record.size() < sizeof(fw_tc_event))
        return Error::invalid("decode tc event: record of " + std::to_string(record.size()) + " bytes, need " +
                              std::to_string(sizeof(fw_tc_event)));
    fw_tc_event raw;
    std::memcpy(&raw, record.data(), sizeof raw);
    Event e;
    switch (raw.type) {
        case FW_TC_EV_IPS_ALERT: e.type_name = "ips_alert"; break;
        case FW_TC_EV_IPS_DROP: e.type_name = "ips_drop"; break;
        default: return Error::invalid("decode tc event: unknown type " + std::to_string(raw.type));
    }
    if (raw.family != 4 && raw.family != 6)
        return Error::invalid("decode tc event: unknown family " + std::to_string(raw.family));
    char buf[INET6_ADDRSTRLEN] = {};
    const int af = raw.family == 4 ? AF_INET : AF_INET6;
    e.src = inet_ntop(af, raw.saddr, buf, sizeof buf) ? buf : "";
    e.dst = inet_ntop(af, raw.daddr, buf, sizeof buf) ? buf : "";
    e.ts_ns = raw.ts_ns;
    e.type = raw.type;
    e.ifindex = raw.ifindex;
    e.family = raw.family;
    e.proto = raw.proto;
    e.sport = ntohs(raw.sport);
    e.dport = ntohs(raw.dport);
    e.reason = raw.pattern_id;
    e.reason_name = "ips_pattern";
    e.pattern_id = raw.pattern_id;
    return e;
}

Result<Event> decode_record(RecordKind kind, std::span<const std::uint8_t> record) {
    return kind == RecordKind::Tc ? decode_tc_event(record) : decode_event(record);
}

nlohmann::json to_json(const Event& e) {
    nlohmann::json j{{"ts_ns", e.ts_ns},     {"type", e.type_name},     {"type_id", e.type},
                          {"ifindex", e.ifindex}, {"family", e.family},      {"proto", e.proto},
                          {"src", e.src},         {"dst", e.dst},            {"sport", e.sport},
                          {"dport", e.dport},     {"reason", e.reason},      {"reason_name", e.reason_name},
                          {"name", e.name}};
    if (e.type_name.rfind("ips_", 0) == 0) j["pattern_id"] = e.pattern_id;
    if (e.extra.is_object())
        for (const auto& [k, v] : e.extra.items()) j[k] = v;
    return j;
}

// ---- RingBufferSource ---------------------------------------------------------------------

Result<std::unique_ptr<RingBufferSource>> RingBufferSource::create(const std::vector<Ring>& rings) {
    std::unique_ptr<RingBufferSource> src(new RingBufferSource());
    for (const Ring& ring : rings) {
        const int fd = ring.fd;
        src->ctxs_.push_back(std::make_unique<RingCtx>(RingCtx{src.get(), ring.kind}));
        void* ctx = src->ctxs_.back().get();
        if (!src->rb_) {
            src->rb_ = ring_buffer__new(fd, &RingBufferSource::on_record, ctx, nullptr);
            if (!src->rb_) return Error::from_errno(errno, "create ring buffer reader for map fd " + std::to_string(fd));
        } else {
            int rc = ring_buffer__add(src->rb_, fd, &RingBufferSource::on_record, ctx);
            if (rc != 0) return Error::from_neg(rc, "add ring buffer map fd " + std::to_string(fd));
        }
        ++src->ring_count_;
    }
    return src;
}

RingBufferSource::~RingBufferSource() {
    if (rb_) ring_buffer__free(rb_);
}

int RingBufferSource::on_record(void* ctx, void* data, std::size_t size) {
    auto* rc = static_cast<RingCtx*>(ctx);
    auto* self = rc->self;
    if (self->current_sink_)
        (*self->current_sink_)(rc->kind, std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data), size));
    ++self->delivered_;
    return 0;
}

Result<std::size_t> RingBufferSource::poll(std::chrono::milliseconds timeout, const Sink& sink) {
    if (!rb_) {
        std::this_thread::sleep_for(timeout);
        return std::size_t{0};
    }
    current_sink_ = &sink;
    delivered_ = 0;
    int rc = ring_buffer__poll(rb_, static_cast<int>(timeout.count()));
    current_sink_ = nullptr;
    if (rc < 0 && rc != -EINTR) return Error::from_neg(rc, "poll ring buffers");
    return delivered_;
}

// ---- Subscription -------------------------------------------------------------------------

std::optional<Event> Subscription::pop(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu_);
    if (!cv_.wait_for(lk, timeout, [&] { return !q_.empty() || closed_; })) return std::nullopt;
    if (q_.empty()) return std::nullopt;
    Event e = std::move(q_.front());
    q_.pop_front();
    return e;
}

bool Subscription::push(const Event& e) {
    {
        std::lock_guard lk(mu_);
        if (closed_ || q_.size() >= capacity_) {
            dropped_.fetch_add(1);
            return false;
        }
        q_.push_back(e);
    }
    delivered_.fetch_add(1);
    cv_.notify_one();
    return true;
}

void Subscription::close() {
    {
        std::lock_guard lk(mu_);
        closed_ = true;
    }
    cv_.notify_all();
}

bool Subscription::closed() const {
    std::lock_guard lk(mu_);
    return closed_;
}

std::size_t Subscription::queued() const {
    std::lock_guard lk(mu_);
    return q_.size();
}

// ---- EventProcessor -----------------------------------------------------------------------

EventProcessor::EventProcessor(std::unique_ptr<EventSource> source, std::chrono::milliseconds poll_timeout)
    : source_(std::move(source)), poll_timeout_(poll_timeout) {}

EventProcessor::~EventProcessor() { stop(); }

Status EventProcessor::start() {
    if (thread_.joinable()) return Error::from_errno(EALREADY, "start event processor");
    if (!source_) return Error::invalid("start event processor: no event source");
    stop_ = false;
    running_ = true;
    thread_ = std::thread([this] { run(); });
    return {};
}

void EventProcessor::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lk(subs_mu_);
    for (auto& s : subs_) s->close();
}

void EventProcessor::run() {
    const EventSource::Sink sink = [this](RecordKind kind, std::span<const std::uint8_t> rec) { dispatch(kind, rec); };
    while (!stop_.load()) {
        auto r = source_->poll(poll_timeout_, sink);
        if (!r.ok()) {
            poll_errors_.fetch_add(1);
            {
                std::lock_guard lk(err_mu_);
                last_error_ = r.error().message();
            }
            // A persistent source error must not spin the CPU.
            std::this_thread::sleep_for(poll_timeout_);
        }
    }
    running_ = false;
}

void EventProcessor::dispatch(RecordKind kind, std::span<const std::uint8_t> record) {
    received_.fetch_add(1);
    auto ev = decode_record(kind, record);
    if (!ev.ok()) {
        decode_errors_.fetch_add(1);
        std::lock_guard lk(err_mu_);
        last_error_ = ev.error().message();
        return;
    }
    decoded_.fetch_add(1);
    std::lock_guard lk(subs_mu_);
    for (auto& s : subs_) s->push(*ev);
}

void EventProcessor::publish(const Event& e) {
    received_.fetch_add(1);
    decoded_.fetch_add(1);
    std::lock_guard lk(subs_mu_);
    for (auto& s : subs_) s->push(e);
}

std::shared_ptr<Subscription> EventProcessor::subscribe(std::string name, std::size_t capacity) {
    auto sub = std::make_shared<Subscription>(std::move(name), std::max<std::size_t>(capacity, 1));
    std::lock_guard lk(subs_mu_);
    subs_.push_back(sub);
    return sub;
}

void EventProcessor::unsubscribe(const std::shared_ptr<Subscription>& sub) {
    if (!sub) return;
    sub->close();
    std::lock_guard lk(subs_mu_);
    subs_.erase(std::remove(subs_.begin(), subs_.end(), sub), subs_.end());
}

EventProcessorStats EventProcessor::stats() const {
    EventProcessorStats st;
    st.running = running_.load();
    st.received = received_.load();
    st.decoded = decoded_.load();
    st.decode_errors = decode_errors_.load();
    st.poll_errors = poll_errors_.load();
    {
        std::lock_guard lk(err_mu_);
        st.last_error = last_error_;
    }
    std::lock_guard lk(subs_mu_);
    for (const auto& s : subs_)
        st.subscribers.push_back({s->name(), s->capacity(), s->queued(), s->delivered(), s->dropped()});
    return st;
}

// ---- JsonLinesLog -------------------------------------------------------------------------

Result<std::unique_ptr<JsonLinesLog>> JsonLinesLog::open(EventProcessor& processor, const std::string& path,
                                                         std::size_t capacity) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) return Error::from_errno(errno, "open event log " + path);
    std::unique_ptr<JsonLinesLog> log(new JsonLinesLog());
    log->processor_ = &processor;
    log->fd_ = fd;
    log->path_ = path;
    log->sub_ = processor.subscribe("log:" + path, capacity);
    log->thread_ = std::thread([p = log.get()] { p->run(); });
    return log;
}

JsonLinesLog::~JsonLinesLog() {
    stop();
    if (fd_ >= 0) ::close(fd_);
}

void JsonLinesLog::stop() {
    stop_ = true;
    if (sub_) sub_->close();
    if (thread_.joinable()) thread_.join();
    if (processor_ && sub_) processor_->unsubscribe(sub_);
    processor_ = nullptr;
}

void JsonLinesLog::run() {
    while (true) {
        auto ev = sub_->pop(std::chrono::milliseconds(200));
        if (!ev) {
            if (stop_.load() || sub_->closed()) {
                // Drain what is still queued before leaving.
                if (sub_->queued() == 0) return;
            }
            continue;
        }
        std::string line = text::json_text(to_json(*ev));
        line.push_back('\n');
        const char* p = line.data();
        std::size_t left = line.size();
        while (left > 0) {
            ssize_t n = ::write(fd_, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                write_errors_.fetch_add(1);
                break;
            }
            p += n;
            left -= static_cast<std::size_t>(n);
        }
        if (left == 0) written_.fetch_add(1);
    }
}

}  // namespace flywall
