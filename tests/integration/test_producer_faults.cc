// libmqclient's producer with its default guarantees (acks=all, idempotence
// on) against a real mqbroker, partly through the fault proxy
// (tests/lib/fault_proxy.h), read back with the raw fetch client:
//   - many keyed messages: one report each, contiguous offsets, the batches
//     carry a producer id and gap-free sequences, bytes read back equal;
//   - a response dropped by the proxy, or one that comes after
//     request.timeout.ms: the retry is deduplicated by the broker and
//     reports the original offset;
//   - connections and responses dropped at random (seeded) while keyed
//     messages flow with 5 requests in flight: per-key order kept, no
//     duplicate, none missing;
//   - the producer starts before the broker exists (idempotent: it needs a
//     producer id first);
//   - close without flush while requests hang in a blackhole: every message
//     reported, and only those reported as possibly stored are stored.
// (test_producer_e2e.cc covers the same paths with idempotence off.)
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "fault_proxy.h"
#include "producer_test_util.h"

extern "C" {
#include "mqclient.h"
#include "producer/partitioner.h"
#include "wire/batch.h"
}

namespace
{

struct Record {
    int64_t offset;
    std::string key, value;
};

// Every record of a partition in offset order, plus the batch headers.
struct Partition {
    std::vector<Record> records;
    std::vector<mq_batch_header_t> batches;
};

class ProducerFaultTest : public BrokerTestBase
{
  protected:
    void TearDown() override
    {
        fp_stop(proxy_);
        proxy_ = nullptr;
        BrokerTestBase::TearDown();
    }

    void StartProxy(int port)
    {
        char err[256] = "";
        proxy_ = fp_start("127.0.0.1", port, err, sizeof err);
        ASSERT_NE(proxy_, nullptr) << err;
    }

    // Defaults unless kv says otherwise: acks=all, enable.idempotence=true.
    mq_producer_t *NewProducer(const std::string &brokers,
                               std::vector<std::pair<const char *, const char *>> kv = {})
    {
        return NewTestProducer(brokers, kv);
    }

    // Takes one event; delivery reports land in reports[opaque].
    bool PollOne(mq_producer_t *p, std::vector<Report> &reports, int timeout_ms, mq_err_t *rc)
    {
        mq_event_t *ev;
        *rc = mq_producer_poll(p, timeout_ms, &ev);
        if (*rc != MQ_OK)
            return false;
        bool delivery = RecordDelivery(ev, reports);
        if (!delivery && mq_event_type(ev) == MQ_EVENT_ERROR) {
            error_events_++;
            if (mq_event_error(ev) != MQ_ERR_TRANSPORT)
                last_error_ = mq_event_error_string(ev);
        }
        mq_event_destroy(ev);
        return delivery;
    }

    // Polls until n more delivery reports came (or timeout).
    void Collect(mq_producer_t *p, std::vector<Report> &reports, size_t n, int timeout_ms = 60000)
    {
        size_t got = 0;
        long long until = test_now_ms() + timeout_ms;
        mq_err_t rc = MQ_OK;
        while (got < n && test_now_ms() < until && rc != MQ_ERR_CLOSED)
            got += PollOne(p, reports, 100, &rc) ? 1 : 0;
        EXPECT_EQ(got, n) << "every message must get exactly one delivery report; last error: "
                          << last_error_;
    }

    // Produces value(i) with key(i) for i in [from, to), blocking on a full
    // queue, while taking reports so the queue drains.
    template <class KeyFn, class ValueFn>
    void ProduceRange(mq_producer_t *p, const char *topic, int from, int to, KeyFn key,
                      ValueFn value, std::vector<Report> &reports, size_t *polled,
                      int32_t partition = MQ_PARTITION_ANY)
    {
        for (int i = from; i < to; i++) {
            std::string k = key(i), v = value(i);
            mq_err_t rc;
            while ((rc = mq_produce(p, topic, partition, k.empty() ? NULL : k.data(), k.size(),
                                    v.data(), v.size(), NULL, 0, 0, (void *)(uintptr_t)i, 0)) ==
                   MQ_ERR_QUEUE_FULL) {
                mq_err_t prc;
                *polled += PollOne(p, reports, 5, &prc) ? 1 : 0;
            }
            ASSERT_EQ(rc, MQ_OK) << "message " << i;
        }
    }

