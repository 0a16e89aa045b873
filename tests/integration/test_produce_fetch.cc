// Produce and Fetch against a real mqbroker over loopback, through the raw
// test client: offsets, byte-for-byte round trips, long polls, size caps,
// ListOffsets, Metadata, per-partition errors and a restart.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "broker_fixture.h"
#include "broker_proc.h"
#include "mq/v1/broker.pb-c.h"
#include "rawclient.h"

extern "C" {
#include "mqclient.h"
}

namespace
{

const int kWireUnknownTopic = -MQ_ERR_UNKNOWN_TOPIC;
const int kWireUnknownPartition = -MQ_ERR_UNKNOWN_PARTITION;
const int kWireCorrupt = -MQ_ERR_CORRUPT_MESSAGE;
const int kWireTooLarge = -MQ_ERR_MESSAGE_TOO_LARGE;

class ProduceFetchTest : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_NO_FATAL_FAILURE(StartBroker());
        ASSERT_NO_FATAL_FAILURE(CreateTopic("pf", 4));
        rc_ = Connect();
        ASSERT_NE(rc_, nullptr);
    }

    // Produces one batch and expects success; returns the base offset.
    int64_t ProduceOk(rawclient_t *c, const std::string &topic, int32_t part,
                      const std::vector<uint8_t> &batch, int acks = 1)
    {
        rc_produce_result_t pr;
        rc_produce(c, topic.c_str(), part, batch.data(), batch.size(), acks, &pr);
        EXPECT_EQ(pr.grpc_status, 0) << pr.grpc_message;
        EXPECT_EQ(pr.error_code, 0) << pr.error_message;
        return pr.base_offset;
    }

    rawclient_t *rc_ = nullptr;
};

struct Sent {
    int64_t offset;
    std::vector<uint8_t> bytes;
};

TEST_F(ProduceFetchTest, AllAcksLevelsGiveContiguousOffsetsAndExactBytes)
{
    std::vector<Sent> sent[4];
    int64_t next[4] = {0, 0, 0, 0};
    const int acks_levels[] = {0, 1, -1};
    uint32_t seed = 1;
    int per_level = test_scaled(6);
    for (int acks : acks_levels) {
        for (int i = 0; i < per_level; i++) {
            for (int p = 0; p < 4; p++) {
                int records = 1 + (int)(seed * 7 % 40);
                auto batch = MakeBatch(records, 20 + seed % 90, rc_now_ms(), seed);
                seed++;
                ASSERT_FALSE(batch.empty());
                rc_batch_ref_t ref = {"pf", p, batch.data(), batch.size()};
                size_t req_len;
                uint8_t *req = rc_encode_produce(acks, 0, &ref, 1, &req_len);
                rc_result_t r;
                rc_unary(rc_, RC_PATH_PRODUCE, req, req_len, nullptr, RC_CALL_TIMEOUT_MS, &r);
                free(req);
                ASSERT_EQ(r.grpc_status, 0) << "acks=" << acks << ": " << r.grpc_message;
                rc_produce_result_t pr;
                int n = rc_decode_produce(r.msg, r.msg_len, &pr, 1);
                rc_result_free(&r);
                // docs/protocol.md: every level answers one result per batch;
                // acks=0 with error_code 0 and base_offset -1.
                EXPECT_EQ(n, 1) << "acks=" << acks << ": results in the ProduceResponse";
                if (n == 1) {
                    EXPECT_EQ(pr.error_code, 0) << "acks=" << acks << ": " << pr.error_message;
                    EXPECT_EQ(pr.base_offset, acks == 0 ? -1 : next[p])
                        << "acks=" << acks << " partition " << p;
                }
                sent[p].push_back({next[p], batch});
                next[p] += records;
            }
        }
    }
    // One request carrying a batch for each partition: results in order.
    std::vector<std::vector<uint8_t>> multi;
    std::vector<rc_batch_ref_t> refs;
    for (int p = 0; p < 4; p++)
        multi.push_back(MakeBatch(3, 50, rc_now_ms(), 1000 + p));
    for (int p = 3; p >= 0; p--)
        refs.push_back({"pf", p, multi[p].data(), multi[p].size()});
    size_t req_len;
    uint8_t *req = rc_encode_produce(-1, 0, refs.data(), refs.size(), &req_len);
    rc_result_t r;
    ASSERT_EQ(rc_unary(rc_, RC_PATH_PRODUCE, req, req_len, nullptr, RC_CALL_TIMEOUT_MS, &r), 1);
    free(req);
    ASSERT_EQ(r.grpc_status, 0) << r.grpc_message;
    rc_produce_result_t results[4];
    ASSERT_EQ(rc_decode_produce(r.msg, r.msg_len, results, 4), 4);
    rc_result_free(&r);
    for (int i = 0; i < 4; i++) {
        int p = 3 - i;
        EXPECT_EQ(results[i].error_code, 0) << results[i].error_message;
        EXPECT_EQ(results[i].base_offset, next[p]) << "partition " << p;
        sent[p].push_back({next[p], multi[p]});
        next[p] += 3;
    }

    for (int p = 0; p < 4; p++) {
        auto got = FetchAll(rc_, "pf", p);
        ASSERT_EQ(got.size(), sent[p].size()) << "partition " << p;
        int64_t expect = 0;
        for (size_t i = 0; i < got.size(); i++) {
            EXPECT_EQ(got[i].base_offset, expect) << "offsets not contiguous in partition " << p;
            EXPECT_TRUE(SameBatch(got[i].bytes, sent[p][i].bytes, sent[p][i].offset))
                << "partition " << p << " batch " << i;
            expect = got[i].base_offset + got[i].record_count;
        }
        EXPECT_EQ(expect, next[p]);
    }
}

