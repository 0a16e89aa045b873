// The admin REST API of a real mqbroker over real HTTP (libcurl and raw
// sockets): health, cluster, topic create/list/describe/alter/delete, error
// codes, HTTP/2 with prior knowledge, keep-alive, Prometheus metrics, topics
// surviving a restart, and malformed HTTP that must not hurt the broker.
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "broker_fixture.h"
#include "mqclient.h"

namespace
{

struct Response {
    long status = -1;
    std::string body;
    std::string headers;
    long http_version = 0;
    long connects = -1; // new connections this request made (0 = reused)
    cJSON *json = nullptr;

    Response() = default;
    Response(const Response &) = delete;
    Response &operator=(const Response &) = delete;
    Response(Response &&o) noexcept
    {
        *this = std::move(o);
    }
    Response &operator=(Response &&o) noexcept
    {
        status = o.status;
        body = std::move(o.body);
        headers = std::move(o.headers);
        http_version = o.http_version;
        connects = o.connects;
        cJSON_Delete(json);
        json = o.json;
        o.json = nullptr;
        return *this;
    }
    ~Response()
    {
        cJSON_Delete(json);
    }
    cJSON *data() const
    {
        return cJSON_GetObjectItemCaseSensitive(json, "data");
    }
    std::string error() const
    {
        cJSON *e = cJSON_GetObjectItemCaseSensitive(json, "error");
        return cJSON_IsString(e) ? e->valuestring : "";
    }
    bool success() const
    {
        return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(json, "success"));
    }
};

size_t collect(char *p, size_t size, size_t n, void *user)
{
    ((std::string *)user)->append(p, size * n);
    return size * n;
}

// One HTTP client; keeps its connection between requests like a browser.
class Http
{
  public:
    explicit Http(bool h2 = false) : h2_(h2)
    {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        c_ = curl_easy_init();
    }
    ~Http()
    {
        curl_easy_cleanup(c_);
    }
    Response Do(const std::string &addr, const char *method, const std::string &path,
                const std::string *body = nullptr)
    {
        Response r;
        std::string url = "http://" + addr + path;
        struct curl_slist *hdrs = curl_slist_append(nullptr, "Content-Type: application/json");
        curl_easy_reset(c_);
        curl_easy_setopt(c_, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c_, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c_, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(c_, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c_, CURLOPT_WRITEDATA, &r.body);
        curl_easy_setopt(c_, CURLOPT_HEADERFUNCTION, collect);
        curl_easy_setopt(c_, CURLOPT_HEADERDATA, &r.headers);
        curl_easy_setopt(c_, CURLOPT_TIMEOUT_MS, 20000L);
        curl_easy_setopt(c_, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c_, CURLOPT_NOPROXY, "*");
        if (!strcmp(method, "HEAD"))
            curl_easy_setopt(c_, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c_, CURLOPT_HTTP_VERSION,
                         h2_ ? (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
                             : (long)CURL_HTTP_VERSION_1_1);
        if (h2_) {
            // curl 7.88 (Debian 12) cannot reuse a prior-knowledge HTTP/2
            // connection (curl/curl#10634, fixed in 8.0): one per request.
            // Many streams on one connection are tested with rawclient.
            curl_easy_setopt(c_, CURLOPT_FRESH_CONNECT, 1L);
            curl_easy_setopt(c_, CURLOPT_FORBID_REUSE, 1L);
        }
        if (body) {
            curl_easy_setopt(c_, CURLOPT_POSTFIELDS, body->data());
            curl_easy_setopt(c_, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->size());
        }
        CURLcode rc = curl_easy_perform(c_);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(c_, CURLINFO_RESPONSE_CODE, &r.status);
            curl_easy_getinfo(c_, CURLINFO_HTTP_VERSION, &r.http_version);
            curl_easy_getinfo(c_, CURLINFO_NUM_CONNECTS, &r.connects);
        } else {
            r.body = curl_easy_strerror(rc);
        }
        curl_slist_free_all(hdrs);
        r.json = cJSON_Parse(r.body.c_str());
        return r;
    }

  private:
    CURL *c_;
    bool h2_;
};

std::string str(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

double num(cJSON *o, const char *k)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1e300;
}

// Sends raw bytes on a fresh connection and reads until the peer closes or
// timeout_ms passes. *closed says whether the broker closed the connection.
std::string RawExchange(const std::string &host, int port, const std::string &bytes, int timeout_ms,
                        bool *closed)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host.c_str(), &sa.sin_addr);
    *closed = false;
    if (connect(fd, (sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return "connect failed";
    }
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    std::string got;
    long long deadline = test_now_ms() + timeout_ms;
    while (test_now_ms() < deadline) {
        pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) {
            *closed = true;
            break;
        }
        got.append(buf, (size_t)n);
    }
    close(fd);
    return got;
}