    Partition ReadPartition(const std::string &topic, int32_t part)
    {
        Partition out;
        rawclient_t *c = Connect();
        if (!c)
            return out;
        for (auto &b : FetchAll(c, topic, part)) {
            mq_batch_header_t h;
            EXPECT_EQ(mq__batch_parse_header(b.bytes.data(), b.bytes.size(), &h), MQ_OK);
            out.batches.push_back(h);
            mq_record_iter_t it;
            EXPECT_EQ(mq__record_iter_init(&it, b.bytes.data(), b.bytes.size()), MQ_OK);
            mq_record_t rec;
            int rc;
            while ((rc = mq__record_iter_next(&it, &rec)) == 1)
                out.records.push_back(
                    {rec.offset, std::string((const char *)rec.key, rec.key ? rec.key_len : 0),
                     std::string((const char *)rec.value, rec.value_len)});
            EXPECT_EQ(rc, 0);
            mq__record_iter_free(&it);
        }
        Disconnect(c);
        return out;
    }

    fp_counters_t Counters()
    {
        fp_counters_t n;
        fp_get_counters(proxy_, &n);
        return n;
    }

    fault_proxy_t *proxy_ = nullptr;
    int error_events_ = 0;
    std::string last_error_;
};

std::string key_of(int i)
{
    return "key-" + std::to_string(i % 997);
}

std::string value_of(int i, size_t size)
{
    std::string v = std::to_string(i) + ":";
    while (v.size() < size)
        v.push_back((char)('a' + (i + v.size()) % 26));
    v.resize(size);
    return v;
}

int free_port()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

// MQ_CHAOS_SEED replays a run; otherwise a new seed each run (printed).
uint64_t chaos_seed()
{
    const char *s = getenv("MQ_CHAOS_SEED");
    if (s && *s)
        return strtoull(s, NULL, 10);
    return (uint64_t)rc_now_ms() ^ ((uint64_t)getpid() << 32);
}

} // namespace

// The default producer (idempotent, acks=all): every keyed message gets one
// report with its own contiguous offset; the stored batches carry one
// producer id with gap-free sequences per partition; bytes read back equal.
TEST_F(ProducerFaultTest, KeyedMessagesIdempotentDeliveredOnceInOrder)
{
    const int n = test_scale(1000000, 50000);
    const size_t size = 100;
    const int parts = 4;
    StartBroker();
    CreateTopic("keyed", parts);
    mq_producer_t *p = NewProducer(broker_.client_addr());
    ASSERT_NE(p, nullptr);
    std::vector<Report> reports(n);
    size_t polled = 0;
    long long t0 = test_now_ms();
    ProduceRange(
        p, "keyed", 0, n, key_of, [&](int i) { return value_of(i, size); }, reports, &polled);
    ASSERT_EQ(mq_producer_flush(p, 60000), MQ_OK) << last_error_;
    Collect(p, reports, n - polled);
    long long took = test_now_ms() - t0;
    mq_producer_destroy(p);
    RecordProperty("produce_ms", (int)took);

    std::vector<std::vector<int>> by_offset(parts);
    for (int i = 0; i < n; i++) {
        const Report &r = reports[i];
        ASSERT_EQ(r.count, 1) << "message " << i;
        ASSERT_EQ(r.err, MQ_OK) << "message " << i << ": " << mq_err_str(r.err) << " "
                                << last_error_;
        ASSERT_EQ(r.persisted, MQ_PERSISTED);
        std::string k = key_of(i);
        ASSERT_EQ(r.partition, mq__partition_for_key(k.data(), k.size(), parts));
        auto &v = by_offset[r.partition];
        ASSERT_GE(r.offset, 0);
        if ((size_t)r.offset >= v.size())
            v.resize(r.offset + 1, -1);
        ASSERT_EQ(v[r.offset], -1) << "two messages reported at one offset";
        v[r.offset] = i;
    }
    int64_t pid = -2;
    for (int part = 0; part < parts; part++) {
        auto &v = by_offset[part];
        ASSERT_EQ(std::count(v.begin(), v.end(), -1), 0) << "offsets have a gap";
        Partition got = ReadPartition("keyed", part);
        ASSERT_EQ(got.records.size(), v.size()) << "partition " << part;
        for (size_t j = 0; j < v.size(); j++) {
            ASSERT_EQ(got.records[j].offset, (int64_t)j);
            ASSERT_EQ(got.records[j].key, key_of(v[j])) << "offset " << j;
            ASSERT_EQ(got.records[j].value, value_of(v[j], size)) << "offset " << j;
        }
        // Per-key order is produce order.
        std::vector<int> last(997, -1);
        for (size_t j = 0; j < v.size(); j++) {
            ASSERT_LT(last[v[j] % 997], v[j]) << "offset " << j;
            last[v[j] % 997] = v[j];
        }
        int32_t seq = 0;
        for (auto &h : got.batches) {
            if (pid == -2)
                pid = h.producer_id;
            ASSERT_GE(h.producer_id, 0) << "idempotent batches carry a producer id";
            ASSERT_EQ(h.producer_id, pid);
            ASSERT_EQ(h.base_sequence, seq) << "partition " << part << " offset " << h.base_offset;
            seq += h.record_count;
        }
    }
}

