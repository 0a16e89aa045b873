// mqbroker's TLS ports and authorizer against real clients and real
// certificates from scripts/dev-certs: the admin port over TLS (HTTP/1.1
// and h2 through ALPN), TLS 1.1 and plaintext refused, SIGHUP reloading the
// certificate without dropping connections, and ACLs: default deny, allow
// per RPC and admin endpoint, deny wins, decisions that change on the same
// connection when rules change, rules that survive a restart.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include <fstream>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "tls_test_util.h"

extern "C" {
#include "mq/v1/broker.pb-c.h"
#include "mqclient.h"
}

namespace
{

bool Contains(const std::string &s, const std::string &part)
{
    return s.find(part) != std::string::npos;
}

// A blocking TLS connection to 127.0.0.1:port made with OpenSSL directly.
// Returns "" and the peer certificate's CN in cn, or OpenSSL's reason.
std::string RawTls(int port, int max_version, const char *cipher_list, const std::string &principal,
                   std::string *cn = nullptr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return "connect failed";
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (max_version)
        SSL_CTX_set_max_proto_version(ctx, max_version);
    if (max_version && max_version < TLS1_2_VERSION)
        SSL_CTX_set_min_proto_version(ctx, max_version);
    if (cipher_list)
        SSL_CTX_set_cipher_list(ctx, cipher_list);
    if (!principal.empty()) {
        SSL_CTX_use_certificate_chain_file(ctx, Cert(principal + ".pem").c_str());
        SSL_CTX_use_PrivateKey_file(ctx, Cert(principal + ".key").c_str(), SSL_FILETYPE_PEM);
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    std::string result;
    ERR_clear_error();
    if (SSL_connect(ssl) != 1) {
        const char *r = ERR_reason_error_string(ERR_peek_last_error());
        result = r ? r : "handshake failed";
    } else if (cn) {
        X509 *peer = SSL_get1_peer_certificate(ssl);
        char buf[256] = "";
        if (peer)
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
        X509_free(peer);
        *cn = buf;
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return result;
}

class TlsAclTest : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        ASSERT_FALSE(TestCerts().empty()) << "scripts/dev-certs failed";
    }

    rawclient_t *ConnectAs(const std::string &principal)
    {
        char err[256] = "";
        rawclient_t *c = rc_connect_tls(broker_.host(), broker_.port(), Cert("ca.pem").c_str(),
                                        Cert(principal + ".pem").c_str(),
                                        Cert(principal + ".key").c_str(), err, sizeof err);
        EXPECT_NE(c, nullptr) << err;
        if (c)
            clients_.push_back(c);
        return c;
    }

    AdminReply Admin(const std::string &method, const std::string &path, const std::string &body,
                     const std::string &principal = "admin")
    {
        return AdminTls(broker_.admin_addr(), method, path, body, principal);
    }

    // Adds a rule as the super user; returns its id.
    long AddRule(const std::string &principal, const std::string &type, const std::string &name,
                 const std::string &op, const std::string &permission,
                 const std::string &pattern = "literal")
    {
        std::string body = "{\"principal\":\"" + principal + "\",\"resource_type\":\"" + type +
                           "\",\"resource_name\":\"" + name + "\",\"pattern_type\":\"" + pattern +
                           "\",\"operation\":\"" + op + "\",\"permission\":\"" + permission + "\"}";
        AdminReply r = Admin("POST", "/api/v1/acls", body);
        EXPECT_EQ(r.status, 201) << r.error << r.body;
        cJSON *doc = cJSON_Parse(r.body.c_str());
        cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "data"), "id");
        long v = cJSON_IsNumber(id) ? (long)id->valuedouble : -1;
        cJSON_Delete(doc);
        return v;
    }

    int32_t Produce(rawclient_t *rc, const char *topic, std::string *msg = nullptr)
    {
        std::vector<uint8_t> b = MakeBatch(3, 20, rc_now_ms(), 7);
        rc_produce_result_t out;
        EXPECT_EQ(rc_produce(rc, topic, 0, b.data(), b.size(), 1, &out), 0) << out.grpc_message;
        if (msg)
            *msg = out.error_message;
        return out.error_code;
    }

    int32_t Fetch(rawclient_t *rc, const char *topic, std::string *msg = nullptr)
    {
        rc_fetch_result_t fr;
        EXPECT_EQ(rc_fetch(rc, topic, 0, 0, 0, 0, 1 << 20, &fr), 0) << fr.grpc_message;
        if (msg)
            *msg = fr.error_message;
        int32_t code = fr.error_code;
        rc_fetch_result_free(&fr);
        return code;
    }

    // grpc-status of an InitProducerId call.
    int InitProducerIdStatus(rawclient_t *rc)
    {
        Mq__V1__InitProducerIdRequest req = MQ__V1__INIT_PRODUCER_ID_REQUEST__INIT;
        req.producer_id = -1;
        req.producer_epoch = -1;
        uint8_t buf[64];
        size_t len = mq__v1__init_producer_id_request__pack(&req, buf);
        rc_result_t res;
        EXPECT_EQ(rc_unary(rc, "/mq.v1.Broker/InitProducerId", buf, len, nullptr, 10000, &res), 1);
        int st = res.grpc_status;
        rc_result_free(&res);
        return st;
    }

    // error_code of a JoinGroup for group g, subscribed to topic.
    int32_t JoinGroup(rawclient_t *rc, const char *group, const char *topic, std::string *msg)
    {
        Mq__V1__JoinGroupRequest req = MQ__V1__JOIN_GROUP_REQUEST__INIT;
        req.group_id = (char *)group;
        req.member_id = (char *)"";
        req.group_instance_id = (char *)"";
        char *topics[1] = {(char *)topic};
        req.topics = topics;
        req.n_topics = 1;
        req.topic_regex = (char *)"";
        req.session_timeout_ms = -1;
        req.rebalance_timeout_ms = -1;
        req.assignor = (char *)"";
        std::vector<uint8_t> buf(mq__v1__join_group_request__get_packed_size(&req));
        mq__v1__join_group_request__pack(&req, buf.data());
        rc_result_t res;
        EXPECT_EQ(
            rc_unary(rc, "/mq.v1.Broker/JoinGroup", buf.data(), buf.size(), nullptr, 10000, &res),
            1);
        EXPECT_EQ(res.grpc_status, 0) << res.grpc_message;
        auto *r = mq__v1__join_group_response__unpack(nullptr, res.msg_len, res.msg);
        int32_t code = r ? r->error_code : -1;
        if (r && msg)
            *msg = r->error_message;
        if (r)
            mq__v1__join_group_response__free_unpacked(r, nullptr);
        rc_result_free(&res);
        return code;
    }

    std::vector<std::string> MetadataTopics(rawclient_t *rc)
    {
        int st = 0;
        auto *m = (Mq__V1__MetadataResponse *)rc_metadata(rc, nullptr, 0, &st);
        std::vector<std::string> names;
        EXPECT_NE(m, nullptr) << "grpc-status " << st;
        for (size_t i = 0; m && i < m->n_topics; i++)
            names.push_back(m->topics[i]->name);
        if (m)
            mq__v1__metadata_response__free_unpacked(m, nullptr);
        return names;
    }
};