class Admin : public BrokerTestBase
{
  protected:
    void SetUp() override
    {
        StartBroker();
    }
    Response Get(const std::string &path, bool h2 = false)
    {
        return (h2 ? h2_ : http_).Do(broker_.admin_addr(), "GET", path);
    }
    Response Send(const char *method, const std::string &path, const std::string &body,
                  bool h2 = false)
    {
        return (h2 ? h2_ : http_).Do(broker_.admin_addr(), method, path, &body);
    }
    Response Delete(const std::string &path)
    {
        return http_.Do(broker_.admin_addr(), "DELETE", path);
    }
    std::string AdminHost()
    {
        return broker_.proc()->admin_host;
    }
    int AdminPort()
    {
        return broker_.proc()->admin_port;
    }
    void ExpectHealthy()
    {
        Http fresh;
        Response r = fresh.Do(broker_.admin_addr(), "GET", "/health");
        EXPECT_EQ(r.status, 200) << r.body;
    }

    Http http_;
    Http h2_{true};
};

TEST_F(Admin, Health)
{
    Response r = Get("/health");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "{\"success\":true,\"data\":{\"status\":\"ok\"},\"error\":null}");
    EXPECT_NE(r.headers.find("Content-Type: application/json"), std::string::npos) << r.headers;
    EXPECT_EQ(r.http_version, (long)CURL_HTTP_VERSION_1_1);
    Response head = http_.Do(broker_.admin_addr(), "HEAD", "/health");
    EXPECT_EQ(head.status, 200);
    EXPECT_TRUE(head.body.empty());
}

TEST_F(Admin, Cluster)
{
    CreateTopic("c1", 2);
    CreateTopic("c2", 3);
    Response r = Get("/api/v1/cluster");
    ASSERT_EQ(r.status, 200) << r.body;
    cJSON *d = r.data();
    EXPECT_GE(num(d, "node_id"), 0);
    EXPECT_EQ(str(d, "version"), MQ_VERSION_STR);
    EXPECT_EQ(num(d, "topic_count"), 2);
    EXPECT_EQ(num(d, "partition_count"), 5);
    EXPECT_GE(num(d, "uptime_seconds"), 0);
    cJSON *l = cJSON_GetObjectItemCaseSensitive(d, "listeners");
    ASSERT_TRUE(cJSON_IsObject(l)) << r.body;
    EXPECT_FALSE(str(l, "client").empty());
    EXPECT_FALSE(str(l, "admin").empty());
}