// The proxy drops the answer to one Produce call after the broker stored
// it: the producer retries on a new connection, the broker recognises the
// batch and the report carries the original offset — stored once.
TEST_F(ProducerFaultTest, DroppedResponseRetryIsDeduplicated)
{
    StartBroker();
    CreateTopic("dedup", 4);
    ASSERT_NO_FATAL_FAILURE(StartProxy(broker_.port()));
    mq_producer_t *p = NewProducer(
        fp_addr(proxy_),
        {{"linger.ms", "1"}, {"reconnect.backoff.ms", "10"}, {"retry.backoff.ms", "10"}});
    ASSERT_NE(p, nullptr);
    std::vector<Report> reports(12 + 400);
    auto value = [](int i) { return "m" + std::to_string(i); };
    for (int i = 0; i < 10; i++) {
        ASSERT_EQ(mq_produce(p, "dedup", 0, NULL, 0, value(i).data(), value(i).size(), NULL, 0, 0,
                             (void *)(uintptr_t)i, 0),
                  MQ_OK);
        ASSERT_EQ(mq_producer_flush(p, 10000), MQ_OK) << last_error_;
    }
    Collect(p, reports, 10);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(reports[i].offset, i) << last_error_;
    uint64_t produces = fp_requests(proxy_, "/Produce");

    fp_drop_response(proxy_, "/Produce", 0);
    ASSERT_EQ(mq_produce(p, "dedup", 0, NULL, 0, "m10", 3, NULL, 0, 0, (void *)10, 0), MQ_OK);
    ASSERT_EQ(mq_producer_flush(p, 20000), MQ_OK);
    Collect(p, reports, 1);
    EXPECT_EQ(Counters().responses_dropped, 1u);
    EXPECT_GE(fp_requests(proxy_, "/Produce"), produces + 2) << "the batch was sent again";
    EXPECT_EQ(reports[10].err, MQ_OK) << mq_err_str(reports[10].err);
    EXPECT_EQ(reports[10].offset, 10) << "the retry reports the original offset";
    EXPECT_EQ(reports[10].persisted, MQ_PERSISTED);
    EXPECT_GE(error_events_, 1) << "the lost connection is reported";

    // The sequence goes on after the deduplicated retry.
    ASSERT_EQ(mq_produce(p, "dedup", 0, NULL, 0, "m11", 3, NULL, 0, 0, (void *)11, 0), MQ_OK);
    ASSERT_EQ(mq_producer_flush(p, 10000), MQ_OK);
    Collect(p, reports, 1);
    EXPECT_EQ(reports[11].offset, 11);

    Partition got = ReadPartition("dedup", 0);
    ASSERT_EQ(got.records.size(), 12u) << "the retried batch is stored once";
    for (int i = 0; i < 12; i++)
        EXPECT_EQ(got.records[i].value, value(i)) << "offset " << i;

    // The first call of 400 messages over the 4 partitions loses its answer.
    fp_drop_response(proxy_, "/Produce", 0);
    const int base = 12, m = 400;
    for (int i = base; i < base + m; i++) {
        std::string v = value(i);
        ASSERT_EQ(mq_produce(p, "dedup", i % 4, NULL, 0, v.data(), v.size(), NULL, 0, 0,
                             (void *)(uintptr_t)i, 0),
                  MQ_OK);
    }
    ASSERT_EQ(mq_producer_flush(p, 20000), MQ_OK);
    Collect(p, reports, m);
    EXPECT_EQ(Counters().responses_dropped, 2u);
    mq_producer_destroy(p);
    for (int part = 0; part < 4; part++) {
        Partition pg = ReadPartition("dedup", part);
        std::map<int64_t, std::string> stored;
        for (auto &r : pg.records)
            stored[r.offset] = r.value;
        size_t want = part == 0 ? 12 + m / 4 : m / 4;
        EXPECT_EQ(pg.records.size(), want) << "partition " << part << ": no duplicates";
        for (int i = base; i < base + m; i++) {
            if (i % 4 != part)
                continue;
            ASSERT_EQ(reports[i].err, MQ_OK) << i;
            ASSERT_EQ(reports[i].partition, part);
            ASSERT_EQ(stored[reports[i].offset], value(i)) << "report of message " << i;
        }
    }
}

