/* peer_kafka: the Kafka side of tests/bench/peers (librdkafka).
 *
 *   produce: rd_kafka_producev as fast as the queue takes it, then flush.
 *            The topic (1 partition) is created first. acks=leader is
 *            acks=1; acks=all is acks=all on a topic with flush.messages=1,
 *            so the broker fsyncs before it answers (Kafka's acks=all alone
 *            waits for replicas, not for the disk). Idempotence is off in
 *            both, as the runner sets it for mq-perf.
 *   consume: a group consumer (earliest, auto commit) from a pre-filled
 *            topic.
 *   latency: one thread produces at --rate with the send time in the value;
 *            a consumer assigned to partition 0 from the beginning reads it.
 *            Warm-up messages (stamp 0) go first until the consumer sees
 *            one; they are not counted. --linger-ms sets linger.ms.
 *
 * Prints the JSON line of peer_common.h. A benchmark program, not a test. */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>

#include "peer_common.h"

static int64_t g_delivered, g_dr_errors;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        g_delivered++;
        return;
    }
    if (g_dr_errors++ < 5)
        fprintf(stderr, "peer_kafka: delivery failed: %s\n", rd_kafka_err2str(m->err));
}

static int set(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "peer_kafka: %s=%s: %s\n", key, value, err);
        return -1;
    }
    return 0;
}

static rd_kafka_t *new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "peer_kafka: %s\n", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static rd_kafka_t *new_producer(const peer_opts_t *o)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char linger[16];
    snprintf(linger, sizeof(linger), "%d", o->linger_ms);
    if (set(conf, "bootstrap.servers", o->addr) || set(conf, "acks", o->acks_all ? "all" : "1") ||
        set(conf, "enable.idempotence", "false") ||
        (o->linger_ms >= 0 && set(conf, "linger.ms", linger))) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    return new_client(RD_KAFKA_PRODUCER, conf);
}

/* Creates the topic with one partition (an existing one is fine); fsync
 * sets flush.messages=1. */
static int create_topic(rd_kafka_t *rk, const char *topic, int fsync)
{
    char err[256];
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, 1, err, sizeof(err));
    if (!nt) {
        fprintf(stderr, "peer_kafka: new topic: %s\n", err);
        return -1;
    }
    if (fsync)
        rd_kafka_NewTopic_set_config(nt, "flush.messages", "1");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = -1;
    const rd_kafka_CreateTopics_result_t *res = ev ? rd_kafka_event_CreateTopics_result(ev) : NULL;
    if (!ev) {
        fprintf(stderr, "peer_kafka: create topic %s: no answer in 30 s\n", topic);
    } else if (!res) {
        fprintf(stderr, "peer_kafka: create topic %s: %s\n", topic,
                rd_kafka_event_error_string(ev));
    } else {
        size_t n;
        const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &n);
        rd_kafka_resp_err_t e = n ? rd_kafka_topic_result_error(tr[0]) : RD_KAFKA_RESP_ERR_NO_ERROR;
        rc =
            e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS ? 0 : -1;
        if (rc)
            fprintf(stderr, "peer_kafka: create topic %s: %s\n", topic, rd_kafka_err2str(e));
    }
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
    return rc;
}

/* Produces one message, waiting (polling reports) while the queue is full. */
static int produce_one(rd_kafka_t *rk, const char *topic, const char *value, size_t size)
{
    for (;;) {
        rd_kafka_resp_err_t e =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE((void *)value, size),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            fprintf(stderr, "peer_kafka: produce: %s\n", rd_kafka_err2str(e));
            return -1;
        }
        rd_kafka_poll(rk, 10);
    }
}

