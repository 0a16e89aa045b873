// Idempotent produce against a real mqbroker, through the raw test client:
// InitProducerId hands out ids and bumps epochs, a retried batch gets its
// original offsets and is stored once (also across a kill -9 and restart),
// a sequence gap and an old epoch are refused, and ids are not reused after
// a restart.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker_fixture.h"
#include "broker_proc.h"
#include "mq/v1/broker.pb-c.h"
#include "rawclient.h"

extern "C" {
#include "mqclient.h"
#include "wire/batch.h"
}

namespace
{

#define RC_PATH_INIT_PRODUCER_ID "/mq.v1.Broker/InitProducerId"

struct PidReply {
    int grpc_status = -1;
    int32_t error_code = -1;
    int64_t pid = -1;
    int32_t epoch = -1;
    std::string message;
};

// One InitProducerId call.
PidReply InitPid(rawclient_t *rc, int64_t pid, int32_t epoch)
{
    Mq__V1__InitProducerIdRequest req = MQ__V1__INIT_PRODUCER_ID_REQUEST__INIT;
    req.producer_id = pid;
    req.producer_epoch = epoch;
    uint8_t buf[64];
    size_t len = mq__v1__init_producer_id_request__pack(&req, buf);
    rc_result_t r;
    PidReply out;
    if (rc_unary(rc, RC_PATH_INIT_PRODUCER_ID, buf, len, nullptr, RC_CALL_TIMEOUT_MS, &r) != 1)
        return out;
    out.grpc_status = r.grpc_status;
    out.message = r.grpc_message;
    Mq__V1__InitProducerIdResponse *resp =
        r.msg ? mq__v1__init_producer_id_response__unpack(nullptr, r.msg_len, r.msg) : nullptr;
    if (resp) {
        out.error_code = resp->error_code;
        out.pid = resp->producer_id;
        out.epoch = resp->producer_epoch;
        if (resp->error_message && resp->error_message[0])
            out.message = resp->error_message;
        mq__v1__init_producer_id_response__free_unpacked(resp, nullptr);
    }
    rc_result_free(&r);
    return out;
}

// A batch of `records` values of `size` bytes from no producer id.
std::vector<uint8_t> PlainBatch(int records, size_t size)
{
    mq_batch_builder_t b;
    std::vector<uint8_t> out;
    std::string val(size, 'x');
    if (mq__batch_builder_init(&b, 256) != MQ_OK)
        return out;
    for (int i = 0; i < records; i++)
        if (mq__batch_builder_add(&b, rc_now_ms(), nullptr, 0, val.data(), val.size(), nullptr,
                                  0) != MQ_OK) {
            mq__batch_builder_free(&b);
            return out;
        }
    const uint8_t *wire;
    size_t len;
    if (mq__batch_builder_finish(&b, -1, -1, -1, MQ_BATCH_COMPRESSION_NONE, &wire, &len) == MQ_OK)
        out.assign(wire, wire + len);
    mq__batch_builder_free(&b);
    return out;
}

// A batch of `records` records stamped with producer id, epoch and base
// sequence.
std::vector<uint8_t> IdemBatch(int records, int64_t pid, int16_t epoch, int32_t seq, uint32_t seed)
{
    mq_batch_builder_t b;
    std::vector<uint8_t> out;
    if (mq__batch_builder_init(&b, 256) != MQ_OK)
        return out;
    for (int i = 0; i < records; i++) {
        std::string key = "k" + std::to_string(seed) + "-" + std::to_string(i);
        std::string val = "value " + std::to_string(seed * 31 + (uint32_t)i);
        if (mq__batch_builder_add(&b, rc_now_ms(), key.data(), key.size(), val.data(), val.size(),
                                  nullptr, 0) != MQ_OK) {
            mq__batch_builder_free(&b);
            return out;
        }
    }
    const uint8_t *wire;
    size_t len;
    if (mq__batch_builder_finish(&b, pid, epoch, seq, MQ_BATCH_COMPRESSION_NONE, &wire, &len) ==
        MQ_OK)
        out.assign(wire, wire + len);
    mq__batch_builder_free(&b);
    return out;
}

class IdempotenceTest : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(StartBroker());
        ASSERT_NO_FATAL_FAILURE(CreateTopic("idem", 2));
        rc_ = Connect();
        ASSERT_NE(rc_, nullptr);
    }

    // Produces one batch; returns the result (grpc-status checked).
    rc_produce_result_t Produce(const std::vector<uint8_t> &batch, int32_t part = 0, int acks = 1,
                                const char *topic = "idem")
    {
        rc_produce_result_t pr;
        rc_produce(rc_, topic, part, batch.data(), batch.size(), acks, &pr);
        EXPECT_EQ(pr.grpc_status, 0) << pr.grpc_message;
        return pr;
    }

    int64_t ProduceOk(const std::vector<uint8_t> &batch, int32_t part = 0, int acks = 1,
                      const char *topic = "idem")
    {
        rc_produce_result_t pr = Produce(batch, part, acks, topic);
        EXPECT_EQ(pr.error_code, 0) << pr.error_message;
        return pr.base_offset;
    }

    // A fresh producer id with epoch 0.
    void NewProducer(int64_t *pid, int16_t *epoch)
    {
        PidReply r = InitPid(rc_, -1, -1);
        ASSERT_EQ(r.grpc_status, 0) << r.message;
        ASSERT_EQ(r.error_code, 0) << r.message;
        ASSERT_GE(r.pid, 0);
        ASSERT_EQ(r.epoch, 0);
        *pid = r.pid;
        *epoch = (int16_t)r.epoch;
    }

    void Reconnect()
    {
        for (auto *c : clients_)
            rc_close(c);
        clients_.clear();
        rc_ = Connect();
        ASSERT_NE(rc_, nullptr);
    }

    rawclient_t *rc_ = nullptr;
};

