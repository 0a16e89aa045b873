/* The consumer-group coordinator's state machine (groups.h).
 *
 * Model (docs/protocol.md 2.6): a group has an epoch that moves whenever its
 * members, their subscriptions or the subscribed topics change; each move
 * computes a target assignment with the group's assignor. Each member owns
 * a set of partitions, each remembered with the epoch at which the member
 * got it. Reconciling a member is incremental and cooperative: while it
 * owns partitions outside its target it is told to revoke them and gets
 * nothing new; once it confirms (a heartbeat without them) it takes the
 * partitions of its target that no other member owns and its epoch rises
 * to the target's. A partition is never owned by two members. */
#include "groups.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "assignors.h"
#include "log.h"
#include "loop.h"
#include "topics.h"

typedef struct owned {
    char *topic;
    int32_t partition;
    int32_t epoch; /* member epoch when the member got it */
} owned_t;

typedef struct member {
    char id[32];
    char *instance_id; /* "" for dynamic members */
    char **topics;
    size_t n_topics;
    char *regex; /* "" when the subscription is a list */
    regex_t re;
    int has_re;
    int32_t session_ms;
    int32_t rebalance_ms;
    char assignor[16];
    char client_id[256];     /* shown by describe, as Kafka's CLIENT-ID */
    char client_address[64]; /* and HOST */
    int32_t epoch;
    owned_t *owned;
    size_t n_owned;
    group_tp_list_t target;
    int64_t last_seen;    /* monotonic ms: last heartbeat, answer or join */
    int held;             /* heartbeats held now */
    int64_t revoke_since; /* 0 when it has nothing to revoke */
    int left;             /* a static member that left: reserved until expiry */
} member_t;

typedef struct group {
    char id[GROUP_ID_MAX + 1];
    int32_t epoch;
    int32_t target_epoch;
    char assignor[16];
    uint64_t topo_sig;
    member_t **members;
    size_t n_members;
    group_offset_t *offsets; /* sorted by (topic, partition) */
    size_t n_offsets, cap_offsets;
    int dirty;
} group_t;

static struct {
    pthread_mutex_t mu;
    group_t **groups; /* sorted by id */
    size_t n;
    uint64_t version;
    int64_t rebalances;
    groups_limits_t lim;
    void (*wake)(void);
    void (*dirty)(void);
    char **deleted; /* group rows to delete from meta.db */
    size_t n_deleted;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .lim = {6000, 1800000, 3000}};

/* ---- small helpers ---- */

int group_tp_list_add(group_tp_list_t *l, const char *topic, int32_t partition)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        group_tp_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    char *t = strdup(topic);
    if (!t)
        return -1;
    l->v[l->n++] = (group_tp_t){t, partition};
    return 0;
}

void group_tp_list_free(group_tp_list_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].topic);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

void group_answer_free(group_answer_t *a)
{
    group_tp_list_free(&a->assignment);
    group_tp_list_free(&a->revoke);
}

static int tp_cmp(const char *t1, int32_t p1, const char *t2, int32_t p2)
{
    int r = strcmp(t1, t2);
    if (r)
        return r;
    return p1 < p2 ? -1 : p1 > p2;
}

static int list_has(const group_tp_list_t *l, const char *topic, int32_t p)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].partition == p && !strcmp(l->v[i].topic, topic))
            return 1;
    return 0;
}

static owned_t *find_owned(member_t *m, const char *topic, int32_t p)
{
    for (size_t i = 0; i < m->n_owned; i++)
        if (m->owned[i].partition == p && !strcmp(m->owned[i].topic, topic))
            return &m->owned[i];
    return NULL;
}

static void changed(void)
{
    G.version++;
    if (G.wake)
        G.wake();
}

static void mark_dirty(group_t *g)
{
    g->dirty = 1;
    if (G.dirty)
        G.dirty();
}

mq_err_t groups_validate_id(const char *id, char *msg, size_t len)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > GROUP_ID_MAX) {
        snprintf(msg, len, "group id must be 1 to %d characters", GROUP_ID_MAX);
        return MQ_ERR_INVALID_GROUP_ID;
    }
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            snprintf(msg, len, "group id '%.200s' may hold only A-Z a-z 0-9 . _ -", id);
            return MQ_ERR_INVALID_GROUP_ID;
        }
    }
    return MQ_OK;
}

/* ---- groups and members ---- */

static group_t *find_group(const char *id, size_t *pos)
{
    size_t lo = 0, hi = G.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(G.groups[mid]->id, id);
        if (r == 0) {
            if (pos)
                *pos = mid;
            return G.groups[mid];
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

static group_t *get_or_create(const char *id)
{
    size_t pos;
    group_t *g = find_group(id, &pos);
    if (g)
        return g;
    group_t **v = realloc(G.groups, (G.n + 1) * sizeof(*v));
    if (!v)
        return NULL;
    G.groups = v;
    g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    snprintf(g->id, sizeof(g->id), "%s", id);
    snprintf(g->assignor, sizeof(g->assignor), "sticky");
    memmove(&G.groups[pos + 1], &G.groups[pos], (G.n - pos) * sizeof(*v));
    G.groups[pos] = g;
    G.n++;
    /* A group recreated before its deletion reached meta.db must not lose
     * its new row: drop the pending delete. */
    for (size_t i = 0; i < G.n_deleted; i++) {
        if (!strcmp(G.deleted[i], id)) {
            free(G.deleted[i]);
            G.deleted[i] = G.deleted[--G.n_deleted];
            break;
        }
    }
    return g;
}

static void member_free(member_t *m)
{
    if (!m)
        return;
    free(m->instance_id);
    for (size_t i = 0; i < m->n_topics; i++)
        free(m->topics[i]);
    free(m->topics);
    free(m->regex);
    if (m->has_re)
        regfree(&m->re);
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i].topic);
    free(m->owned);
    group_tp_list_free(&m->target);
    free(m);
}

static void group_free(group_t *g)
{
    for (size_t i = 0; i < g->n_members; i++)
        member_free(g->members[i]);
    free(g->members);
    group_offsets_free(g->offsets, g->n_offsets);
    free(g);
}

static member_t *find_member(group_t *g, const char *id)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (!strcmp(g->members[i]->id, id))
            return g->members[i];
    return NULL;
}

static member_t *find_instance(group_t *g, const char *instance)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->instance_id[0] && !strcmp(g->members[i]->instance_id, instance))
            return g->members[i];
    return NULL;
}

