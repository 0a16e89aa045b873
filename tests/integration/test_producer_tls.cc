// libmqclient over TLS against a real mqbroker, with real certificates from
// scripts/dev-certs: produce over mTLS and read the messages back over TLS;
// every refused handshake (no client certificate, another CA, expired,
// revoked, a broker certificate with the wrong SAN) comes out of poll as an
// MQ_ERR_AUTHENTICATION error event naming OpenSSL's reason, again on each
// retry, and the message fails at message.timeout.ms; bad TLS settings fail
// mq_producer_new with a message naming the key.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "tls_test_util.h"

extern "C" {
#include "mqclient.h"
}

namespace
{

std::string ReadFile(const std::string &path)
{
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

using Kv = std::vector<std::pair<std::string, std::string>>;

Kv TlsConf(const std::string &principal)
{
    Kv kv = {{"security.protocol", "ssl"}, {"ssl.ca.location", Cert("ca.pem")}};
    if (!principal.empty()) {
        kv.push_back({"ssl.certificate.location", Cert(principal + ".pem")});
        kv.push_back({"ssl.key.location", Cert(principal + ".key")});
    }
    return kv;
}

class ProducerTlsTest : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_FALSE(TestCerts().empty()) << "scripts/dev-certs failed";
    }

    mq_producer_t *NewProducer(const Kv &kv, std::string *errout = nullptr)
    {
        mq_conf_t *c = mq_conf_new();
        char err[512] = "";
        std::string brokers = broker_.client_addr();
        EXPECT_EQ(mq_conf_set(c, "bootstrap.servers", brokers.c_str(), err, sizeof err), MQ_OK);
        EXPECT_EQ(mq_conf_set(c, "enable.idempotence", "false", err, sizeof err), MQ_OK);
        EXPECT_EQ(mq_conf_set(c, "acks", "leader", err, sizeof err), MQ_OK);
        for (auto &p : kv)
            EXPECT_EQ(mq_conf_set(c, p.first.c_str(), p.second.c_str(), err, sizeof err), MQ_OK)
                << p.first << ": " << err;
        mq_producer_t *p = nullptr;
        mq_err_t rc = mq_producer_new(c, &p, err, sizeof err);
        if (errout)
            *errout = err;
        else
            EXPECT_EQ(rc, MQ_OK) << err;
        mq_conf_destroy(c);
        return p;
    }

    void CreateTopic(const std::string &name, int partitions)
    {
        AdminReply r = AdminTls(broker_.admin_addr(), "POST", "/api/v1/topics",
                                "{\"name\":\"" + name +
                                    "\",\"partitions\":" + std::to_string(partitions) + "}",
                                "client");
        ASSERT_EQ(r.status, 201) << r.error << r.body;
    }

