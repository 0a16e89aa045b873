/* Joins a consumer group and prints every message it is given.
 *
 *   consumer [-X key=value]... BROKER TOPIC GROUP [COUNT]
 *
 * Prints one line per message ("msg PARTITION OFFSET KEY VALUE") and per
 * rebalance ("assigned ..." / "revoked ..."), and stops after COUNT
 * messages (default 0: until SIGINT or SIGTERM). Offsets are committed
 * automatically (enable.auto.commit); a new group starts from the earliest
 * message. -X sets any client key, e.g. -X session.timeout.ms=6000. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mqclient.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void print_rebalance(mq_event_t *ev)
{
    size_t n;
    const mq_topic_partition_t *parts = mq_event_partitions(ev, &n);
    mq_rebalance_type_t type = mq_event_rebalance_type(ev);
    printf("%s", type == MQ_REBALANCE_ASSIGN ? "assigned"
                 : type == MQ_REBALANCE_LOST ? "lost"
                                             : "revoked");
    for (size_t i = 0; i < n; i++)
        printf(" %s[%d]", parts[i].topic, parts[i].partition);
    printf("\n");
}

/* Returns 1 for a message. */
static int handle(mq_message_t *m, mq_event_t *ev)
{
    if (m) {
        size_t klen, vlen;
        const char *key = mq_message_key(m, &klen);
        const char *value = mq_message_value(m, &vlen);
        printf("msg %d %" PRId64 " %.*s %.*s\n", mq_message_partition(m), mq_message_offset(m),
               (int)klen, key ? key : "", (int)vlen, value ? value : "");
        mq_message_destroy(m);
        return 1;
    }
    switch (mq_event_type(ev)) {
    case MQ_EVENT_REBALANCE:
        print_rebalance(ev);
        break;
    case MQ_EVENT_ERROR:
        fprintf(stderr, "consumer error: %s: %s\n", mq_err_name(mq_event_error(ev)),
                mq_event_error_string(ev));
        break;
    case MQ_EVENT_COMMIT:
        if (mq_event_error(ev) != MQ_OK)
            fprintf(stderr, "commit failed: %s\n", mq_event_error_string(ev));
        break;
    default:
        break;
    }
    mq_event_destroy(ev);
    return 0;
}

int main(int argc, char **argv)
{
    char err[512];
    mq_conf_t *conf = mq_conf_new();
    if (!conf)
        return 1;
    mq_conf_set(conf, "auto.offset.reset", "earliest", NULL, 0);
    int arg = 1;
    for (; arg + 1 < argc && !strcmp(argv[arg], "-X"); arg += 2) {
        char *eq = strchr(argv[arg + 1], '=');
        if (!eq) {
            fprintf(stderr, "-X wants key=value\n");
            return 2;
        }
        *eq = '\0';
        if (mq_conf_set(conf, argv[arg + 1], eq + 1, err, sizeof(err)) != MQ_OK) {
            fprintf(stderr, "config: %s\n", err);
            return 2;
        }
    }
    if (argc - arg < 3) {
        fprintf(stderr, "usage: consumer [-X key=value]... BROKER TOPIC GROUP [COUNT]\n");
        return 2;
    }
    const char *topic = argv[arg + 1];
    long count = argc - arg > 3 ? strtol(argv[arg + 3], NULL, 10) : 0;
    if (mq_conf_set(conf, "bootstrap.servers", argv[arg], err, sizeof(err)) != MQ_OK ||
        mq_conf_set(conf, "group.id", argv[arg + 2], err, sizeof(err)) != MQ_OK) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a line per message, even into a pipe */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    mq_consumer_t *c;
    mq_err_t rc = mq_consumer_new(conf, &c, err, sizeof(err));
    mq_conf_destroy(conf); /* the consumer keeps its own copy */
    if (rc != MQ_OK) {
        fprintf(stderr, "mq_consumer_new: %s: %s\n", mq_err_str(rc), err);
        return 1;
    }
    if ((rc = mq_consumer_subscribe(c, &topic, 1)) != MQ_OK) {
        fprintf(stderr, "mq_consumer_subscribe: %s\n", mq_err_str(rc));
        mq_consumer_destroy(c);
        return 1;
    }

    long got = 0;
    while (!stop && (count == 0 || got < count)) {
        mq_message_t *m;
        mq_event_t *ev;
        if (mq_consumer_poll(c, 200, &m, &ev) == MQ_OK)
            got += handle(m, ev);
    }

    /* Close: final commit, revoke, leave the group; bounded by 10 s. */
    mq_consumer_close(c, 10000);
    mq_message_t *m;
    mq_event_t *ev;
    while (mq_consumer_poll(c, 0, &m, &ev) == MQ_OK)
        handle(m, ev);
    mq_consumer_destroy(c);
    fprintf(stderr, "%ld messages\n", got);
    return count == 0 || got >= count ? 0 : 1;
}
