/* The client configuration: ONE table holds every key's name, type,
 * default, range and doc. mq_conf_set/get, the defaults and the generated
 * docs (mq__conf_write_markdown) all read it, so they cannot disagree. */
#include "conf.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum conf_type { T_INT, T_BOOL, T_ENUM, T_STR };

struct conf_enum {
    const char *name;
    int64_t value;
};

struct conf_key {
    const char *name;
    enum conf_type type;
    const char *def;
    int64_t min, max;              /* T_INT only */
    const struct conf_enum *enums; /* T_ENUM only; ends with a NULL name */
    size_t offset;
    const char *doc;
};

static const struct conf_enum acks_enum[] = {{"none", 0}, {"leader", 1}, {"all", -1}, {NULL, 0}};
static const struct conf_enum security_enum[] = {{"plaintext", 0}, {"ssl", 1}, {NULL, 0}};
static const struct conf_enum endpoint_enum[] = {{"none", 0}, {"https", 1}, {NULL, 0}};
static const struct conf_enum compression_enum[] = {{"none", MQ__COMPRESSION_NONE},
                                                    {"lz4", MQ__COMPRESSION_LZ4},
                                                    {"zstd", MQ__COMPRESSION_ZSTD},
                                                    {NULL, 0}};

static const struct conf_enum reset_enum[] = {{"earliest", MQ__RESET_EARLIEST},
                                              {"latest", MQ__RESET_LATEST},
                                              {"error", MQ__RESET_ERROR},
                                              {NULL, 0}};
static const struct conf_enum assignor_enum[] = {{"sticky", MQ__ASSIGN_STICKY},
                                                 {"range", MQ__ASSIGN_RANGE},
                                                 {"roundrobin", MQ__ASSIGN_ROUNDROBIN},
                                                 {NULL, 0}};

#define F(field) offsetof(struct mq_conf, field)
#define I32MAX INT64_C(2147483647)

