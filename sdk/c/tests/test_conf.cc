// Config table: defaults, parsing, range checks, error text, get/dup, docs.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

extern "C" {
#include "conf.h"
#include "mqclient.h"
}

namespace
{
std::string get(const mq_conf_t *c, const char *key)
{
    char buf[256];
    size_t size = sizeof(buf);
    EXPECT_EQ(mq_conf_get(c, key, buf, &size), MQ_OK) << key;
    return buf;
}
} // namespace

TEST(Conf, DefaultsFollowDesign)
{
    mq_conf_t *c = mq_conf_new();
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(get(c, "linger.ms"), "5");
    EXPECT_EQ(get(c, "batch.size"), "1000000");
    EXPECT_EQ(get(c, "max.in.flight"), "5");
    EXPECT_EQ(get(c, "acks"), "all");
    EXPECT_EQ(get(c, "enable.idempotence"), "true");
    EXPECT_EQ(get(c, "reconnect.backoff.ms"), "100");
    EXPECT_EQ(get(c, "reconnect.backoff.max.ms"), "10000");
    EXPECT_EQ(get(c, "retry.backoff.ms"), "100");
    EXPECT_EQ(get(c, "retry.backoff.max.ms"), "1000");
    EXPECT_EQ(get(c, "message.timeout.ms"), "300000");
    EXPECT_EQ(get(c, "request.timeout.ms"), "30000");
    EXPECT_EQ(get(c, "compression.type"), "none");
    EXPECT_EQ(get(c, "statistics.interval.ms"), "0");
    EXPECT_EQ(c->linger_ms, 5);
    EXPECT_EQ(c->acks, -1);
    EXPECT_EQ(mq__conf_check(c, NULL, 0), MQ_OK);
    mq_conf_destroy(c);
}

TEST(Conf, EveryKeyRoundTripsItsDefault)
{
    mq_conf_t *c = mq_conf_new();
    ASSERT_GE(mq__conf_key_count(), 20u);
    for (size_t i = 0; i < mq__conf_key_count(); i++) {
        const char *k = mq__conf_key_name(i);
        std::string v = get(c, k);
        char err[256];
        EXPECT_EQ(mq_conf_set(c, k, v.c_str(), err, sizeof(err)), MQ_OK) << k << ": " << err;
        EXPECT_EQ(get(c, k), v);
    }
    EXPECT_EQ(mq__conf_key_name(mq__conf_key_count()), nullptr);
    mq_conf_destroy(c);
}