static void new_member_id(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[22];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        /* Fall back on time and address bits; ids only need to differ. */
        static unsigned long ctr;
        unsigned long x = (unsigned long)out ^ (unsigned long)++ctr * 2654435761UL;
        for (size_t i = 0; i < sizeof(rnd); i++, x = x * 6364136223846793005UL + 1)
            rnd[i] = (unsigned char)(x >> 33);
    }
    size_t n = sizeof(rnd) < len - 1 ? sizeof(rnd) : len - 1;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
    out[n] = '\0';
}

/* Stable order for assignors: static members by instance id first, then
 * dynamic ones by member id. */
static int member_order(const void *a, const void *b)
{
    const member_t *x = *(member_t *const *)a, *y = *(member_t *const *)b;
    int xs = x->instance_id[0] != 0, ys = y->instance_id[0] != 0;
    if (xs != ys)
        return ys - xs;
    if (xs) {
        int r = strcmp(x->instance_id, y->instance_id);
        if (r)
            return r;
    }
    return strcmp(x->id, y->id);
}

/* ---- subscriptions and the target assignment ---- */

typedef struct topic_set {
    asg_topic_t *v;
    size_t n, cap;
} topic_set_t;

static int tset_has(const topic_set_t *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].name, name))
            return 1;
    return 0;
}

static int tset_add(topic_set_t *s, const char *name, int32_t partitions)
{
    if (tset_has(s, name))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        asg_topic_t *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy)
        return -1;
    s->v[s->n++] = (asg_topic_t){copy, partitions};
    return 0;
}

static void tset_free(topic_set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free((char *)s->v[i].name);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

static int tset_cmp(const void *a, const void *b)
{
    return strcmp(((const asg_topic_t *)a)->name, ((const asg_topic_t *)b)->name);
}

typedef struct regex_scan {
    group_t *g;
    topic_set_t *set;
    int failed;
} regex_scan_t;

static void scan_topic(topic_t *t, void *arg)
{
    regex_scan_t *rs = arg;
    for (size_t i = 0; i < rs->g->n_members; i++) {
        member_t *m = rs->g->members[i];
        if (m->has_re && regexec(&m->re, t->name, 0, NULL, 0) == 0) {
            if (tset_add(rs->set, t->name, t->partition_count) != 0)
                rs->failed = 1;
            return;
        }
    }
}

/* The existing topics some member subscribes to, sorted by name. */
static int subscribed_topics(group_t *g, topic_set_t *set)
{
    memset(set, 0, sizeof(*set));
    int any_re = 0;
    for (size_t i = 0; i < g->n_members; i++) {
        member_t *m = g->members[i];
        any_re |= m->has_re;
        for (size_t j = 0; !m->has_re && j < m->n_topics; j++) {
            if (tset_has(set, m->topics[j]))
                continue;
            topic_t *t = topics_get(m->topics[j]);
            if (!t)
                continue;
            int rc = tset_add(set, t->name, t->partition_count);
            topic_release(t);
            if (rc != 0)
                return -1;
        }
    }
    if (any_re) {
        regex_scan_t rs = {g, set, 0};
        topics_foreach(scan_topic, &rs);
        if (rs.failed)
            return -1;
    }
    if (set->n > 1)
        qsort(set->v, set->n, sizeof(*set->v), tset_cmp);
    return 0;
}

static uint64_t topo_signature(const topic_set_t *set)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < set->n; i++) {
        for (const char *p = set->v[i].name; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ (uint64_t)set->v[i].partitions) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int member_subscribes(const member_t *m, const char *topic)
{
    if (m->has_re)
        return regexec(&m->re, topic, 0, NULL, 0) == 0;
    for (size_t i = 0; i < m->n_topics; i++)
        if (!strcmp(m->topics[i], topic))
            return 1;
    return 0;
}

/* The assignor most members name; ties go to the first in ASSIGNOR_NAMES. */
static void choose_assignor(group_t *g)
{
    int best = -1, best_votes = -1;
    for (int a = 0; ASSIGNOR_NAMES[a]; a++) {
        int votes = 0;
        for (size_t i = 0; i < g->n_members; i++)
            votes += !strcmp(g->members[i]->assignor, ASSIGNOR_NAMES[a]);
        if (votes > best_votes) {
            best = a;
            best_votes = votes;
        }
    }
    snprintf(g->assignor, sizeof(g->assignor), "%s", ASSIGNOR_NAMES[best]);
}

/* Bumps the group epoch and computes a new target for every member. */
static mq_err_t rebalance(group_t *g)
{
    topic_set_t set;
    if (subscribed_topics(g, &set) != 0) {
        tset_free(&set);
        return MQ_ERR_NO_MEMORY;
    }
    if (g->n_members > 1)
        qsort(g->members, g->n_members, sizeof(*g->members), member_order);
    choose_assignor(g);
    size_t nm = g->n_members;
    asg_member_t *am = calloc(nm + 1, sizeof(*am));
    const char ***subs = calloc(nm + 1, sizeof(*subs));
    asg_tp_t **prev = calloc(nm + 1, sizeof(*prev));
    mq_err_t err = (am && subs && prev) ? MQ_OK : MQ_ERR_NO_MEMORY;
    for (size_t i = 0; err == MQ_OK && i < nm; i++) {
        member_t *m = g->members[i];
        subs[i] = calloc(set.n + 1, sizeof(char *));
        prev[i] = calloc(m->target.n + 1, sizeof(asg_tp_t));
        if (!subs[i] || !prev[i]) {
            err = MQ_ERR_NO_MEMORY;
            break;
        }
        for (size_t t = 0; t < set.n; t++)
            if (member_subscribes(m, set.v[t].name))
                subs[i][am[i].n_subs++] = set.v[t].name;
        for (size_t j = 0; j < m->target.n; j++)
            prev[i][j] = (asg_tp_t){m->target.v[j].topic, m->target.v[j].partition};
        am[i].subs = subs[i];
        am[i].prev = prev[i];
        am[i].n_prev = m->target.n;
    }
    if (err == MQ_OK)
        err = assign(g->assignor, set.v, set.n, am, nm);
    if (err == MQ_OK) {
        /* Build every new target before replacing any, so a failure leaves
         * the old ones whole. */
        group_tp_list_t *nt = calloc(nm + 1, sizeof(*nt));
        for (size_t i = 0; nt && i < nm; i++)
            for (size_t j = 0; j < am[i].n_out; j++)
                if (group_tp_list_add(&nt[i], am[i].out[j].topic, am[i].out[j].partition) != 0)
                    err = MQ_ERR_NO_MEMORY;
        if (!nt)
            err = MQ_ERR_NO_MEMORY;
        for (size_t i = 0; nt && i < nm; i++) {
            if (err == MQ_OK) {
                group_tp_list_free(&g->members[i]->target);
                g->members[i]->target = nt[i];
            } else {
                group_tp_list_free(&nt[i]);
            }
        }
        free(nt);
        asg_free_results(am, nm);
    }
    for (size_t i = 0; subs && prev && i < nm; i++) {
        free(subs[i]);
        free(prev[i]);
    }
    free(subs);
    free(prev);
    free(am);
    if (err == MQ_OK) {
        g->epoch++;
        g->target_epoch = g->epoch;
        g->topo_sig = topo_signature(&set);
        G.rebalances++;
        log_info("\"group rebalanced\" group=%s epoch=%d members=%zu assignor=%s topics=%zu", g->id,
                 g->epoch, g->n_members, g->assignor, set.n);
    }
    tset_free(&set);
    mark_dirty(g);
    changed();
    return err;
}

/* ---- reconciliation ---- */

static member_t *owner_of(group_t *g, const char *topic, int32_t p)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (find_owned(g->members[i], topic, p))
            return g->members[i];
    return NULL;
}