TEST_F(IdempotenceTest, InitProducerIdHandsOutIdsAndBumpsEpochs)
{
    int64_t a, b;
    int16_t ea, eb;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&a, &ea));
    ASSERT_NO_FATAL_FAILURE(NewProducer(&b, &eb));
    EXPECT_NE(a, b);

    PidReply bump = InitPid(rc_, a, 0);
    EXPECT_EQ(bump.error_code, 0) << bump.message;
    EXPECT_EQ(bump.pid, a);
    EXPECT_EQ(bump.epoch, 1);

    // The old epoch is fenced; an id never handed out is unknown; a half-set
    // request is refused, each with a message.
    PidReply fenced = InitPid(rc_, a, 0);
    EXPECT_EQ(fenced.error_code, -MQ_ERR_PRODUCER_FENCED);
    EXPECT_NE(fenced.message.find("epoch"), std::string::npos) << fenced.message;
    PidReply unknown = InitPid(rc_, b + 1000000, 0);
    EXPECT_EQ(unknown.error_code, -MQ_ERR_UNKNOWN_PRODUCER) << unknown.message;
    PidReply half = InitPid(rc_, -1, 3);
    EXPECT_EQ(half.error_code, -MQ_ERR_INVALID_ARG) << half.message;
    EXPECT_FALSE(half.message.empty());

    // Garbage is a whole-call error, not a crash.
    const uint8_t junk[] = {0xff, 0xff, 0xff};
    rc_result_t r;
    ASSERT_EQ(
        rc_unary(rc_, RC_PATH_INIT_PRODUCER_ID, junk, sizeof junk, nullptr, RC_CALL_TIMEOUT_MS, &r),
        1);
    EXPECT_EQ(r.grpc_status, 3) << r.grpc_message; // INVALID_ARGUMENT
    rc_result_free(&r);
}

TEST_F(IdempotenceTest, RetriedBatchGetsOriginalOffsetsAndIsStoredOnce)
{
    int64_t pid;
    int16_t epoch;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&pid, &epoch));
    // Interleave a non-idempotent batch so offsets are not trivially 0.
    ASSERT_EQ(ProduceOk(MakeBatch(3, 10, rc_now_ms(), 1)), 0);
    auto b0 = IdemBatch(4, pid, epoch, 0, 10);
    auto b1 = IdemBatch(2, pid, epoch, 4, 11);
    ASSERT_EQ(ProduceOk(b0), 3);
    ASSERT_EQ(ProduceOk(b1, 0, -1), 7);

    // The same bytes again (a retry after a lost answer): original offsets.
    EXPECT_EQ(ProduceOk(b0), 3);
    EXPECT_EQ(ProduceOk(b1, 0, -1), 7);
    EXPECT_EQ(ProduceOk(b1, 0, 0), -1); // acks=0 reports nothing either way

    // The next in sequence goes on at the log end.
    auto b2 = IdemBatch(1, pid, epoch, 6, 12);
    EXPECT_EQ(ProduceOk(b2), 9);

    auto got = FetchAll(rc_, "idem", 0);
    ASSERT_EQ(got.size(), 4u) << "a retry was stored twice";
    EXPECT_TRUE(SameBatch(got[1].bytes, b0, 3));
    EXPECT_TRUE(SameBatch(got[2].bytes, b1, 7));
    EXPECT_TRUE(SameBatch(got[3].bytes, b2, 9));

    // Sequences are per partition: partition 1 starts at 0 for this id.
    EXPECT_EQ(ProduceOk(IdemBatch(5, pid, epoch, 0, 13), 1), 0);
}

