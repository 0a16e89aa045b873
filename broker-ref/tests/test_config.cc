// Broker configuration: defaults, the config file, flags and the generated doc.
#include <gtest/gtest.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config.h"

namespace
{

class TempFile
{
  public:
    explicit TempFile(const std::string &text)
    {
        char tmpl[] = "/tmp/mq-config-XXXXXX";
        int fd = mkstemp(tmpl);
        EXPECT_GE(fd, 0);
        path_ = tmpl;
        EXPECT_EQ((ssize_t)text.size(), write(fd, text.data(), text.size()));
        close(fd);
    }
    ~TempFile()
    {
        unlink(path_.c_str());
    }
    const char *path() const
    {
        return path_.c_str();
    }

  private:
    std::string path_;
};

int from_args(broker_config_t *cfg, std::vector<std::string> args, std::string *err)
{
    args.insert(args.begin(), "mqbroker");
    std::vector<char *> argv;
    for (auto &a : args)
        argv.push_back(&a[0]);
    argv.push_back(nullptr);
    char buf[1024] = "";
    int rc = config_from_args(cfg, (int)args.size(), argv.data(), buf, sizeof(buf));
    *err = buf;
    return rc;
}

} // namespace

TEST(Config, Defaults)
{
    broker_config_t c;
    config_defaults(&c);
    EXPECT_STREQ("./data", c.data_dir);
    EXPECT_STREQ("127.0.0.1:9092", c.listen);
    EXPECT_STREQ("127.0.0.1:9642", c.admin_listen);
    EXPECT_STREQ("", c.ready_file);
    EXPECT_EQ(2, c.log_level);
    EXPECT_EQ(1, c.io_threads);
    EXPECT_EQ(16 * 1024 * 1024, c.max_request_bytes);
    EXPECT_EQ(1024 * 1024, c.log.max_message_bytes);
    EXPECT_LE(c.fetch_max_bytes, 4 * 1024 * 1024);
    EXPECT_EQ(0, c.auto_create_topics);
    EXPECT_EQ(1, c.default_partitions);
    EXPECT_EQ(10000, c.max_partitions);
    EXPECT_EQ(-1, c.log.retention_bytes);
    EXPECT_EQ(0, c.log.message_timestamp_log_append);
    EXPECT_EQ(0, config_validate(&c, nullptr, 0));
}

TEST(Config, SetEachType)
{
    broker_config_t c;
    config_defaults(&c);
    char err[512];
    EXPECT_EQ(0, config_set(&c, "io.threads", "4", err, sizeof err));
    EXPECT_EQ(4, c.io_threads);
    EXPECT_EQ(0, config_set(&c, "auto.create.topics.enable", "true", err, sizeof err));
    EXPECT_EQ(1, c.auto_create_topics);
    EXPECT_EQ(0, config_set(&c, "log.level", "DEBUG", err, sizeof err));
    EXPECT_EQ(3, c.log_level);
    EXPECT_EQ(0, config_set(&c, "log.segment.bytes", "1048576", err, sizeof err));
    EXPECT_EQ(1048576, c.log.segment_bytes);
    EXPECT_EQ(0, config_set(&c, "log.retention.ms", "-1", err, sizeof err));
    EXPECT_EQ(-1, c.log.retention_ms);
    EXPECT_EQ(0, config_set(&c, "log.message.timestamp.type", "LogAppendTime", err, sizeof err));
    EXPECT_EQ(1, c.log.message_timestamp_log_append);
    EXPECT_EQ(0, config_set(&c, "listen", "[::1]:0", err, sizeof err));
    EXPECT_STREQ("[::1]:0", c.listen);
}