static const struct conf_key keys[] = {
    {"bootstrap.servers", T_STR, "127.0.0.1:9092", 0, 0, NULL, F(bootstrap_servers),
     "Comma-separated host:port list of brokers, tried in turn until one answers."},
    {"client.id", T_STR, "mqclient", 0, 255, NULL, F(client_id),
     "A name for this client: sent with every request (the broker logs it and shows it for "
     "group members) and carried in statistics events. Up to 255 printable ASCII characters, "
     "without quotes or backslashes."},
    {"linger.ms", T_INT, "5", 0, 900000, NULL, F(linger_ms),
     "How long a batch may wait for more messages before it is sent."},
    {"batch.size", T_INT, "1000000", 1, I32MAX, NULL, F(batch_size),
     "Largest batch in bytes; a batch this full is sent at once."},
    {"batch.num.messages", T_INT, "10000", 1, 1000000, NULL, F(batch_num_messages),
     "Most messages in one batch; a batch this full is sent at once."},
    {"max.in.flight", T_INT, "5", 1, 1000, NULL, F(max_in_flight),
     "Most Produce requests awaiting an answer on one connection. Order within a partition "
     "is kept at any value; with enable.idempotence it must be at most 5."},
    {"acks", T_ENUM, "all", 0, 0, acks_enum, F(acks),
     "When the broker answers: none (no answer is awaited, offsets are unknown), leader "
     "(written to the log) or all (fsync'd). Also accepts 0, 1, -1."},
    {"enable.idempotence", T_BOOL, "true", 0, 0, NULL, F(enable_idempotence),
     "Ask the broker for a producer id and number every batch, so retries never duplicate "
     "or reorder messages. Needs acks=all and max.in.flight <= 5."},
    {"retries", T_INT, "2147483647", 0, I32MAX, NULL, F(retries),
     "How often a batch that failed with a retriable error is sent again (message.timeout.ms "
     "still bounds it)."},
    {"reconnect.backoff.ms", T_INT, "100", 0, 3600000, NULL, F(reconnect_backoff_ms),
     "First wait before reconnecting to a broker; doubles per failed attempt with jitter "
     "(x0.75-1.5) up to reconnect.backoff.max.ms."},
    {"reconnect.backoff.max.ms", T_INT, "10000", 0, 3600000, NULL, F(reconnect_backoff_max_ms),
     "Longest wait between reconnect attempts."},
    {"retry.backoff.ms", T_INT, "100", 1, 300000, NULL, F(retry_backoff_ms),
     "First wait before a failed batch is sent again; doubles per retry with jitter up to "
     "retry.backoff.max.ms."},
    {"retry.backoff.max.ms", T_INT, "1000", 1, 300000, NULL, F(retry_backoff_max_ms),
     "Longest wait before a retry."},
    {"message.timeout.ms", T_INT, "300000", 0, I32MAX, NULL, F(message_timeout_ms),
     "A message not delivered this long after mq_produce fails with MQ_ERR_MSG_TIMED_OUT; "
     "0 = no limit."},
    {"request.timeout.ms", T_INT, "30000", 1, 900000, NULL, F(request_timeout_ms),
     "Longest wait for the answer to one request."},
    {"queue.buffering.max.kbytes", T_INT, "1048576", 1, I32MAX, NULL, F(queue_buffering_max_kbytes),
     "Most KiB of messages waiting for their delivery report; beyond it mq_produce fails "
     "with MQ_ERR_QUEUE_FULL (or blocks with MQ_PRODUCE_BLOCK)."},
    {"queue.buffering.max.messages", T_INT, "1000000", 1, 100000000, NULL,
     F(queue_buffering_max_messages),
     "Most messages waiting for their delivery report; beyond it mq_produce fails with "
     "MQ_ERR_QUEUE_FULL (or blocks with MQ_PRODUCE_BLOCK)."},
    {"max.block.ms", T_INT, "60000", 0, I32MAX, NULL, F(max_block_ms),
     "Longest time mq_produce with MQ_PRODUCE_BLOCK waits for buffer space."},
    {"compression.type", T_ENUM, "none", 0, 0, compression_enum, F(compression_type),
     "Compression of each batch's records: none, lz4 or zstd. The broker stores batches "
     "as they come."},
    {"statistics.interval.ms", T_INT, "0", 0, 86400000, NULL, F(statistics_interval_ms),
     "How often a statistics event (JSON) is queued for poll; 0 = never."},
    {"message.max.bytes", T_INT, "1000000", 1000, 1000000000, NULL, F(message_max_bytes),
     "Largest single record (key, value and headers encoded) mq_produce accepts."},
    {"topic.metadata.refresh.interval.ms", T_INT, "300000", 1000, 3600000, NULL,
     F(metadata_refresh_interval_ms),
     "How often known topics' metadata (partition counts) is refreshed."},
    {"socket.connection.setup.timeout.ms", T_INT, "10000", 100, 3600000, NULL,
     F(socket_connection_setup_timeout_ms),
     "Longest time a TCP connect may take before the next broker is tried."},
    {"socket.keepalive.enable", T_BOOL, "true", 0, 0, NULL, F(socket_keepalive_enable),
     "TCP keepalive on broker connections (probes after 60 s of silence), a backstop under "
     "the HTTP/2 PINGs."},
    {"connection.ping.interval.ms", T_INT, "10000", 0, 3600000, NULL,
     F(connection_ping_interval_ms),
     "An HTTP/2 PING is sent when the broker has sent nothing for this long (and at once "
     "when a request times out); 0 = no PINGs."},
    {"connection.ping.timeout.ms", T_INT, "5000", 1, 3600000, NULL, F(connection_ping_timeout_ms),
     "A connection whose PING gets no answer within this time is dropped and re-established "
     "(in-flight requests are retried)."},
    /* TLS (docs/security.md). */
    {"security.protocol", T_ENUM, "plaintext", 0, 0, security_enum, F(security_protocol),
     "plaintext, or ssl: TLS 1.2+ with ALPN h2 (the broker's ssl:// listener)."},
    {"ssl.ca.location", T_STR, "", 0, 0, NULL, F(ssl_ca_location),
     "PEM file of the CA certificates that verify the broker; empty = the system's default "
     "trust store (unless ssl.ca.pem is set)."},
    {"ssl.ca.pem", T_STR, "", 0, 0, NULL, F(ssl_ca_pem),
     "The CA certificates as a PEM string (instead of ssl.ca.location)."},
    {"ssl.certificate.location", T_STR, "", 0, 0, NULL, F(ssl_certificate_location),
     "PEM file of this client's certificate (and chain) for mTLS. Reloaded from the file "
     "after a failed handshake."},
    {"ssl.certificate.pem", T_STR, "", 0, 0, NULL, F(ssl_certificate_pem),
     "This client's certificate as a PEM string (instead of ssl.certificate.location)."},
    {"ssl.key.location", T_STR, "", 0, 0, NULL, F(ssl_key_location),
     "PEM file of the private key of ssl.certificate.location."},
    {"ssl.key.pem", T_STR, "", 0, 0, NULL, F(ssl_key_pem),
     "The private key as a PEM string (instead of ssl.key.location)."},
    {"ssl.key.password", T_STR, "", 0, 0, NULL, F(ssl_key_password),
     "Password of an encrypted private key."},
    {"ssl.crl.location", T_STR, "", 0, 0, NULL, F(ssl_crl_location),
     "PEM certificate revocation list checked against the broker's certificate."},
    {"ssl.endpoint.identification.algorithm", T_ENUM, "https", 0, 0, endpoint_enum,
     F(ssl_endpoint_identification),
     "https: the broker's certificate must name the host (DNS SAN) or IP (IP SAN) of "
     "bootstrap.servers; none: skip that check (the chain is still verified)."},
    /* ---- consumer ---- */
    {"group.id", T_STR, "", 0, 0, NULL, F(group_id),
     "Consumer group to join (mq_consumer_subscribe) and to commit offsets under; empty = "
     "no group (manual assignment only, no commits)."},
    {"group.instance.id", T_STR, "", 0, 0, NULL, F(group_instance_id),
     "Static membership: a stable id for this member, so a restart within "
     "session.timeout.ms takes its partitions back without a rebalance; empty = dynamic."},
    {"session.timeout.ms", T_INT, "45000", 1, 3600000, NULL, F(session_timeout_ms),
     "A member not heard from this long is removed from its group and its partitions move "
     "(the broker bounds it by group.min/max.session.timeout.ms)."},
    {"heartbeat.interval.ms", T_INT, "3000", 1, 3600000, NULL, F(heartbeat_interval_ms),
     "Longest time between heartbeats; a heartbeat is long-polled and returns at once when "
     "the member's assignment changes. Keep it below session.timeout.ms / 3."},
    {"max.poll.interval.ms", T_INT, "300000", 1, 86400000, NULL, F(max_poll_interval_ms),
     "A member whose application does not poll for this long leaves its group (its "
     "partitions move) and gets an MQ_ERR_MAX_POLL_EXCEEDED error event; the next poll "
     "rejoins."},
    {"auto.offset.reset", T_ENUM, "latest", 0, 0, reset_enum, F(auto_offset_reset),
     "Where to start when there is no committed offset or it is out of range: earliest, "
     "latest, or error (an MQ_ERR_OFFSET_OUT_OF_RANGE event; the partition waits for a "
     "seek)."},
    {"enable.auto.commit", T_BOOL, "true", 0, 0, NULL, F(enable_auto_commit),
     "Commit stored offsets every auto.commit.interval.ms, on revoke and on close. Only "
     "offsets of messages poll has returned are ever stored (see enable.auto.offset.store)."},
    {"auto.commit.interval.ms", T_INT, "5000", 1, 86400000, NULL, F(auto_commit_interval_ms),
     "How often enable.auto.commit commits."},
    {"enable.auto.offset.store", T_BOOL, "true", 0, 0, NULL, F(enable_auto_offset_store),
     "Store the offset after each message poll returns as the one to commit; false = only "
     "mq_consumer_store_offsets stores (at-least-once after processing)."},
    {"enable.partition.eof", T_BOOL, "false", 0, 0, NULL, F(enable_partition_eof),
     "Emit an MQ_EVENT_PARTITION_EOF event each time a partition's position reaches its end "
     "of log."},
    {"fetch.max.bytes", T_INT, "4194304", 1024, 1000000000, NULL, F(fetch_max_bytes),
     "Cap on the record bytes of one Fetch response (the broker caps it too, default 4 MiB); "
     "a batch larger than this still arrives whole."},
    {"fetch.min.bytes", T_INT, "1", 0, 100000000, NULL, F(fetch_min_bytes),
     "The broker answers a Fetch once this many bytes are available (or fetch.wait.max.ms "
     "passes)."},
    {"fetch.wait.max.ms", T_INT, "500", 0, 300000, NULL, F(fetch_wait_max_ms),
     "Longest time the broker holds a Fetch (long poll) waiting for fetch.min.bytes."},
    {"max.partition.fetch.bytes", T_INT, "1048576", 1, 1000000000, NULL,
     F(max_partition_fetch_bytes), "Cap on one partition's bytes in one Fetch response."},
    {"queued.max.messages.kbytes", T_INT, "65536", 1, 2097151, NULL, F(queued_max_messages_kbytes),
     "Most KiB of fetched batches waiting for poll across all partitions (each partition "
     "gets an equal share); fetching pauses beyond it."},
    {"partition.assignment.strategy", T_ENUM, "sticky", 0, 0, assignor_enum,
     F(partition_assignment_strategy),
     "How the broker assigns the group's partitions: sticky (fewest moves, cooperative), "
     "range or roundrobin."},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

size_t mq__conf_key_count(void)
{
    return NKEYS;
}

const char *mq__conf_key_name(size_t i)
{
    return i < NKEYS ? keys[i].name : NULL;
}

static void seterr(char *errstr, size_t size, const char *fmt, const char *a, const char *b)
{
    if (!errstr || size == 0)
        return;
    snprintf(errstr, size, fmt, a, b);
}

static const struct conf_key *find_key(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

static int parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* Describes what a key allows, for error messages and docs. */
static void allowed(const struct conf_key *k, char *buf, size_t size)
{
    size_t n = 0;
    switch (k->type) {
    case T_INT:
        snprintf(buf, size, "an integer from %" PRId64 " to %" PRId64, k->min, k->max);
        return;
    case T_BOOL:
        snprintf(buf, size, "true or false");
        return;
    case T_STR:
        snprintf(buf, size, "a string");
        return;
    case T_ENUM:
        n = (size_t)snprintf(buf, size, "one of");
        for (const struct conf_enum *e = k->enums; e->name && n < size; e++)
            n += (size_t)snprintf(buf + n, size - n, "%s %s", e == k->enums ? "" : ",", e->name);
        return;
    }
}

static mq_err_t parse_value(const struct conf_key *k, const char *value, int64_t *out)
{
    switch (k->type) {
    case T_INT:
        if (parse_int(value, out) != 0 || *out < k->min || *out > k->max)
            return MQ_ERR_INVALID_CONFIG;
        return MQ_OK;
    case T_BOOL:
        if (!strcasecmp(value, "true") || !strcmp(value, "1"))
            *out = 1;
        else if (!strcasecmp(value, "false") || !strcmp(value, "0"))
            *out = 0;
        else
            return MQ_ERR_INVALID_CONFIG;
        return MQ_OK;
    case T_ENUM:
        for (const struct conf_enum *e = k->enums; e->name; e++) {
            if (!strcasecmp(value, e->name)) {
                *out = e->value;
                return MQ_OK;
            }
        }
        /* The numeric form of a listed value (acks=-1 as librdkafka users write it). */
        if (parse_int(value, out) == 0)
            for (const struct conf_enum *e = k->enums; e->name; e++)
                if (e->value == *out)
                    return MQ_OK;
        return MQ_ERR_INVALID_CONFIG;
    case T_STR:
        break;
    }
    return MQ_ERR_INVALID_CONFIG;
}

/* A string key with a max (client.id) goes into request headers, logs and
 * JSON as it is: printable ASCII without quotes or backslashes only. */
static int is_name(const char *v, size_t max)
{
    size_t n = 0;
    for (; v[n]; n++)
        if (n >= max || v[n] < 0x20 || v[n] > 0x7e || v[n] == '"' || v[n] == '\\')
            return 0;
    return 1;
}

static mq_err_t set_key(mq_conf_t *conf, const struct conf_key *k, const char *value, char *errstr,
                        size_t errstr_size)
{
    char *field = (char *)conf + k->offset;
    if (k->type == T_STR) {
        if (k->max > 0 && !is_name(value, (size_t)k->max)) {
            char got[80];
            snprintf(got, sizeof(got), "%.64s", value);
            seterr(errstr, errstr_size,
                   "invalid value for \"%s\": expected at most 255 printable ASCII characters "
                   "without \" or \\, got \"%s\"",
                   k->name, got);
            return MQ_ERR_INVALID_CONFIG;
        }
        char *copy = strdup(value);
        if (!copy)
            return MQ_ERR_NO_MEMORY;
        free(*(char **)field);
        *(char **)field = copy;
        return MQ_OK;
    }
    int64_t v;
    if (parse_value(k, value, &v) != MQ_OK) {
        char what[160];
        allowed(k, what, sizeof(what));
        char detail[256];
        snprintf(detail, sizeof(detail), "%s, got \"%.64s\"", what, value);
        seterr(errstr, errstr_size, "invalid value for \"%s\": expected %s", k->name, detail);
        return MQ_ERR_INVALID_CONFIG;
    }
    *(int64_t *)field = v;
    return MQ_OK;
}

mq_conf_t *mq_conf_new(void)
{
    mq_conf_t *conf = calloc(1, sizeof(*conf));
    if (!conf)
        return NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        if (set_key(conf, &keys[i], keys[i].def, NULL, 0) != MQ_OK) {
            mq_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

void mq_conf_destroy(mq_conf_t *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].type == T_STR)
            free(*(char **)((char *)conf + keys[i].offset));
    free(conf);
}

mq_conf_t *mq_conf_dup(const mq_conf_t *conf)
{
    if (!conf)
        return NULL;
    mq_conf_t *copy = calloc(1, sizeof(*copy));
    if (!copy)
        return NULL;
    *copy = *conf;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type != T_STR)
            continue;
        char **field = (char **)((char *)copy + keys[i].offset);
        *field = strdup(*field);
        if (!*field) {
            /* Null the remaining shared pointers so destroy frees only copies. */
            for (size_t j = i + 1; j < NKEYS; j++)
                if (keys[j].type == T_STR)
                    *(char **)((char *)copy + keys[j].offset) = NULL;
            mq_conf_destroy(copy);
            return NULL;
        }
    }
    return copy;
}

