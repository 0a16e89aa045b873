/* Produces a few messages and prints each delivery report.
 *
 *   producer [BROKER [TOPIC [COUNT]]]     (defaults: 127.0.0.1:9092 demo 10)
 *
 * The topic must exist (create it with the broker's admin API). Exits 0
 * when every message was delivered. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mqclient.h>

int main(int argc, char **argv)
{
    const char *brokers = argc > 1 ? argv[1] : "127.0.0.1:9092";
    const char *topic = argc > 2 ? argv[2] : "demo";
    long count = argc > 3 ? strtol(argv[3], NULL, 10) : 10;
    char err[512];

    mq_conf_t *conf = mq_conf_new();
    if (!conf)
        return 1;
    if (mq_conf_set(conf, "bootstrap.servers", brokers, err, sizeof(err)) != MQ_OK ||
        mq_conf_set(conf, "message.timeout.ms", "10000", err, sizeof(err)) != MQ_OK) {
        fprintf(stderr, "config: %s\n", err);
        return 1;
    }
    /* Defaults: acks=all and enable.idempotence on, so a retry never
     * stores a message twice. */

    mq_producer_t *p;
    mq_err_t rc = mq_producer_new(conf, &p, err, sizeof(err));
    mq_conf_destroy(conf); /* the producer keeps its own copy */
    if (rc != MQ_OK) {
        fprintf(stderr, "mq_producer_new: %s: %s\n", mq_err_str(rc), err);
        return 1;
    }

    for (long i = 0; i < count; i++) {
        char key[32], value[64];
        int klen = snprintf(key, sizeof(key), "user-%ld", i % 3);
        int vlen = snprintf(value, sizeof(value), "hello %ld", i);
        mq_msg_header_t h = {"source", "example", 7};
        rc = mq_produce(p, topic, MQ_PARTITION_ANY, key, (size_t)klen, value, (size_t)vlen, &h, 1,
                        0, (void *)(intptr_t)i, MQ_PRODUCE_BLOCK);
        if (rc != MQ_OK) {
            fprintf(stderr, "mq_produce: %s\n", mq_err_str(rc));
            break;
        }
    }

    /* Wait for every report; they come out of poll on this thread. */
    mq_producer_flush(p, 15000);
    mq_producer_close(p, 0);
    long ok = 0, failed = 0;
    mq_event_t *ev;
    while (mq_producer_poll(p, 0, &ev) == MQ_OK) {
        if (mq_event_type(ev) == MQ_EVENT_DELIVERY) {
            if (mq_event_error(ev) == MQ_OK) {
                ok++;
                printf("message %ld -> %s [%d] at offset %" PRId64 "\n",
                       (long)(intptr_t)mq_event_opaque(ev), mq_event_topic(ev),
                       mq_event_partition(ev), mq_event_offset(ev));
            } else {
                failed++;
                printf("message %ld failed: %s\n", (long)(intptr_t)mq_event_opaque(ev),
                       mq_event_error_string(ev));
            }
        } else if (mq_event_type(ev) == MQ_EVENT_ERROR) {
            fprintf(stderr, "producer error: %s\n", mq_event_error_string(ev));
        }
        mq_event_destroy(ev);
    }
    mq_producer_destroy(p);
    printf("%ld delivered, %ld failed\n", ok, failed);
    return ok == count ? 0 : 1;
}