    // Produces n messages and waits for their reports; returns how many
    // succeeded. Error events' texts go to errors (if given).
    int ProduceAll(mq_producer_t *p, const std::string &topic, int n,
                   std::vector<std::pair<mq_err_t, std::string>> *errors = nullptr,
                   mq_err_t *last_report = nullptr, int timeout_ms = 30000)
    {
        for (int i = 0; i < n; i++) {
            std::string v = "tls message " + std::to_string(i);
            EXPECT_EQ(mq_produce(p, topic.c_str(), MQ_PARTITION_ANY, nullptr, 0, v.data(), v.size(),
                                 nullptr, 0, 0, nullptr, 0),
                      MQ_OK);
        }
        int reports = 0, ok = 0;
        int64_t until = rc_now_ms() + timeout_ms;
        while (reports < n && rc_now_ms() < until) {
            mq_event_t *ev;
            if (mq_producer_poll(p, 100, &ev) != MQ_OK)
                continue;
            if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
                reports++;
                ok += mq_event_error(ev) == MQ_OK;
                if (last_report)
                    *last_report = mq_event_error(ev);
            } else if (mq_event_type(ev) == MQ_EVENT_ERROR && errors) {
                errors->push_back({mq_event_error(ev), mq_event_error_string(ev)});
            }
            mq_event_destroy(ev);
        }
        EXPECT_EQ(reports, n) << "every message gets one report";
        return ok;
    }

    // Messages read with libmqclient's consumer over mTLS as principal
    // (partitions 0.. assigned from the beginning), until none come for 2 s.
    int ConsumeAll(const std::string &topic, int partitions, const std::string &principal)
    {
        mq_conf_t *conf = mq_conf_new();
        char err[512];
        Kv kv = TlsConf(principal);
        kv.push_back({"bootstrap.servers", broker_.client_addr()});
        for (auto &p : kv)
            EXPECT_EQ(mq_conf_set(conf, p.first.c_str(), p.second.c_str(), err, sizeof err), MQ_OK)
                << err;
        mq_consumer_t *c = nullptr;
        EXPECT_EQ(mq_consumer_new(conf, &c, err, sizeof err), MQ_OK) << err;
        mq_conf_destroy(conf);
        if (!c)
            return -1;
        std::vector<mq_topic_partition_t> tps;
        for (int i = 0; i < partitions; i++)
            tps.push_back({topic.c_str(), i, 0, MQ_OFFSET_BEGINNING});
        EXPECT_EQ(mq_consumer_assign(c, tps.data(), tps.size()), MQ_OK);
        int got = 0;
        int64_t quiet_until = rc_now_ms() + 5000;
        while (rc_now_ms() < quiet_until) {
            mq_message_t *m = nullptr;
            mq_event_t *ev = nullptr;
            if (mq_consumer_poll(c, 100, &m, &ev) != MQ_OK)
                continue;
            if (m) {
                got++;
                quiet_until = rc_now_ms() + 2000;
                mq_message_destroy(m);
            }
            if (ev) {
                EXPECT_NE(mq_event_type(ev), MQ_EVENT_ERROR) << mq_event_error_string(ev);
                mq_event_destroy(ev);
            }
        }
        mq_consumer_close(c, 5000);
        mq_consumer_destroy(c);
        return got;
    }

    // Records fetched from partition 0.. of topic over TLS as principal.
    int CountRecords(const std::string &topic, int partitions, const std::string &principal)
    {
        char err[256] = "";
        rawclient_t *rc = rc_connect_tls(broker_.host(), broker_.port(), Cert("ca.pem").c_str(),
                                         Cert(principal + ".pem").c_str(),
                                         Cert(principal + ".key").c_str(), err, sizeof err);
        EXPECT_NE(rc, nullptr) << err;
        if (!rc)
            return -1;
        int total = 0;
        for (int part = 0; part < partitions; part++) {
            int64_t offset = 0;
            for (;;) {
                rc_fetch_result_t fr;
                int st = rc_fetch(rc, topic.c_str(), part, offset, 0, 0, 1 << 20, &fr);
                EXPECT_EQ(st, 0) << rc_error(rc);
                if (st != 0 || fr.error_code != 0 || fr.records_len == 0) {
                    EXPECT_EQ(fr.error_code, 0);
                    rc_fetch_result_free(&fr);
                    break;
                }
                for (auto &b : SplitBatches(fr.records, fr.records_len)) {
                    total += b.record_count;
                    offset = b.base_offset + b.record_count;
                }
                rc_fetch_result_free(&fr);
            }
        }
        rc_close(rc);
        return total;
    }
};

TEST_F(ProducerTlsTest, ProduceOverMutualTlsAndFetchBack)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker(TlsBrokerArgs()));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("secure", 2));
    int n = test_scale(2000, 200);
    mq_producer_t *p = NewProducer(TlsConf("client"));
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ProduceAll(p, "secure", n), n);
    mq_producer_destroy(p);

    // The same with the certificates given as PEM strings.
    Kv pem = {{"security.protocol", "ssl"},
              {"ssl.ca.pem", ReadFile(Cert("ca.pem"))},
              {"ssl.certificate.pem", ReadFile(Cert("alice.pem"))},
              {"ssl.key.pem", ReadFile(Cert("alice.key"))}};
    p = NewProducer(pem);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ProduceAll(p, "secure", 10), 10);
    mq_producer_destroy(p);

    EXPECT_EQ(CountRecords("secure", 2, "client"), n + 10);
    EXPECT_EQ(ConsumeAll("secure", 2, "alice"), n + 10);
    EXPECT_NE(broker_.Stderr().find("\"listening\" listeners=ssl://"), std::string::npos);
}