static void drop_owned(member_t *m, size_t i)
{
    free(m->owned[i].topic);
    m->owned[i] = m->owned[--m->n_owned];
}

static int add_owned(member_t *m, const char *topic, int32_t p, int32_t epoch)
{
    owned_t *v = realloc(m->owned, (m->n_owned + 1) * sizeof(*v));
    if (!v)
        return -1;
    m->owned = v;
    char *t = strdup(topic);
    if (!t)
        return -1;
    m->owned[m->n_owned++] = (owned_t){t, p, epoch};
    return 0;
}

static int owned_cmp(const void *a, const void *b)
{
    const owned_t *x = a, *y = b;
    return tp_cmp(x->topic, x->partition, y->topic, y->partition);
}

/* Moves the member toward its target: revoke first, then take what is
 * free. Fills out (assignment, revoke, epoch). Returns 1 if the member's
 * ownership changed. */
static int reconcile(group_t *g, member_t *m, int64_t now, group_answer_t *out)
{
    int moved = 0;
    size_t revoking = 0;
    for (size_t i = 0; i < m->n_owned; i++)
        revoking += !list_has(&m->target, m->owned[i].topic, m->owned[i].partition);
    if (revoking == 0) {
        m->revoke_since = 0;
        if (m->epoch < g->target_epoch)
            m->epoch = g->target_epoch;
        for (size_t i = 0; i < m->target.n; i++) {
            const group_tp_t *tp = &m->target.v[i];
            if (find_owned(m, tp->topic, tp->partition) || owner_of(g, tp->topic, tp->partition))
                continue;
            if (add_owned(m, tp->topic, tp->partition, m->epoch) == 0)
                moved = 1;
        }
    } else if (m->revoke_since == 0) {
        m->revoke_since = now;
    }
    if (m->n_owned > 1)
        qsort(m->owned, m->n_owned, sizeof(*m->owned), owned_cmp);
    if (out) {
        snprintf(out->member_id, sizeof(out->member_id), "%s", m->id);
        out->member_epoch = m->epoch;
        out->heartbeat_interval_ms = G.lim.heartbeat_interval_ms;
        for (size_t i = 0; i < m->n_owned; i++) {
            owned_t *o = &m->owned[i];
            group_tp_list_t *l =
                list_has(&m->target, o->topic, o->partition) ? &out->assignment : &out->revoke;
            group_tp_list_add(l, o->topic, o->partition);
        }
    }
    if (moved)
        mark_dirty(g);
    return moved;
}

/* Removes a member; its partitions are free at once. */
static void remove_member(group_t *g, member_t *m, const char *why)
{
    log_info("\"group member removed\" group=%s member=%s instance=%s reason=\"%s\"", g->id, m->id,
             m->instance_id, why);
    for (size_t i = 0; i < g->n_members; i++) {
        if (g->members[i] == m) {
            g->members[i] = g->members[--g->n_members];
            break;
        }
    }
    member_free(m);
    if (g->n_members > 0) {
        rebalance(g);
    } else {
        g->epoch++;
        g->target_epoch = g->epoch;
        mark_dirty(g);
        changed();
    }
}

/* ---- public API ---- */

void groups_init(const groups_limits_t *lim)
{
    pthread_mutex_lock(&G.mu);
    G.lim = *lim;
    pthread_mutex_unlock(&G.mu);
}

void groups_reset(void)
{
    pthread_mutex_lock(&G.mu);
    for (size_t i = 0; i < G.n; i++)
        group_free(G.groups[i]);
    free(G.groups);
    G.groups = NULL;
    G.n = 0;
    for (size_t i = 0; i < G.n_deleted; i++)
        free(G.deleted[i]);
    free(G.deleted);
    G.deleted = NULL;
    G.n_deleted = 0;
    G.version++;
    pthread_mutex_unlock(&G.mu);
}

void groups_set_hooks(void (*wake)(void), void (*dirty)(void))
{
    pthread_mutex_lock(&G.mu);
    G.wake = wake;
    G.dirty = dirty;
    pthread_mutex_unlock(&G.mu);
}

uint64_t groups_version(void)
{
    pthread_mutex_lock(&G.mu);
    uint64_t v = G.version;
    pthread_mutex_unlock(&G.mu);
    return v;
}

