// The in-place ProduceRequest decoder against protobuf-c's encoder.
#include <gtest/gtest.h>

#include <stdlib.h>
#include <string.h>

#include <string>
#include <vector>

extern "C" {
#include "call.h"
#include "mq/v1/broker.pb-c.h"
}

namespace
{

std::vector<uint8_t> Pack(int acks, int timeout_ms,
                          const std::vector<std::pair<std::string, std::string>> &batches,
                          const std::vector<int> &partitions)
{
    Mq__V1__ProduceRequest req = MQ__V1__PRODUCE_REQUEST__INIT;
    req.acks = acks;
    req.timeout_ms = timeout_ms;
    std::vector<Mq__V1__PartitionBatch> pb(batches.size());
    std::vector<Mq__V1__PartitionBatch *> ptrs;
    for (size_t i = 0; i < batches.size(); i++) {
        mq__v1__partition_batch__init(&pb[i]);
        pb[i].topic = (char *)batches[i].first.c_str();
        pb[i].partition = partitions[i];
        pb[i].records.data = (uint8_t *)batches[i].second.data();
        pb[i].records.len = batches[i].second.size();
        ptrs.push_back(&pb[i]);
    }
    req.n_batches = ptrs.size();
    req.batches = ptrs.data();
    std::vector<uint8_t> out(mq__v1__produce_request__get_packed_size(&req));
    mq__v1__produce_request__pack(&req, out.data());
    return out;
}

} // namespace

TEST(ProduceDecode, MatchesProtobufC)
{
    auto msg =
        Pack(-1, 1500, {{"orders", std::string("\x01\x02\x03", 3)}, {"a.b-c_d", "xyz"}}, {7, 0});
    produce_req_t r;
    ASSERT_EQ(produce_req_decode(msg.data(), msg.size(), &r), MQ_OK);
    EXPECT_EQ(r.acks, -1);
    EXPECT_EQ(r.timeout_ms, 1500);
    ASSERT_EQ(r.n_batches, 2u);
    EXPECT_STREQ(r.batches[0].topic, "orders");
    EXPECT_EQ(r.batches[0].partition, 7);
    ASSERT_EQ(r.batches[0].len, 3u);
    EXPECT_EQ(0, memcmp(r.batches[0].records, "\x01\x02\x03", 3));
    // Records point into the message: no copy.
    EXPECT_GE(r.batches[0].records, msg.data());
    EXPECT_LT(r.batches[0].records, msg.data() + msg.size());
    EXPECT_STREQ(r.batches[1].topic, "a.b-c_d");
    EXPECT_EQ(r.batches[1].partition, 0);
    produce_req_free(&r);
}

TEST(ProduceDecode, NegativeValuesAndEmpty)
{
    auto msg = Pack(0, -5, {{"t", ""}}, {-3});
    produce_req_t r;
    ASSERT_EQ(produce_req_decode(msg.data(), msg.size(), &r), MQ_OK);
    EXPECT_EQ(r.acks, 0);
    EXPECT_EQ(r.timeout_ms, -5);
    ASSERT_EQ(r.n_batches, 1u);
    EXPECT_EQ(r.batches[0].partition, -3);
    EXPECT_EQ(r.batches[0].len, 0u);
    produce_req_free(&r);
    ASSERT_EQ(produce_req_decode(nullptr, 0, &r), MQ_OK);
    EXPECT_EQ(r.n_batches, 0u);
    produce_req_free(&r);
}

TEST(ProduceDecode, UnknownFieldsAreSkipped)
{
    auto msg = Pack(1, 0, {{"t", "r"}}, {1});
    // Append field 9 of every wire type protobuf allows here.
    const uint8_t extra[] = {
        9 << 3 | 0,  0x96, 0x01,                     // varint
        10 << 3 | 1, 1,    2,    3,   4, 5, 6, 7, 8, // fixed64
        11 << 3 | 2, 2,    'h',  'i',                // bytes
        12 << 3 | 5, 1,    2,    3,   4,             // fixed32
    };
    msg.insert(msg.end(), extra, extra + sizeof extra);
    produce_req_t r;
    ASSERT_EQ(produce_req_decode(msg.data(), msg.size(), &r), MQ_OK);
    EXPECT_EQ(r.acks, 1);
    EXPECT_EQ(r.n_batches, 1u);
    produce_req_free(&r);
}

TEST(ProduceDecode, EveryTruncationIsRefusedOrConsistent)
{
    auto msg = Pack(1, 100, {{"topic", std::string(300, 'x')}, {"t2", "yy"}}, {1, 2});
    for (size_t n = 0; n < msg.size(); n++) {
        std::vector<uint8_t> cut(msg.begin(), msg.begin() + (long)n);
        produce_req_t r;
        mq_err_t err = produce_req_decode(cut.data(), cut.size(), &r);
        // protobuf-c must agree on whether the prefix parses.
        Mq__V1__ProduceRequest *pc = mq__v1__produce_request__unpack(nullptr, n, cut.data());
        EXPECT_EQ(err == MQ_OK, pc != nullptr) << "cut at " << n;
        if (pc) {
            EXPECT_EQ(r.n_batches, pc->n_batches) << "cut at " << n;
            mq__v1__produce_request__free_unpacked(pc, nullptr);
        }
        if (err == MQ_OK)
            produce_req_free(&r);
    }
}

TEST(ProduceDecode, MalformedInputs)
{
    produce_req_t r;
    // Field number 0.
    uint8_t zero[] = {0x00, 0x01};
    EXPECT_EQ(produce_req_decode(zero, sizeof zero, &r), MQ_ERR_PROTOCOL);
    // Group wire type.
    uint8_t group[] = {5 << 3 | 3};
    EXPECT_EQ(produce_req_decode(group, sizeof group, &r), MQ_ERR_PROTOCOL);
    // Length past the end.
    uint8_t len[] = {3 << 3 | 2, 0x10, 0x0a};
    EXPECT_EQ(produce_req_decode(len, sizeof len, &r), MQ_ERR_PROTOCOL);
    // An 11-byte varint.
    uint8_t v[] = {1 << 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    EXPECT_EQ(produce_req_decode(v, sizeof v, &r), MQ_ERR_PROTOCOL);
    // A NUL inside a topic name.
    uint8_t nul[] = {3 << 3 | 2, 4, 1 << 3 | 2, 2, 'a', 0};
    EXPECT_EQ(produce_req_decode(nul, sizeof nul, &r), MQ_ERR_PROTOCOL);
}