// Each refused handshake is reported, with OpenSSL's reason, on every
// attempt; the message fails when message.timeout.ms passes.
TEST_F(ProducerTlsTest, RefusedHandshakesAreAuthenticationErrorsNamingTheReason)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker(TlsBrokerArgs()));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("t", 1));
    struct Case {
        const char *principal; // "" = no client certificate
        const char *reason;
    } cases[] = {
        {"", "certificate required"},
        {"other-client", "unknown ca"},
        {"expired", "certificate expired"},
        {"revoked", "certificate revoked"},
    };
    for (auto &tc : cases) {
        SCOPED_TRACE(std::string("client certificate: ") +
                     (tc.principal[0] ? tc.principal : "none"));
        Kv kv = TlsConf(tc.principal);
        kv.push_back({"message.timeout.ms", "1500"});
        kv.push_back({"reconnect.backoff.ms", "50"});
        kv.push_back({"reconnect.backoff.max.ms", "200"});
        mq_producer_t *p = NewProducer(kv);
        ASSERT_NE(p, nullptr);
        std::vector<std::pair<mq_err_t, std::string>> errors;
        mq_err_t report = MQ_OK;
        EXPECT_EQ(ProduceAll(p, "t", 1, &errors, &report, 10000), 0);
        EXPECT_EQ(report, MQ_ERR_MSG_TIMED_OUT);
        int matching = 0;
        // Calls that were waiting on the refused connection fail too
        // ("Metadata failed: ..."); the refusal itself is AUTHENTICATION.
        for (auto &e : errors) {
            if (e.second.find(tc.reason) == std::string::npos)
                continue;
            EXPECT_EQ(e.first, MQ_ERR_AUTHENTICATION) << e.second;
            matching++;
        }
        EXPECT_GE(matching, 2) << "each retry reports the refusal; first error: "
                               << (errors.empty() ? "(none)" : errors[0].second);
        mq_producer_destroy(p);
    }
    // The broker names the reason too.
    std::string log = broker_.Stderr();
    EXPECT_NE(log.find("tls handshake failed"), std::string::npos);
    EXPECT_NE(log.find("certificate revoked"), std::string::npos);
    EXPECT_NE(log.find("certificate has expired"), std::string::npos);
}

// The consumer reports a refused handshake the same way.
TEST_F(ProducerTlsTest, ConsumerRefusalIsAnAuthenticationError)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker(TlsBrokerArgs()));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("t", 1));
    mq_conf_t *conf = mq_conf_new();
    char err[512];
    Kv kv = TlsConf("expired");
    kv.push_back({"bootstrap.servers", broker_.client_addr()});
    kv.push_back({"reconnect.backoff.ms", "50"});
    for (auto &p : kv)
        ASSERT_EQ(mq_conf_set(conf, p.first.c_str(), p.second.c_str(), err, sizeof err), MQ_OK);
    mq_consumer_t *c = nullptr;
    ASSERT_EQ(mq_consumer_new(conf, &c, err, sizeof err), MQ_OK) << err;
    mq_conf_destroy(conf);
    mq_topic_partition_t tp = {"t", 0, 0, MQ_OFFSET_BEGINNING};
    ASSERT_EQ(mq_consumer_assign(c, &tp, 1), MQ_OK);
    int refusals = 0;
    std::string first;
    int64_t until = rc_now_ms() + 5000;
    while (refusals < 2 && rc_now_ms() < until) {
        mq_message_t *m = nullptr;
        mq_event_t *ev = nullptr;
        if (mq_consumer_poll(c, 100, &m, &ev) != MQ_OK)
            continue;
        if (m)
            mq_message_destroy(m);
        if (ev && mq_event_type(ev) == MQ_EVENT_ERROR) {
            std::string text = mq_event_error_string(ev);
            if (first.empty())
                first = text;
            if (text.find("certificate expired") != std::string::npos) {
                EXPECT_EQ(mq_event_error(ev), MQ_ERR_AUTHENTICATION) << text;
                refusals++;
            }
        }
        if (ev)
            mq_event_destroy(ev);
    }
    EXPECT_GE(refusals, 2) << "first error: " << first;
    mq_consumer_close(c, 2000);
    mq_consumer_destroy(c);
}