TEST(Config, BadValuesNameKeyAndRange)
{
    broker_config_t c;
    config_defaults(&c);
    char err[512];
    EXPECT_EQ(-1, config_set(&c, "io.threads", "0", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "io.threads"));
    EXPECT_NE(nullptr, strstr(err, "1..64"));
    EXPECT_EQ(1, c.io_threads);
    EXPECT_EQ(-1, config_set(&c, "io.threads", "two", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "not an integer"));
    EXPECT_EQ(-1, config_set(&c, "io.threads", "2x", err, sizeof err));
    EXPECT_EQ(-1, config_set(&c, "auto.create.topics.enable", "yes", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "true, false"));
    EXPECT_EQ(-1, config_set(&c, "log.level", "loud", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "error, warn, info, debug"));
    EXPECT_EQ(-1, config_set(&c, "listen", "localhost", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "HOST:PORT"));
    EXPECT_EQ(-1, config_set(&c, "listen", "127.0.0.1:70000", err, sizeof err));
    EXPECT_EQ(-1, config_set(&c, "log.message.timestamp.type", "Now", err, sizeof err));
    EXPECT_EQ(-1, config_set(&c, "max.request.bytes", "99999999999999999999", err, sizeof err));
}

TEST(Config, UnknownKey)
{
    broker_config_t c;
    config_defaults(&c);
    char err[512];
    EXPECT_EQ(-1, config_set(&c, "no.such.key", "1", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "unknown config key 'no.such.key'"));
    // A topic-level key given to the broker points to the broker-wide one.
    EXPECT_EQ(-1, config_set(&c, "segment.bytes", "1", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "log.segment.bytes"));
}

TEST(Config, TopicKeys)
{
    broker_config_t c;
    config_defaults(&c);
    log_config_t lc = c.log;
    char err[512];
    EXPECT_EQ(0, config_set_topic_key(&lc, "retention.ms", "1000", err, sizeof err));
    EXPECT_EQ(1000, lc.retention_ms);
    EXPECT_EQ(0, config_set_topic_key(&lc, "max.message.bytes", "2048", err, sizeof err));
    EXPECT_EQ(2048, lc.max_message_bytes);
    EXPECT_EQ(0, config_set_topic_key(&lc, "segment.ms", "5000", err, sizeof err));
    EXPECT_EQ(5000, lc.segment_ms);
    EXPECT_EQ(
        0, config_set_topic_key(&lc, "message.timestamp.type", "LogAppendTime", err, sizeof err));
    EXPECT_EQ(1, lc.message_timestamp_log_append);
    EXPECT_EQ(-1, config_set_topic_key(&lc, "log.segment.bytes", "1", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "unknown topic config key"));
    EXPECT_EQ(-1, config_set_topic_key(&lc, "retention.bytes", "-5", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "retention.bytes"));
    // The broker defaults are untouched.
    EXPECT_EQ(c.log.retention_ms, 604800000);
}

TEST(Config, FileWithCommentsAndBlankLines)
{
    TempFile f("# broker\n"
               "\n"
               "data.dir = /tmp/somewhere   # trailing comment\n"
               "  io.threads=3\n"
               "auto.create.topics.enable = true\n"
               "num.partitions = 4\n");
    broker_config_t c;
    config_defaults(&c);
    char err[512];
    ASSERT_EQ(0, config_load_file(&c, f.path(), err, sizeof err)) << err;
    EXPECT_STREQ("/tmp/somewhere", c.data_dir);
    EXPECT_EQ(3, c.io_threads);
    EXPECT_EQ(1, c.auto_create_topics);
    EXPECT_EQ(4, c.default_partitions);
}

TEST(Config, FileErrorsNameFileLineAndKey)
{
    broker_config_t c;
    config_defaults(&c);
    char err[512];
    {
        TempFile f("io.threads = 2\nbogus.key = 1\n");
        EXPECT_EQ(-1, config_load_file(&c, f.path(), err, sizeof err));
        std::string want = std::string(f.path()) + ":2: unknown config key 'bogus.key'";
        EXPECT_NE(nullptr, strstr(err, want.c_str())) << err;
    }
    {
        TempFile f("max.connections = -3\n");
        EXPECT_EQ(-1, config_load_file(&c, f.path(), err, sizeof err));
        EXPECT_NE(nullptr, strstr(err, ":1: max.connections")) << err;
        EXPECT_NE(nullptr, strstr(err, "out of range")) << err;
    }
    {
        TempFile f("just words\n");
        EXPECT_EQ(-1, config_load_file(&c, f.path(), err, sizeof err));
        EXPECT_NE(nullptr, strstr(err, "expected 'key = value'")) << err;
    }
    {
        TempFile f("= 5\n");
        EXPECT_EQ(-1, config_load_file(&c, f.path(), err, sizeof err));
        EXPECT_NE(nullptr, strstr(err, "missing key")) << err;
    }
    EXPECT_EQ(-1, config_load_file(&c, "/nonexistent/mq.conf", err, sizeof err));
    EXPECT_NE(nullptr, strstr(err, "/nonexistent/mq.conf")) << err;
}

