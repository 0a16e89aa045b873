// Metrics: counters recorded from several threads add up exactly, method
// names from clients cannot inject text, histograms are cumulative, and the
// rendering is Prometheus text with HELP/TYPE for every family.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include "metrics.h"
#include "topics.h"
}

namespace
{

std::string Render()
{
    size_t len = 0;
    char *text = metrics_render(&len);
    EXPECT_NE(text, nullptr);
    std::string s(text ? text : "", len);
    free(text);
    EXPECT_EQ(strlen(s.c_str()), len);
    return s;
}

// The value of the sample line that starts with `key ` (exact series).
double Value(const std::string &text, const std::string &key)
{
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.compare(0, key.size() + 1, key + " ") == 0)
            return strtod(line.c_str() + key.size() + 1, nullptr);
    return -1;
}

// Produce series are shown only for topics in the registry.
void Publish(const char *name, int32_t parts)
{
    log_config_t lc = {};
    ASSERT_EQ(topics_publish(topic_new(name, parts, &lc, "{}", 0)), MQ_OK);
}

void Unpublish(const char *name)
{
    topic_release(topics_unpublish(name));
}

TEST(Metrics, CountersFromManyThreadsAddUp)
{
    Publish("mt", 2);
    const int threads = 4, per = 20000;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; t++)
        ts.emplace_back([t] {
            for (int i = 0; i < per; i++) {
                metrics_rpc("/mq.v1.Broker/Produce", 0, 300, 100, 10);
                metrics_produced("mt", t % 2, 5, 500);
                metrics_fetched(7);
            }
        });
    for (auto &t : ts)
        t.join();
    std::string s = Render();
    EXPECT_EQ(Value(s, "mq_rpc_requests_total{method=\"Produce\",grpc_code=\"OK\"}"),
              threads * per);
    EXPECT_EQ(Value(s, "mq_rpc_received_bytes_total{method=\"Produce\"}"), 100.0 * threads * per);
    EXPECT_EQ(Value(s, "mq_rpc_sent_bytes_total{method=\"Produce\"}"), 10.0 * threads * per);
    EXPECT_EQ(Value(s, "mq_produced_records_total{topic=\"mt\",partition=\"0\"}"),
              5.0 * threads / 2 * per);
    EXPECT_EQ(Value(s, "mq_produced_bytes_total{topic=\"mt\",partition=\"1\"}"),
              500.0 * threads / 2 * per);
    EXPECT_EQ(Value(s, "mq_fetched_bytes_total"), 7.0 * threads * per);
    // 300 us lands in the 0.0005 bucket and above, not in 0.00025.
    EXPECT_EQ(Value(s, "mq_rpc_duration_seconds_bucket{method=\"Produce\",le=\"0.00025\"}"), 0);
    EXPECT_EQ(Value(s, "mq_rpc_duration_seconds_bucket{method=\"Produce\",le=\"0.0005\"}"),
              threads * per);
    EXPECT_EQ(Value(s, "mq_rpc_duration_seconds_bucket{method=\"Produce\",le=\"+Inf\"}"),
              threads * per);
    EXPECT_EQ(Value(s, "mq_rpc_duration_seconds_count{method=\"Produce\"}"), threads * per);
    EXPECT_NEAR(Value(s, "mq_rpc_duration_seconds_sum{method=\"Produce\"}"), 0.0003 * threads * per,
                1e-3);
    Unpublish("mt");
}