// The answer comes too late (request.timeout.ms): the call is given up,
// the batch is sent again and the broker, which stored it the first time,
// answers the retry with the original offset.
TEST_F(ProducerFaultTest, TimedOutRequestRetryIsDeduplicated)
{
    StartBroker();
    CreateTopic("slow", 1);
    ASSERT_NO_FATAL_FAILURE(StartProxy(broker_.port()));
    mq_producer_t *p = NewProducer(
        fp_addr(proxy_),
        {{"linger.ms", "1"}, {"request.timeout.ms", "300"}, {"retry.backoff.ms", "50"}});
    ASSERT_NE(p, nullptr);
    std::vector<Report> reports(3);
    ASSERT_EQ(mq_produce(p, "slow", 0, NULL, 0, "a", 1, NULL, 0, 0, (void *)0, 0), MQ_OK);
    ASSERT_EQ(mq_producer_flush(p, 10000), MQ_OK);
    Collect(p, reports, 1);
    ASSERT_EQ(reports[0].offset, 0) << last_error_;

    // Answers now take 800 ms: the next call times out at 300 ms.
    fp_set_delay(proxy_, 0, 800);
    uint64_t produces = fp_requests(proxy_, "/Produce");
    ASSERT_EQ(mq_produce(p, "slow", 0, NULL, 0, "b", 1, NULL, 0, 0, (void *)1, 0), MQ_OK);
    for (int i = 0; i < 200 && fp_requests(proxy_, "/Produce") < produces + 2; i++)
        usleep(10 * 1000);
    EXPECT_GE(fp_requests(proxy_, "/Produce"), produces + 2) << "the batch was sent again";
    fp_set_delay(proxy_, 0, 0);
    ASSERT_EQ(mq_producer_flush(p, 20000), MQ_OK);
    Collect(p, reports, 1);
    EXPECT_EQ(reports[1].err, MQ_OK) << mq_err_str(reports[1].err);
    EXPECT_EQ(reports[1].offset, 1) << "the retry reports the original offset";

    ASSERT_EQ(mq_produce(p, "slow", 0, NULL, 0, "c", 1, NULL, 0, 0, (void *)2, 0), MQ_OK);
    ASSERT_EQ(mq_producer_flush(p, 10000), MQ_OK);
    Collect(p, reports, 1);
    EXPECT_EQ(reports[2].offset, 2);
    mq_producer_destroy(p);
    Partition got = ReadPartition("slow", 0);
    ASSERT_EQ(got.records.size(), 3u) << "stored once";
    EXPECT_EQ(got.records[1].value, "b");
    EXPECT_EQ(got.records[2].value, "c");
}