TEST(Config, FlagsOverrideFileWhereverConfigAppears)
{
    TempFile f("data.dir = /from/file\nio.threads = 3\nlisten = 127.0.0.1:1111\n");
    broker_config_t c;
    std::string err;
    ASSERT_EQ(0, from_args(&c,
                           {"--data-dir", "/from/flag", "--config", f.path(), "--io.threads=5",
                            "--log-level", "warn", "--ready-file", "/tmp/r"},
                           &err))
        << err;
    EXPECT_STREQ("/from/flag", c.data_dir);
    EXPECT_EQ(5, c.io_threads);
    EXPECT_STREQ("127.0.0.1:1111", c.listen);
    EXPECT_EQ(1, c.log_level);
    EXPECT_STREQ("/tmp/r", c.ready_file);
    // Later flags win over earlier ones.
    ASSERT_EQ(0, from_args(&c, {"--listen", "127.0.0.1:1", "--listen", "127.0.0.1:0"}, &err));
    EXPECT_STREQ("127.0.0.1:0", c.listen);
}

TEST(Config, FlagErrors)
{
    broker_config_t c;
    std::string err;
    EXPECT_EQ(-1, from_args(&c, {"--no-such-flag", "1"}, &err));
    EXPECT_NE(std::string::npos, err.find("unknown flag '--no-such-flag'")) << err;
    EXPECT_EQ(-1, from_args(&c, {"--listen"}, &err));
    EXPECT_NE(std::string::npos, err.find("--listen needs a value")) << err;
    EXPECT_EQ(-1, from_args(&c, {"--io.threads", "100"}, &err));
    EXPECT_NE(std::string::npos, err.find("io.threads")) << err;
    EXPECT_EQ(-1, from_args(&c, {"stray"}, &err));
    EXPECT_EQ(-1, from_args(&c, {"--config"}, &err));
    // Cross-key checks run at the end.
    EXPECT_EQ(-1,
              from_args(&c, {"--message.max.bytes", "4096", "--max.request.bytes", "2048"}, &err));
    EXPECT_NE(std::string::npos, err.find("message.max.bytes")) << err;
    EXPECT_EQ(-1, from_args(&c, {"--num.partitions", "20", "--max.partitions", "10"}, &err));
    EXPECT_NE(std::string::npos, err.find("num.partitions")) << err;
}

TEST(Config, DocListsEveryKey)
{
    char *text = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_doc(f);
    fclose(f);
    std::string doc(text, len);
    free(text);
    for (const char *k :
         {"data.dir", "listen", "admin.listen", "io.threads", "max.connections",
          "max.request.bytes", "message.max.bytes", "fetch.max.bytes", "auto.create.topics.enable",
          "num.partitions", "max.partitions", "log.segment.bytes", "log.retention.ms",
          "log.retention.bytes", "log.index.interval.bytes", "log.roll.ms", "shutdown.timeout.ms"})
        EXPECT_NE(std::string::npos, doc.find(std::string("`") + k + "`")) << k;
}

// docs/configuration.md is generated: it starts with the broker's table and
// ends with the client's. Regenerate with: scripts/gen-config-doc
TEST(Config, CommittedDocMatchesTable)
{
    char *text = nullptr;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_doc(f);
    fclose(f);
    std::string generated(text, len);
    free(text);
    std::ifstream in(std::string(MQ_SOURCE_DIR) + "/docs/configuration.md");
    ASSERT_TRUE(in.good()) << "docs/configuration.md is missing";
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(generated, ss.str().substr(0, generated.size()))
        << "docs/configuration.md is stale: run scripts/gen-config-doc";
}