// The broker's certificate names another host: the client refuses it
// (hostname verification is on by default); turned off, the chain alone
// is checked and produce works.
TEST_F(ProducerTlsTest, WrongBrokerSanIsRefusedByTheClient)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker(TlsBrokerArgs("wrong-san", "none")));
    Kv kv = TlsConf("");
    kv.push_back({"message.timeout.ms", "1000"});
    kv.push_back({"reconnect.backoff.ms", "50"});
    mq_producer_t *p = NewProducer(kv);
    ASSERT_NE(p, nullptr);
    std::vector<std::pair<mq_err_t, std::string>> errors;
    EXPECT_EQ(ProduceAll(p, "t", 1, &errors, nullptr, 10000), 0);
    mq_producer_destroy(p);
    ASSERT_FALSE(errors.empty());
    EXPECT_EQ(errors[0].first, MQ_ERR_AUTHENTICATION);
    EXPECT_NE(errors[0].second.find("IP address mismatch"), std::string::npos) << errors[0].second;

    kv.push_back({"ssl.endpoint.identification.algorithm", "none"});
    kv.push_back({"message.timeout.ms", "10000"});
    AdminReply r = AdminTls(broker_.admin_addr(), "POST", "/api/v1/topics",
                            "{\"name\":\"t\",\"partitions\":1}", "");
    // curl checks the name too: the admin port has the same wrong SAN.
    EXPECT_EQ(r.status, -1);
    p = NewProducer(kv);
    ASSERT_NE(p, nullptr);
    errors.clear();
    // The topic does not exist; what matters is that TLS came up: the
    // report is about the topic, not authentication.
    mq_err_t report = MQ_OK;
    ProduceAll(p, "t", 1, &errors, &report, 15000);
    EXPECT_EQ(report, MQ_ERR_UNKNOWN_TOPIC);
    for (auto &e : errors)
        EXPECT_NE(e.first, MQ_ERR_AUTHENTICATION) << e.second;
    mq_producer_destroy(p);
}

// With the authorizer on, an idempotent producer whose principal may write
// nowhere fails with CLUSTER_AUTHORIZATION (not "unsupported"); given a
// write rule it produces.
TEST_F(ProducerTlsTest, UnauthorizedIdempotentProducerSaysSo)
{
    std::vector<std::string> args = TlsBrokerArgs();
    args.insert(args.end(), {"--authorizer.enabled", "true", "--super.users", "client"});
    ASSERT_NO_FATAL_FAILURE(StartBroker(args));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("guarded", 1));
    // bob may look the topic up (Metadata) but not write anywhere.
    AdminReply r = AdminTls(broker_.admin_addr(), "POST", "/api/v1/acls",
                            "{\"principal\":\"bob\",\"resource_type\":\"topic\",\"resource_name\":"
                            "\"guarded\",\"operation\":\"describe\",\"permission\":\"allow\"}",
                            "client");
    ASSERT_EQ(r.status, 201) << r.body;
    Kv kv = TlsConf("bob");
    kv.insert(kv.end(), {{"enable.idempotence", "true"}, {"acks", "all"}});
    mq_producer_t *p = NewProducer(kv);
    ASSERT_NE(p, nullptr);
    std::vector<std::pair<mq_err_t, std::string>> errors;
    mq_err_t report = MQ_OK;
    EXPECT_EQ(ProduceAll(p, "guarded", 1, &errors, &report, 10000), 0);
    mq_producer_destroy(p);
    EXPECT_EQ(report, MQ_ERR_CLUSTER_AUTHORIZATION);
    bool said = false;
    for (auto &e : errors)
        said |= e.first == MQ_ERR_CLUSTER_AUTHORIZATION &&
                e.second.find("principal 'bob' is not allowed to write") != std::string::npos;
    EXPECT_TRUE(said) << (errors.empty() ? "(no error event)" : errors[0].second);

    r = AdminTls(broker_.admin_addr(), "POST", "/api/v1/acls",
                 "{\"principal\":\"bob\",\"resource_type\":\"topic\",\"resource_name\":"
                 "\"guarded\",\"operation\":\"write\",\"permission\":\"allow\"}",
                 "client");
    ASSERT_EQ(r.status, 201) << r.body;
    p = NewProducer(kv);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ProduceAll(p, "guarded", 5), 5);
    mq_producer_destroy(p);
}