TEST_F(Admin, TopicLifecycle)
{
    Response r = Send("POST", "/api/v1/topics",
                      R"({"name":"orders","partitions":3,"config":{"retention.ms":"86400000"}})");
    ASSERT_EQ(r.status, 201) << r.body;
    ASSERT_TRUE(r.success());
    EXPECT_EQ(str(r.data(), "name"), "orders");
    EXPECT_EQ(num(r.data(), "partition_count"), 3);

    r = Send("POST", "/api/v1/topics", R"({"name":"audit"})"); // default partitions
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_GE(num(r.data(), "partition_count"), 1);

    r = Get("/api/v1/topics");
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_TRUE(cJSON_IsArray(r.data()));
    ASSERT_EQ(cJSON_GetArraySize(r.data()), 2);
    EXPECT_EQ(str(cJSON_GetArrayItem(r.data(), 0), "name"), "audit"); // name order
    cJSON *orders = cJSON_GetArrayItem(r.data(), 1);
    EXPECT_EQ(str(orders, "name"), "orders");
    EXPECT_EQ(str(cJSON_GetObjectItemCaseSensitive(orders, "config_overrides"), "retention.ms"),
              "86400000");

    r = Get("/api/v1/topics/orders");
    ASSERT_EQ(r.status, 200) << r.body;
    cJSON *parts = cJSON_GetObjectItemCaseSensitive(r.data(), "partitions");
    ASSERT_EQ(cJSON_GetArraySize(parts), 3) << r.body;
    for (int i = 0; i < 3; i++) {
        cJSON *p = cJSON_GetArrayItem(parts, i);
        EXPECT_EQ(num(p, "partition"), i);
        EXPECT_EQ(num(p, "earliest_offset"), 0);
        EXPECT_EQ(num(p, "latest_offset"), 0);
        EXPECT_GE(num(p, "size_bytes"), 0);
        EXPECT_GE(num(p, "segment_count"), 0);
    }
    cJSON *cfg = cJSON_GetObjectItemCaseSensitive(r.data(), "config");
    EXPECT_EQ(num(cfg, "retention.ms"), 86400000);
    EXPECT_GT(num(cfg, "segment.bytes"), 0); // a default, applied
    EXPECT_EQ(str(cfg, "message.timestamp.type"), "CreateTime");

    r = Send("PUT", "/api/v1/topics/orders",
             R"({"config":{"retention.bytes":1000000,"message.timestamp.type":"LogAppendTime"}})");
    ASSERT_EQ(r.status, 200) << r.body;
    cfg = cJSON_GetObjectItemCaseSensitive(r.data(), "config");
    EXPECT_EQ(num(cfg, "retention.bytes"), 1000000);
    EXPECT_EQ(num(cfg, "retention.ms"), 86400000); // kept
    EXPECT_EQ(str(cfg, "message.timestamp.type"), "LogAppendTime");

    r = Delete("/api/v1/topics/orders");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.data(), "deleted")));
    r = Get("/api/v1/topics/orders");
    EXPECT_EQ(r.status, 404);
    EXPECT_FALSE(r.success());
    EXPECT_EQ(r.error(), "topic 'orders' does not exist");
    EXPECT_EQ(Delete("/api/v1/topics/orders").status, 404);
    r = Get("/api/v1/topics");
    EXPECT_EQ(cJSON_GetArraySize(r.data()), 1);
}

