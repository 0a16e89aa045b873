// ctest-label: chaos
// A broker kill -9 and restart while an idempotent producer sends over
// mTLS: the client reconnects (new TLS handshake) to the restarted broker on
// the same port, every message gets exactly one successful report, and the
// log holds each message exactly once.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "tls_test_util.h"

extern "C" {
#include "mqclient.h"
}

namespace
{

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

class ProducerTlsChaosTest : public BrokerTestBase
{
};

TEST_F(ProducerTlsChaosTest, KillAndRestartOverMutualTls)
{
    ASSERT_FALSE(TestCerts().empty());
    std::vector<std::string> args = TlsBrokerArgs();
    args.push_back("--listen");
    args.push_back("127.0.0.1:" + std::to_string(free_port()));
    ASSERT_NO_FATAL_FAILURE(StartBroker(args));
    AdminReply r = AdminTls(broker_.admin_addr(), "POST", "/api/v1/topics",
                            "{\"name\":\"chaos\",\"partitions\":2}", "client");
    ASSERT_EQ(r.status, 201) << r.body;

    mq_conf_t *c = mq_conf_new();
    char err[512];
    std::vector<std::pair<std::string, std::string>> kv = {
        {"bootstrap.servers", broker_.client_addr()},
        {"security.protocol", "ssl"},
        {"ssl.ca.location", Cert("ca.pem")},
        {"ssl.certificate.location", Cert("client.pem")},
        {"ssl.key.location", Cert("client.key")},
        {"reconnect.backoff.ms", "20"},
        {"reconnect.backoff.max.ms", "200"},
        {"linger.ms", "2"}};
    for (auto &p : kv)
        ASSERT_EQ(mq_conf_set(c, p.first.c_str(), p.second.c_str(), err, sizeof err), MQ_OK) << err;
    mq_producer_t *p = nullptr;
    ASSERT_EQ(mq_producer_new(c, &p, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(c);

    const int n = 3000;
    std::vector<int> ok(n, 0);
    int reports = 0, failed = 0;
    auto drain = [&](int ms) {
        int64_t end = rc_now_ms() + ms;
        while (rc_now_ms() < end && reports < n) {
            mq_event_t *ev;
            if (mq_producer_poll(p, 10, &ev) != MQ_OK)
                continue;
            if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
                reports++;
                size_t i = (size_t)(uintptr_t)mq_event_opaque(ev);
                if (mq_event_error(ev) == MQ_OK && i < ok.size())
                    ok[i]++;
                else
                    failed++;
            }
            mq_event_destroy(ev);
        }
    };
    for (int i = 0; i < n; i++) {
        std::string v = "m" + std::to_string(i);
        ASSERT_EQ(mq_produce(p, "chaos", MQ_PARTITION_ANY, nullptr, 0, v.data(), v.size(), nullptr,
                             0, 0, (void *)(uintptr_t)i, MQ_PRODUCE_BLOCK),
                  MQ_OK);
        if (i % 100 == 99)
            drain(5);
        if (i == n / 2) {
            ASSERT_EQ(broker_.Kill(), 0);
            drain(200); /* the client notices and backs off */
            ASSERT_TRUE(broker_.Restart()) << broker_.error();
        }
    }
    drain(60000);
    EXPECT_EQ(reports, n);
    EXPECT_EQ(failed, 0);
    for (int i = 0; i < n; i++)
        ASSERT_EQ(ok[i], 1) << "message " << i;
    mq_producer_destroy(p);

    // Exactly once in the log.
    char e[256] = "";
    rawclient_t *rc =
        rc_connect_tls(broker_.host(), broker_.port(), Cert("ca.pem").c_str(),
                       Cert("client.pem").c_str(), Cert("client.key").c_str(), e, sizeof e);
    ASSERT_NE(rc, nullptr) << e;
    clients_.push_back(rc);
    int64_t records = 0;
    for (int part = 0; part < 2; part++) {
        int64_t offset = 0;
        for (;;) {
            rc_fetch_result_t fr;
            ASSERT_EQ(rc_fetch(rc, "chaos", part, offset, 0, 0, 1 << 20, &fr), 0);
            if (fr.error_code != 0 || fr.records_len == 0) {
                rc_fetch_result_free(&fr);
                break;
            }
            for (auto &b : SplitBatches(fr.records, fr.records_len)) {
                records += b.record_count;
                offset = b.base_offset + b.record_count;
            }
            rc_fetch_result_free(&fr);
        }
    }
    EXPECT_EQ(records, n) << "idempotence: no duplicates after the restart";
}

} // namespace