/* Checks and copies the subscription into m. */
static mq_err_t set_subscription(member_t *m, const group_join_req_t *req, char *msg, size_t len)
{
    const char *re = req->topic_regex ? req->topic_regex : "";
    if (!*re && req->n_topics == 0) {
        snprintf(msg, len, "the subscription is empty: give topics or topic_regex");
        return MQ_ERR_INVALID_ARG;
    }
    regex_t compiled;
    int has_re = 0;
    if (*re) {
        size_t n = strlen(re) + 5;
        char *anchored = malloc(n);
        if (!anchored)
            return MQ_ERR_NO_MEMORY;
        snprintf(anchored, n, "^(%s)$", re);
        int rc = regcomp(&compiled, anchored, REG_EXTENDED | REG_NOSUB);
        free(anchored);
        if (rc != 0) {
            char why[128];
            regerror(rc, &compiled, why, sizeof(why));
            snprintf(msg, len, "topic_regex '%.100s' is not a POSIX extended regex: %.60s", re,
                     why);
            return MQ_ERR_INVALID_ARG;
        }
        has_re = 1;
    }
    for (size_t i = 0; !has_re && i < req->n_topics; i++) {
        if (topics_validate_name(req->topics[i] ? req->topics[i] : "") != MQ_OK) {
            snprintf(msg, len, "subscribed topic '%.200s' is not a valid topic name",
                     req->topics[i] ? req->topics[i] : "");
            return MQ_ERR_INVALID_ARG;
        }
    }
    char **topics = calloc(req->n_topics + 1, sizeof(char *));
    char *regex = strdup(re);
    int ok = topics && regex;
    for (size_t i = 0; ok && !has_re && i < req->n_topics; i++)
        ok = (topics[i] = strdup(req->topics[i])) != NULL;
    if (!ok) {
        for (size_t i = 0; topics && i < req->n_topics; i++)
            free(topics[i]);
        free(topics);
        free(regex);
        if (has_re)
            regfree(&compiled);
        return MQ_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < m->n_topics; i++)
        free(m->topics[i]);
    free(m->topics);
    free(m->regex);
    if (m->has_re)
        regfree(&m->re);
    m->topics = topics;
    m->n_topics = has_re ? 0 : req->n_topics;
    m->regex = regex;
    m->has_re = has_re;
    if (has_re)
        m->re = compiled;
    return MQ_OK;
}

static int same_subscription(const member_t *m, const group_join_req_t *req)
{
    const char *re = req->topic_regex ? req->topic_regex : "";
    if (strcmp(m->regex ? m->regex : "", re))
        return 0;
    if (*re)
        return 1;
    if (m->n_topics != req->n_topics)
        return 0;
    for (size_t i = 0; i < m->n_topics; i++)
        if (strcmp(m->topics[i], req->topics[i]))
            return 0;
    return 1;
}

static mq_err_t check_join(const group_join_req_t *req, int32_t *session, int32_t *rebalance,
                           char *msg, size_t len)
{
    mq_err_t err = groups_validate_id(req->group_id, msg, len);
    if (err != MQ_OK)
        return err;
    *session = req->session_timeout_ms == -1 ? GROUP_DEFAULT_SESSION_MS : req->session_timeout_ms;
    if (*session < G.lim.min_session_ms || *session > G.lim.max_session_ms) {
        snprintf(msg, len,
                 "session_timeout_ms %d is outside the broker's bounds [%d, %d] "
                 "(group.min.session.timeout.ms, group.max.session.timeout.ms)",
                 req->session_timeout_ms, G.lim.min_session_ms, G.lim.max_session_ms);
        return MQ_ERR_INVALID_SESSION_TIMEOUT;
    }
    *rebalance =
        req->rebalance_timeout_ms == -1 ? GROUP_DEFAULT_REBALANCE_MS : req->rebalance_timeout_ms;
    if (*rebalance <= 0) {
        snprintf(msg, len, "rebalance_timeout_ms %d must be positive (or -1 for the default)",
                 req->rebalance_timeout_ms);
        return MQ_ERR_INVALID_ARG;
    }
    if (!assignor_known(req->assignor)) {
        snprintf(msg, len, "unknown assignor '%.60s' (the broker has sticky, range, roundrobin)",
                 req->assignor);
        return MQ_ERR_UNSUPPORTED_ASSIGNOR;
    }
    return MQ_OK;
}

mq_err_t groups_join(const group_join_req_t *req, int64_t now, group_answer_t *out)
{
    memset(out, 0, sizeof(*out));
    int32_t session, rebal;
    mq_err_t err = check_join(req, &session, &rebal, out->message, sizeof(out->message));
    if (err != MQ_OK)
        return err;
    const char *mid = req->member_id ? req->member_id : "";
    const char *inst = req->instance_id ? req->instance_id : "";
    const char *asg = req->assignor && *req->assignor ? req->assignor : "sticky";
    /* Check the subscription before touching any group. */
    member_t probe = {0};
    err = set_subscription(&probe, req, out->message, sizeof(out->message));
    for (size_t i = 0; i < probe.n_topics; i++)
        free(probe.topics[i]);
    free(probe.topics);
    free(probe.regex);
    if (probe.has_re)
        regfree(&probe.re);
    if (err != MQ_OK)
        return err;
    pthread_mutex_lock(&G.mu);
    group_t *g = mid[0] ? find_group(req->group_id, NULL) : get_or_create(req->group_id);
    member_t *m = NULL;
    int need_rebalance = 0;
    if (!g && mid[0]) {
        err = MQ_ERR_UNKNOWN_MEMBER;
        snprintf(out->message, sizeof(out->message), "group '%s' has no member '%.60s'",
                 req->group_id, mid);
        goto out;
    }
    if (!g) {
        err = MQ_ERR_NO_MEMORY;
        goto out;
    }
    if (mid[0]) {
        m = find_member(g, mid);
        if (!m || m->left) {
            err = MQ_ERR_UNKNOWN_MEMBER;
            snprintf(out->message, sizeof(out->message),
                     "group '%s' has no member '%.60s' (it left, expired or was replaced)",
                     req->group_id, mid);
            goto out;
        }
        need_rebalance = !same_subscription(m, req) || strcmp(m->assignor, asg);
    } else if (inst[0] && (m = find_instance(g, inst)) != NULL) {
        /* Static membership: the new member takes over the old one's id
         * slot, epoch and partitions; the old id is fenced. */
        log_info("\"static member replaced\" group=%s instance=%s old=%s", g->id, inst, m->id);
        new_member_id(m->id, sizeof(m->id));
        m->left = 0;
        /* Heartbeats the old process still has held no longer keep this
         * member alive; waking them answers UNKNOWN_MEMBER. */
        m->held = 0;
        changed();
        need_rebalance = !same_subscription(m, req) || strcmp(m->assignor, asg);
    } else {
        m = calloc(1, sizeof(*m));
        member_t **v = m ? realloc(g->members, (g->n_members + 1) * sizeof(*v)) : NULL;
        if (m)
            m->instance_id = strdup(inst);
        if (!m || !v || !m->instance_id) {
            member_free(m);
            err = MQ_ERR_NO_MEMORY;
            goto out;
        }
        g->members = v;
        new_member_id(m->id, sizeof(m->id));
        err = set_subscription(m, req, out->message, sizeof(out->message));
        if (err != MQ_OK) {
            member_free(m);
            goto out;
        }
        g->members[g->n_members++] = m;
        need_rebalance = 1;
        log_info("\"group member joined\" group=%s member=%s instance=%s client_id=\"%s\" "
                 "client_address=%s",
                 g->id, m->id, inst, req->client_id ? req->client_id : "",
                 req->client_address ? req->client_address : "");
    }
    if (need_rebalance) {
        err = set_subscription(m, req, out->message, sizeof(out->message));
        if (err != MQ_OK)
            goto out;
    }
    snprintf(m->assignor, sizeof(m->assignor), "%s", asg);
    snprintf(m->client_id, sizeof(m->client_id), "%s", req->client_id ? req->client_id : "");
    snprintf(m->client_address, sizeof(m->client_address), "%s",
             req->client_address ? req->client_address : "");
    m->session_ms = session;
    m->rebalance_ms = rebal;
    m->last_seen = now;
    if (need_rebalance && (err = rebalance(g)) != MQ_OK)
        goto out;
    if (reconcile(g, m, now, out))
        changed();
    mark_dirty(g);
out:
    pthread_mutex_unlock(&G.mu);
    if (err != MQ_OK) {
        group_answer_free(out);
        if (!out->message[0])
            snprintf(out->message, sizeof(out->message), "%s", mq_err_str(err));
    }
    return err;
}