TEST_F(Admin, ErrorCodesNameTheProblem)
{
    struct Case {
        const char *method, *path, *body;
        long status;
        const char *error_part;
    } cases[] = {
        {"POST", "/api/v1/topics", "{not json", 400, "not valid JSON"},
        {"POST", "/api/v1/topics", "[1,2]", 400, "JSON object"},
        {"POST", "/api/v1/topics", "", 400, "JSON object"},
        {"POST", "/api/v1/topics", R"({"partitions":1})", 400, "'name'"},
        {"POST", "/api/v1/topics", R"({"name":7})", 400, "'name'"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":"3"})", 400, "'partitions'"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":1.5})", 400, "'partitions'"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":0})", 400,
         "partitions must be between 1 and 10000"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":10001})", 400,
         "partitions must be between 1 and 10000"},
        {"POST", "/api/v1/topics", R"({"name":"a/b","partitions":1})", 400, "'a/b' is invalid"},
        {"POST", "/api/v1/topics", R"({"name":"..","partitions":1})", 400, "is invalid"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":1,"config":{"bogus.key":"1"}})", 400,
         "bogus.key"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":1,"config":{"retention.ms":"abc"}})",
         400, "retention.ms"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":1,"config":5})", 400, "'config'"},
        {"POST", "/api/v1/topics", R"({"name":"x","partitions":1,"colour":"red"})", 400,
         "unknown field 'colour'"},
        {"GET", "/api/v1/topics/nope", nullptr, 404, "topic 'nope' does not exist"},
        {"PUT", "/api/v1/topics/nope", R"({"config":{}})", 404, "topic 'nope' does not exist"},
        {"DELETE", "/api/v1/topics/nope", nullptr, 404, "topic 'nope' does not exist"},
        {"GET", "/api/v1/topics/bad%20name", nullptr, 400, "is invalid"},
        {"GET", "/api/v2/whatever", nullptr, 404, "no route for GET /api/v2/whatever"},
        {"GET", "/", nullptr, 404, "no route"},
        {"DELETE", "/health", nullptr, 405, "not allowed"},
        {"POST", "/metrics", "{}", 405, "not allowed"},
        {"PATCH", "/api/v1/topics", "{}", 405, "allowed: GET, POST"},
        {"POST", "/api/v1/topics/dup", "{}", 405, "allowed: GET, PUT, DELETE"},
        {"POST", "/api/v1/topics", R"({"name":"dup","partitions":1})", 409,
         "topic 'dup' already exists"},
        {"PUT", "/api/v1/topics/dup", R"({"partitions":4})", 400, "unknown field"},
        {"PUT", "/api/v1/topics/dup", R"({})", 400, "'config' is required"},
        {"PUT", "/api/v1/topics/dup", R"({"config":{"segment.bytes":"tiny"}})", 400,
         "segment.bytes"},
    };
    CreateTopic("dup", 1);
    for (const auto &c : cases) {
        std::string body = c.body ? c.body : "";
        Response r = c.body ? Send(c.method, c.path, body)
                            : http_.Do(broker_.admin_addr(), c.method, c.path);
        std::string what = std::string(c.method) + " " + c.path + " " + body;
        EXPECT_EQ(r.status, c.status) << what << " -> " << r.body;
        EXPECT_FALSE(r.success()) << what;
        EXPECT_NE(r.error().find(c.error_part), std::string::npos)
            << what << " -> " << r.body << " (want '" << c.error_part << "')";
        EXPECT_TRUE(cJSON_IsNull(r.data())) << what;
        if (c.status == 405) {
            EXPECT_NE(r.headers.find("Allow: "), std::string::npos) << r.headers;
        }
    }
    // Nothing was created by the failed requests.
    Response r = Get("/api/v1/topics");
    EXPECT_EQ(cJSON_GetArraySize(r.data()), 1) << r.body;
}

TEST_F(Admin, OversizedBodyGets413)
{
    std::string big = "{\"name\":\"big\",\"pad\":\"" + std::string(2 << 20, 'x') + "\"}";
    Response r = Send("POST", "/api/v1/topics", big);
    EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
    EXPECT_NE(r.error().find("larger than"), std::string::npos) << r.body;
    r = Send("POST", "/api/v1/topics", big, true);
    EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
    ExpectHealthy();
    EXPECT_EQ(Get("/api/v1/topics/big").status, 404);
}

