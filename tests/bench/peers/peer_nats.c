/* peer_nats: the NATS JetStream side of tests/bench/peers (nats.c).
 *
 *   produce: js_PublishAsync to a file-backed stream (one subject), up to
 *            4096 publishes awaiting their ack, then js_PublishAsyncComplete.
 *            nats-server 2.9 acks a publish once it is written to the file,
 *            not fsync'd (it syncs on an interval; no per-message sync
 *            option before 2.10), so this matches acks=leader only.
 *   consume: a durable pull consumer (AckAll) from a pre-filled stream:
 *            Fetch batches of 1000, ack the last message of each batch.
 *   latency: one thread publishes at --rate (js_PublishAsync) with the send
 *            time in the value; a push consumer acks each message. (A pull
 *            Fetch waits until its batch fills, which measures the batch, not
 *            the system.) Warm-up messages (stamp 0) go first until the
 *            consumer sees one; they are not counted.
 *
 * Prints the JSON line of peer_common.h. A benchmark program, not a test. */
#include <nats/nats.h>
#include <stdatomic.h>

#include "peer_common.h"

#define MAX_PENDING 4096
#define FETCH_BATCH 1000

static atomic_llong g_pub_errors;

static void on_pub_error(jsCtx *js, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    if (atomic_fetch_add(&g_pub_errors, 1) < 5)
        fprintf(stderr, "peer_nats: publish failed: %s (%s)\n", natsStatus_GetText(pae->Err),
                pae->ErrText ? pae->ErrText : "");
}

typedef struct peer_nats {
    natsConnection *nc;
    jsCtx *js;
    char stream[256];
} peer_nats_t;

static int fail(const char *what, natsStatus s, jsErrCode jerr)
{
    fprintf(stderr, "peer_nats: %s: %s (jetstream error %d)\n", what, natsStatus_GetText(s),
            (int)jerr);
    return -1;
}

/* Connects and makes sure the file-backed stream for the subject exists. */
static int open_nats(peer_nats_t *p, const peer_opts_t *o)
{
    char url[300];
    snprintf(url, sizeof(url), "nats://%s", o->addr);
    snprintf(p->stream, sizeof(p->stream), "S_%s", o->topic);
    natsStatus s = natsConnection_ConnectTo(&p->nc, url);
    if (s != NATS_OK)
        return fail("connect", s, 0);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = MAX_PENDING;
    jo.PublishAsync.ErrHandler = on_pub_error;
    jo.PublishAsync.StallWait = 30000;
    s = natsConnection_JetStream(&p->js, p->nc, &jo);
    if (s != NATS_OK)
        return fail("jetstream context", s, 0);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    const char *subjects[] = {o->topic};
    cfg.Name = p->stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    s = js_AddStream(&si, p->js, &cfg, NULL, &jerr);
    if (si)
        jsStreamInfo_Destroy(si);
    if (s != NATS_OK && jerr != JSStreamNameExistErr)
        return fail("add stream", s, jerr);
    return 0;
}

static void close_nats(peer_nats_t *p)
{
    jsCtx_Destroy(p->js);
    natsConnection_Destroy(p->nc);
}

static int run_produce(const peer_opts_t *o)
{
    if (o->acks_all) {
        fprintf(stderr, "peer_nats: nats-server 2.9 cannot fsync each publish: no acks=all\n");
        return 2;
    }
    peer_nats_t p;
    char *value = peer_value(o->size);
    if (!value || open_nats(&p, o) != 0)
        return 1;
    int64_t errors = 0, start = peer_now_ns();
    for (int64_t i = 0; i < o->count; i++) {
        natsStatus s = js_PublishAsync(p.js, o->topic, value, (int)o->size, NULL);
        if (s != NATS_OK && errors++ < 5)
            fprintf(stderr, "peer_nats: publish: %s\n", natsStatus_GetText(s));
    }
    natsStatus s = js_PublishAsyncComplete(p.js, NULL);
    if (s != NATS_OK)
        return fail("publish complete", s, 0);
    double secs = (double)(peer_now_ns() - start) / 1e9;
    errors += atomic_load(&g_pub_errors);
    peer_report(o->count - errors, o->size, secs, errors, NULL);
    close_nats(&p);
    free(value);
    return errors ? 1 : 0;
}