/* Finds a live member, or sets an error. */
static member_t *lookup(const char *gid, const char *mid, int32_t epoch, mq_err_t *err,
                        group_t **gout, char *msg, size_t len)
{
    group_t *g = find_group(gid ? gid : "", NULL);
    member_t *m = g ? find_member(g, mid ? mid : "") : NULL;
    if (!m || m->left) {
        *err = MQ_ERR_UNKNOWN_MEMBER;
        if (msg)
            snprintf(msg, len, "group '%.200s' has no member '%.60s'", gid ? gid : "",
                     mid ? mid : "");
        return NULL;
    }
    if (epoch > m->epoch) {
        *err = MQ_ERR_FENCED_MEMBER_EPOCH;
        if (msg)
            snprintf(msg, len, "member epoch %d is above the member's epoch %d", epoch, m->epoch);
        return NULL;
    }
    *err = MQ_OK;
    if (gout)
        *gout = g;
    return m;
}

mq_err_t groups_heartbeat(const char *group_id, const char *member_id, int32_t epoch,
                          const group_tp_list_t *owned, int64_t now, group_answer_t *out,
                          int *changed_out)
{
    memset(out, 0, sizeof(*out));
    *changed_out = 1;
    mq_err_t err = groups_validate_id(group_id, out->message, sizeof(out->message));
    if (err != MQ_OK)
        return err;
    pthread_mutex_lock(&G.mu);
    group_t *g = NULL;
    member_t *m = lookup(group_id, member_id, epoch, &err, &g, out->message, sizeof(out->message));
    if (m) {
        m->last_seen = now;
        /* Leaving out a partition it was told to revoke confirms the
         * revocation: the partition is free for its next owner. */
        int freed = 0;
        for (size_t i = 0; i < m->n_owned;) {
            owned_t *o = &m->owned[i];
            if (!list_has(&m->target, o->topic, o->partition) &&
                !list_has(owned, o->topic, o->partition)) {
                drop_owned(m, i);
                freed = 1;
            } else {
                i++;
            }
        }
        int moved = reconcile(g, m, now, out);
        if (freed || moved) {
            mark_dirty(g);
            changed();
        }
        /* Answer now unless the member already owns exactly its answer. */
        int same = out->revoke.n == 0 && out->assignment.n == owned->n;
        for (size_t i = 0; same && i < out->assignment.n; i++)
            same = list_has(owned, out->assignment.v[i].topic, out->assignment.v[i].partition);
        *changed_out = !same;
    }
    pthread_mutex_unlock(&G.mu);
    if (err != MQ_OK)
        group_answer_free(out);
    return err;
}

void groups_hold(const char *group_id, const char *member_id, int delta, int64_t now)
{
    pthread_mutex_lock(&G.mu);
    group_t *g = find_group(group_id, NULL);
    member_t *m = g ? find_member(g, member_id) : NULL;
    if (m) {
        m->held += delta;
        if (m->held < 0)
            m->held = 0;
        m->last_seen = now;
    }
    pthread_mutex_unlock(&G.mu);
}

mq_err_t groups_leave(const char *group_id, const char *member_id, int32_t epoch, int64_t now)
{
    pthread_mutex_lock(&G.mu);
    mq_err_t err;
    group_t *g = NULL;
    member_t *m = lookup(group_id, member_id, epoch, &err, &g, NULL, 0);
    if (m && m->instance_id[0]) {
        /* A static member keeps its partitions until its session times
         * out, so a restart within it moves nothing. */
        m->left = 1;
        m->held = 0;
        m->last_seen = now;
        log_info("\"static group member left\" group=%s member=%s instance=%s", g->id, m->id,
                 m->instance_id);
        mark_dirty(g);
        changed();
    } else if (m) {
        remove_member(g, m, "left the group");
    }
    pthread_mutex_unlock(&G.mu);
    return err;
}

mq_err_t groups_remove_member(const char *group_id, const char *member_id, const char *instance_id,
                              char *removed, size_t removed_len)
{
    pthread_mutex_lock(&G.mu);
    group_t *g = find_group(group_id, NULL);
    member_t *m = NULL;
    if (g && instance_id && *instance_id)
        m = find_instance(g, instance_id);
    else if (g && member_id && *member_id)
        m = find_member(g, member_id);
    if (m) {
        snprintf(removed, removed_len, "%s", m->id);
        remove_member(g, m, "removed through the admin API");
        mark_dirty(g);
        changed();
    }
    pthread_mutex_unlock(&G.mu);
    return m ? MQ_OK : MQ_ERR_NOT_FOUND;
}