TEST_F(Admin, Http2PriorKnowledge)
{
    Response r = Get("/health", true);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.http_version, (long)CURL_HTTP_VERSION_2_0);
    EXPECT_TRUE(r.success());

    r = Send("POST", "/api/v1/topics", R"({"name":"h2topic","partitions":2})", true);
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.http_version, (long)CURL_HTTP_VERSION_2_0);
    r = Get("/api/v1/topics/h2topic", true);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r.data(), "partitions")), 2);
    r = Send("PUT", "/api/v1/topics/h2topic", R"({"config":{"retention.ms":1000}})", true);
    EXPECT_EQ(r.status, 200) << r.body;
    r = Get("/api/v1/topics/none", true);
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.error(), "topic 'none' does not exist");
    r = Send("POST", "/health", "{}", true);
    EXPECT_EQ(r.status, 405);
    r = Get("/metrics", true);
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("# TYPE mq_topics gauge"), std::string::npos);
    r = h2_.Do(broker_.admin_addr(), "DELETE", "/api/v1/topics/h2topic");
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Admin, H2cUpgradeOfferIsAnsweredOverHttp1)
{
    // `curl --http2` on http:// offers "Upgrade: h2c"; the broker declines by
    // answering in HTTP/1.1, body included.
    CURL *c = curl_easy_init();
    std::string url = std::string("http://") + broker_.admin_addr() + "/api/v1/topics";
    std::string body = R"({"name":"upgraded","partitions":1})", got;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_0);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
    ASSERT_EQ(curl_easy_perform(c), CURLE_OK);
    long status = 0, version = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
    curl_easy_cleanup(c);
    EXPECT_EQ(status, 201) << got;
    EXPECT_EQ(version, (long)CURL_HTTP_VERSION_1_1);
    EXPECT_EQ(Get("/api/v1/topics/upgraded").status, 200);
}

TEST_F(Admin, Http2ManyStreamsOnOneConnection)
{
    // Creates in flight together on one HTTP/2 connection: each is answered
    // when the metadata thread posts back, on its own stream.
    char err[256] = "";
    rawclient_t *c = rc_connect_addr(broker_.admin_addr(), err, sizeof err);
    ASSERT_NE(c, nullptr) << err;
    rc_call_opts_t o = {};
    o.content_type = "application/json";
    o.raw_body = 1;
    const int n = 20;
    std::vector<std::string> bodies;
    std::map<int32_t, int> want; // stream -> status
    for (int i = 0; i < n; i++)
        bodies.push_back("{\"name\":\"s" + std::to_string(i % (n - 2)) + "\",\"partitions\":1}");
    for (int i = 0; i < n; i++) {
        int32_t id = rc_submit(c, "/api/v1/topics", bodies[i].data(), bodies[i].size(), &o);
        ASSERT_GT(id, 0) << rc_error(c);
        want[id] = i >= n - 2 ? 409 : 201; // the last two repeat names
    }
    int32_t bad = rc_submit(c, "/health", "{}", 2, &o); // POST on a GET route
    ASSERT_GT(bad, 0);
    want[bad] = 405;
    for (size_t got = 0; got < want.size(); got++) {
        rc_result_t r;
        ASSERT_EQ(rc_poll(c, 10000, &r), 1);
        EXPECT_EQ(r.http_status, want[r.stream_id])
            << "stream " << r.stream_id << ": " << std::string((char *)r.body, r.body_len);
        EXPECT_STREQ(r.content_type, "application/json");
        rc_result_free(&r);
    }
    EXPECT_FALSE(rc_broken(c));
    rc_close(c);
    Response r = Get("/api/v1/cluster");
    EXPECT_EQ(num(r.data(), "topic_count"), n - 2);
}

TEST_F(Admin, ExpectContinue)
{
    // The interim 100 arrives before the body is sent; the body then creates.
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa = {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)AdminPort());
    inet_pton(AF_INET, AdminHost().c_str(), &sa.sin_addr);
    ASSERT_EQ(connect(fd, (sockaddr *)&sa, sizeof sa), 0);
    std::string body = R"({"name":"expect","partitions":1})";
    std::string head = "POST /api/v1/topics HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                       "Content-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n";
    ASSERT_EQ(send(fd, head.data(), head.size(), 0), (ssize_t)head.size());
    auto read_some = [&](int ms) {
        std::string got;
        pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, ms) == 1) {
            char buf[4096];
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0)
                got.assign(buf, (size_t)n);
        }
        return got;
    };
    EXPECT_EQ(read_some(3000), "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_EQ(send(fd, body.data(), body.size(), 0), (ssize_t)body.size());
    EXPECT_EQ(read_some(5000).rfind("HTTP/1.1 201 Created\r\n", 0), 0u);
    close(fd);
}

