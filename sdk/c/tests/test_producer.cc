// Producer behaviour that needs no broker: argument checks, size limits,
// every message reported when the broker is down (timeout, close), error
// events, the poll fd. Broker-backed tests live in tests/integration.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>

extern "C" {
#include "mqclient.h"
}

namespace
{

// A loopback port with nothing listening: bind, read the port, close.
std::string dead_broker()
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (sockaddr *)&a, sizeof(a));
    socklen_t l = sizeof(a);
    getsockname(fd, (sockaddr *)&a, &l);
    close(fd);
    return "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
}

mq_producer_t *make(std::vector<std::pair<const char *, std::string>> kv)
{
    mq_conf_t *c = mq_conf_new();
    for (auto &p : kv)
        EXPECT_EQ(mq_conf_set(c, p.first, p.second.c_str(), NULL, 0), MQ_OK) << p.first;
    mq_producer_t *p = nullptr;
    char err[256];
    EXPECT_EQ(mq_producer_new(c, &p, err, sizeof(err)), MQ_OK) << err;
    mq_conf_destroy(c);
    return p;
}

} // namespace

TEST(Producer, NewChecksConfig)
{
    mq_conf_t *c = mq_conf_new();
    mq_producer_t *p = (mq_producer_t *)1;
    char err[256];
    EXPECT_EQ(mq_producer_new(c, NULL, err, sizeof(err)), MQ_ERR_INVALID_ARG);
    ASSERT_EQ(mq_conf_set(c, "bootstrap.servers", "nohostport", NULL, 0), MQ_OK);
    EXPECT_EQ(mq_producer_new(c, &p, err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(p, nullptr);
    EXPECT_NE(std::string(err).find("bootstrap.servers"), std::string::npos) << err;
    ASSERT_EQ(mq_conf_set(c, "bootstrap.servers", "127.0.0.1:1", NULL, 0), MQ_OK);
    ASSERT_EQ(mq_conf_set(c, "acks", "leader", NULL, 0), MQ_OK);
    EXPECT_EQ(mq_producer_new(c, &p, err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("enable.idempotence"), std::string::npos) << err;
    mq_conf_destroy(c);
}

TEST(Producer, ProduceRejectsBadArguments)
{
    mq_producer_t *p = make({{"bootstrap.servers", dead_broker()}, {"message.max.bytes", "1000"}});
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(mq_produce(NULL, "t", -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_produce(p, NULL, -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_produce(p, "", -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_produce(p, "t", -2, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 3, "v", 1, NULL, 0, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, NULL, 1, NULL, 0, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, "v", 1, NULL, 2, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0x80), MQ_ERR_INVALID_ARG);
    mq_msg_header_t bad = {NULL, "x", 1};
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, "v", 1, &bad, 1, 0, NULL, 0), MQ_ERR_INVALID_ARG);
    std::string big(1000, 'x');
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, big.data(), big.size(), NULL, 0, 0, NULL, 0),
              MQ_ERR_MESSAGE_TOO_LARGE);
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, big.data(), 900, NULL, 0, 0, NULL, 0), MQ_OK);
    mq_event_t *ev;
    EXPECT_EQ(mq_producer_poll(p, -2, &ev), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_producer_poll(NULL, 0, &ev), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_producer_flush(NULL, 0), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_producer_fd(NULL), MQ_ERR_INVALID_ARG);
    mq_producer_destroy(p);
    mq_producer_destroy(NULL);
}

