/* The Metadata RPC: this broker as the only broker and the leader of every
 * partition, and the topics asked for (or all of them). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "call.h"
#include "config.h"
#include "error.h"
#include "mq/v1/broker.pb-c.h"
#include "server.h"
#include "topics.h"

#define PROTOCOL_VERSION 1

typedef struct {
    Mq__V1__TopicMetadata **topics;
    size_t n, cap;
    int failed;
    call_t *call; /* whose principal must be allowed to describe each topic */
} tlist_t;

static Mq__V1__TopicMetadata *topic_entry(const char *name, topic_t *t)
{
    Mq__V1__TopicMetadata *tm = calloc(1, sizeof(*tm));
    if (!tm)
        return NULL;
    mq__v1__topic_metadata__init(tm);
    tm->name = strdup(name);
    if (!tm->name) {
        free(tm);
        return NULL;
    }
    if (!t) {
        tm->error_code = mq__err_to_wire(MQ_ERR_UNKNOWN_TOPIC);
        tm->error_message = "unknown topic";
        return tm;
    }
    size_t np = (size_t)t->partition_count;
    Mq__V1__PartitionMetadata *pm = calloc(np ? np : 1, sizeof(*pm));
    tm->partitions = calloc(np ? np : 1, sizeof(*tm->partitions));
    if (!pm || !tm->partitions) {
        free(pm);
        free(tm->partitions);
        free(tm->name);
        free(tm);
        return NULL;
    }
    for (size_t i = 0; i < np; i++) {
        mq__v1__partition_metadata__init(&pm[i]);
        pm[i].partition = (int32_t)i;
        pm[i].leader = g_config.node_id;
        if (!t->parts[i])
            pm[i].error_code = mq__err_to_wire(MQ_ERR_UNKNOWN_PARTITION);
        tm->partitions[i] = &pm[i];
    }
    tm->n_partitions = np;
    return tm;
}

static void entry_free(Mq__V1__TopicMetadata *tm)
{
    if (tm->n_partitions)
        free(tm->partitions[0]);
    free(tm->partitions);
    free(tm->name);
    free(tm);
}

static void add(tlist_t *l, Mq__V1__TopicMetadata *tm)
{
    if (!tm) {
        l->failed = 1;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        Mq__V1__TopicMetadata **p = realloc(l->topics, cap * sizeof(*p));
        if (!p) {
            entry_free(tm);
            l->failed = 1;
            return;
        }
        l->topics = p;
        l->cap = cap;
    }
    l->topics[l->n++] = tm;
}

static void add_topic(topic_t *t, void *arg)
{
    tlist_t *l = arg;
    if (acl_check_call(l->call, ACL_OP_DESCRIBE, ACL_RES_TOPIC, t->name))
        add(l, topic_entry(t->name, t));
}

/* A requested topic the principal may not describe: an error entry. */
static Mq__V1__TopicMetadata *denied_entry(const char *name)
{
    Mq__V1__TopicMetadata *tm = topic_entry(name, NULL);
    if (tm) {
        tm->error_code = mq__err_to_wire(MQ_ERR_TOPIC_AUTHORIZATION);
        tm->error_message = "not authorized to describe the topic";
    }
    return tm;
}

void metadata_handle(call_t *c, uint8_t *msg, size_t len)
{
    Mq__V1__MetadataRequest *req = mq__v1__metadata_request__unpack(NULL, len, msg);
    if (!req) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT,
                  "malformed MetadataRequest (protobuf did not parse)");
        return;
    }
    if (req->n_topics > MAX_REQUEST_PARTITIONS) {
        call_fail(c, MQ_GRPC_INVALID_ARGUMENT, "MetadataRequest names %zu topics (at most %d)",
                  req->n_topics, MAX_REQUEST_PARTITIONS);
        mq__v1__metadata_request__free_unpacked(req, NULL);
        return;
    }
    tlist_t l = {0};
    l.call = c;
    if (req->n_topics == 0) {
        topics_foreach(add_topic, &l);
    } else {
        for (size_t i = 0; i < req->n_topics; i++) {
            if (!acl_check_call(c, ACL_OP_DESCRIBE, ACL_RES_TOPIC, req->topics[i])) {
                add(&l, denied_entry(req->topics[i]));
                continue;
            }
            topic_t *t = topics_get(req->topics[i]);
            add(&l, topic_entry(req->topics[i], t));
            topic_release(t);
        }
    }
    mq__v1__metadata_request__free_unpacked(req, NULL);
    if (l.failed) {
        call_fail(c, MQ_GRPC_RESOURCE_EXHAUSTED, "out of memory");
    } else {
        char host[256] = "";
        int port = 0;
        /* The listener this call came in on (plaintext or TLS). */
        const char *addr = server_call_addr(c);
        const char *colon = strrchr(addr, ':');
        if (colon) {
            size_t hl = (size_t)(colon - addr);
            if (hl >= 2 && addr[0] == '[') {
                addr++;
                hl -= 2;
            }
            if (hl < sizeof(host)) {
                memcpy(host, addr, hl);
                host[hl] = '\0';
            }
            port = atoi(colon + 1);
        }
        /* A wildcard bind is no address to connect to: name the machine. */
        if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
            gethostname(host, sizeof(host) - 1);
        Mq__V1__BrokerInfo bi = MQ__V1__BROKER_INFO__INIT;
        bi.node_id = g_config.node_id;
        bi.host = host;
        bi.port = port;
        Mq__V1__BrokerInfo *bis[1] = {&bi};
        Mq__V1__MetadataResponse resp = MQ__V1__METADATA_RESPONSE__INIT;
        resp.protocol_version = PROTOCOL_VERSION;
        resp.n_brokers = 1;
        resp.brokers = bis;
        resp.n_topics = l.n;
        resp.topics = l.topics;
        resp.controller_id = g_config.node_id;
        resp.max_message_bytes = g_config.log.max_message_bytes;
        call_reply_pb(c, &resp);
    }
    for (size_t i = 0; i < l.n; i++)
        entry_free(l.topics[i]);
    free(l.topics);
}