TEST(Conf, SetParsesTypes)
{
    mq_conf_t *c = mq_conf_new();
    char err[256];
    EXPECT_EQ(mq_conf_set(c, "linger.ms", "0", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(c->linger_ms, 0);
    EXPECT_EQ(mq_conf_set(c, "enable.idempotence", "FALSE", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(c->enable_idempotence, 0);
    EXPECT_EQ(mq_conf_set(c, "enable.idempotence", "1", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(c->enable_idempotence, 1);
    EXPECT_EQ(mq_conf_set(c, "acks", "leader", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(c->acks, 1);
    EXPECT_EQ(mq_conf_set(c, "acks", "-1", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(get(c, "acks"), "all");
    EXPECT_EQ(mq_conf_set(c, "acks", "0", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(get(c, "acks"), "none");
    EXPECT_EQ(mq_conf_set(c, "compression.type", "zstd", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(c->compression_type, MQ__COMPRESSION_ZSTD);
    EXPECT_EQ(mq_conf_set(c, "bootstrap.servers", "a:1,b:2", err, sizeof(err)), MQ_OK);
    EXPECT_EQ(get(c, "bootstrap.servers"), "a:1,b:2");
    mq_conf_destroy(c);
}

TEST(Conf, BadInputNamesTheKeyAndWhatIsAllowed)
{
    mq_conf_t *c = mq_conf_new();
    char err[256];
    EXPECT_EQ(mq_conf_set(c, "lingr.ms", "5", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("\"lingr.ms\""), std::string::npos) << err;

    EXPECT_EQ(mq_conf_set(c, "linger.ms", "abc", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("linger.ms"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("from 0 to 900000"), std::string::npos) << err;
    EXPECT_NE(std::string(err).find("abc"), std::string::npos) << err;

    EXPECT_EQ(mq_conf_set(c, "linger.ms", "900001", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(mq_conf_set(c, "linger.ms", "-1", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(mq_conf_set(c, "linger.ms", "5ms", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(mq_conf_set(c, "linger.ms", "", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(mq_conf_set(c, "linger.ms", "99999999999999999999", err, sizeof(err)),
              MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(c->linger_ms, 5) << "a failed set keeps the old value";

    EXPECT_EQ(mq_conf_set(c, "compression.type", "gzip", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("one of none, lz4, zstd"), std::string::npos) << err;
    EXPECT_EQ(mq_conf_set(c, "acks", "2", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(mq_conf_set(c, "enable.idempotence", "yes", err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("true or false"), std::string::npos) << err;

    // client.id goes into request headers, logs and JSON as it is.
    EXPECT_EQ(mq_conf_set(c, "client.id", "billing-7 (eu)", err, sizeof(err)), MQ_OK);
    for (const char *bad : {"a\"b", "a\\b", "line\nbreak", "caf\xc3\xa9"}) {
        EXPECT_EQ(mq_conf_set(c, "client.id", bad, err, sizeof(err)), MQ_ERR_INVALID_CONFIG) << bad;
        EXPECT_NE(std::string(err).find("\"client.id\""), std::string::npos) << err;
        EXPECT_NE(std::string(err).find("printable ASCII"), std::string::npos) << err;
    }
    EXPECT_EQ(mq_conf_set(c, "client.id", std::string(255, 'x').c_str(), err, sizeof(err)), MQ_OK);
    EXPECT_EQ(mq_conf_set(c, "client.id", std::string(256, 'x').c_str(), err, sizeof(err)),
              MQ_ERR_INVALID_CONFIG);

    EXPECT_EQ(mq_conf_set(NULL, "linger.ms", "5", err, sizeof(err)), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_conf_set(c, NULL, "5", err, sizeof(err)), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(mq_conf_set(c, "linger.ms", NULL, err, sizeof(err)), MQ_ERR_INVALID_ARG);
    // A NULL or tiny error buffer is fine.
    EXPECT_EQ(mq_conf_set(c, "nope", "1", NULL, 0), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(mq_conf_set(c, "nope", "1", err, 1), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(err[0], '\0');
    mq_conf_destroy(c);
}

TEST(Conf, GetSizes)
{
    mq_conf_t *c = mq_conf_new();
    size_t size = 0;
    EXPECT_EQ(mq_conf_get(c, "linger.ms", NULL, &size), MQ_OK);
    EXPECT_EQ(size, 2u);
    char small[1];
    size = sizeof(small);
    EXPECT_EQ(mq_conf_get(c, "batch.size", small, &size), MQ_ERR_INVALID_ARG);
    EXPECT_EQ(size, 8u);
    EXPECT_EQ(mq_conf_get(c, "nope", NULL, &size), MQ_ERR_INVALID_CONFIG);
    EXPECT_EQ(mq_conf_get(c, "linger.ms", NULL, NULL), MQ_ERR_INVALID_ARG);
    // A long string value is returned whole.
    std::string longv(1000, 'x');
    EXPECT_EQ(mq_conf_set(c, "ssl.ca.pem", longv.c_str(), NULL, 0), MQ_OK);
    EXPECT_EQ(mq_conf_get(c, "ssl.ca.pem", NULL, &size), MQ_OK);
    EXPECT_EQ(size, 1001u);
    std::string buf(size, '\0');
    EXPECT_EQ(mq_conf_get(c, "ssl.ca.pem", &buf[0], &size), MQ_OK);
    EXPECT_EQ(std::string(buf.c_str()), longv);
    mq_conf_destroy(c);
}

TEST(Conf, DupIsDeep)
{
    mq_conf_t *c = mq_conf_new();
    ASSERT_EQ(mq_conf_set(c, "client.id", "one", NULL, 0), MQ_OK);
    ASSERT_EQ(mq_conf_set(c, "linger.ms", "7", NULL, 0), MQ_OK);
    mq_conf_t *d = mq_conf_dup(c);
    ASSERT_NE(d, nullptr);
    ASSERT_EQ(mq_conf_set(c, "client.id", "two", NULL, 0), MQ_OK);
    mq_conf_destroy(c);
    EXPECT_EQ(get(d, "client.id"), "one");
    EXPECT_EQ(get(d, "linger.ms"), "7");
    mq_conf_destroy(d);
    EXPECT_EQ(mq_conf_dup(NULL), nullptr);
    mq_conf_destroy(NULL);
}

TEST(Conf, CrossKeyChecks)
{
    mq_conf_t *c = mq_conf_new();
    char err[256];
    ASSERT_EQ(mq_conf_set(c, "acks", "leader", NULL, 0), MQ_OK);
    EXPECT_EQ(mq__conf_check(c, err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("enable.idempotence"), std::string::npos) << err;
    ASSERT_EQ(mq_conf_set(c, "enable.idempotence", "false", NULL, 0), MQ_OK);
    EXPECT_EQ(mq__conf_check(c, err, sizeof(err)), MQ_OK);
    ASSERT_EQ(mq_conf_set(c, "bootstrap.servers", "", NULL, 0), MQ_OK);
    EXPECT_EQ(mq__conf_check(c, err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    EXPECT_NE(std::string(err).find("bootstrap.servers"), std::string::npos) << err;
    ASSERT_EQ(mq_conf_set(c, "bootstrap.servers", "h:1", NULL, 0), MQ_OK);
    ASSERT_EQ(mq_conf_set(c, "retry.backoff.max.ms", "10", NULL, 0), MQ_OK);
    EXPECT_EQ(mq__conf_check(c, err, sizeof(err)), MQ_ERR_INVALID_CONFIG);
    mq_conf_destroy(c);
}

TEST(Conf, MarkdownListsEveryKey)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    mq__conf_write_markdown(f);
    fclose(f);
    std::string md(text, len);
    free(text);
    for (size_t i = 0; i < mq__conf_key_count(); i++)
        EXPECT_NE(md.find(std::string("| `") + mq__conf_key_name(i) + "` |"), std::string::npos)
            << mq__conf_key_name(i);
    EXPECT_NE(md.find("| `linger.ms` | integer | `5` | an integer from 0 to 900000 |"),
              std::string::npos);
}

// docs/configuration.md is generated: the broker's table, then the client's.
// Regenerate with: scripts/gen-config-doc
TEST(Conf, CommittedDocMatchesTable)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    mq__conf_write_markdown(f);
    fclose(f);
    std::string generated(text, len);
    free(text);
    std::ifstream in(std::string(MQ_SOURCE_DIR) + "/docs/configuration.md");
    ASSERT_TRUE(in.good()) << "docs/configuration.md is missing";
    std::stringstream ss;
    ss << in.rdbuf();
    std::string doc = ss.str();
    ASSERT_GE(doc.size(), generated.size());
    EXPECT_EQ(generated, doc.substr(doc.size() - generated.size()))
        << "docs/configuration.md is stale: run scripts/gen-config-doc";
}