mq_err_t groups_check_partition(const char *group_id, const char *member_id, int32_t epoch,
                                const char *topic, int32_t partition)
{
    if (!member_id || !*member_id)
        return MQ_OK;
    pthread_mutex_lock(&G.mu);
    mq_err_t err;
    member_t *m = lookup(group_id, member_id, epoch, &err, NULL, NULL, 0);
    if (m) {
        owned_t *o = find_owned(m, topic, partition);
        if (!o || o->epoch > epoch)
            err = MQ_ERR_STALE_MEMBER_EPOCH;
    }
    pthread_mutex_unlock(&G.mu);
    return err;
}

mq_err_t groups_check_committer(const char *group_id, const char *member_id, int32_t epoch,
                                char *msg, size_t msglen)
{
    mq_err_t err = groups_validate_id(group_id, msg, msglen);
    if (err != MQ_OK)
        return err;
    pthread_mutex_lock(&G.mu);
    if (member_id && *member_id) {
        lookup(group_id, member_id, epoch, &err, NULL, msg, msglen);
    } else {
        group_t *g = find_group(group_id, NULL);
        if (g && g->n_members > 0) {
            err = MQ_ERR_UNKNOWN_MEMBER;
            snprintf(msg, msglen,
                     "group '%s' has %zu members: a commit without member_id is only allowed "
                     "for a group without members",
                     group_id, g->n_members);
        }
    }
    pthread_mutex_unlock(&G.mu);
    return err;
}

int64_t groups_tick(int64_t now)
{
    int64_t next = -1;
    pthread_mutex_lock(&G.mu);
    for (size_t gi = 0; gi < G.n; gi++) {
        group_t *g = G.groups[gi];
        for (size_t i = 0; i < g->n_members;) {
            member_t *m = g->members[i];
            int64_t expires = m->last_seen + m->session_ms;
            int64_t rebal = m->revoke_since ? m->revoke_since + m->rebalance_ms : INT64_MAX;
            if (m->held == 0 && now >= expires) {
                remove_member(g, m,
                              m->left ? "static member did not return within its session "
                                        "timeout"
                                      : "session timed out");
                i = 0;
                continue;
            }
            if (now >= rebal) {
                remove_member(g, m, "did not revoke within its rebalance timeout");
                i = 0;
                continue;
            }
            int64_t due = m->held ? rebal : (expires < rebal ? expires : rebal);
            if (due != INT64_MAX && (next < 0 || due - now < next))
                next = due - now;
            i++;
        }
        if (g->n_members == 0)
            continue;
        if (next < 0 || next > 1000)
            next = 1000;
        /* Topics created (or grown) that the group subscribes to. */
        topic_set_t set;
        if (subscribed_topics(g, &set) == 0 && topo_signature(&set) != g->topo_sig)
            rebalance(g);
        tset_free(&set);
    }
    pthread_mutex_unlock(&G.mu);
    if (next >= 0 && next < 1)
        next = 1;
    return next;
}

/* ---- offsets ---- */

static size_t offset_pos(group_t *g, const char *topic, int32_t p, int *found)
{
    size_t lo = 0, hi = g->n_offsets;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = tp_cmp(g->offsets[mid].topic, g->offsets[mid].partition, topic, p);
        if (r == 0) {
            *found = 1;
            return mid;
        }
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = 0;
    return lo;
}

mq_err_t groups_set_offset(const char *group_id, const char *topic, int32_t partition,
                           int64_t offset, const char *metadata, int64_t commit_ms)
{
    pthread_mutex_lock(&G.mu);
    mq_err_t err = MQ_ERR_NO_MEMORY;
    group_t *g = get_or_create(group_id);
    char *meta = strdup(metadata ? metadata : "");
    if (!g || !meta)
        goto out;
    int found;
    size_t pos = offset_pos(g, topic, partition, &found);
    if (found) {
        free(g->offsets[pos].metadata);
        g->offsets[pos].metadata = meta;
        g->offsets[pos].offset = offset;
        g->offsets[pos].commit_ms = commit_ms;
        err = MQ_OK;
        goto out;
    }
    if (g->n_offsets == g->cap_offsets) {
        size_t cap = g->cap_offsets ? g->cap_offsets * 2 : 16;
        group_offset_t *v = realloc(g->offsets, cap * sizeof(*v));
        if (!v)
            goto out;
        g->offsets = v;
        g->cap_offsets = cap;
    }
    char *t = strdup(topic);
    if (!t)
        goto out;
    memmove(&g->offsets[pos + 1], &g->offsets[pos], (g->n_offsets - pos) * sizeof(*g->offsets));
    g->offsets[pos] = (group_offset_t){t, partition, offset, meta, commit_ms};
    g->n_offsets++;
    meta = NULL;
    err = MQ_OK;
out:
    if (err != MQ_OK)
        free(meta);
    pthread_mutex_unlock(&G.mu);
    return err;
}

static int copy_offset(const group_offset_t *src, group_offset_t *dst)
{
    *dst = *src;
    dst->topic = strdup(src->topic);
    dst->metadata = strdup(src->metadata);
    if (!dst->topic || !dst->metadata) {
        group_offset_free(dst);
        return -1;
    }
    return 0;
}

mq_err_t groups_get_offset(const char *group_id, const char *topic, int32_t partition,
                           group_offset_t *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&G.mu);
    mq_err_t err = MQ_ERR_NOT_FOUND;
    group_t *g = find_group(group_id, NULL);
    int found = 0;
    size_t pos = g ? offset_pos(g, topic, partition, &found) : 0;
    if (found)
        err = copy_offset(&g->offsets[pos], out) == 0 ? MQ_OK : MQ_ERR_NO_MEMORY;
    pthread_mutex_unlock(&G.mu);
    return err;
}

mq_err_t groups_list_offsets(const char *group_id, group_offset_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&G.mu);
    mq_err_t err = MQ_OK;
    group_t *g = find_group(group_id, NULL);
    if (g && g->n_offsets) {
        *out = calloc(g->n_offsets, sizeof(**out));
        if (!*out)
            err = MQ_ERR_NO_MEMORY;
        for (size_t i = 0; err == MQ_OK && i < g->n_offsets; i++) {
            if (copy_offset(&g->offsets[i], &(*out)[i]) != 0)
                err = MQ_ERR_NO_MEMORY;
            else
                (*n)++;
        }
    }
    pthread_mutex_unlock(&G.mu);
    if (err != MQ_OK) {
        group_offsets_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return err;
}