static int run_produce(const peer_opts_t *o)
{
    rd_kafka_t *rk = new_producer(o);
    char *value = peer_value(o->size);
    if (!rk || !value || create_topic(rk, o->topic, o->acks_all) != 0)
        return 1;
    int64_t errors = 0, start = peer_now_ns();
    for (int64_t i = 0; i < o->count; i++) {
        if (produce_one(rk, o->topic, value, o->size) != 0) {
            errors++;
            break;
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    while (g_delivered + g_dr_errors < o->count - errors &&
           rd_kafka_flush(rk, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
        ;
    rd_kafka_poll(rk, 0);
    double secs = (double)(peer_now_ns() - start) / 1e9;
    errors += g_dr_errors;
    peer_report(g_delivered, o->size, secs, errors, NULL);
    rd_kafka_destroy(rk);
    free(value);
    return errors ? 1 : 0;
}

static rd_kafka_t *new_consumer(const peer_opts_t *o, const char *group)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (set(conf, "bootstrap.servers", o->addr) || set(conf, "group.id", group) ||
        set(conf, "auto.offset.reset", "earliest")) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, conf);
    if (rk)
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

static int run_consume(const peer_opts_t *o)
{
    rd_kafka_t *rk = new_consumer(o, "bench");
    if (!rk)
        return 1;
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, o->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    if (e) {
        fprintf(stderr, "peer_kafka: subscribe: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    int64_t got = 0, errors = 0, first = 0, deadline = peer_now_ns() + 60000000000LL;
    while (got < o->count && peer_now_ns() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 1000);
        if (!m)
            continue;
        if (m->err) {
            if (errors++ < 5)
                fprintf(stderr, "peer_kafka: consume: %s\n", rd_kafka_message_errstr(m));
        } else {
            if (!got)
                first = peer_now_ns();
            got++;
        }
        rd_kafka_message_destroy(m);
    }
    double secs = (double)(peer_now_ns() - (first ? first : peer_now_ns())) / 1e9;
    peer_report(got, o->size, secs, errors, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return errors || got < o->count ? 1 : 0;
}

typedef struct lat {
    rd_kafka_t *rk;
    int64_t want;
    peer_hist_t hist;
    atomic_llong got;
    atomic_int stop;
    atomic_int warm;
    int64_t errors;
} lat_t;

static void *consumer_main(void *arg)
{
    lat_t *l = arg;
    while (atomic_load(&l->got) < l->want && !atomic_load(&l->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(l->rk, 100);
        if (!m)
            continue;
        int64_t now = peer_now_ns();
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && l->errors++ < 5)
                fprintf(stderr, "peer_kafka: consume: %s\n", rd_kafka_message_errstr(m));
        } else if (m->len >= 8 && peer_stamp_read(m->payload) != 0) {
            peer_hist_add(&l->hist, now - peer_stamp_read(m->payload));
            atomic_fetch_add(&l->got, 1);
        } else {
            atomic_store(&l->warm, 1); /* a warm-up message */
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

static int run_latency(const peer_opts_t *o)
{
    rd_kafka_t *pk = new_producer(o);
    char *value = peer_value(o->size);
    lat_t l = {.want = o->count};
    if (!pk || !value || peer_hist_init(&l.hist) != 0 || create_topic(pk, o->topic, 0) != 0)
        return 1;
    l.rk = new_consumer(o, "bench-latency");
    if (!l.rk)
        return 1;
    /* Assigned, not subscribed: no group join inside the measurement. The
     * topic is new, so the beginning is where the first message lands. */
    rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(tl, o->topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(l.rk, tl);
    rd_kafka_topic_partition_list_destroy(tl);
    pthread_t t;
    pthread_create(&t, NULL, consumer_main, &l);
    /* Warm-up: unstamped messages until the consumer has seen one (it has
     * found the leader and is fetching). */
    int64_t errors = 0, warm_deadline = peer_now_ns() + 30000000000LL;
    while (!atomic_load(&l.warm) && peer_now_ns() < warm_deadline) {
        peer_stamp(value, 0);
        produce_one(pk, o->topic, value, o->size);
        rd_kafka_poll(pk, 10);
    }
    if (!atomic_load(&l.warm))
        fprintf(stderr, "peer_kafka: the consumer saw no warm-up message in 30 s\n");
    int64_t start = peer_now_ns(), sent_end = start;
    for (int64_t i = 0; i < o->count && atomic_load(&l.warm); i++) {
        peer_sleep_until(start + i * 1000000000 / o->rate);
        peer_stamp(value, peer_now_ns());
        if (produce_one(pk, o->topic, value, o->size) != 0) {
            errors++;
            break;
        }
        rd_kafka_poll(pk, 0);
        sent_end = peer_now_ns();
    }
    rd_kafka_flush(pk, 10000);
    int64_t deadline = peer_now_ns() + 5000000000LL;
    while (atomic_load(&l.got) < o->count && peer_now_ns() < deadline)
        peer_sleep_until(peer_now_ns() + 1000000);
    atomic_store(&l.stop, 1);
    pthread_join(t, NULL);
    int64_t got = atomic_load(&l.got);
    errors += g_dr_errors + l.errors + (o->count - got);
    double secs = (double)(sent_end - start) / 1e9;
    peer_report(got, o->size, secs, errors, &l.hist);
    rd_kafka_consumer_close(l.rk);
    rd_kafka_destroy(l.rk);
    rd_kafka_destroy(pk);
    free(value);
    free(l.hist.b);
    return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
    peer_opts_t o;
    int rc = peer_parse(argc, argv, &o);
    if (rc)
        return rc;
    switch (o.mode) {
    case MODE_PRODUCE:
        return run_produce(&o);
    case MODE_CONSUME:
        return run_consume(&o);
    case MODE_LATENCY:
        return run_latency(&o);
    }
    return 2;
}