TEST_F(Admin, KeepAliveAndPipelining)
{
    Response a = Get("/health");
    Response b = Get("/api/v1/topics");
    ASSERT_EQ(a.status, 200);
    ASSERT_EQ(b.status, 200);
    EXPECT_EQ(a.connects, 1);
    EXPECT_EQ(b.connects, 0); // reused

    // Three pipelined requests in one write, one of them async (a create).
    std::string create = R"({"name":"piped","partitions":1})";
    std::string req =
        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /api/v1/topics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(create.size()) + "\r\n\r\n" + create +
        "GET /api/v1/topics/piped HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    bool closed = false;
    std::string got = RawExchange(AdminHost(), AdminPort(), req, 5000, &closed);
    EXPECT_TRUE(closed);
    size_t p1 = got.find("HTTP/1.1 200 OK");
    size_t p2 = got.find("HTTP/1.1 201 Created");
    size_t p3 = got.find("HTTP/1.1 200 OK", p2 == std::string::npos ? 0 : p2);
    EXPECT_NE(p1, std::string::npos) << got;
    EXPECT_NE(p2, std::string::npos) << got;
    EXPECT_NE(p3, std::string::npos) << got;
    EXPECT_LT(p1, p2);
    EXPECT_LT(p2, p3);
    EXPECT_NE(got.find("\"name\":\"piped\""), std::string::npos) << got;
}

