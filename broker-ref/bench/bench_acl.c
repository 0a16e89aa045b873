/* bench_acl: the cost of an authorization decision.
 *
 *   bench_acl [--rules N] [--iterations N] [--dir DIR]
 *
 * Starts the metadata thread on a scratch data dir, adds N rules through
 * the real path (meta.db, then memory), and times acl_check for one
 * connection: a decision found in the connection's cache (the common case:
 * every batch of a Produce asks the same question) and one computed from
 * the rules (a cache miss, forced by changing the topic name each time).
 * Prints one JSON line: ns per cached and per uncached decision. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "config.h"
#include "log.h"
#include "meta.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int pending;

static void added(loop_t *loop, void *arg, const meta_result_t *res)
{
    (void)loop;
    (void)arg;
    if (res->err != MQ_OK)
        fprintf(stderr, "bench_acl: add failed: %s\n", res->message);
    pthread_mutex_lock(&mu);
    pending--;
    pthread_cond_signal(&cond);
    pthread_mutex_unlock(&mu);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    int nrules = 100;
    long iters = 10 * 1000 * 1000;
    char dir[4096] = "";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rules"))
            nrules = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--iterations"))
            iters = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            snprintf(dir, sizeof(dir), "%s", argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_acl [--rules N] [--iterations N] [--dir DIR]\n");
            return 2;
        }
    }
    int own_dir = !dir[0];
    if (own_dir && !mkdtemp(strcpy(dir, "/tmp/bench-acl-XXXXXX"))) {
        perror("mkdtemp");
        return 1;
    }
    g_log_level = LOG_WARN;
    broker_config_t cfg;
    config_defaults(&cfg);
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", dir);
    cfg.authorizer_enabled = 1;
    if (meta_start(&cfg) != MQ_OK)
        return 1;
    acl_configure(&cfg);
    if (acl_load() != MQ_OK)
        return 1;
    /* Rules for other principals and topics, then the one that decides. */
    for (int i = 0; i <= nrules; i++) {
        acl_rule_t r = {0};
        snprintf(r.principal, sizeof(r.principal), i == nrules ? "alice" : "user%d", i);
        r.resource = ACL_RES_TOPIC;
        r.pattern = i % 2 ? ACL_PATTERN_PREFIX : ACL_PATTERN_LITERAL;
        snprintf(r.name, sizeof(r.name), i == nrules ? "orders" : "topic-%d", i);
        r.op = ACL_OP_WRITE;
        r.allow = 1;
        pthread_mutex_lock(&mu);
        pending++;
        pthread_mutex_unlock(&mu);
        acl_add(&r, NULL, added, NULL);
    }
    pthread_mutex_lock(&mu);
    while (pending > 0)
        pthread_cond_wait(&cond, &mu);
    pthread_mutex_unlock(&mu);

    acl_cache_t cache;
    acl_cache_init(&cache, "alice");
    long allowed = 0;
    acl_check(&cache, ACL_OP_WRITE, ACL_RES_TOPIC, "orders", NULL); /* fills the cache */
    double t0 = now_ns();
    for (long i = 0; i < iters; i++)
        allowed += acl_check(&cache, ACL_OP_WRITE, ACL_RES_TOPIC, "orders", NULL);
    double cached_ns = (now_ns() - t0) / (double)iters;

    /* Misses: names cycle through more names than the cache holds. */
    long miss_iters = iters / 100 > 1000 ? iters / 100 : 1000;
    char names[64][32];
    for (int i = 0; i < 64; i++)
        snprintf(names[i], sizeof(names[i]), "orders-%d", i);
    t0 = now_ns();
    for (long i = 0; i < miss_iters; i++)
        allowed += acl_check(&cache, ACL_OP_READ, ACL_RES_TOPIC, names[i % 64], NULL);
    double uncached_ns = (now_ns() - t0) / (double)miss_iters;

    printf("{\"rules\":%d,\"iterations\":%ld,\"cached_ns\":%.1f,\"uncached_ns\":%.1f,"
           "\"allowed\":%ld}\n",
           nrules + 1, iters, cached_ns, uncached_ns, allowed);
    meta_stop();
    acl_free_all();
    if (own_dir) {
        char cmd[4200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_acl: could not remove %s\n", dir);
    }
    return allowed == iters ? 0 : 1;
}
