/* peer_redis: the Redis Streams side of tests/bench/peers (hiredis).
 *
 *   produce: pipelined XADD (a window of PIPE..2*PIPE commands in flight).
 *            Durability is the server's appendfsync (the runner sets it):
 *            everysec ~ acks=leader, always ~ acks=all.
 *   consume: XREADGROUP COUNT 1000 from a pre-filled stream, each batch's
 *            XACK pipelined with the next read.
 *   latency: one thread XADDs at --rate with the send time in the value
 *            (pipelined: it never waits for a reply before the next send),
 *            another reads with XREADGROUP BLOCK and XACKs. Warm-up messages
 *            (stamp 0) go first until the reader sees one; they are not
 *            counted.
 *
 * Prints the JSON line of peer_common.h. A benchmark program, not a test. */
#include <hiredis/hiredis.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "peer_common.h"

#define PIPE 512
#define READ_COUNT 1000
#define GROUP "bench"

static redisContext *connect_addr(const char *addr)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || (size_t)(colon - addr) >= sizeof(host)) {
        fprintf(stderr, "peer_redis: --addr wants HOST:PORT, got \"%s\"\n", addr);
        return NULL;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    struct timeval tv = {10, 0};
    redisContext *c = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    if (!c || c->err) {
        fprintf(stderr, "peer_redis: connect %s: %s\n", addr, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    return c;
}

/* Reads one pipelined reply; returns 0, or -1 on a connection error. Error
 * replies are counted, not fatal. */
static int take_reply(redisContext *c, int64_t *errors)
{
    redisReply *r;
    if (redisGetReply(c, (void **)&r) != REDIS_OK) {
        fprintf(stderr, "peer_redis: %s\n", c->errstr);
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR && (*errors)++ < 5)
        fprintf(stderr, "peer_redis: %s\n", r->str);
    freeReplyObject(r);
    return 0;
}

static int run_produce(const peer_opts_t *o)
{
    redisContext *c = connect_addr(o->addr);
    char *value = peer_value(o->size);
    if (!c || !value)
        return 1;
    int64_t errors = 0, sent = 0, acked = 0;
    int64_t start = peer_now_ns();
    while (acked < o->count) {
        while (sent < o->count && sent - acked < 2 * PIPE) {
            redisAppendCommand(c, "XADD %s * v %b", o->topic, value, o->size);
            sent++;
        }
        int64_t n = sent - acked > PIPE && sent < o->count ? PIPE : sent - acked;
        for (int64_t i = 0; i < n; i++)
            if (take_reply(c, &errors) != 0)
                return 1;
        acked += n;
    }
    double secs = (double)(peer_now_ns() - start) / 1e9;
    peer_report(acked - errors, o->size, secs, errors, NULL);
    redisFree(c);
    free(value);
    return errors ? 1 : 0;
}

/* XGROUP CREATE ... MKSTREAM; an existing group is fine. */
static int create_group(redisContext *c, const char *key, const char *from)
{
    redisReply *r = redisCommand(c, "XGROUP CREATE %s %s %s MKSTREAM", key, GROUP, from);
    if (!r) {
        fprintf(stderr, "peer_redis: XGROUP CREATE: %s\n", c->errstr);
        return -1;
    }
    int bad = r->type == REDIS_REPLY_ERROR && !strstr(r->str, "BUSYGROUP");
    if (bad)
        fprintf(stderr, "peer_redis: XGROUP CREATE: %s\n", r->str);
    freeReplyObject(r);
    return bad ? -1 : 0;
}

/* One XREADGROUP reply's entries: [[key, [[id, [field, value]], ...]]]. */
static redisReply *entries_of(redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1)
        return NULL;
    redisReply *stream = r->element[0];
    if (stream->type != REDIS_REPLY_ARRAY || stream->elements < 2)
        return NULL;
    return stream->element[1];
}

/* Appends XACK for every entry: one command for the whole batch. */
static void append_xack(redisContext *c, const char *key, redisReply *entries)
{
    size_t n = entries->elements, argc = 3 + n;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *lens = malloc(argc * sizeof(*lens));
    argv[0] = "XACK";
    argv[1] = key;
    argv[2] = GROUP;
    for (size_t i = 0; i < 3; i++)
        lens[i] = strlen(argv[i]);
    for (size_t i = 0; i < n; i++) {
        redisReply *id = entries->element[i]->element[0];
        argv[3 + i] = id->str;
        lens[3 + i] = id->len;
    }
    redisAppendCommandArgv(c, (int)argc, argv, lens);
    free(argv);
    free(lens);
}

/* Reads the group until want entries came (or until stop is set, in latency
 * mode); each entry's value goes to on_value. */
typedef struct reader {
    redisContext *c;
    const char *key;
    int64_t want;
    int block_ms;
    atomic_int *stop;
    peer_hist_t *hist;
    atomic_llong progress; /* got, for the latency thread's wait */
    atomic_int warm;       /* a warm-up message came through */
    int64_t got, errors, first_ns, last_ns;
} reader_t;

static int read_group(reader_t *rd)
{
    int acks_pending = 0;
    while (rd->got < rd->want && !(rd->stop && atomic_load(rd->stop))) {
        redisAppendCommand(rd->c, "XREADGROUP GROUP %s c1 COUNT %d BLOCK %d STREAMS %s >", GROUP,
                           READ_COUNT, rd->block_ms, rd->key);
        if (acks_pending && take_reply(rd->c, &rd->errors) != 0)
            return -1;
        acks_pending = 0;
        redisReply *r;
        if (redisGetReply(rd->c, (void **)&r) != REDIS_OK) {
            fprintf(stderr, "peer_redis: XREADGROUP: %s\n", rd->c->errstr);
            return -1;
        }
        redisReply *entries = entries_of(r);
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "peer_redis: XREADGROUP: %s\n", r->str);
            freeReplyObject(r);
            return -1;
        }
        if (entries && entries->elements > 0) {
            int64_t now = peer_now_ns();
            if (rd->got == 0)
                rd->first_ns = now;
            rd->last_ns = now;
            int64_t counted = rd->hist ? 0 : (int64_t)entries->elements;
            for (size_t i = 0; rd->hist && i < entries->elements; i++) {
                redisReply *fv = entries->element[i]->element[1];
                int64_t sent = fv->elements >= 2 && fv->element[1]->len >= 8
                                   ? peer_stamp_read(fv->element[1]->str)
                                   : 0;
                if (sent == 0) { /* a warm-up message */
                    atomic_store(&rd->warm, 1);
                    continue;
                }
                peer_hist_add(rd->hist, now - sent);
                counted++;
            }
            rd->got += counted;
            atomic_store(&rd->progress, rd->got);
            append_xack(rd->c, rd->key, entries);
            acks_pending = 1;
        }
        freeReplyObject(r);
    }
    if (acks_pending)
        return take_reply(rd->c, &rd->errors);
    return 0;
}