static int run_consume(const peer_opts_t *o)
{
    peer_nats_t p;
    if (open_nats(&p, o) != 0)
        return 1;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = p.stream;
    so.Config.AckPolicy = js_AckAll;
    so.Config.DeliverPolicy = js_DeliverAll;
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_PullSubscribe(&sub, p.js, o->topic, "bench", NULL, &so, &jerr);
    if (s != NATS_OK)
        return fail("pull subscribe", s, jerr);
    int64_t got = 0, errors = 0, first = 0;
    while (got < o->count) {
        natsMsgList list = {0};
        s = natsSubscription_Fetch(&list, sub, FETCH_BATCH, 5000, &jerr);
        if (s != NATS_OK) {
            fail("fetch", s, jerr);
            errors++;
            break;
        }
        if (!first && list.Count > 0)
            first = peer_now_ns();
        got += list.Count;
        if (list.Count > 0 && natsMsg_Ack(list.Msgs[list.Count - 1], NULL) != NATS_OK)
            errors++;
        natsMsgList_Destroy(&list);
    }
    /* Acks are published asynchronously: flush so the last one is sent. */
    natsConnection_FlushTimeout(p.nc, 5000);
    double secs = (double)(peer_now_ns() - (first ? first : peer_now_ns())) / 1e9;
    peer_report(got, o->size, secs, errors, NULL);
    natsSubscription_Destroy(sub);
    close_nats(&p);
    return errors || got < o->count ? 1 : 0;
}

typedef struct lat {
    peer_hist_t hist;
    atomic_llong got;
    atomic_llong ack_errors;
    atomic_int warm;
} lat_t;

static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    lat_t *l = closure;
    int64_t now = peer_now_ns();
    int64_t sent = natsMsg_GetDataLength(msg) >= 8 ? peer_stamp_read(natsMsg_GetData(msg)) : 0;
    if (sent)
        peer_hist_add(&l->hist, now - sent);
    if (natsMsg_Ack(msg, NULL) != NATS_OK)
        atomic_fetch_add(&l->ack_errors, 1);
    natsMsg_Destroy(msg);
    if (sent)
        atomic_fetch_add(&l->got, 1);
    else
        atomic_store(&l->warm, 1); /* a warm-up message */
}

static int run_latency(const peer_opts_t *o)
{
    peer_nats_t p;
    lat_t l = {0};
    char *value = peer_value(o->size);
    if (!value || peer_hist_init(&l.hist) != 0 || open_nats(&p, o) != 0)
        return 1;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = p.stream;
    so.ManualAck = true;
    so.Config.DeliverPolicy = js_DeliverNew;
    natsSubscription *sub = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_Subscribe(&sub, p.js, o->topic, on_msg, &l, NULL, &so, &jerr);
    if (s != NATS_OK)
        return fail("subscribe", s, jerr);
    /* Unbounded pending on the subscription: a slow moment must not drop. */
    natsSubscription_SetPendingLimits(sub, -1, -1);
    /* Warm-up: unstamped messages until the consumer has seen one. */
    int64_t errors = 0, warm_deadline = peer_now_ns() + 30000000000LL;
    while (!atomic_load(&l.warm) && peer_now_ns() < warm_deadline) {
        peer_stamp(value, 0);
        js_PublishAsync(p.js, o->topic, value, (int)o->size, NULL);
        peer_sleep_until(peer_now_ns() + 10000000);
    }
    if (!atomic_load(&l.warm))
        fprintf(stderr, "peer_nats: the consumer saw no warm-up message in 30 s\n");
    int64_t start = peer_now_ns(), sent_end = start;
    for (int64_t i = 0; i < o->count && atomic_load(&l.warm); i++) {
        peer_sleep_until(start + i * 1000000000 / o->rate);
        peer_stamp(value, peer_now_ns());
        s = js_PublishAsync(p.js, o->topic, value, (int)o->size, NULL);
        if (s != NATS_OK && errors++ < 5)
            fprintf(stderr, "peer_nats: publish: %s\n", natsStatus_GetText(s));
        sent_end = peer_now_ns();
    }
    js_PublishAsyncComplete(p.js, NULL);
    int64_t deadline = peer_now_ns() + 5000000000LL;
    while (atomic_load(&l.got) < o->count && peer_now_ns() < deadline)
        peer_sleep_until(peer_now_ns() + 1000000);
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    int64_t got = atomic_load(&l.got);
    errors += atomic_load(&g_pub_errors) + atomic_load(&l.ack_errors) + (o->count - got);
    double secs = (double)(sent_end - start) / 1e9;
    peer_report(got, o->size, secs, errors, &l.hist);
    close_nats(&p);
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
        rc = run_produce(&o);
        break;
    case MODE_CONSUME:
        rc = run_consume(&o);
        break;
    case MODE_LATENCY:
        rc = run_latency(&o);
        break;
    }
    nats_Close();
    return rc;
}