TEST_F(ProduceFetchTest, FetchInsideABatchReturnsTheWholeBatch)
{
    std::vector<std::vector<uint8_t>> batches;
    for (int i = 0; i < 3; i++) {
        batches.push_back(MakeBatch(10, 30, rc_now_ms(), 50 + i));
        EXPECT_EQ(ProduceOk(rc_, "pf", 1, batches.back()), i * 10);
    }
    rc_fetch_result_t fr;
    ASSERT_EQ(rc_fetch(rc_, "pf", 1, 15, 0, 0, 1 << 20, &fr), 0) << fr.grpc_message;
    EXPECT_EQ(fr.error_code, 0) << fr.error_message;
    EXPECT_EQ(fr.high_watermark, 30);
    auto got = SplitBatches(fr.records, fr.records_len);
    rc_fetch_result_free(&fr);
    ASSERT_GE(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, batches[1], 10));
    if (got.size() > 1) {
        EXPECT_TRUE(SameBatch(got[1].bytes, batches[2], 20));
    }

    // At the log end: empty, no error; past it: OFFSET_OUT_OF_RANGE.
    ASSERT_EQ(rc_fetch(rc_, "pf", 1, 30, 0, 0, 1 << 20, &fr), 0) << fr.grpc_message;
    EXPECT_EQ(fr.error_code, 0);
    EXPECT_EQ(fr.records_len, 0u);
    rc_fetch_result_free(&fr);
    ASSERT_EQ(rc_fetch(rc_, "pf", 1, 1000, 0, 0, 1 << 20, &fr), 0) << fr.grpc_message;
    EXPECT_EQ(fr.error_code, -MQ_ERR_OFFSET_OUT_OF_RANGE);
    rc_fetch_result_free(&fr);
}

TEST_F(ProduceFetchTest, LongPollAtTheLogEndWaitsMaxWait)
{
    ProduceOk(rc_, "pf", 0, MakeBatch(2, 10, rc_now_ms(), 3));
    long long t0 = test_now_ms();
    rc_fetch_result_t fr;
    ASSERT_EQ(rc_fetch(rc_, "pf", 0, 2, 500, 1, 1 << 20, &fr), 0) << fr.grpc_message;
    long long took = test_now_ms() - t0;
    EXPECT_EQ(fr.error_code, 0);
    EXPECT_EQ(fr.records_len, 0u);
    EXPECT_EQ(fr.high_watermark, 2);
    rc_fetch_result_free(&fr);
    EXPECT_GE(took, 480) << "returned before max_wait";
    EXPECT_LT(took, 5000) << "long poll overran max_wait by far";
}