// Parses the exposition: every sample belongs to a family with HELP and
// TYPE, names and labels are well formed, values are numbers, histogram
// buckets are cumulative and end in +Inf == _count.
std::map<std::string, double> ParseMetrics(const std::string &text)
{
    std::map<std::string, double> samples;
    std::map<std::string, std::string> types;
    std::map<std::string, int> helps;
    std::regex sample_re(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*",?)*\})? (\S+)$)");
    std::regex type_re(
        R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
    std::regex help_re(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
    std::istringstream in(text);
    std::string line;
    std::map<std::string, double> last_bucket;
    while (std::getline(in, line)) {
        std::smatch m;
        if (line.empty())
            continue;
        if (std::regex_match(line, m, type_re)) {
            EXPECT_EQ(types.count(m[1]), 0u) << "TYPE twice: " << line;
            types[m[1]] = m[2];
            continue;
        }
        if (std::regex_match(line, m, help_re)) {
            helps[m[1]]++;
            continue;
        }
        EXPECT_NE(line[0], '#') << "bad comment: " << line;
        if (!std::regex_match(line, m, sample_re)) {
            ADD_FAILURE() << "bad sample line: " << line;
            continue;
        }
        std::string name = m[1];
        std::string family = name;
        for (const char *suf : {"_bucket", "_sum", "_count"})
            if (!types.count(family) && family.size() > strlen(suf) &&
                family.compare(family.size() - strlen(suf), strlen(suf), suf) == 0)
                family = family.substr(0, family.size() - strlen(suf));
        EXPECT_TRUE(types.count(family)) << "no TYPE for " << line;
        EXPECT_TRUE(helps.count(family)) << "no HELP for " << line;
        std::string v = m[4];
        char *end = nullptr;
        double val = strtod(v.c_str(), &end);
        EXPECT_TRUE(end && *end == 0) << "bad value: " << line;
        std::string key = name + (m[2].matched ? std::string(m[2]) : "");
        EXPECT_EQ(samples.count(key), 0u) << "duplicate sample: " << line;
        samples[key] = val;
        if (types[family] == "histogram" && name == family + "_bucket") {
            std::string series = key.substr(0, key.find("le=\""));
            if (last_bucket.count(series)) {
                EXPECT_GE(val, last_bucket[series]) << "buckets not cumulative: " << line;
            }
            last_bucket[series] = val;
        }
    }
    return samples;
}

TEST_F(Admin, MetricsExposition)
{
    CreateTopic("m", 2);
    // Some traffic, so the RPC and partition series have values.
    rawclient_t *c = Connect();
    ASSERT_NE(c, nullptr);
    std::vector<uint8_t> batch = MakeBatch(10, 100, rc_now_ms(), 1);
    rc_produce_result_t pr;
    ASSERT_EQ(rc_produce(c, "m", 1, batch.data(), batch.size(), 1, &pr), 0) << pr.grpc_message;
    ASSERT_EQ(pr.error_code, 0) << pr.error_message;
    ASSERT_EQ(rc_produce(c, "m", 1, batch.data(), batch.size(), 1, &pr), 0) << pr.grpc_message;
    Get("/nowhere"); // one admin 404

    Response r = Get("/metrics");
    ASSERT_EQ(r.status, 200);
    EXPECT_NE(r.headers.find("text/plain; version=0.0.4"), std::string::npos) << r.headers;
    auto s = ParseMetrics(r.body);
    EXPECT_EQ(s["mq_topics"], 1);
    EXPECT_EQ(s["mq_partitions"], 2);
    EXPECT_EQ((s["mq_partition_log_end_offset{topic=\"m\",partition=\"1\"}"]), 20) << r.body;
    EXPECT_EQ((s["mq_partition_log_end_offset{topic=\"m\",partition=\"0\"}"]), 0);
    EXPECT_EQ((s["mq_partition_log_start_offset{topic=\"m\",partition=\"1\"}"]), 0);
    EXPECT_GE((s["mq_partition_size_bytes{topic=\"m\",partition=\"1\"}"]), 2.0 * batch.size());
    EXPECT_GE((s["mq_partition_segments{topic=\"m\",partition=\"1\"}"]), 1);
    EXPECT_EQ((s["mq_produced_records_total{topic=\"m\",partition=\"1\"}"]), 20) << r.body;
    EXPECT_EQ((s["mq_produced_bytes_total{topic=\"m\",partition=\"1\"}"]), 2.0 * batch.size());
    EXPECT_EQ((s["mq_rpc_requests_total{method=\"Produce\",grpc_code=\"OK\"}"]), 2) << r.body;
    double inf = s["mq_rpc_duration_seconds_bucket{method=\"Produce\",le=\"+Inf\"}"];
    EXPECT_EQ(inf, 2);
    EXPECT_EQ(s["mq_rpc_duration_seconds_count{method=\"Produce\"}"], inf);
    EXPECT_GT(s["mq_rpc_received_bytes_total{method=\"Produce\"}"], 2.0 * batch.size());
    EXPECT_GE(s["mq_connections"], 1);
    EXPECT_GE(s["mq_admin_requests_total{code=\"404\"}"], 1);
    EXPECT_GE(s["mq_uptime_seconds"], 0);
    EXPECT_EQ(s.count("mq_build_info{version=\"" MQ_VERSION_STR "\"}"), 1u);
}

TEST_F(Admin, TopicsSurviveRestart)
{
    CreateTopic("keep", 2, R"("config":{"retention.ms":"123456"})");
    CreateTopic("drop", 1);
    rawclient_t *c = Connect();
    ASSERT_NE(c, nullptr);
    std::vector<uint8_t> batch = MakeBatch(5, 50, rc_now_ms(), 2);
    rc_produce_result_t pr;
    ASSERT_EQ(rc_produce(c, "keep", 0, batch.data(), batch.size(), -1, &pr), 0) << pr.grpc_message;
    ASSERT_EQ(pr.error_code, 0);
    ASSERT_EQ(Delete("/api/v1/topics/drop").status, 200);
    Disconnect(c);

    ASSERT_EQ(broker_.Stop(), 0);
    ASSERT_TRUE(broker_.Restart()) << broker_.error();

    Http fresh;
    Response r = fresh.Do(broker_.admin_addr(), "GET", "/api/v1/topics");
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(cJSON_GetArraySize(r.data()), 1) << r.body;
    r = fresh.Do(broker_.admin_addr(), "GET", "/api/v1/topics/keep");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(num(r.data(), "partition_count"), 2);
    EXPECT_EQ(num(cJSON_GetObjectItemCaseSensitive(r.data(), "config"), "retention.ms"), 123456);
    cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.data(), "partitions"), 0);
    EXPECT_EQ(num(p0, "latest_offset"), 5) << r.body;
    EXPECT_EQ(fresh.Do(broker_.admin_addr(), "GET", "/api/v1/topics/drop").status, 404);
}