void group_offset_free(group_offset_t *o)
{
    free(o->topic);
    free(o->metadata);
    o->topic = o->metadata = NULL;
}

void group_offsets_free(group_offset_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        group_offset_free(&v[i]);
    free(v);
}

/* ---- inspection ---- */

static const char *group_state(const group_t *g)
{
    if (g->n_members == 0)
        return "empty";
    for (size_t i = 0; i < g->n_members; i++) {
        member_t *m = g->members[i];
        if (m->epoch != g->target_epoch || m->n_owned != m->target.n)
            return "reconciling";
    }
    return "stable";
}

static cJSON *tp_json(const char *const *topics, const int32_t *parts, size_t n)
{
    /* [{"topic": T, "partitions": [..]}] grouping consecutive topics. */
    cJSON *arr = cJSON_CreateArray();
    cJSON *cur = NULL, *plist = NULL;
    const char *last = NULL;
    for (size_t i = 0; arr && i < n; i++) {
        if (!last || strcmp(last, topics[i])) {
            cur = cJSON_CreateObject();
            cJSON_AddStringToObject(cur, "topic", topics[i]);
            plist = cJSON_AddArrayToObject(cur, "partitions");
            cJSON_AddItemToArray(arr, cur);
            last = topics[i];
        }
        cJSON_AddItemToArray(plist, cJSON_CreateNumber(parts[i]));
    }
    return arr;
}

static cJSON *owned_json(const member_t *m)
{
    const char **t = calloc(m->n_owned + 1, sizeof(char *));
    int32_t *p = calloc(m->n_owned + 1, sizeof(int32_t));
    cJSON *j = NULL;
    if (t && p) {
        for (size_t i = 0; i < m->n_owned; i++) {
            t[i] = m->owned[i].topic;
            p[i] = m->owned[i].partition;
        }
        j = tp_json(t, p, m->n_owned);
    }
    free(t);
    free(p);
    return j;
}

static cJSON *list_json(const group_tp_list_t *l)
{
    const char **t = calloc(l->n + 1, sizeof(char *));
    int32_t *p = calloc(l->n + 1, sizeof(int32_t));
    cJSON *j = NULL;
    if (t && p) {
        for (size_t i = 0; i < l->n; i++) {
            t[i] = l->v[i].topic;
            p[i] = l->v[i].partition;
        }
        j = tp_json(t, p, l->n);
    }
    free(t);
    free(p);
    return j;
}

static cJSON *member_json(const member_t *m, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "member_id", m->id);
    cJSON_AddStringToObject(o, "group_instance_id", m->instance_id);
    cJSON_AddStringToObject(o, "client_id", m->client_id);
    cJSON_AddStringToObject(o, "client_address", m->client_address);
    cJSON_AddNumberToObject(o, "member_epoch", m->epoch);
    cJSON *subs = cJSON_AddArrayToObject(o, "topics");
    for (size_t i = 0; i < m->n_topics; i++)
        cJSON_AddItemToArray(subs, cJSON_CreateString(m->topics[i]));
    cJSON_AddStringToObject(o, "topic_regex", m->regex ? m->regex : "");
    cJSON_AddStringToObject(o, "assignor", m->assignor);
    cJSON_AddNumberToObject(o, "session_timeout_ms", m->session_ms);
    cJSON_AddNumberToObject(o, "rebalance_timeout_ms", m->rebalance_ms);
    cJSON_AddItemToObject(o, "assignment", owned_json(m));
    cJSON_AddItemToObject(o, "target", list_json(&m->target));
    if (now >= 0) {
        cJSON_AddBoolToObject(o, "left", m->left);
        cJSON_AddNumberToObject(o, "ms_since_heartbeat",
                                (double)(m->held ? 0 : now - m->last_seen));
    }
    return o;
}

cJSON *groups_describe(const char *group_id)
{
    pthread_mutex_lock(&G.mu);
    group_t *g = find_group(group_id, NULL);
    cJSON *o = NULL;
    if (g) {
        int64_t now = loop_now_ms();
        o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "group_id", g->id);
        cJSON_AddStringToObject(o, "state", group_state(g));
        cJSON_AddNumberToObject(o, "group_epoch", g->epoch);
        cJSON_AddStringToObject(o, "assignor", g->assignor);
        cJSON *ms = cJSON_AddArrayToObject(o, "members");
        for (size_t i = 0; i < g->n_members; i++)
            cJSON_AddItemToArray(ms, member_json(g->members[i], now));
    }
    pthread_mutex_unlock(&G.mu);
    return o;
}

size_t groups_list(char ***ids)
{
    pthread_mutex_lock(&G.mu);
    size_t n = 0;
    *ids = calloc(G.n + 1, sizeof(char *));
    for (size_t i = 0; *ids && i < G.n; i++)
        if (((*ids)[n] = strdup(G.groups[i]->id)) != NULL)
            n++;
    pthread_mutex_unlock(&G.mu);
    return n;
}

int groups_member_count(const char *group_id)
{
    pthread_mutex_lock(&G.mu);
    group_t *g = find_group(group_id, NULL);
    int n = g ? (int)g->n_members : 0;
    pthread_mutex_unlock(&G.mu);
    return n;
}

mq_err_t groups_delete(const char *group_id)
{
    pthread_mutex_lock(&G.mu);
    size_t pos;
    group_t *g = find_group(group_id, &pos);
    mq_err_t err = MQ_OK;
    if (!g) {
        err = MQ_ERR_NOT_FOUND;
    } else if (g->n_members > 0) {
        err = MQ_ERR_GROUP_NOT_EMPTY;
    } else {
        char **v = realloc(G.deleted, (G.n_deleted + 1) * sizeof(*v));
        char *id = strdup(group_id);
        if (!v || !id) {
            free(id);
            if (v)
                G.deleted = v;
            err = MQ_ERR_NO_MEMORY;
        } else {
            G.deleted = v;
            G.deleted[G.n_deleted++] = id;
            memmove(&G.groups[pos], &G.groups[pos + 1], (G.n - pos - 1) * sizeof(*G.groups));
            G.n--;
            group_free(g);
            log_info("\"group deleted\" group=%s", group_id);
            if (G.dirty)
                G.dirty();
            changed();
        }
    }
    pthread_mutex_unlock(&G.mu);
    return err;
}