static int run_consume(const peer_opts_t *o)
{
    redisContext *c = connect_addr(o->addr);
    if (!c || create_group(c, o->topic, "0") != 0)
        return 1;
    reader_t rd = {.c = c, .key = o->topic, .want = o->count, .block_ms = 5000};
    int64_t start = peer_now_ns();
    int rc = read_group(&rd);
    /* Throughput counts from the first batch's arrival, as for every peer. */
    double secs = (double)(peer_now_ns() - (rd.first_ns ? rd.first_ns : start)) / 1e9;
    peer_report(rd.got, o->size, secs, rd.errors, NULL);
    redisFree(c);
    return rc == 0 && rd.got >= o->count ? 0 : 1;
}

static void *reader_main(void *arg)
{
    reader_t *rd = arg;
    if (read_group(rd) != 0)
        rd->errors++;
    return NULL;
}

/* Latency mode sends without waiting for each XADD's reply (as the other
 * peers publish asynchronously): write the command, then take whatever
 * replies have already arrived. */
static int send_xadd(redisContext *c, const char *key, const char *v, size_t n, int64_t *unread)
{
    int done = 0;
    redisAppendCommand(c, "XADD %s * v %b", key, v, n);
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            return -1;
    (*unread)++;
    return 0;
}

static int take_replies(redisContext *c, int64_t *unread, int block, int64_t *errors)
{
    while (*unread > 0) {
        redisReply *r = NULL;
        if (redisGetReplyFromReader(c, (void **)&r) != REDIS_OK)
            return -1;
        if (r) {
            if (r->type == REDIS_REPLY_ERROR && (*errors)++ < 5)
                fprintf(stderr, "peer_redis: XADD: %s\n", r->str);
            freeReplyObject(r);
            (*unread)--;
            continue;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (!block && poll(&pfd, 1, 0) <= 0)
            return 0;
        if (redisBufferRead(c) != REDIS_OK)
            return -1;
    }
    return 0;
}

static int run_latency(const peer_opts_t *o)
{
    redisContext *pc = connect_addr(o->addr), *cc = connect_addr(o->addr);
    char *value = peer_value(o->size);
    peer_hist_t hist;
    if (!pc || !cc || !value || peer_hist_init(&hist) != 0)
        return 1;
    if (create_group(pc, o->topic, "$") != 0)
        return 1;
    atomic_int stop = 0;
    reader_t rd = {
        .c = cc, .key = o->topic, .want = o->count, .block_ms = 100, .stop = &stop, .hist = &hist};
    pthread_t t;
    pthread_create(&t, NULL, reader_main, &rd);
    int64_t errors = 0, unread = 0;
    /* Warm-up: unstamped messages until the reader has seen one. */
    int64_t warm_deadline = peer_now_ns() + 30000000000LL;
    while (!atomic_load(&rd.warm) && peer_now_ns() < warm_deadline) {
        peer_stamp(value, 0);
        if (send_xadd(pc, o->topic, value, o->size, &unread) != 0 ||
            take_replies(pc, &unread, 1, &errors) != 0)
            break;
        peer_sleep_until(peer_now_ns() + 10000000);
    }
    int64_t start = peer_now_ns(), sent_end = start;
    for (int64_t i = 0; i < o->count && atomic_load(&rd.warm); i++) {
        peer_sleep_until(start + i * 1000000000 / o->rate);
        peer_stamp(value, peer_now_ns());
        if (send_xadd(pc, o->topic, value, o->size, &unread) != 0 ||
            take_replies(pc, &unread, 0, &errors) != 0) {
            fprintf(stderr, "peer_redis: XADD: %s\n", pc->errstr);
            errors++;
            break;
        }
        sent_end = peer_now_ns();
    }
    if (take_replies(pc, &unread, 1, &errors) != 0)
        errors++;
    /* Give stragglers up to 5 s, then stop the reader. */
    int64_t deadline = peer_now_ns() + 5000000000LL;
    while (atomic_load(&rd.progress) < o->count && peer_now_ns() < deadline)
        peer_sleep_until(peer_now_ns() + 1000000);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    if (!atomic_load(&rd.warm))
        fprintf(stderr, "peer_redis: the reader saw no warm-up message in 30 s\n");
    double secs = (double)(sent_end - start) / 1e9;
    peer_report(hist.n, o->size, secs, errors + rd.errors + (o->count - hist.n), &hist);
    redisFree(pc);
    redisFree(cc);
    free(value);
    free(hist.b);
    return errors || hist.n < o->count ? 1 : 0;
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