TEST_F(Admin, MalformedHttpKeepsBrokerServing)
{
    bool closed = false;
    std::string got = RawExchange(AdminHost(), AdminPort(), "GARBAGE\r\n\r\n", 3000, &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << got;
    EXPECT_NE(got.find("malformed HTTP request"), std::string::npos) << got;
    EXPECT_TRUE(closed);

    got = RawExchange(AdminHost(), AdminPort(), "GET /health HTTP/1.1\r\nHost x\r\n\r\n", 3000,
                      &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
    EXPECT_TRUE(closed);

    got = RawExchange(AdminHost(), AdminPort(),
                      "POST /api/v1/topics HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 3000,
                      &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got;
    EXPECT_TRUE(closed);

    got = RawExchange(AdminHost(), AdminPort(),
                      "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\n\r\n", 3000, &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 414", 0), 0u) << got.substr(0, 100);

    // Chunked body that grows past the limit.
    std::string chunked = "POST /api/v1/topics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; i++)
        chunked += "10000\r\n" + std::string(0x10000, 'x') + "\r\n";
    got = RawExchange(AdminHost(), AdminPort(), chunked, 3000, &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 413", 0), 0u) << got.substr(0, 100);

    // Binary noise, an HTTP/2 preface followed by junk, a bare preface
    // prefix, a request cut off mid-headers: none may hurt the broker.
    std::string noise;
    for (int i = 0; i < 4096; i++)
        noise += (char)(i * 131 + 7);
    RawExchange(AdminHost(), AdminPort(), noise, 1000, &closed);
    EXPECT_TRUE(closed);
    got = RawExchange(AdminHost(), AdminPort(),
                      std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string(64, '\xff'),
                      2000, &closed);
    EXPECT_TRUE(closed);
    RawExchange(AdminHost(), AdminPort(), "PRI * HTTP/2.0\r\n", 300, &closed);
    RawExchange(AdminHost(), AdminPort(), "GET /health HTTP/1.1\r\nHo", 300, &closed);
    RawExchange(AdminHost(), AdminPort(), std::string("GET /\0 HTTP/1.1\r\n\r\n", 20), 1000,
                &closed);

    ExpectHealthy();
    EXPECT_EQ(Get("/api/v1/cluster").status, 200);
    EXPECT_TRUE(broker_proc_alive(broker_.proc()));
}

TEST_F(Admin, ManyConnectionsAndRequests)
{
    // Sequential clients, each opening its own connection, interleaved with
    // HTTP/2 clients: the admin port must not leak or stall.
    int n = test_scaled(40);
    for (int i = 0; i < n; i++) {
        Http h(i % 2 == 1);
        std::string name = "many-" + std::to_string(i);
        std::string body = "{\"name\":\"" + name + "\",\"partitions\":1}";
        Response r = h.Do(broker_.admin_addr(), "POST", "/api/v1/topics", &body);
        ASSERT_EQ(r.status, 201) << r.body;
    }
    Response r = Get("/api/v1/cluster");
    EXPECT_EQ(num(r.data(), "topic_count"), n);
}

} // namespace
