// Event processor: drains the datapath's ring buffers on its own thread, decodes the shared
// event struct (bpf/include/flywall/abi.h) and fans the decoded events out to subscribers.
//
// Every subscriber has its own bounded queue: a slow subscriber (an idle SSE client, a log on a
// slow disk) never blocks the drain thread or the other subscribers; when its queue is full the
// event is dropped for that subscriber only and counted.
//
// Where events come from is an interface (EventSource) so tests drive the processor with
// injected records and no kernel; RingBufferSource is the real one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

struct ring_buffer;

namespace flywall {

// A decoded fw_event, in host order with addresses as text.
struct Event {
    std::uint64_t ts_ns = 0;  // CLOCK_MONOTONIC from the kernel
    std::uint32_t type = 0;   // fw_event_type
    std::string type_name;    // "ip_blocked", "domain_blocked", "rate_limited", "new_flow"
    std::uint32_t ifindex = 0;
    std::uint8_t family = 0;  // 4 or 6
    std::uint8_t proto = 0;
    std::string src;  // address text
    std::string dst;
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::uint32_t reason = 0;
    std::string reason_name;  // "ip_blocklist", "nxdomain", "drop", "packets", "syn", ...
    std::string name;         // DOMAIN_BLOCKED: the dotted query name
    std::uint32_t pattern_id = 0;  // ips_alert / ips_drop (TC classifier): the matching pattern
    // Fields of events that do not come from struct fw_event (socket monitors: sni, ja3,
    // ja3_hash, mac, hostname, ...); merged into to_json(). Null or an object.
    nlohmann::json extra;
};

// Which program wrote a ring-buffer record, i.e. which ABI struct it is.
enum class RecordKind { Xdp, Tc };  // struct fw_event (abi.h) / struct fw_tc_event (abi_tc.h)

// Decodes one ring-buffer record with the shared decoder (runtime/events_decode.hpp); errors
// for a record too short for struct fw_event, an unknown type or family, a bad name length.
Result<Event> decode_event(std::span<const std::uint8_t> record);
// struct fw_tc_event: types "ips_alert" and "ips_drop", with pattern_id.
Result<Event> decode_tc_event(std::span<const std::uint8_t> record);
Result<Event> decode_record(RecordKind kind, std::span<const std::uint8_t> record);
// {"ts_ns","type","type_id","ifindex","family","proto","src","dst","sport","dport","reason",
//  "reason_name","name"} (+ "pattern_id" for IPS events) — the shape of the SSE stream and of
// the JSON-lines log.
nlohmann::json to_json(const Event& e);

// Where raw records come from. poll() waits up to `timeout` and hands every available record
// to `sink`; it returns how many it delivered.
class EventSource {
public:
    virtual ~EventSource() = default;
    using Sink = std::function<void(RecordKind, std::span<const std::uint8_t>)>;
    virtual Result<std::size_t> poll(std::chrono::milliseconds timeout, const Sink& sink) = 0;
};

// The real source: libbpf's ring_buffer over one or more BPF_MAP_TYPE_RINGBUF map fds.
class RingBufferSource final : public EventSource {
public:
    struct Ring {
        int fd = -1;  // a BPF_MAP_TYPE_RINGBUF map
        RecordKind kind = RecordKind::Xdp;
    };
    // An empty list is valid: poll() then just sleeps (no program emits events).
    static Result<std::unique_ptr<RingBufferSource>> create(const std::vector<Ring>& rings);
    ~RingBufferSource() override;
    RingBufferSource(const RingBufferSource&) = delete;
    RingBufferSource& operator=(const RingBufferSource&) = delete;