TEST(Metrics, DeletedTopicsLeaveAndComeBackFromZero)
{
    Publish("gone", 1);
    metrics_produced("gone", 0, 3, 30);
    metrics_produced("gone", 5, 3, 30); // no such partition: counted, not shown
    std::string s = Render();
    EXPECT_EQ(Value(s, "mq_produced_records_total{topic=\"gone\",partition=\"0\"}"), 3);
    EXPECT_EQ(s.find("topic=\"gone\",partition=\"5\""), std::string::npos);
    Unpublish("gone");
    metrics_forget_topic("gone");
    s = Render();
    EXPECT_EQ(s.find("topic=\"gone\""), std::string::npos);
    Publish("gone", 1);
    metrics_produced("gone", 0, 1, 10);
    s = Render();
    EXPECT_EQ(Value(s, "mq_produced_records_total{topic=\"gone\",partition=\"0\"}"), 1);
    EXPECT_EQ(Value(s, "mq_produced_bytes_total{topic=\"gone\",partition=\"0\"}"), 10);
    Unpublish("gone");
}

TEST(Metrics, StatusesConnectionsAndAdmin)
{
    metrics_rpc("Fetch", 5, 20000000, 1, 1); // NOT_FOUND, slower than the last bucket
    metrics_rpc("Fetch", 99, 1, 1, 1);       // not a gRPC status
    metrics_connection(1);
    metrics_connection(1);
    metrics_connection(-1);
    metrics_admin_request(404, 1000);
    std::string s = Render();
    EXPECT_EQ(Value(s, "mq_rpc_requests_total{method=\"Fetch\",grpc_code=\"NOT_FOUND\"}"), 1);
    EXPECT_EQ(Value(s, "mq_rpc_requests_total{method=\"Fetch\",grpc_code=\"OTHER\"}"), 1);
    EXPECT_EQ(Value(s, "mq_rpc_duration_seconds_bucket{method=\"Fetch\",le=\"10\"}"), 1);
    EXPECT_EQ(Value(s, "mq_rpc_duration_seconds_bucket{method=\"Fetch\",le=\"+Inf\"}"), 2);
    EXPECT_EQ(Value(s, "mq_connections"), 1);
    EXPECT_EQ(Value(s, "mq_connections_opened_total"), 2);
    EXPECT_EQ(Value(s, "mq_admin_requests_total{code=\"404\"}"), 1);
    EXPECT_GE(Value(s, "mq_uptime_seconds"), 0);
    EXPECT_GE(metrics_uptime_seconds(), 0);
}

TEST(Metrics, HostileMethodNamesAreFoldedIntoOther)
{
    metrics_rpc("/mq.v1.Broker/Evil\"} 1\nmq_fake 1", 12, 1, 0, 0);
    metrics_rpc(nullptr, 12, 1, 0, 0);
    metrics_rpc(std::string(200, 'A').c_str(), 12, 1, 0, 0);
    std::string s = Render();
    EXPECT_EQ(s.find("mq_fake"), std::string::npos);
    EXPECT_EQ(Value(s, "mq_rpc_requests_total{method=\"other\",grpc_code=\"UNIMPLEMENTED\"}"), 3);
}

TEST(Metrics, EveryFamilyHasHelpAndType)
{
    std::string s = Render();
    std::istringstream in(s);
    std::string line, help, type;
    int samples = 0;
    while (std::getline(in, line)) {
        ASSERT_FALSE(line.empty());
        if (line.rfind("# HELP ", 0) == 0) {
            help = line.substr(7, line.find(' ', 7) - 7);
            continue;
        }
        if (line.rfind("# TYPE ", 0) == 0) {
            type = line.substr(7, line.find(' ', 7) - 7);
            EXPECT_EQ(type, help) << "TYPE without its HELP: " << line;
            continue;
        }
        samples++;
        std::string name = line.substr(0, line.find_first_of("{ "));
        EXPECT_EQ(name.compare(0, type.size(), type), 0) << line << " outside family " << type;
        EXPECT_NE(line.find(' '), std::string::npos) << line;
    }
    EXPECT_GT(samples, 10);
    EXPECT_NE(s.find("# TYPE mq_partition_size_bytes gauge"), std::string::npos);
    EXPECT_NE(s.find("# TYPE mq_rpc_duration_seconds histogram"), std::string::npos);
}

} // namespace