TEST_F(IdempotenceTest, OnlyTheLastFiveBatchesAreDeduplicated)
{
    int64_t pid;
    int16_t epoch;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&pid, &epoch));
    std::vector<std::vector<uint8_t>> sent;
    for (int i = 0; i < 7; i++) {
        sent.push_back(IdemBatch(1, pid, epoch, i, 20 + (uint32_t)i));
        ASSERT_EQ(ProduceOk(sent.back()), i);
    }
    for (int i = 2; i < 7; i++)
        EXPECT_EQ(ProduceOk(sent[(size_t)i]), i) << "batch " << i;
    // Older than the last five: no longer known, so it is a sequence error,
    // never a second copy.
    rc_produce_result_t pr = Produce(sent[0]);
    EXPECT_EQ(pr.error_code, -MQ_ERR_OUT_OF_ORDER_SEQUENCE) << pr.error_message;
    EXPECT_EQ(FetchAll(rc_, "idem", 0).size(), 7u);
}

TEST_F(IdempotenceTest, SequenceGapIsRejected)
{
    int64_t pid;
    int16_t epoch;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&pid, &epoch));
    ASSERT_EQ(ProduceOk(IdemBatch(3, pid, epoch, 0, 30)), 0);
    // Sequence 3 is next; 5 leaves a gap.
    rc_produce_result_t pr = Produce(IdemBatch(2, pid, epoch, 5, 31));
    EXPECT_EQ(pr.error_code, -MQ_ERR_OUT_OF_ORDER_SEQUENCE);
    EXPECT_EQ(pr.base_offset, -1);
    EXPECT_NE(std::string(pr.error_message).find("sequence"), std::string::npos)
        << pr.error_message;
    // A first batch that does not start at 0: the broker has no state.
    int64_t other;
    int16_t oe;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&other, &oe));
    pr = Produce(IdemBatch(1, other, oe, 9, 32));
    EXPECT_EQ(pr.error_code, -MQ_ERR_UNKNOWN_PRODUCER) << pr.error_message;
    // Nothing of either was stored; the right sequence still works.
    EXPECT_EQ(ProduceOk(IdemBatch(1, pid, epoch, 3, 33)), 3);
    EXPECT_EQ(FetchAll(rc_, "idem", 0).size(), 2u);
}

TEST_F(IdempotenceTest, OldEpochIsFencedAfterABump)
{
    int64_t pid;
    int16_t epoch;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&pid, &epoch));
    ASSERT_EQ(ProduceOk(IdemBatch(2, pid, 0, 0, 40)), 0);
    PidReply bump = InitPid(rc_, pid, 0);
    ASSERT_EQ(bump.error_code, 0) << bump.message;
    ASSERT_EQ(bump.epoch, 1);
    // The new epoch starts its sequence at 0.
    ASSERT_EQ(ProduceOk(IdemBatch(1, pid, 1, 0, 41)), 2);
    // A zombie still on epoch 0 is fenced, even continuing its sequence.
    rc_produce_result_t pr = Produce(IdemBatch(1, pid, 0, 2, 42));
    EXPECT_EQ(pr.error_code, -MQ_ERR_PRODUCER_FENCED) << pr.error_message;
    // A new epoch that does not start at 0 is a gap.
    bump = InitPid(rc_, pid, 1);
    ASSERT_EQ(bump.epoch, 2);
    pr = Produce(IdemBatch(1, pid, 2, 1, 43));
    EXPECT_EQ(pr.error_code, -MQ_ERR_OUT_OF_ORDER_SEQUENCE) << pr.error_message;
    EXPECT_EQ(FetchAll(rc_, "idem", 0).size(), 2u);
}