    Result<std::size_t> poll(std::chrono::milliseconds timeout, const Sink& sink) override;
    std::size_t ring_count() const { return ring_count_; }

private:
    RingBufferSource() = default;
    static int on_record(void* ctx, void* data, std::size_t size);
    struct RingCtx {
        RingBufferSource* self;
        RecordKind kind;
    };
    ring_buffer* rb_ = nullptr;
    std::vector<std::unique_ptr<RingCtx>> ctxs_;  // stable addresses for libbpf callbacks
    std::size_t ring_count_ = 0;
    const Sink* current_sink_ = nullptr;
    std::size_t delivered_ = 0;
};

// One subscriber's bounded queue. Obtained from EventProcessor::subscribe(); the subscriber
// pops from it on its own thread. Dropping the shared_ptr (or unsubscribe) ends delivery.
class Subscription {
public:
    Subscription(std::string name, std::size_t capacity) : name_(std::move(name)), capacity_(capacity) {}

    // Waits up to `timeout` for an event; nullopt on timeout or after close().
    std::optional<Event> pop(std::chrono::milliseconds timeout);
    // Non-blocking: false (and one drop counted) when the queue is full or closed.
    bool push(const Event& e);
    void close();
    [[nodiscard]] bool closed() const;

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] std::size_t capacity() const { return capacity_; }
    [[nodiscard]] std::uint64_t delivered() const { return delivered_.load(); }
    [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(); }
    [[nodiscard]] std::size_t queued() const;

private:
    std::string name_;
    std::size_t capacity_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Event> q_;
    bool closed_ = false;
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> dropped_{0};
};

struct SubscriberStats {
    std::string name;
    std::size_t capacity = 0;
    std::size_t queued = 0;
    std::uint64_t delivered = 0;
    std::uint64_t dropped = 0;
};

struct EventProcessorStats {
    bool running = false;        // the drain thread is alive
    std::uint64_t received = 0;  // records read from the source
    std::uint64_t decoded = 0;
    std::uint64_t decode_errors = 0;
    std::uint64_t poll_errors = 0;
    std::string last_error;  // empty when none
    std::vector<SubscriberStats> subscribers;
};

class EventProcessor {
public:
    explicit EventProcessor(std::unique_ptr<EventSource> source,
                            std::chrono::milliseconds poll_timeout = std::chrono::milliseconds(100));
    ~EventProcessor();
    EventProcessor(const EventProcessor&) = delete;
    EventProcessor& operator=(const EventProcessor&) = delete;

    Status start();
    // Stops the drain thread and closes every subscription. Idempotent.
    void stop();

    std::shared_ptr<Subscription> subscribe(std::string name, std::size_t capacity = 1024);
    void unsubscribe(const std::shared_ptr<Subscription>& sub);
    // Fans out an event decoded elsewhere (the socket monitors' thread) like a ring-buffer one.
    void publish(const Event& e);

    [[nodiscard]] EventProcessorStats stats() const;
    [[nodiscard]] bool running() const { return running_.load(); }

private:
    void run();
    void dispatch(RecordKind kind, std::span<const std::uint8_t> record);

    std::unique_ptr<EventSource> source_;
    std::chrono::milliseconds poll_timeout_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> running_{false};

    mutable std::mutex subs_mu_;
    std::vector<std::shared_ptr<Subscription>> subs_;
    std::atomic<std::uint64_t> received_{0}, decoded_{0}, decode_errors_{0}, poll_errors_{0};
    mutable std::mutex err_mu_;
    std::string last_error_;
};

// Writes every event it receives as one JSON object per line (JSON lines) to a file, from its
// own thread, through a Subscription of the processor.
class JsonLinesLog {
public:
    static Result<std::unique_ptr<JsonLinesLog>> open(EventProcessor& processor, const std::string& path,
                                                      std::size_t capacity = 8192);
    ~JsonLinesLog();
    JsonLinesLog(const JsonLinesLog&) = delete;
    JsonLinesLog& operator=(const JsonLinesLog&) = delete;

    void stop();
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] std::uint64_t written() const { return written_.load(); }
    [[nodiscard]] std::uint64_t write_errors() const { return write_errors_.load(); }

private:
    JsonLinesLog() = default;
    void run();
    EventProcessor* processor_ = nullptr;
    std::shared_ptr<Subscription> sub_;
    std::string path_;
    int fd_ = -1;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> written_{0}, write_errors_{0};
};

}  // namespace flywall