// Broker down: messages wait, then fail at message.timeout.ms, each with one
// report; the error events say the connection fails; the fd wakes a loop.
TEST(Producer, BrokerDownMessagesTimeOut)
{
    mq_producer_t *p = make({{"bootstrap.servers", dead_broker()},
                             {"message.timeout.ms", "300"},
                             {"reconnect.backoff.ms", "20"},
                             {"reconnect.backoff.max.ms", "50"}});
    ASSERT_NE(p, nullptr);
    const int n = 50;
    mq_msg_header_t h = {"h", "v", 1};
    for (intptr_t i = 0; i < n; i++)
        ASSERT_EQ(mq_produce(p, "t", i % 2 ? 0 : MQ_PARTITION_ANY, "k", 1, "v", 1, &h, 1, 0,
                             (void *)(i + 1), 0),
                  MQ_OK);
    struct pollfd pfd = {mq_producer_fd(p), POLLIN, 0};
    ASSERT_EQ(poll(&pfd, 1, 5000), 1) << "fd must become readable when events arrive";
    std::set<intptr_t> seen;
    int transport_errors = 0;
    while ((int)seen.size() < n) {
        mq_event_t *ev;
        mq_err_t rc = mq_producer_poll(p, 5000, &ev);
        ASSERT_EQ(rc, MQ_OK) << "every message must be reported";
        if (mq_event_type(ev) == MQ_EVENT_CONNECTION) {
            /* No broker: each failed attempt says when the next one comes. */
            EXPECT_EQ(mq_event_conn_state(ev), MQ_CONN_RECONNECTING);
            EXPECT_GE(mq_event_conn_attempt(ev), 1);
            EXPECT_GE(mq_event_conn_delay_ms(ev), 0);
            EXPECT_STRNE(mq_event_broker(ev), "");
        } else if (mq_event_type(ev) == MQ_EVENT_ERROR) {
            EXPECT_EQ(mq_event_error(ev), MQ_ERR_TRANSPORT);
            EXPECT_STRNE(mq_event_error_string(ev), "");
            EXPECT_EQ(mq_event_opaque(ev), nullptr);
            transport_errors++;
        } else {
            ASSERT_EQ(mq_event_type(ev), MQ_EVENT_DELIVERY);
            EXPECT_EQ(mq_event_error(ev), MQ_ERR_MSG_TIMED_OUT);
            EXPECT_EQ(mq_event_persisted(ev), MQ_NOT_PERSISTED);
            EXPECT_STREQ(mq_event_topic(ev), "t");
            EXPECT_EQ(mq_event_offset(ev), -1);
            EXPECT_GT(mq_event_timestamp(ev), 1600000000000LL);
            EXPECT_TRUE(seen.insert((intptr_t)mq_event_opaque(ev)).second) << "reported twice";
        }
        mq_event_destroy(ev);
    }
    EXPECT_GE(transport_errors, 2) << "reconnects are retried";
    EXPECT_EQ(mq_producer_flush(p, 1000), MQ_OK);
    mq_producer_destroy(p);
}

// close without flush: every message gets a report (MQ_ERR_CLOSED), poll
// then says MQ_ERR_CLOSED, produce is refused.
TEST(Producer, CloseReportsEveryMessage)
{
    mq_producer_t *p = make({{"bootstrap.servers", dead_broker()}});
    ASSERT_NE(p, nullptr);
    const int n = 1000;
    for (intptr_t i = 0; i < n; i++)
        ASSERT_EQ(mq_produce(p, i % 3 ? "a" : "b", MQ_PARTITION_ANY, NULL, 0, "v", 1, NULL, 0, 0,
                             (void *)(i + 1), 0),
                  MQ_OK);
    EXPECT_EQ(mq_producer_flush(p, 50), MQ_ERR_TIMED_OUT);
    EXPECT_EQ(mq_producer_close(p, 50), MQ_ERR_TIMED_OUT);
    EXPECT_EQ(mq_producer_close(p, 50), MQ_OK) << "a second close does nothing";
    EXPECT_EQ(mq_produce(p, "a", -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0), MQ_ERR_CLOSED);
    std::set<intptr_t> seen;
    mq_event_t *ev;
    mq_err_t rc;
    while ((rc = mq_producer_poll(p, 0, &ev)) == MQ_OK) {
        if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
            EXPECT_EQ(mq_event_error(ev), MQ_ERR_CLOSED);
            EXPECT_TRUE(seen.insert((intptr_t)mq_event_opaque(ev)).second);
        }
        mq_event_destroy(ev);
    }
    EXPECT_EQ(rc, MQ_ERR_CLOSED);
    EXPECT_EQ((int)seen.size(), n);
    mq_producer_destroy(p);
}

TEST(Producer, QueueFullAtOnceAndEventsOutliveProducer)
{
    mq_producer_t *p = make({{"bootstrap.servers", dead_broker()},
                             {"queue.buffering.max.messages", "10"},
                             {"max.block.ms", "50"}});
    ASSERT_NE(p, nullptr);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(mq_produce(p, "t", -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0), MQ_OK);
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, 0), MQ_ERR_QUEUE_FULL);
    EXPECT_EQ(mq_produce(p, "t", -1, NULL, 0, "v", 1, NULL, 0, 0, NULL, MQ_PRODUCE_BLOCK),
              MQ_ERR_QUEUE_FULL);
    mq_producer_close(p, 0);
    mq_event_t *ev = nullptr;
    for (;;) {
        ASSERT_EQ(mq_producer_poll(p, 0, &ev), MQ_OK);
        if (mq_event_type(ev) == MQ_EVENT_DELIVERY)
            break;
        mq_event_destroy(ev);
    }
    mq_producer_destroy(p); // unpolled events are freed; ours stays valid
    EXPECT_EQ(mq_event_error(ev), MQ_ERR_CLOSED);
    EXPECT_STREQ(mq_event_topic(ev), "t");
    mq_event_destroy(ev);
}