TEST_F(ProduceFetchTest, LongPollReturnsEarlyWhenAnotherConnectionProduces)
{
    rawclient_t *producer = Connect();
    ASSERT_NE(producer, nullptr);
    size_t req_len;
    uint8_t *req = rc_encode_fetch("pf", 2, 0, 15000, 1, 1 << 20, 1 << 20, &req_len);
    long long t0 = test_now_ms();
    int32_t id = rc_submit(rc_, RC_PATH_FETCH, req, req_len, nullptr);
    free(req);
    ASSERT_GT(id, 0);
    rc_pump(rc_, 200); // let the fetch reach the broker and park
    auto batch = MakeBatch(5, 40, rc_now_ms(), 77);
    EXPECT_EQ(ProduceOk(producer, "pf", 2, batch), 0);
    rc_result_t r;
    ASSERT_EQ(rc_wait(rc_, id, 30000, &r), 1);
    long long took = test_now_ms() - t0;
    rc_fetch_result_t fr;
    rc_fetch_result_from(&r, &fr);
    rc_result_free(&r);
    ASSERT_EQ(fr.grpc_status, 0) << fr.grpc_message;
    auto got = SplitBatches(fr.records, fr.records_len);
    rc_fetch_result_free(&fr);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, batch, 0));
    EXPECT_LT(took, 10000) << "the parked fetch was not woken by the produce";
}

TEST_F(ProduceFetchTest, MinBytesHoldsTheFetchUntilEnoughArrives)
{
    auto first = MakeBatch(5, 100, rc_now_ms(), 1);
    auto second = MakeBatch(5, 100, rc_now_ms(), 2);
    EXPECT_EQ(ProduceOk(rc_, "pf", 3, first), 0);
    rawclient_t *producer = Connect();
    ASSERT_NE(producer, nullptr);

    // min_bytes above what is there: the fetch must wait for the second batch.
    size_t req_len;
    int min_bytes = (int)(first.size() + second.size() / 2);
    uint8_t *req = rc_encode_fetch("pf", 3, 0, 15000, min_bytes, 1 << 20, 1 << 20, &req_len);
    long long t0 = test_now_ms();
    int32_t id = rc_submit(rc_, RC_PATH_FETCH, req, req_len, nullptr);
    free(req);
    rc_pump(rc_, 300);
    EXPECT_EQ(ProduceOk(producer, "pf", 3, second), 5);
    rc_result_t r;
    ASSERT_EQ(rc_wait(rc_, id, 30000, &r), 1);
    long long took = test_now_ms() - t0;
    rc_fetch_result_t fr;
    rc_fetch_result_from(&r, &fr);
    rc_result_free(&r);
    ASSERT_EQ(fr.grpc_status, 0) << fr.grpc_message;
    auto got = SplitBatches(fr.records, fr.records_len);
    rc_fetch_result_free(&fr);
    ASSERT_EQ(got.size(), 2u) << "fetch returned before min_bytes were available";
    EXPECT_TRUE(SameBatch(got[0].bytes, first, 0));
    EXPECT_TRUE(SameBatch(got[1].bytes, second, 5));
    EXPECT_LT(took, 10000);

    // min_bytes never reached: the data there comes back after max_wait.
    t0 = test_now_ms();
    ASSERT_EQ(rc_fetch(rc_, "pf", 3, 0, 400, 10 << 20, 1 << 20, &fr), 0) << fr.grpc_message;
    took = test_now_ms() - t0;
    EXPECT_EQ(SplitBatches(fr.records, fr.records_len).size(), 2u);
    rc_fetch_result_free(&fr);
    EXPECT_GE(took, 380);
}

