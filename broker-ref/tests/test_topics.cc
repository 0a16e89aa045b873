// Topic registry: name rules, publish/lookup/unpublish, name order,
// reference counting and the wait a delete does for references to drop.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "topics.h"
}

namespace
{

log_config_t some_config()
{
    log_config_t lc = {};
    lc.segment_bytes = 1 << 20;
    lc.retention_ms = -1;
    lc.retention_bytes = -1;
    lc.max_message_bytes = 1 << 20;
    return lc;
}

topic_t *make(const char *name, int32_t parts = 1)
{
    log_config_t lc = some_config();
    return topic_new(name, parts, &lc, "{}", 1234);
}

// Removes whatever a test left in the (process-wide) registry.
void clear_registry()
{
    std::vector<std::string> names;
    topics_foreach(
        [](topic_t *t, void *arg) { ((std::vector<std::string> *)arg)->push_back(t->name); },
        &names);
    for (auto &n : names)
        topic_release(topics_unpublish(n.c_str()));
}

struct Topics : ::testing::Test {
    void TearDown() override
    {
        clear_registry();
    }
};

TEST(TopicName, AcceptsTheAllowedCharacters)
{
    EXPECT_EQ(topics_validate_name("orders"), MQ_OK);
    EXPECT_EQ(topics_validate_name("a"), MQ_OK);
    EXPECT_EQ(topics_validate_name("Orders.v2_eu-west"), MQ_OK);
    EXPECT_EQ(topics_validate_name("..."), MQ_OK);
    EXPECT_EQ(topics_validate_name(std::string(249, 'x').c_str()), MQ_OK);
}

TEST(TopicName, RejectsBadNames)
{
    EXPECT_EQ(topics_validate_name(nullptr), MQ_ERR_INVALID_TOPIC);
    EXPECT_EQ(topics_validate_name(""), MQ_ERR_INVALID_TOPIC);
    EXPECT_EQ(topics_validate_name("."), MQ_ERR_INVALID_TOPIC);
    EXPECT_EQ(topics_validate_name(".."), MQ_ERR_INVALID_TOPIC);
    EXPECT_EQ(topics_validate_name(std::string(250, 'x').c_str()), MQ_ERR_INVALID_TOPIC);
    for (const char *bad : {"a/b", "a b", "a\\b", "caf\xc3\xa9", "a:b", "a\nb", "a*", "%41"})
        EXPECT_EQ(topics_validate_name(bad), MQ_ERR_INVALID_TOPIC) << bad;
}

TEST_F(Topics, PublishGetUnpublish)
{
    EXPECT_EQ(topics_get("t1"), nullptr);
    topic_t *t = make("t1", 3);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->partition_count, 3);
    EXPECT_EQ(t->created_ms, 1234);
    ASSERT_EQ(topics_publish(t), MQ_OK);
    EXPECT_EQ(topics_count(), 1);
    EXPECT_EQ(topics_partition_total(), 3);

    topic_t *dup = make("t1");
    EXPECT_EQ(topics_publish(dup), MQ_ERR_TOPIC_EXISTS);
    topic_release(dup);

    topic_t *got = topics_get("t1");
    ASSERT_EQ(got, t);
    EXPECT_EQ(__atomic_load_n(&got->refs, __ATOMIC_SEQ_CST), 2);
    topic_release(got);

    topic_t *gone = topics_unpublish("t1");
    ASSERT_EQ(gone, t);
    EXPECT_TRUE(gone->deleting);
    EXPECT_EQ(topics_get("t1"), nullptr);
    EXPECT_EQ(topics_unpublish("t1"), nullptr);
    EXPECT_EQ(topics_count(), 0);
    topic_release(gone);
}

TEST_F(Topics, ForeachVisitsInNameOrder)
{
    for (const char *n : {"m", "b", "z", "a", "k"})
        ASSERT_EQ(topics_publish(make(n)), MQ_OK);
    std::vector<std::string> seen;
    topics_foreach(
        [](topic_t *t, void *arg) { ((std::vector<std::string> *)arg)->push_back(t->name); },
        &seen);
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "k", "m", "z"}));
}

TEST_F(Topics, ManyTopicsStaySorted)
{
    const int n = 500;
    for (int i = n - 1; i >= 0; i--) {
        char name[32];
        snprintf(name, sizeof(name), "topic-%04d", i);
        ASSERT_EQ(topics_publish(make(name)), MQ_OK);
    }
    EXPECT_EQ(topics_count(), n);
    for (int i = 0; i < n; i += 37) {
        char name[32];
        snprintf(name, sizeof(name), "topic-%04d", i);
        topic_t *t = topics_get(name);
        ASSERT_NE(t, nullptr) << name;
        EXPECT_STREQ(t->name, name);
        topic_release(t);
    }
}

TEST_F(Topics, ConfigSnapshotAndReplace)
{
    topic_t *t = make("cfg");
    log_config_t lc = some_config();
    lc.retention_ms = 5000;
    topic_set_config(t, &lc, strdup("{\"retention.ms\":\"5000\"}"));
    log_config_t got;
    char *json = nullptr;
    topic_get_config(t, &got, &json);
    EXPECT_EQ(got.retention_ms, 5000);
    EXPECT_STREQ(json, "{\"retention.ms\":\"5000\"}");
    free(json);
    topic_release(t);
}

TEST_F(Topics, WaitForSoleReferenceTimesOutWhileHeld)
{
    ASSERT_EQ(topics_publish(make("busy")), MQ_OK);
    topic_t *held = topics_get("busy");
    topic_t *t = topics_unpublish("busy");
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(topic_wait_sole_ref(t, 100), -1);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(90));
    topic_release(held);
    EXPECT_EQ(topic_wait_sole_ref(t, 100), 0);
    topic_release(t);
}

TEST_F(Topics, WaitForSoleReferenceWakesOnRelease)
{
    ASSERT_EQ(topics_publish(make("busy2")), MQ_OK);
    topic_t *held = topics_get("busy2");
    topic_t *t = topics_unpublish("busy2");
    std::thread releaser([held] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        topic_release(held);
    });
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(topic_wait_sole_ref(t, 10000), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    releaser.join();
    topic_release(t);
}

TEST_F(Topics, ConcurrentLookupsWhileTopicsChange)
{
    // Readers take and drop references while this thread publishes and
    // unpublishes; every reference taken must be to a live topic.
    std::atomic<bool> stop{false};
    std::atomic<long> hits{0};
    std::vector<std::thread> readers;
    for (int r = 0; r < 2; r++)
        readers.emplace_back([&] {
            while (!stop) {
                topic_t *t = topics_get("churn");
                if (t) {
                    EXPECT_STREQ(t->name, "churn");
                    hits++;
                    topic_release(t);
                }
            }
        });
    for (int i = 0; i < 2000; i++) {
        ASSERT_EQ(topics_publish(make("churn")), MQ_OK);
        topic_t *t = topics_unpublish("churn");
        ASSERT_NE(t, nullptr);
        ASSERT_EQ(topic_wait_sole_ref(t, 5000), 0);
        topic_release(t);
    }
    stop = true;
    for (auto &th : readers)
        th.join();
    EXPECT_EQ(topics_get("churn"), nullptr);
}

} // namespace