mq_err_t mq_conf_set(mq_conf_t *conf, const char *key, const char *value, char *errstr,
                     size_t errstr_size)
{
    if (errstr && errstr_size)
        errstr[0] = '\0';
    if (!conf || !key || !value) {
        seterr(errstr, errstr_size, "%s%s", "conf, key and value must not be NULL", "");
        return MQ_ERR_INVALID_ARG;
    }
    const struct conf_key *k = find_key(key);
    if (!k) {
        seterr(errstr, errstr_size,
               "unknown configuration key \"%.128s\" (docs/configuration.md lists every "
               "key)%s",
               key, "");
        return MQ_ERR_INVALID_CONFIG;
    }
    return set_key(conf, k, value, errstr, errstr_size);
}

/* Formats a key's current value into buf (size bytes); returns the length. */
static size_t format_value(const mq_conf_t *conf, const struct conf_key *k, char *buf, size_t size)
{
    const char *field = (const char *)conf + k->offset;
    int64_t v = *(const int64_t *)field;
    switch (k->type) {
    case T_STR:
        return (size_t)snprintf(buf, size, "%s", *(char *const *)field);
    case T_BOOL:
        return (size_t)snprintf(buf, size, "%s", v ? "true" : "false");
    case T_ENUM:
        for (const struct conf_enum *e = k->enums; e->name; e++)
            if (e->value == v)
                return (size_t)snprintf(buf, size, "%s", e->name);
        break;
    case T_INT:
        break;
    }
    return (size_t)snprintf(buf, size, "%" PRId64, v);
}