// Encrypted private keys on both sides: ssl.key.password opens them.
TEST_F(ProducerTlsTest, EncryptedKeysNeedTheirPassword)
{
    std::string dir = TestCerts() + "/enc-" + std::to_string(getpid());
    std::string cmd = "mkdir -p " + dir + " && openssl pkey -in " + Cert("broker.key") +
                      " -aes256 -passout pass:brokerpw -out " + dir + "/broker.key && openssl " +
                      "pkey -in " + Cert("alice.key") + " -aes256 -passout pass:alicepw -out " +
                      dir + "/alice.key";
    ASSERT_EQ(system(cmd.c_str()), 0);
    std::vector<std::string> args = TlsBrokerArgs();
    args[3] = dir + "/broker.key";
    args.insert(args.end(), {"--ssl.key.password", "brokerpw"});
    ASSERT_NO_FATAL_FAILURE(StartBroker(args));
    ASSERT_NO_FATAL_FAILURE(CreateTopic("enc", 1));

    Kv kv = {{"security.protocol", "ssl"},
             {"ssl.ca.location", Cert("ca.pem")},
             {"ssl.certificate.location", Cert("alice.pem")},
             {"ssl.key.location", dir + "/alice.key"},
             {"ssl.key.password", "wrong"}};
    std::string err;
    EXPECT_EQ(NewProducer(kv, &err), nullptr);
    EXPECT_NE(err.find("ssl.key.location"), std::string::npos) << err;
    kv.back().second = "alicepw";
    mq_producer_t *p = NewProducer(kv);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(ProduceAll(p, "enc", 5), 5);
    mq_producer_destroy(p);
    EXPECT_EQ(system(("rm -rf " + dir).c_str()), 0);
}

TEST_F(ProducerTlsTest, BadTlsSettingsFailCreationNamingTheKey)
{
    std::string err;
    ASSERT_NO_FATAL_FAILURE(StartBroker());
    mq_producer_t *p = NewProducer(
        {{"security.protocol", "ssl"}, {"ssl.ca.location", "/nonexistent/ca.pem"}}, &err);
    EXPECT_EQ(p, nullptr);
    EXPECT_NE(err.find("ssl.ca.location '/nonexistent/ca.pem'"), std::string::npos) << err;

    p = NewProducer({{"security.protocol", "ssl"},
                     {"ssl.certificate.location", Cert("client.pem")},
                     {"ssl.key.location", Cert("alice.key")}},
                    &err);
    EXPECT_EQ(p, nullptr);
    EXPECT_NE(err.find("ssl.key.location"), std::string::npos) << err;

    p = NewProducer(
        {{"security.protocol", "ssl"}, {"ssl.certificate.location", Cert("client.pem")}}, &err);
    EXPECT_EQ(p, nullptr);
    EXPECT_NE(err.find("is set but"), std::string::npos) << err;

    p = NewProducer({{"security.protocol", "ssl"},
                     {"ssl.key.pem", "not a key"},
                     {"ssl.certificate.pem", ReadFile(Cert("client.pem"))}},
                    &err);
    EXPECT_EQ(p, nullptr);
    EXPECT_NE(err.find("ssl.key.pem"), std::string::npos) << err;

    char e[256];
    mq_conf_t *c = mq_conf_new();
    EXPECT_EQ(mq_conf_set(c, "security.protocol", "tls", e, sizeof e), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(e).find("plaintext, ssl"), std::string::npos) << e;
    mq_conf_destroy(c);
}

} // namespace
