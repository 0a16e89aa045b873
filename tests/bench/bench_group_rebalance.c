/* How long a consumer-group rebalance takes on a real mqbroker: members
 * speak the protocol over the raw client, each keeping one long-polled
 * Heartbeat in flight as a consumer does. A round: a member joins a group
 * of N on a P-partition topic, and the clock runs until every member owns
 * its balanced share (each partition once); then it leaves and the clock
 * runs until the others have taken its partitions back.
 *
 * Usage: bench_group_rebalance [--members N] [--partitions P] [--rounds R]
 * Prints one JSON line: join and leave times (ms) as p50 / p99 / max. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker_proc.h"
#include "mq/v1/broker.pb-c.h"
#include "rawclient_group.h"

#define MAX_MEMBERS 64
#define MAX_PARTS 1024

typedef struct member {
    rawclient_t *rc;
    char id[64];
    int32_t epoch;
    uint8_t owned[MAX_PARTS];
    int n_owned;
    int32_t inflight; /* stream id of the held heartbeat, 0 if none */
    int active;
} member_t;

static int g_parts = 12;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void set_owned(member_t *m, Mq__V1__TopicPartitions **v, size_t n)
{
    memset(m->owned, 0, sizeof(m->owned));
    m->n_owned = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < v[i]->n_partitions; j++)
            if (v[i]->partitions[j] >= 0 && v[i]->partitions[j] < g_parts) {
                m->owned[v[i]->partitions[j]] = 1;
                m->n_owned++;
            }
}

static int join(member_t *m)
{
    Mq__V1__JoinGroupRequest req = MQ__V1__JOIN_GROUP_REQUEST__INIT;
    char *topics[1] = {"t"};
    req.group_id = "bench";
    req.member_id = "";
    req.group_instance_id = "";
    req.topics = topics;
    req.n_topics = 1;
    req.topic_regex = "";
    req.session_timeout_ms = 30000;
    req.rebalance_timeout_ms = 30000;
    req.assignor = "";
    int st;
    char err[256];
    Mq__V1__JoinGroupResponse *r = (Mq__V1__JoinGroupResponse *)rc_call_pb(
        m->rc, RC_PATH_JOIN_GROUP, &req.base, &mq__v1__join_group_response__descriptor, 10000, &st,
        err, sizeof(err));
    if (!r || r->error_code) {
        fprintf(stderr, "JoinGroup failed: %s\n", r ? r->error_message : err);
        if (r)
            protobuf_c_message_free_unpacked(&r->base, NULL);
        return -1;
    }
    snprintf(m->id, sizeof(m->id), "%s", r->member_id);
    m->epoch = r->member_epoch;
    set_owned(m, r->assignment, r->n_assignment);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    m->active = 1;
    return 0;
}

static int leave(member_t *m)
{
    Mq__V1__LeaveGroupRequest req = MQ__V1__LEAVE_GROUP_REQUEST__INIT;
    req.group_id = "bench";
    req.member_id = m->id;
    req.member_epoch = m->epoch;
    int st;
    ProtobufCMessage *r =
        rc_call_pb(m->rc, RC_PATH_LEAVE_GROUP, &req.base, &mq__v1__leave_group_response__descriptor,
                   10000, &st, NULL, 0);
    if (r)
        protobuf_c_message_free_unpacked(r, NULL);
    m->active = 0;
    m->n_owned = 0;
    memset(m->owned, 0, sizeof(m->owned));
    return r ? 0 : -1;
}

static void submit_heartbeat(member_t *m)
{
    int32_t parts[MAX_PARTS];
    size_t n = 0;
    for (int p = 0; p < g_parts; p++)
        if (m->owned[p])
            parts[n++] = p;
    Mq__V1__TopicPartitions tp = MQ__V1__TOPIC_PARTITIONS__INIT;
    tp.topic = "t";
    tp.partitions = parts;
    tp.n_partitions = n;
    Mq__V1__TopicPartitions *tps[1] = {&tp};
    Mq__V1__HeartbeatRequest req = MQ__V1__HEARTBEAT_REQUEST__INIT;
    req.group_id = "bench";
    req.member_id = m->id;
    req.member_epoch = m->epoch;
    req.owned = n ? tps : NULL;
    req.n_owned = n ? 1 : 0;
    req.max_wait_ms = 3000;
    m->inflight = rc_submit_pb(m->rc, RC_PATH_HEARTBEAT, &req.base);
}

/* Pumps every member's heartbeat until the group is balanced (each active
 * member owns floor/ceil of P/N, every partition once). Returns ms or -1. */