TEST_F(ProduceFetchTest, MaxBytesCapsTheResponseButReturnsAtLeastOneBatch)
{
    std::vector<std::vector<uint8_t>> batches;
    for (int i = 0; i < 5; i++) {
        batches.push_back(MakeBatch(50, 180, rc_now_ms(), 300 + i)); // ~10 KB each
        EXPECT_EQ(ProduceOk(rc_, "pf", 0, batches.back()), i * 50);
    }
    size_t one = batches[0].size();
    rc_fetch_result_t fr;
    int cap = (int)(one + one / 2);
    ASSERT_EQ(rc_fetch(rc_, "pf", 0, 0, 0, 0, cap, &fr), 0) << fr.grpc_message;
    auto got = SplitBatches(fr.records, fr.records_len);
    EXPECT_LE(fr.records_len, (size_t)cap);
    rc_fetch_result_free(&fr);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, batches[0], 0));

    // A cap smaller than one batch still returns that whole batch.
    ASSERT_EQ(rc_fetch(rc_, "pf", 0, 50, 0, 0, 100, &fr), 0) << fr.grpc_message;
    got = SplitBatches(fr.records, fr.records_len);
    EXPECT_EQ(fr.records_len, batches[1].size());
    rc_fetch_result_free(&fr);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, batches[1], 50));

    // The partition cap applies too.
    ASSERT_EQ(rc_fetch_ex(rc_, "pf", 0, 0, 0, 0, 4 << 20, cap, &fr), 0) << fr.grpc_message;
    EXPECT_EQ(SplitBatches(fr.records, fr.records_len).size(), 1u);
    rc_fetch_result_free(&fr);

    // No cap: all five.
    ASSERT_EQ(rc_fetch(rc_, "pf", 0, 0, 0, 0, 4 << 20, &fr), 0) << fr.grpc_message;
    EXPECT_EQ(SplitBatches(fr.records, fr.records_len).size(), 5u);
    rc_fetch_result_free(&fr);
}

TEST_F(ProduceFetchTest, OneFetchCoversSeveralPartitionsWithPerPartitionErrors)
{
    auto b0 = MakeBatch(4, 30, rc_now_ms(), 600);
    auto b2 = MakeBatch(6, 30, rc_now_ms(), 602);
    EXPECT_EQ(ProduceOk(rc_, "pf", 0, b0), 0);
    EXPECT_EQ(ProduceOk(rc_, "pf", 2, b2), 0);

    Mq__V1__FetchPartition parts[4];
    Mq__V1__FetchPartition *pp[4];
    const char *topics[4] = {"pf", "pf", "no-such-topic", "pf"};
    const int32_t nums[4] = {2, 0, 0, 1};
    for (int i = 0; i < 4; i++) {
        mq__v1__fetch_partition__init(&parts[i]);
        parts[i].topic = (char *)topics[i];
        parts[i].partition = nums[i];
        parts[i].fetch_offset = 0;
        parts[i].partition_max_bytes = 1 << 20;
        pp[i] = &parts[i];
    }
    Mq__V1__FetchRequest req = MQ__V1__FETCH_REQUEST__INIT;
    req.max_wait_ms = 0;
    req.max_bytes = 4 << 20;
    req.n_partitions = 4;
    req.partitions = pp;
    std::vector<uint8_t> buf(mq__v1__fetch_request__get_packed_size(&req));
    mq__v1__fetch_request__pack(&req, buf.data());
    rc_result_t r;
    ASSERT_EQ(rc_unary(rc_, RC_PATH_FETCH, buf.data(), buf.size(), nullptr, RC_CALL_TIMEOUT_MS, &r),
              1);
    ASSERT_EQ(r.grpc_status, 0) << r.grpc_message;
    Mq__V1__FetchResponse *resp = mq__v1__fetch_response__unpack(nullptr, r.msg_len, r.msg);
    rc_result_free(&r);
    ASSERT_NE(resp, nullptr);
    ASSERT_EQ(resp->n_partitions, 4u);
    for (int i = 0; i < 4; i++) {
        EXPECT_STREQ(resp->partitions[i]->topic, topics[i]);
        EXPECT_EQ(resp->partitions[i]->partition, nums[i]);
    }
    auto got = SplitBatches(resp->partitions[0]->records.data, resp->partitions[0]->records.len);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, b2, 0));
    EXPECT_EQ(resp->partitions[0]->high_watermark, 6);
    got = SplitBatches(resp->partitions[1]->records.data, resp->partitions[1]->records.len);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, b0, 0));
    EXPECT_EQ(resp->partitions[2]->error_code, kWireUnknownTopic);
    EXPECT_EQ(resp->partitions[2]->records.len, 0u);
    EXPECT_EQ(resp->partitions[3]->error_code, 0);
    EXPECT_EQ(resp->partitions[3]->records.len, 0u);
    EXPECT_EQ(resp->partitions[3]->high_watermark, 0);
    mq__v1__fetch_response__free_unpacked(resp, nullptr);
}