mq_err_t mq_conf_get(const mq_conf_t *conf, const char *key, char *buf, size_t *size)
{
    if (!conf || !key || !size)
        return MQ_ERR_INVALID_ARG;
    const struct conf_key *k = find_key(key);
    if (!k)
        return MQ_ERR_INVALID_CONFIG;
    char tmp[32];
    size_t need = format_value(conf, k, tmp, sizeof(tmp)) + 1;
    if (!buf) {
        *size = need;
        return MQ_OK;
    }
    if (*size < need) {
        *size = need;
        return MQ_ERR_INVALID_ARG;
    }
    format_value(conf, k, buf, *size);
    *size = need;
    return MQ_OK;
}

mq_err_t mq__conf_check(const mq_conf_t *conf, char *errstr, size_t errstr_size)
{
    if (!conf->bootstrap_servers[0]) {
        seterr(errstr, errstr_size, "%s%s", "\"bootstrap.servers\" must name at least one broker",
               "");
        return MQ_ERR_INVALID_CONFIG;
    }
    if (conf->enable_idempotence && conf->acks != -1) {
        seterr(errstr, errstr_size, "%s%s",
               "\"enable.idempotence\"=true needs \"acks\"=all; set enable.idempotence=false "
               "to use another acks",
               "");
        return MQ_ERR_INVALID_CONFIG;
    }
    if (conf->enable_idempotence && conf->max_in_flight > 5) {
        seterr(errstr, errstr_size, "%s%s",
               "\"enable.idempotence\"=true needs \"max.in.flight\" <= 5", "");
        return MQ_ERR_INVALID_CONFIG;
    }
    if (conf->reconnect_backoff_max_ms < conf->reconnect_backoff_ms ||
        conf->retry_backoff_max_ms < conf->retry_backoff_ms) {
        seterr(errstr, errstr_size, "%s%s",
               "\"*.backoff.max.ms\" must not be below its \"*.backoff.ms\"", "");
        return MQ_ERR_INVALID_CONFIG;
    }
    return MQ_OK;
}

void mq__conf_write_markdown(FILE *out)
{
    fprintf(out, "## Client (libmqclient)\n\n"
                 "Set with `mq_conf_set(conf, key, value, errstr, errstr_size)`. "
                 "Generated from the table in `sdk/c/src/conf.c` by "
                 "`scripts/gen-config-doc`; do not edit by hand.\n\n"
                 "| Key | Type | Default | Allowed | Description |\n"
                 "| --- | --- | --- | --- | --- |\n");
    static const char *type_names[] = {"integer", "boolean", "enum", "string"};
    for (size_t i = 0; i < NKEYS; i++) {
        char what[160];
        allowed(&keys[i], what, sizeof(what));
        fprintf(out, "| `%s` | %s | `%s` | %s | %s |\n", keys[i].name, type_names[keys[i].type],
                keys[i].def, what, keys[i].doc);
    }
}