// Keyed messages flow with up to 5 requests in flight while the proxy
// drops connections and responses at random: each message is delivered
// once, stored once, and per-key order is the produce order.
TEST_F(ProducerFaultTest, OrderKeptUnderRetriesWithFiveInFlight)
{
    const uint64_t seed = chaos_seed();
    SCOPED_TRACE("MQ_CHAOS_SEED=" + std::to_string(seed));
    // At least n_min messages, and more until the faults have happened: a
    // fast machine can send n_min before the first fault is due.
    const int n_min = test_scale(100000, 20000), n_max = 20 * n_min, chunk = 1000;
    const int keys = 64, parts = 4;
    StartBroker();
    CreateTopic("order", parts);
    ASSERT_NO_FATAL_FAILURE(StartProxy(broker_.port()));
    mq_producer_t *p = NewProducer(fp_addr(proxy_), {{"max.in.flight", "5"},
                                                     {"linger.ms", "1"},
                                                     {"batch.num.messages", "50"},
                                                     {"queue.buffering.max.messages", "2000"},
                                                     {"reconnect.backoff.ms", "5"},
                                                     {"reconnect.backoff.max.ms", "50"},
                                                     {"retry.backoff.ms", "5"},
                                                     {"retry.backoff.max.ms", "50"}});
    ASSERT_NE(p, nullptr);
    fp_chaos_t ch = {};
    ch.seed = seed;
    ch.drop_min_ms = 20;
    ch.drop_max_ms = 120;
    ch.response_drop_permille = 20;
    ch.response_path = "/Produce";
    fp_set_chaos(proxy_, &ch);

    // Message i: key k = i % keys, value "k:<n-th message of k>".
    auto key = [&](int i) { return "k" + std::to_string(i % keys); };
    auto value = [&](int i) { return key(i) + ":" + std::to_string(i / keys); };
    std::vector<Report> reports(n_max);
    size_t polled = 0;
    int n = 0;
    auto faults = [&] {
        fp_counters_t c = Counters();
        return c.chaos_drops + c.responses_dropped;
    };
    while (n < n_min || (faults() < 3 && n < n_max)) {
        ASSERT_NO_FATAL_FAILURE(
            ProduceRange(p, "order", n, n + chunk, key, value, reports, &polled));
        n += chunk;
    }
    ASSERT_EQ(mq_producer_flush(p, 120000), MQ_OK) << last_error_;
    Collect(p, reports, n - polled);
    fp_set_chaos(proxy_, nullptr);
    mq_producer_destroy(p);
    fp_counters_t fc = Counters();
    EXPECT_GE(fc.chaos_drops + fc.responses_dropped, 3u) << "the faults must have happened";
    RecordProperty("chaos_drops", (int)fc.chaos_drops);
    RecordProperty("responses_dropped", (int)fc.responses_dropped);
    RecordProperty("messages", n);

    for (int i = 0; i < n; i++) {
        ASSERT_EQ(reports[i].count, 1) << i;
        ASSERT_EQ(reports[i].err, MQ_OK)
            << i << ": " << mq_err_str(reports[i].err) << " " << last_error_;
    }
    size_t total = 0;
    for (int part = 0; part < parts; part++) {
        Partition got = ReadPartition("order", part);
        total += got.records.size();
        std::map<std::string, int> next; // key -> next expected number
        for (size_t j = 0; j < got.records.size(); j++) {
            const Record &r = got.records[j];
            ASSERT_EQ(r.offset, (int64_t)j);
            size_t colon = r.value.find(':');
            ASSERT_NE(colon, std::string::npos);
            ASSERT_EQ(r.value.substr(0, colon), r.key);
            int num = atoi(r.value.c_str() + colon + 1);
            ASSERT_EQ(num, next[r.key])
                << "key " << r.key << " at offset " << r.offset << ": duplicate, gap or reorder";
            next[r.key]++;
            int i = num * keys + atoi(r.key.c_str() + 1);
            ASSERT_EQ(reports[i].partition, part);
            ASSERT_EQ(reports[i].offset, r.offset) << "message " << i;
        }
    }
    EXPECT_EQ(total, (size_t)n) << "each message stored exactly once";
}

// Idempotent producer started while no broker is there: it cannot get a
// producer id yet; once the broker appears every message is delivered.
// (test_producer_e2e.cc does this without idempotence.)
TEST_F(ProducerFaultTest, IdempotentProducerBeforeTheBrokerExists)
{
    ASSERT_NO_FATAL_FAILURE(StartProxy(free_port()));
    mq_producer_t *p = NewProducer(
        fp_addr(proxy_), {{"reconnect.backoff.ms", "20"}, {"reconnect.backoff.max.ms", "100"}});
    ASSERT_NE(p, nullptr);
    const int n = 1000;
    std::vector<Report> reports(n);
    for (int i = 0; i < n; i++) {
        std::string k = key_of(i);
        ASSERT_EQ(mq_produce(p, "late", MQ_PARTITION_ANY, k.data(), k.size(), "v", 1, NULL, 0, 0,
                             (void *)(uintptr_t)i, 0),
                  MQ_OK);
    }
    usleep(300 * 1000);
    EXPECT_GE(Counters().upstream_failed, 2u) << "the producer kept trying";
    StartBroker();
    CreateTopic("late", 2);
    ASSERT_EQ(fp_set_upstream(proxy_, broker_.host(), broker_.port()), 0);
    ASSERT_EQ(mq_producer_flush(p, 20000), MQ_OK) << last_error_;
    Collect(p, reports, n);
    mq_producer_destroy(p);
    int64_t per_part[2] = {0, 0};
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(reports[i].err, MQ_OK) << i << ": " << mq_err_str(reports[i].err);
        ASSERT_EQ(reports[i].offset, per_part[reports[i].partition]++) << "message " << i;
    }
    EXPECT_EQ(ReadPartition("late", 0).batches.at(0).base_sequence, 0);
}