// The value of one Prometheus series in a /metrics body; -1 if absent.
long MetricValue(const std::string &body, const std::string &series)
{
    size_t at = body.find("\n" + series + " ");
    return at == std::string::npos ? -1 : atol(body.c_str() + at + series.size() + 2);
}

TEST_F(TlsAclTest, AdminPortServesHttp1AndH2OverTls)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker(TlsBrokerArgs()));
    AdminReply h1 = Admin("GET", "/health", "", "client");
    EXPECT_EQ(h1.status, 200) << h1.error;
    EXPECT_EQ(h1.http_version, (long)CURL_HTTP_VERSION_1_1);
    AdminReply h2 = AdminTls(broker_.admin_addr(), "GET", "/api/v1/cluster", "", "client", true);
    EXPECT_EQ(h2.status, 200) << h2.error;
    EXPECT_EQ(h2.http_version, (long)CURL_HTTP_VERSION_2_0);
    EXPECT_TRUE(Contains(h2.body, "\"node_id\"")) << h2.body;
    // client.auth=required: no certificate, no answer.
    AdminReply anon = Admin("GET", "/health", "", "");
    EXPECT_EQ(anon.status, -1);
    EXPECT_TRUE(Contains(broker_.Stderr(), "admin tls handshake failed"));
    AdminReply m = Admin("GET", "/metrics", "", "client");
    EXPECT_EQ(
        MetricValue(m.body, R"(mq_tls_handshake_failures_total{port="admin",cause="refused"})"), 1)
        << m.body;
    // The ready line lists the TLS listener.
    EXPECT_TRUE(Contains(broker_.Stdout(), "listeners=ssl://127.0.0.1:")) << broker_.Stdout();
    EXPECT_TRUE(Contains(broker_.Stdout(), "admin_tls=true"));
}