void groups_counts(int64_t *groups, int64_t *members, int64_t *rebalances)
{
    pthread_mutex_lock(&G.mu);
    *rebalances = G.rebalances;
    *groups = (int64_t)G.n;
    *members = 0;
    for (size_t i = 0; i < G.n; i++)
        *members += (int64_t)G.groups[i]->n_members;
    pthread_mutex_unlock(&G.mu);
}

/* ---- persistence ---- */

static char *group_state_json(const group_t *g)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", g->epoch);
    cJSON_AddNumberToObject(o, "target_epoch", g->target_epoch);
    cJSON_AddStringToObject(o, "assignor", g->assignor);
    cJSON *ms = cJSON_AddArrayToObject(o, "members");
    for (size_t i = 0; i < g->n_members; i++) {
        const member_t *m = g->members[i];
        cJSON *mj = member_json(m, -1);
        cJSON *ep = cJSON_AddArrayToObject(mj, "owned_epochs");
        for (size_t k = 0; k < m->n_owned; k++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "topic", m->owned[k].topic);
            cJSON_AddNumberToObject(e, "partition", m->owned[k].partition);
            cJSON_AddNumberToObject(e, "epoch", m->owned[k].epoch);
            cJSON_AddItemToArray(ep, e);
        }
        cJSON_AddBoolToObject(mj, "left", m->left);
        cJSON_AddItemToArray(ms, mj);
    }
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

size_t groups_take_dirty(group_blob_t **out)
{
    pthread_mutex_lock(&G.mu);
    size_t n = 0, cap = G.n_deleted;
    for (size_t i = 0; i < G.n; i++)
        cap += G.groups[i]->dirty;
    *out = calloc(cap + 1, sizeof(**out));
    for (size_t i = 0; *out && i < G.n_deleted; i++) {
        (*out)[n++] = (group_blob_t){G.deleted[i], NULL};
        G.deleted[i] = NULL;
    }
    if (*out)
        G.n_deleted = 0;
    for (size_t i = 0; *out && i < G.n; i++) {
        group_t *g = G.groups[i];
        if (!g->dirty)
            continue;
        char *id = strdup(g->id);
        char *json = group_state_json(g);
        if (!id || !json) {
            free(id);
            free(json);
            continue; /* stays dirty: written next time */
        }
        g->dirty = 0;
        (*out)[n++] = (group_blob_t){id, json};
    }
    pthread_mutex_unlock(&G.mu);
    return n;
}

void group_blobs_free(group_blob_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].group_id);
        free(v[i].json);
    }
    free(v);
}

static int json_int(const cJSON *o, const char *key, int def)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valueint : def;
}

static const char *json_str(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(it) ? it->valuestring : "";
}

static mq_err_t restore_member(group_t *g, const cJSON *mj, int64_t now)
{
    const cJSON *subs = cJSON_GetObjectItemCaseSensitive(mj, "topics");
    size_t nt = (size_t)cJSON_GetArraySize(subs);
    const char **names = calloc(nt + 1, sizeof(char *));
    if (!names)
        return MQ_ERR_NO_MEMORY;
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, subs) if (cJSON_IsString(it)) names[k++] = it->valuestring;
    group_join_req_t req = {.group_id = g->id,
                            .topics = names,
                            .n_topics = k,
                            .topic_regex = json_str(mj, "topic_regex")};
    member_t *m = calloc(1, sizeof(*m));
    member_t **v = m ? realloc(g->members, (g->n_members + 1) * sizeof(*v)) : NULL;
    char msg[256];
    mq_err_t err = MQ_ERR_NO_MEMORY;
    if (m && v) {
        g->members = v;
        m->instance_id = strdup(json_str(mj, "group_instance_id"));
        err = m->instance_id ? set_subscription(m, &req, msg, sizeof(msg)) : MQ_ERR_NO_MEMORY;
    }
    free(names);
    if (err != MQ_OK) {
        member_free(m);
        return err;
    }
    snprintf(m->id, sizeof(m->id), "%s", json_str(mj, "member_id"));
    snprintf(m->assignor, sizeof(m->assignor), "%s", json_str(mj, "assignor"));
    snprintf(m->client_id, sizeof(m->client_id), "%s", json_str(mj, "client_id"));
    snprintf(m->client_address, sizeof(m->client_address), "%s", json_str(mj, "client_address"));
    m->epoch = json_int(mj, "member_epoch", 0);
    m->session_ms = json_int(mj, "session_timeout_ms", GROUP_DEFAULT_SESSION_MS);
    m->rebalance_ms = json_int(mj, "rebalance_timeout_ms", GROUP_DEFAULT_REBALANCE_MS);
    m->left = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mj, "left"));
    m->last_seen = now;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(mj, "owned_epochs")) add_owned(
        m, json_str(it, "topic"), json_int(it, "partition", -1), json_int(it, "epoch", 0));
    const cJSON *tp;
    cJSON_ArrayForEach(tp, cJSON_GetObjectItemCaseSensitive(mj, "target"))
    {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(tp, "partitions"))
            group_tp_list_add(&m->target, json_str(tp, "topic"), p->valueint);
    }
    if (m->n_owned > 1)
        qsort(m->owned, m->n_owned, sizeof(*m->owned), owned_cmp);
    g->members[g->n_members++] = m;
    return MQ_OK;
}

mq_err_t groups_restore(const char *group_id, const char *json, int64_t now)
{
    cJSON *o = cJSON_Parse(json);
    if (!o)
        return MQ_ERR_PROTOCOL;
    pthread_mutex_lock(&G.mu);
    mq_err_t err = MQ_ERR_NO_MEMORY;
    group_t *g = get_or_create(group_id);
    if (g) {
        err = MQ_OK;
        g->epoch = json_int(o, "epoch", 0);
        g->target_epoch = json_int(o, "target_epoch", g->epoch);
        snprintf(g->assignor, sizeof(g->assignor), "%s", json_str(o, "assignor"));
        const cJSON *mj;
        cJSON_ArrayForEach(mj, cJSON_GetObjectItemCaseSensitive(o, "members"))
        {
            if (restore_member(g, mj, now) != MQ_OK)
                log_warn("\"cannot restore group member\" group=%s member=%s", group_id,
                         json_str(mj, "member_id"));
        }
        topic_set_t set;
        if (subscribed_topics(g, &set) == 0)
            g->topo_sig = topo_signature(&set);
        tset_free(&set);
    }
    pthread_mutex_unlock(&G.mu);
    cJSON_Delete(o);
    return err;
}