static double settle(member_t *ms, int n, double t0, double limit_ms)
{
    for (;;) {
        int active = 0, total = 0, lo = 1 << 30, hi = 0, dup = 0;
        uint8_t seen[MAX_PARTS] = {0};
        for (int i = 0; i < n; i++) {
            if (!ms[i].active)
                continue;
            active++;
            total += ms[i].n_owned;
            lo = ms[i].n_owned < lo ? ms[i].n_owned : lo;
            hi = ms[i].n_owned > hi ? ms[i].n_owned : hi;
            for (int p = 0; p < g_parts; p++)
                dup |= ms[i].owned[p] && seen[p]++;
        }
        if (active && total == g_parts && hi - lo <= 1 && !dup)
            return now_ms() - t0;
        if (now_ms() - t0 > limit_ms)
            return -1;
        for (int i = 0; i < n; i++) {
            member_t *m = &ms[i];
            if (!m->active)
                continue;
            if (!m->inflight)
                submit_heartbeat(m);
            rc_result_t r;
            if (rc_poll(m->rc, 0, &r) != 1)
                continue;
            m->inflight = 0;
            int st;
            Mq__V1__HeartbeatResponse *hr = (Mq__V1__HeartbeatResponse *)rc_result_pb(
                &r, &mq__v1__heartbeat_response__descriptor, &st, NULL, 0);
            rc_result_free(&r);
            if (hr && hr->error_code == 0) {
                m->epoch = hr->member_epoch;
                set_owned(m, hr->assignment, hr->n_assignment);
            }
            if (hr)
                protobuf_c_message_free_unpacked(&hr->base, NULL);
            submit_heartbeat(m); /* at once: one always in flight */
        }
        for (int i = 0; i < n; i++)
            if (ms[i].active)
                rc_pump(ms[i].rc, 0);
    }
}

/* Lets every held heartbeat come back so a member can leave or be reused. */
static void drain(member_t *m)
{
    while (m->inflight) {
        rc_result_t r;
        if (rc_wait(m->rc, m->inflight, 5000, &r) >= 0)
            rc_result_free(&r);
        m->inflight = 0;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void stats(const char *name, double *v, int n, int last)
{
    qsort(v, (size_t)n, sizeof(double), cmp);
    printf("\"%s_ms_p50\":%.2f,\"%s_ms_p99\":%.2f,\"%s_ms_max\":%.2f%s", name, v[n / 2], name,
           v[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], name, v[n - 1], last ? "" : ",");
}

int main(int argc, char **argv)
{
    int members = 3, rounds = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--members"))
            members = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--partitions"))
            g_parts = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: %s [--members N] [--partitions P] [--rounds R]\n", argv[0]);
            return 2;
        }
    }
    if (members < 1 || members + 1 > MAX_MEMBERS || g_parts < 1 || g_parts > MAX_PARTS ||
        rounds < 1) {
        fprintf(stderr, "members 1..%d, partitions 1..%d, rounds >= 1\n", MAX_MEMBERS - 1,
                MAX_PARTS);
        return 2;
    }
    broker_proc_t bp;
    broker_opts_t o = {0};
    if (broker_proc_start(&bp, &o) != 0) {
        fprintf(stderr, "cannot start mqbroker: %s\n", bp.error);
        return 1;
    }
    char err[512];
    long hs = rc_admin_create_topic(bp.admin_addr, "t", g_parts, err, sizeof(err));
    if (hs != 200 && hs != 201) {
        fprintf(stderr, "create topic: %s\n", err);
        broker_proc_destroy(&bp);
        return 1;
    }
    member_t ms[MAX_MEMBERS];
    memset(ms, 0, sizeof(ms));
    int n = members + 1, rc = 0;
    for (int i = 0; i < n; i++)
        if (!(ms[i].rc = rc_connect(bp.client_host, bp.client_port, err, sizeof(err)))) {
            fprintf(stderr, "connect: %s\n", err);
            return 1;
        }
    for (int i = 0; i < members && rc == 0; i++)
        rc = join(&ms[i]);
    if (rc == 0 && settle(ms, n, now_ms(), 10000) < 0)
        rc = -1;
    double *joins = calloc((size_t)rounds, sizeof(double));
    double *leaves = calloc((size_t)rounds, sizeof(double));
    for (int r = 0; rc == 0 && r < rounds; r++) {
        member_t *x = &ms[members];
        double t0 = now_ms();
        if (join(x) != 0 || (joins[r] = settle(ms, n, t0, 10000)) < 0) {
            rc = -1;
            break;
        }
        drain(x);
        t0 = now_ms();
        leave(x);
        if ((leaves[r] = settle(ms, n, t0, 10000)) < 0)
            rc = -1;
    }
    if (rc == 0) {
        printf("{\"bench\":\"group_rebalance\",\"members\":%d,\"partitions\":%d,\"rounds\":%d,",
               members, g_parts, rounds);
        stats("join", joins, rounds, 0);
        stats("leave", leaves, rounds, 1);
        printf("}\n");
    } else {
        fprintf(stderr, "the group did not settle within 10 s\n");
        broker_proc_dump_logs(&bp, stderr);
    }
    free(joins);
    free(leaves);
    for (int i = 0; i < n; i++)
        rc_close(ms[i].rc);
    broker_proc_destroy(&bp);
    return rc == 0 ? 0 : 1;
}