// close(timeout) without flush while the broker cannot answer (blackhole):
// close returns in time, every message gets one report — delivered, or
// MQ_ERR_CLOSED — and what is stored afterwards was reported as delivered
// or possibly persisted, never as not persisted.
TEST_F(ProducerFaultTest, CloseWithoutFlushWhileBlackholedReportsEveryMessage)
{
    StartBroker();
    CreateTopic("closing", 1);
    ASSERT_NO_FATAL_FAILURE(StartProxy(broker_.port()));
    mq_producer_t *p =
        NewProducer(fp_addr(proxy_),
                    {{"linger.ms", "5"}, {"batch.num.messages", "100"}, {"max.in.flight", "2"}});
    ASSERT_NE(p, nullptr);
    const int before = 1000, n = before + test_scale(20000, 5000);
    std::vector<Report> reports(n);
    size_t polled = 0;
    auto none = [](int) { return std::string(); };
    auto value = [](int i) { return value_of(i, 40); };
    ProduceRange(p, "closing", 0, before, none, value, reports, &polled, 0);
    ASSERT_EQ(mq_producer_flush(p, 10000), MQ_OK) << last_error_;

    fp_set_blackhole(proxy_, 1);
    ProduceRange(p, "closing", before, n, none, value, reports, &polled, 0);
    usleep(100 * 1000); // let the first calls go out into the blackhole
    long long t0 = test_now_ms();
    EXPECT_EQ(mq_producer_close(p, 300), MQ_ERR_TIMED_OUT);
    long long took = test_now_ms() - t0;
    EXPECT_LT(took, 300 + 2000) << "close must return near its timeout";
    EXPECT_EQ(mq_produce(p, "closing", 0, NULL, 0, "x", 1, NULL, 0, 0, NULL, 0), MQ_ERR_CLOSED);
    Collect(p, reports, n - polled, 10000);
    mq_event_t *ev;
    EXPECT_EQ(mq_producer_poll(p, 0, &ev), MQ_ERR_CLOSED);
    mq_producer_destroy(p);

    int ok = 0, possibly = 0, notp = 0;
    for (int i = 0; i < n; i++) {
        const Report &r = reports[i];
        ASSERT_EQ(r.count, 1) << "message " << i;
        if (i < before) {
            ASSERT_EQ(r.err, MQ_OK) << i;
            ok++;
            continue;
        }
        ASSERT_EQ(r.err, MQ_ERR_CLOSED) << i << ": " << mq_err_str(r.err);
        ASSERT_NE(r.persisted, MQ_PERSISTED);
        (r.persisted == MQ_POSSIBLY_PERSISTED ? possibly : notp)++;
    }
    EXPECT_GT(possibly, 0) << "requests were in flight";
    EXPECT_GT(notp, 0) << "messages were still queued";

    // Lift the blackhole: what the producer had sent may now reach the
    // broker, but only messages reported as possibly persisted.
    fp_set_blackhole(proxy_, 0);
    for (int i = 0; i < 100 && Counters().open > 0; i++)
        usleep(20 * 1000);
    Partition got = ReadPartition("closing", 0);
    ASSERT_GE(got.records.size(), (size_t)before);
    for (auto &r : got.records) {
        int i = atoi(r.value.c_str());
        ASSERT_LT(i, n);
        ASSERT_TRUE(reports[i].err == MQ_OK || reports[i].persisted == MQ_POSSIBLY_PERSISTED)
            << "message " << i << " is stored but was reported as not persisted";
    }
}
