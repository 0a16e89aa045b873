// Partitioner: murmur2 against Kafka's own vectors (shared with other
// languages via vectors/murmur2.json), key placement, sticky behaviour.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

extern "C" {
#include "mqclient.h"
#include "producer/partitioner.h"
}

namespace
{

struct Vector {
    std::string key;
    int32_t murmur2;
    int32_t partitions;
    int32_t partition;
};

// Reads vectors/murmur2.json: a flat list of objects with fields in the
// order key, murmur2, partitions, partition. Parsed by hand so the test
// needs no JSON library (keys hold no escapes).
std::string field_after(const std::string &text, size_t &pos, const std::string &name)
{
    size_t at = text.find("\"" + name + "\":", pos);
    if (at == std::string::npos)
        return "0";
    at += name.size() + 3;
    while (text[at] == ' ')
        at++;
    size_t end;
    if (text[at] == '"') {
        end = text.find('"', at + 1);
        pos = end + 1;
        return text.substr(at + 1, end - at - 1);
    }
    end = text.find_first_of(",}", at);
    pos = end;
    return text.substr(at, end - at);
}

std::vector<Vector> load_vectors()
{
    std::ifstream in(MQ_SOURCE_DIR "/sdk/c/tests/vectors/murmur2.json");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    std::vector<Vector> out;
    size_t pos = text.find("\"vectors\"");
    while (pos != std::string::npos && text.find("\"key\":", pos) != std::string::npos) {
        Vector v;
        v.key = field_after(text, pos, "key");
        v.murmur2 = (int32_t)std::stol(field_after(text, pos, "murmur2"));
        v.partitions = (int32_t)std::stoi(field_after(text, pos, "partitions"));
        v.partition = (int32_t)std::stoi(field_after(text, pos, "partition"));
        out.push_back(v);
    }
    return out;
}

} // namespace

TEST(Partitioner, KafkaUtilsTestVectors)
{
    // Straight from Kafka's UtilsTest.testMurmur2.
    EXPECT_EQ(mq__murmur2("21", 2), -973932308);
    EXPECT_EQ(mq__murmur2("foobar", 6), -790332482);
    EXPECT_EQ(mq__murmur2("a-little-bit-long-string", 24), -985981536);
    EXPECT_EQ(mq__murmur2("a-little-bit-longer-string", 26), -1486304829);
    EXPECT_EQ(mq__murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48), -58897971);
    EXPECT_EQ(mq__murmur2("abc", 3), 479470107);
}

TEST(Partitioner, SharedVectorFile)
{
    auto vectors = load_vectors();
    ASSERT_GE(vectors.size(), 20u);
    for (const auto &v : vectors) {
        EXPECT_EQ(mq__murmur2(v.key.data(), v.key.size()), v.murmur2) << v.key;
        EXPECT_EQ(mq__partition_for_key(v.key.data(), v.key.size(), v.partitions), v.partition)
            << v.key;
    }
}

TEST(Partitioner, NegativeHashIsMaskedNotNegated)
{
    // murmur2("21") is negative: Kafka masks the sign bit (abs() would differ).
    uint32_t masked = (uint32_t)-973932308 & 0x7fffffffu;
    EXPECT_EQ(mq__partition_for_key("21", 2, 7), (int32_t)(masked % 7));
    EXPECT_NE((uint32_t)973932308 % 7, masked % 7);
}

TEST(Partitioner, EmptyKeyHashes)
{
    // An empty (non-NULL) key is a key: it hashes, it is not sticky.
    mq_sticky_t s;
    mq__sticky_init(&s, 1);
    int32_t want = mq__partition_for_key("", 0, 16);
    for (int i = 0; i < 10; i++)
        EXPECT_EQ(mq__partition_choose(&s, MQ_PARTITION_ANY, "", 0, 16), want);
}

TEST(Partitioner, ExplicitPartitionWins)
{
    mq_sticky_t s;
    mq__sticky_init(&s, 1);
    EXPECT_EQ(mq__partition_choose(&s, 3, "key", 3, 4), 3);
    EXPECT_EQ(mq__partition_choose(&s, 0, NULL, 0, 4), 0);
    EXPECT_EQ(mq__partition_choose(&s, 4, "key", 3, 4), -1);
    EXPECT_EQ(mq__partition_choose(&s, -2, NULL, 0, 4), -1);
}

TEST(Partitioner, StickyUntilBatchSealed)
{
    mq_sticky_t s;
    mq__sticky_init(&s, 42);
    std::set<int32_t> seen;
    for (int round = 0; round < 200; round++) {
        int32_t p = mq__partition_choose(&s, MQ_PARTITION_ANY, NULL, 0, 4);
        ASSERT_GE(p, 0);
        ASSERT_LT(p, 4);
        for (int i = 0; i < 50; i++)
            ASSERT_EQ(mq__partition_choose(&s, MQ_PARTITION_ANY, NULL, 0, 4), p);
        // A batch sealed elsewhere does not move it.
        mq__sticky_batch_sealed(&s, (p + 1) % 4, 4);
        ASSERT_EQ(mq__sticky_partition(&s, 4), p);
        mq__sticky_batch_sealed(&s, p, 4);
        int32_t next = mq__sticky_partition(&s, 4);
        ASSERT_NE(next, p) << "sticky partition must change after its batch is sealed";
        seen.insert(next);
    }
    EXPECT_EQ(seen.size(), 4u);
}

TEST(Partitioner, SinglePartitionAndShrink)
{
    mq_sticky_t s;
    mq__sticky_init(&s, 7);
    EXPECT_EQ(mq__sticky_partition(&s, 1), 0);
    mq__sticky_batch_sealed(&s, 0, 1);
    EXPECT_EQ(mq__sticky_partition(&s, 1), 0);
    mq__sticky_init(&s, 7);
    int32_t p = mq__sticky_partition(&s, 100);
    int32_t q = mq__sticky_partition(&s, p); // fewer partitions than p+1: re-pick in range
    if (p > 0) {
        EXPECT_GE(q, 0);
        EXPECT_LT(q, p);
    }
}