TEST_F(TlsAclTest, OldProtocolsAndPlaintextAreRefused)
{
    ASSERT_NO_FATAL_FAILURE(StartBroker(TlsBrokerArgs()));
    // As `openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'` would.
    std::string why = RawTls(broker_.port(), TLS1_1_VERSION, "DEFAULT:@SECLEVEL=0", "client");
    EXPECT_TRUE(Contains(why, "protocol version")) << why;
    EXPECT_EQ(RawTls(broker_.port(), 0, nullptr, "client"), "");

    // An HTTP/2 client speaking plaintext to the TLS port gets nothing.
    char err[256];
    rawclient_t *rc = rc_connect(broker_.host(), broker_.port(), err, sizeof err);
    ASSERT_NE(rc, nullptr) << err;
    clients_.push_back(rc);
    int st = 0;
    void *m = rc_metadata(rc, nullptr, 0, &st);
    EXPECT_EQ(m, nullptr);
    EXPECT_TRUE(rc_broken(rc));
    int64_t until = rc_now_ms() + 5000;
    while (!Contains(broker_.Stderr(), "wrong version number") && rc_now_ms() < until)
        usleep(20000);
    EXPECT_TRUE(Contains(broker_.Stderr(), "tls handshake failed")) << broker_.Stderr();
    // Both refusals are counted for the operator.
    AdminReply scrape = Admin("GET", "/metrics", "", "client");
    ASSERT_EQ(scrape.status, 200) << scrape.error;
    EXPECT_GE(MetricValue(scrape.body,
                          R"(mq_tls_handshake_failures_total{port="client",cause="refused"})"),
              2)
        << scrape.body;
    EXPECT_EQ(MetricValue(scrape.body,
                          R"(mq_tls_handshake_failures_total{port="admin",cause="refused"})"),
              0);
}