TEST_F(ProduceFetchTest, ListOffsetsEarliestLatestAndByTimestamp)
{
    int64_t t0 = rc_now_ms() - 60000;
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(ProduceOk(rc_, "pf", 2, MakeBatch(10, 20, t0 + i * 1000, 900 + i)), i * 10);
    rc_offset_result_t o;
    ASSERT_EQ(rc_list_offsets(rc_, "pf", 2, -2, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.error_code, 0);
    EXPECT_EQ(o.offset, 0);
    ASSERT_EQ(rc_list_offsets(rc_, "pf", 2, -1, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.offset, 30);
    ASSERT_EQ(rc_list_offsets(rc_, "pf", 2, t0 - 5000, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.offset, 0);
    ASSERT_EQ(rc_list_offsets(rc_, "pf", 2, t0 + 1000, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.error_code, 0);
    EXPECT_EQ(o.offset, 10);
    EXPECT_EQ(o.timestamp, t0 + 1000);
    ASSERT_EQ(rc_list_offsets(rc_, "pf", 2, t0 + 2000, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.offset, 20);
    ASSERT_EQ(rc_list_offsets(rc_, "pf", 2, t0 + 60000, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.offset, -1) << "no record at or after the timestamp";
    // An empty partition.
    ASSERT_EQ(rc_list_offsets(rc_, "pf", 1, -1, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.offset, 0);
    ASSERT_EQ(rc_list_offsets(rc_, "nope", 0, -1, &o), 0) << o.grpc_message;
    EXPECT_EQ(o.error_code, kWireUnknownTopic);
}

TEST_F(ProduceFetchTest, MetadataListsTopicsAndPartitions)
{
    ASSERT_NO_FATAL_FAILURE(CreateTopic("other.topic_2", 2));
    int st;
    auto *md = (Mq__V1__MetadataResponse *)rc_metadata(rc_, nullptr, 0, &st);
    ASSERT_NE(md, nullptr) << "grpc-status " << st;
    EXPECT_EQ(md->protocol_version, 1);
    ASSERT_GE(md->n_brokers, 1u);
    int node = md->brokers[0]->node_id;
    EXPECT_EQ(md->brokers[0]->port, broker_.port());
    EXPECT_GT(md->max_message_bytes, 0);
    int found = 0;
    for (size_t i = 0; i < md->n_topics; i++) {
        auto *t = md->topics[i];
        std::string name = t->name;
        if (name == "pf" || name == "other.topic_2") {
            found++;
            EXPECT_EQ(t->error_code, 0);
            EXPECT_EQ((int)t->n_partitions, name == "pf" ? 4 : 2);
            for (size_t p = 0; p < t->n_partitions; p++) {
                EXPECT_EQ(t->partitions[p]->partition, (int)p);
                EXPECT_EQ(t->partitions[p]->leader, node);
                EXPECT_EQ(t->partitions[p]->error_code, 0);
            }
        }
    }
    EXPECT_EQ(found, 2);
    mq__v1__metadata_response__free_unpacked(md, nullptr);

    const char *ask[] = {"pf", "does-not-exist"};
    md = (Mq__V1__MetadataResponse *)rc_metadata(rc_, ask, 2, &st);
    ASSERT_NE(md, nullptr) << "grpc-status " << st;
    ASSERT_EQ(md->n_topics, 2u);
    EXPECT_STREQ(md->topics[0]->name, "pf");
    EXPECT_EQ(md->topics[0]->error_code, 0);
    EXPECT_STREQ(md->topics[1]->name, "does-not-exist");
    EXPECT_EQ(md->topics[1]->error_code, kWireUnknownTopic);
    mq__v1__metadata_response__free_unpacked(md, nullptr);
}

TEST_F(ProduceFetchTest, PerPartitionErrorsRideInAnOkResponse)
{
    auto batch = MakeBatch(3, 30, rc_now_ms(), 5);
    rc_produce_result_t pr;
    ASSERT_EQ(rc_produce(rc_, "no-such-topic", 0, batch.data(), batch.size(), 1, &pr), 0)
        << pr.grpc_message;
    EXPECT_EQ(pr.error_code, kWireUnknownTopic);
    EXPECT_EQ(pr.base_offset, -1);
    ASSERT_EQ(rc_produce(rc_, "pf", 4, batch.data(), batch.size(), 1, &pr), 0) << pr.grpc_message;
    EXPECT_EQ(pr.error_code, kWireUnknownPartition);
    ASSERT_EQ(rc_produce(rc_, "pf", -1, batch.data(), batch.size(), 1, &pr), 0) << pr.grpc_message;
    EXPECT_EQ(pr.error_code, kWireUnknownPartition);

    auto bad = batch;
    bad[bad.size() - 2] ^= 0x5a; // a value byte: only the CRC can tell
    ASSERT_EQ(rc_produce(rc_, "pf", 0, bad.data(), bad.size(), -1, &pr), 0) << pr.grpc_message;
    EXPECT_EQ(pr.error_code, kWireCorrupt) << pr.error_message;

    auto junk = batch;
    junk[16] = 1; // magic 1
    ASSERT_EQ(rc_produce(rc_, "pf", 0, junk.data(), junk.size(), 1, &pr), 0) << pr.grpc_message;
    EXPECT_NE(pr.error_code, 0);
    ASSERT_EQ(rc_produce(rc_, "pf", 0, batch.data(), 20, 1, &pr), 0) << pr.grpc_message;
    EXPECT_NE(pr.error_code, 0) << "a truncated batch was accepted";

    // Nothing bad was stored: the next good batch gets offset 0.
    EXPECT_EQ(ProduceOk(rc_, "pf", 0, batch), 0);
}

TEST_F(ProduceFetchTest, OversizedBatchIsRefusedAndTheBrokerKeepsServing)
{
    // > max.message.bytes (default 1 MiB), well under the 16 MiB request cap.
    auto big = MakeBatch(1200, 1000, rc_now_ms(), 11);
    ASSERT_GT(big.size(), 1u << 20);
    rc_produce_result_t pr;
    ASSERT_EQ(rc_produce(rc_, "pf", 1, big.data(), big.size(), 1, &pr), 0) << pr.grpc_message;
    EXPECT_EQ(pr.error_code, kWireTooLarge) << pr.error_message;
    auto ok = MakeBatch(10, 100, rc_now_ms(), 12);
    EXPECT_EQ(ProduceOk(rc_, "pf", 1, ok), 0);
    auto got = FetchAll(rc_, "pf", 1);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_TRUE(SameBatch(got[0].bytes, ok, 0));
}

TEST_F(ProduceFetchTest, DataAndTopicsSurviveARestart)
{
    std::vector<std::vector<uint8_t>> batches;
    int64_t off = 0;
    for (int i = 0; i < 4; i++) {
        batches.push_back(MakeBatch(7, 64, rc_now_ms(), 400 + i));
        EXPECT_EQ(ProduceOk(rc_, "pf", 3, batches.back(), i % 2 ? 1 : -1), off);
        off += 7;
    }
    for (auto *c : clients_)
        rc_close(c);
    clients_.clear();
    ASSERT_EQ(broker_.Stop(), 0) << "SIGTERM did not exit cleanly";
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    rc_ = Connect();
    ASSERT_NE(rc_, nullptr);

    int st;
    const char *ask[] = {"pf"};
    auto *md = (Mq__V1__MetadataResponse *)rc_metadata(rc_, ask, 1, &st);
    ASSERT_NE(md, nullptr) << "grpc-status " << st;
    ASSERT_EQ(md->n_topics, 1u);
    EXPECT_EQ(md->topics[0]->error_code, 0);
    EXPECT_EQ(md->topics[0]->n_partitions, 4u);
    mq__v1__metadata_response__free_unpacked(md, nullptr);

    auto got = FetchAll(rc_, "pf", 3);
    ASSERT_EQ(got.size(), batches.size());
    for (size_t i = 0; i < got.size(); i++)
        EXPECT_TRUE(SameBatch(got[i].bytes, batches[i], (int64_t)i * 7));
    EXPECT_EQ(ProduceOk(rc_, "pf", 3, MakeBatch(1, 1, rc_now_ms(), 9)), off);
}

} // namespace