TEST_F(IdempotenceTest, DedupSurvivesKillAndRestart)
{
    int64_t pid;
    int16_t epoch;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&pid, &epoch));
    struct Sent {
        std::vector<uint8_t> bytes;
        int64_t offset;
    };
    std::vector<Sent> sent;
    int32_t seq = 0;
    int64_t off = 0;
    auto produce_next = [&](int records, uint32_t seed) {
        Sent s{IdemBatch(records, pid, epoch, seq, seed), off};
        ASSERT_EQ(ProduceOk(s.bytes, 1, -1), off);
        seq += records;
        off += records;
        sent.push_back(std::move(s));
    };
    for (int i = 0; i < 4; i++)
        ASSERT_NO_FATAL_FAILURE(produce_next(3, 50 + (uint32_t)i));
    for (int round = 0; round < 2; round++) {
        // Round 0: kill -9 (recovery scans an unclean tail). Round 1: a clean
        // stop (the index is trusted; the state is rebuilt the same way).
        if (round == 0)
            ASSERT_EQ(broker_.Kill(), 0);
        else
            ASSERT_EQ(broker_.Stop(), 0);
        ASSERT_TRUE(broker_.Restart()) << broker_.error();
        ASSERT_NO_FATAL_FAILURE(Reconnect());
        // Every batch the broker still remembers (the last five) is a retry.
        size_t from = sent.size() > 5 ? sent.size() - 5 : 0;
        for (size_t i = from; i < sent.size(); i++)
            EXPECT_EQ(ProduceOk(sent[i].bytes, 1), sent[i].offset)
                << "round " << round << ", batch " << i;
        // A gap is still a gap; the sequence goes on where it was.
        rc_produce_result_t pr = Produce(IdemBatch(1, pid, epoch, seq + 7, 60), 1);
        EXPECT_EQ(pr.error_code, -MQ_ERR_OUT_OF_ORDER_SEQUENCE) << pr.error_message;
        ASSERT_NO_FATAL_FAILURE(produce_next(2, 61 + (uint32_t)round));
        int64_t records = 0;
        for (auto &b : FetchAll(rc_, "idem", 1))
            records += b.record_count;
        EXPECT_EQ(records, off) << "round " << round << ": a retry was stored again";
    }
    // Ids keep counting up after restarts: none is handed out twice.
    int64_t again;
    int16_t ea;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&again, &ea));
    EXPECT_GT(again, pid);
    // An id from before the restart can still have its epoch bumped.
    PidReply bump = InitPid(rc_, pid, epoch);
    EXPECT_EQ(bump.error_code, 0) << bump.message;
    EXPECT_EQ(bump.pid, pid);
    EXPECT_EQ(bump.epoch, epoch + 1);
}

// A producer that wrote long before a crash, with far more than the tail
// recovery reads (16 MiB) written by others since: the snapshot taken at
// each segment roll still knows its batches, so its retries are answered
// with their original offsets and its sequence goes on.
TEST_F(IdempotenceTest, DedupSurvivesKillAfterMuchTrafficFromOthers)
{
    ASSERT_NO_FATAL_FAILURE(CreateTopic("busy", 1, R"("config":{"segment.bytes":"1048576"})"));
    int64_t pid;
    int16_t epoch;
    ASSERT_NO_FATAL_FAILURE(NewProducer(&pid, &epoch));
    std::vector<std::vector<uint8_t>> mine;
    std::vector<int64_t> offsets;
    int32_t seq = 0;
    for (int i = 0; i < 3; i++) {
        mine.push_back(IdemBatch(4, pid, epoch, seq, 70 + (uint32_t)i));
        offsets.push_back(ProduceOk(mine.back(), 0, -1, "busy"));
        seq += 4;
    }
    // 20 MiB from no producer id: twenty segment rolls.
    std::vector<uint8_t> filler = PlainBatch(64, 4096);
    int64_t records = 12;
    for (int i = 0; i < 80; i++) {
        ASSERT_GE(ProduceOk(filler, 0, 1, "busy"), 0);
        records += 64;
    }
    ASSERT_EQ(broker_.Kill(), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    ASSERT_NO_FATAL_FAILURE(Reconnect());

    for (size_t i = 0; i < mine.size(); i++)
        EXPECT_EQ(ProduceOk(mine[i], 0, -1, "busy"), offsets[i]) << "retry of batch " << i;
    rc_produce_result_t next = Produce(IdemBatch(2, pid, epoch, seq, 80), 0, -1, "busy");
    EXPECT_EQ(next.error_code, 0) << "the sequence goes on: " << next.error_message;
    EXPECT_EQ(next.base_offset, records);
    int64_t stored = 0;
    for (auto &b : FetchAll(rc_, "busy", 0))
        stored += b.record_count;
    EXPECT_EQ(stored, records + 2) << "a retry was stored again";
}

} // namespace