TEST_F(TlsAclTest, SighupReloadsTheCertificateWithoutDroppingConnections)
{
    // The broker reads its certificate from files this test replaces.
    std::string dir = std::string(TestCerts()) + "/reload-" + std::to_string(getpid());
    ASSERT_EQ(system(("mkdir -p " + dir + " && cp " + Cert("broker.pem") + " " +
                      Cert("broker.key") + " " + dir)
                         .c_str()),
              0);
    std::vector<std::string> args = TlsBrokerArgs();
    args[1] = dir + "/broker.pem";
    args[3] = dir + "/broker.key";
    ASSERT_NO_FATAL_FAILURE(StartBroker(args));
    std::string cn;
    ASSERT_EQ(RawTls(broker_.port(), 0, nullptr, "client", &cn), "");
    EXPECT_EQ(cn, "localhost");
    rawclient_t *rc = ConnectAs("client");
    ASSERT_NE(rc, nullptr);
    EXPECT_EQ(MetadataTopics(rc).size(), 0u);

    ASSERT_EQ(system(("cp " + Cert("wrong-san.pem") + " " + dir + "/broker.pem && cp " +
                      Cert("wrong-san.key") + " " + dir + "/broker.key")
                         .c_str()),
              0);
    ASSERT_EQ(kill(broker_.pid(), SIGHUP), 0);
    int64_t until = rc_now_ms() + 5000;
    while (!Contains(broker_.Stderr(), "tls reloaded") && rc_now_ms() < until)
        usleep(20000);
    ASSERT_TRUE(Contains(broker_.Stderr(), "tls reloaded"));
    // New connections see the new certificate; the old one still works.
    ASSERT_EQ(RawTls(broker_.port(), 0, nullptr, "client", &cn), "");
    EXPECT_EQ(cn, "wrong.mq.test");
    EXPECT_EQ(MetadataTopics(rc).size(), 0u);
    EXPECT_FALSE(rc_broken(rc)) << rc_error(rc);

    // A broken file: the reload fails, says why, and keeps the last one.
    {
        std::ofstream(dir + "/broker.pem") << "not a certificate\n";
    }
    ASSERT_EQ(kill(broker_.pid(), SIGHUP), 0);
    until = rc_now_ms() + 5000;
    while (!Contains(broker_.Stderr(), "tls reload failed") && rc_now_ms() < until)
        usleep(20000);
    EXPECT_TRUE(Contains(broker_.Stderr(), "ssl.certificate.location"));
    ASSERT_EQ(RawTls(broker_.port(), 0, nullptr, "client", &cn), "");
    EXPECT_EQ(cn, "wrong.mq.test");
    EXPECT_EQ(system(("rm -rf " + dir).c_str()), 0);
}

TEST_F(TlsAclTest, AclsAllowDenyPerRpcAndEndpoint)
{
    std::vector<std::string> args = TlsBrokerArgs();
    args.insert(args.end(), {"--authorizer.enabled", "true", "--super.users", "admin"});
    ASSERT_NO_FATAL_FAILURE(StartBroker(args));
    const int denied = -(int)MQ_ERR_TOPIC_AUTHORIZATION;
    for (const char *t : {"orders", "logs"}) {
        AdminReply r = Admin("POST", "/api/v1/topics",
                             std::string("{\"name\":\"") + t + "\",\"partitions\":1}");
        ASSERT_EQ(r.status, 201) << r.body;
    }
    rawclient_t *alice = ConnectAs("alice");
    ASSERT_NE(alice, nullptr);

    // Nothing is allowed that no rule allows.
    std::string msg;
    EXPECT_EQ(Produce(alice, "orders", &msg), denied);
    EXPECT_TRUE(Contains(msg, "principal 'alice' is not allowed to write to topic 'orders'"))
        << msg;
    EXPECT_EQ(Fetch(alice, "orders"), denied);
    EXPECT_TRUE(MetadataTopics(alice).empty());
    AdminReply r = Admin("GET", "/api/v1/topics/orders", "", "alice");
    EXPECT_EQ(r.status, 403);
    EXPECT_TRUE(Contains(r.body, "principal 'alice' is not allowed to describe topic 'orders'"))
        << r.body;
    EXPECT_EQ(Admin("GET", "/health", "", "alice").status, 403);
    EXPECT_EQ(Admin("DELETE", "/api/v1/topics/orders", "", "alice").status, 403);

    // Write allowed, read not: produce works, fetch is denied. The same
    // connection sees the change (its cached decisions are dropped).
    long write_id = AddRule("alice", "topic", "orders", "write", "allow");
    EXPECT_EQ(Produce(alice, "orders"), 0);
    EXPECT_EQ(Fetch(alice, "orders", &msg), denied);
    EXPECT_TRUE(Contains(msg, "not allowed to read topic 'orders'")) << msg;
    EXPECT_EQ(Produce(alice, "logs"), denied);
    EXPECT_EQ(MetadataTopics(alice), std::vector<std::string>{"orders"}); // write implies describe
    EXPECT_EQ(Admin("GET", "/api/v1/topics/orders", "", "alice").status, 200);

    long read_id = AddRule("alice", "topic", "orders", "read", "allow");
    EXPECT_EQ(Fetch(alice, "orders"), 0);

    // Deny wins over allow (a prefix deny here).
    long deny_id = AddRule("alice", "topic", "ord", "read", "deny", "prefix");
    EXPECT_EQ(Fetch(alice, "orders"), denied);
    r = Admin("POST", "/api/v1/acls/test",
              "{\"principal\":\"alice\",\"resource_type\":\"topic\",\"resource_name\":\"orders\","
              "\"operation\":\"read\"}");
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(Contains(r.body, "\"decision\":\"deny\"")) << r.body;
    EXPECT_TRUE(Contains(r.body, "\"rule_id\":" + std::to_string(deny_id))) << r.body;
    r = Admin("POST", "/api/v1/acls/test",
              "{\"principal\":\"alice\",\"resource_type\":\"topic\",\"resource_name\":\"orders\","
              "\"operation\":\"write\"}");
    EXPECT_TRUE(Contains(r.body, "\"decision\":\"allow\"")) << r.body;
    EXPECT_TRUE(Contains(r.body, "\"rule_id\":" + std::to_string(write_id))) << r.body;

    EXPECT_EQ(Admin("DELETE", "/api/v1/acls/" + std::to_string(deny_id), "").status, 200);
    EXPECT_EQ(Fetch(alice, "orders"), 0);
    EXPECT_EQ(Admin("DELETE", "/api/v1/acls/" + std::to_string(deny_id), "").status, 404);

    // Group RPCs need read on the group.
    EXPECT_EQ(JoinGroup(alice, "billing", "orders", &msg), -(int)MQ_ERR_GROUP_AUTHORIZATION);
    EXPECT_TRUE(Contains(msg, "group 'billing'")) << msg;
    AddRule("alice", "group", "billing", "read", "allow");
    EXPECT_EQ(JoinGroup(alice, "billing", "orders", &msg), 0) << msg;

    // InitProducerId (idempotent producers) needs write on the cluster or
    // on some topic: alice has one, bob (below) none.
    EXPECT_EQ(InitProducerIdStatus(alice), 0);

    // Managing ACLs needs alter on the cluster; listing them describe.
    EXPECT_EQ(Admin("GET", "/api/v1/acls", "", "alice").status, 403);
    EXPECT_EQ(Admin("POST", "/api/v1/acls", "{}", "alice").status, 403);
    AddRule("alice", "cluster", "", "describe", "allow");
    r = Admin("GET", "/api/v1/acls", "", "alice");
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(Contains(r.body, "\"id\":" + std::to_string(read_id))) << r.body;
    EXPECT_EQ(Admin("GET", "/health", "", "alice").status, 200);

    // Bad rules are refused naming the field.
    r = Admin("POST", "/api/v1/acls",
              "{\"principal\":\"bob\",\"resource_type\":\"queue\",\"resource_name\":\"x\","
              "\"operation\":\"read\",\"permission\":\"allow\"}");
    EXPECT_EQ(r.status, 400);
    EXPECT_TRUE(Contains(r.body, "resource_type")) << r.body;

    // Another principal is unaffected by alice's rules; the super user is
    // allowed everything.
    rawclient_t *bob = ConnectAs("bob");
    ASSERT_NE(bob, nullptr);
    EXPECT_EQ(Produce(bob, "orders"), denied);
    EXPECT_EQ(InitProducerIdStatus(bob), 7); // PERMISSION_DENIED
    rawclient_t *admin = ConnectAs("admin");
    ASSERT_NE(admin, nullptr);
    EXPECT_EQ(Fetch(admin, "logs"), 0);
    EXPECT_TRUE(Contains(broker_.Stderr(), "\"authorization denied\" principal=\"bob\""));

    // Rules live in meta.db: a restart keeps them.
    for (auto *c : clients_)
        rc_close(c);
    clients_.clear();
    ASSERT_EQ(broker_.Stop(), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();
    alice = ConnectAs("alice");
    ASSERT_NE(alice, nullptr);
    EXPECT_EQ(Produce(alice, "orders"), 0);
    EXPECT_EQ(Produce(alice, "logs"), denied);
}

// Bad TLS settings stop the broker at start with a message naming the key.
TEST_F(TlsAclTest, BadTlsSettingsStopTheBrokerNamingTheKey)
{
    struct Case {
        std::vector<std::string> args;
        const char *message;
    } cases[] = {
        {{"--listeners", "ssl://127.0.0.1:0"},
         "a TLS client port needs ssl.certificate.location and ssl.key.location"},
        {{"--ssl-cert", "/nonexistent.pem", "--ssl-key", Cert("broker.key")},
         "ssl.certificate.location '/nonexistent.pem': No such file or directory"},
        {{"--ssl-cert", Cert("broker.pem"), "--ssl-key", Cert("alice.key")}, "ssl.key.location"},
        {{"--ssl-cert", Cert("broker.pem"), "--ssl-key", Cert("broker.key"), "--ssl-client-auth",
          "required"},
         "ssl.client.auth=required needs ssl.ca.location"},
        {{"--ssl-client-auth", "maybe"}, "allowed: none, requested, required"},
    };
    for (auto &tc : cases) {
        BrokerProcess b;
        EXPECT_FALSE(b.Start(tc.args)) << tc.message;
        EXPECT_TRUE(Contains(b.Stderr(), tc.message)) << b.Stderr();
        EXPECT_TRUE(WIFEXITED(b.proc()->exit_status) && WEXITSTATUS(b.proc()->exit_status) == 2)
            << b.error();
    }
}

// ssl.principal.mapping=san.uri: the principal is the certificate's URI SAN.
TEST_F(TlsAclTest, PrincipalFromSanUri)
{
    std::vector<std::string> args = TlsBrokerArgs();
    args.insert(args.end(), {"--authorizer.enabled", "true", "--super.users",
                             "mq://principal/admin", "--ssl.principal.mapping", "san.uri"});
    ASSERT_NO_FATAL_FAILURE(StartBroker(args));
    ASSERT_EQ(Admin("POST", "/api/v1/topics", "{\"name\":\"t\",\"partitions\":1}").status, 201);
    AddRule("alice", "topic", "t", "write", "allow"); // the CN: no longer the principal
    rawclient_t *alice = ConnectAs("alice");
    ASSERT_NE(alice, nullptr);
    std::string msg;
    EXPECT_EQ(Produce(alice, "t", &msg), -(int)MQ_ERR_TOPIC_AUTHORIZATION);
    EXPECT_TRUE(Contains(msg, "principal 'mq://principal/alice'")) << msg;
    AddRule("mq://principal/alice", "topic", "t", "write", "allow");
    EXPECT_EQ(Produce(alice, "t"), 0);
}

// A plaintext listener beside the TLS one: its connections are ANONYMOUS.
TEST_F(TlsAclTest, PlaintextListenerIsAnonymous)
{
    std::vector<std::string> args = TlsBrokerArgs();
    args.insert(args.end(), {"--listeners", "ssl://127.0.0.1:0,plaintext://127.0.0.1:0",
                             "--authorizer.enabled", "true", "--super.users", "admin"});
    ASSERT_NO_FATAL_FAILURE(StartBroker(args));
    std::string out = broker_.Stdout();
    size_t at = out.find("plaintext://127.0.0.1:");
    ASSERT_NE(at, std::string::npos) << out;
    int plain_port = atoi(out.c_str() + at + strlen("plaintext://127.0.0.1:"));
    ASSERT_EQ(Admin("POST", "/api/v1/topics", "{\"name\":\"pub\",\"partitions\":1}").status, 201);
    char err[256];
    rawclient_t *anon = rc_connect("127.0.0.1", plain_port, err, sizeof err);
    ASSERT_NE(anon, nullptr) << err;
    clients_.push_back(anon);
    EXPECT_EQ(Fetch(anon, "pub"), -(int)MQ_ERR_TOPIC_AUTHORIZATION);
    AddRule("ANONYMOUS", "topic", "*", "read", "allow");
    EXPECT_EQ(Fetch(anon, "pub"), 0);
}

} // namespace
