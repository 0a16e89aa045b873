/* Partition assignors: sticky (default), range and roundrobin.
 *
 * All three work on the same flat list of partitions (topics in name order,
 * partitions ascending) and a subscription matrix, and return each member's
 * target sorted. Sticky keeps every previous (member, partition) pair it can
 * and moves only what balancing needs: with identical subscriptions, growing
 * from N to N+1 members moves exactly the partitions the new member gets. */
#include "assignors.h"

#include <stdlib.h>
#include <string.h>

const char *const ASSIGNOR_NAMES[] = {"sticky", "range", "roundrobin", NULL};

int assignor_known(const char *name)
{
    if (!name || !*name)
        return 1;
    for (int i = 0; ASSIGNOR_NAMES[i]; i++)
        if (!strcmp(name, ASSIGNOR_NAMES[i]))
            return 1;
    return 0;
}

typedef struct ctx {
    const asg_topic_t *topics;
    size_t nt;
    asg_member_t *members;
    size_t nm;
    size_t np;       /* partitions in all topics */
    size_t *first;   /* first[t]: index of topic t's partition 0 in the flat list */
    uint8_t *sub;    /* sub[m * nt + t] */
    int32_t *owner;  /* per flat partition: member index or -1 */
    size_t *cnt;     /* per member */
    int32_t *ptopic; /* per flat partition: its topic index */
} ctx_t;

static int topic_index(const ctx_t *c, const char *name)
{
    size_t lo = 0, hi = c->nt;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(c->topics[mid].name, name);
        if (r == 0)
            return (int)mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void ctx_free(ctx_t *c)
{
    free(c->first);
    free(c->sub);
    free(c->owner);
    free(c->cnt);
    free(c->ptopic);
}

static mq_err_t ctx_init(ctx_t *c, const asg_topic_t *topics, size_t nt, asg_member_t *members,
                         size_t nm)
{
    memset(c, 0, sizeof(*c));
    c->topics = topics;
    c->nt = nt;
    c->members = members;
    c->nm = nm;
    c->first = calloc(nt + 1, sizeof(size_t));
    c->sub = calloc(nm * nt + 1, 1);
    c->cnt = calloc(nm + 1, sizeof(size_t));
    if (!c->first || !c->sub || !c->cnt)
        goto oom;
    for (size_t t = 0; t < nt; t++) {
        c->first[t] = c->np;
        c->np += (size_t)(topics[t].partitions > 0 ? topics[t].partitions : 0);
    }
    c->owner = malloc((c->np + 1) * sizeof(int32_t));
    c->ptopic = malloc((c->np + 1) * sizeof(int32_t));
    if (!c->owner || !c->ptopic)
        goto oom;
    for (size_t t = 0; t < nt; t++)
        for (int32_t p = 0; p < topics[t].partitions; p++)
            c->ptopic[c->first[t] + (size_t)p] = (int32_t)t;
    for (size_t i = 0; i < c->np; i++)
        c->owner[i] = -1;
    for (size_t m = 0; m < nm; m++) {
        for (size_t s = 0; s < members[m].n_subs; s++) {
            int t = topic_index(c, members[m].subs[s]);
            if (t >= 0)
                c->sub[m * nt + (size_t)t] = 1;
        }
    }
    return MQ_OK;
oom:
    ctx_free(c);
    return MQ_ERR_NO_MEMORY;
}

static int eligible(const ctx_t *c, size_t m, size_t p)
{
    return c->sub[m * c->nt + (size_t)c->ptopic[p]];
}

static void give(ctx_t *c, size_t p, int32_t m)
{
    if (c->owner[p] >= 0)
        c->cnt[c->owner[p]]--;
    c->owner[p] = m;
    if (m >= 0)
        c->cnt[m]++;
}

/* The eligible member with the fewest partitions (lowest index on ties). */
static int32_t least_loaded(const ctx_t *c, size_t p)
{
    int32_t best = -1;
    for (size_t m = 0; m < c->nm; m++)
        if (eligible(c, m, p) && (best < 0 || c->cnt[m] < c->cnt[best]))
            best = (int32_t)m;
    return best;
}

/* Drops m's partitions from the end of the list until it holds `keep`. */
static void trim(ctx_t *c, size_t m, size_t keep)
{
    for (size_t p = c->np; p-- > 0 && c->cnt[m] > keep;)
        if (c->owner[p] == (int32_t)m)
            give(c, p, -1);
}

static void assign_sticky(ctx_t *c)
{
    /* 1. Keep previous owners. */
    for (size_t m = 0; m < c->nm; m++) {
        const asg_member_t *am = &c->members[m];
        for (size_t i = 0; i < am->n_prev; i++) {
            int t = topic_index(c, am->prev[i].topic);
            if (t < 0 || am->prev[i].partition < 0 ||
                am->prev[i].partition >= c->topics[t].partitions)
                continue;
            size_t p = c->first[t] + (size_t)am->prev[i].partition;
            if (c->owner[p] < 0 && eligible(c, m, p))
                give(c, p, (int32_t)m);
        }
    }
    /* 2. Quotas: T partitions that someone can take over N members that can
     * take some. At most T % N members may hold one more than T / N. */
    size_t total = 0, active = 0;
    for (size_t p = 0; p < c->np; p++) {
        for (size_t m = 0; m < c->nm; m++) {
            if (eligible(c, m, p)) {
                total++;
                break;
            }
        }
    }
    for (size_t m = 0; m < c->nm; m++) {
        for (size_t t = 0; t < c->nt; t++) {
            if (c->sub[m * c->nt + t] && c->topics[t].partitions > 0) {
                active++;
                break;
            }
        }
    }
    if (active > 0) {
        size_t lo = total / active, extra = total % active;
        size_t hi = lo + (extra ? 1 : 0);
        size_t at_hi = 0;
        for (size_t m = 0; m < c->nm; m++) {
            if (c->cnt[m] > hi)
                trim(c, m, hi);
            if (hi > lo && c->cnt[m] == hi && ++at_hi > extra)
                trim(c, m, lo);
        }
    }
    /* 3. Hand out the rest to whoever holds the fewest. */
    for (size_t p = 0; p < c->np; p++)
        if (c->owner[p] < 0)
            give(c, p, least_loaded(c, p));
    /* 4. Uneven subscriptions can leave gaps of two or more: move single
     * partitions until no move narrows one (each move lowers the sum of
     * squares, so this ends). */
    for (int moved = 1; moved;) {
        moved = 0;
        for (size_t p = 0; p < c->np; p++) {
            int32_t o = c->owner[p], m = least_loaded(c, p);
            if (o >= 0 && m >= 0 && c->cnt[o] >= c->cnt[m] + 2) {
                give(c, p, m);
                moved = 1;
            }
        }
    }
}

static void assign_range(ctx_t *c)
{
    for (size_t t = 0; t < c->nt; t++) {
        size_t k = 0;
        for (size_t m = 0; m < c->nm; m++)
            k += c->sub[m * c->nt + t];
        if (k == 0)
            continue;
        size_t n = (size_t)c->topics[t].partitions, per = n / k, extra = n % k, i = 0;
        size_t start = 0;
        for (size_t m = 0; m < c->nm; m++) {
            if (!c->sub[m * c->nt + t])
                continue;
            size_t len = per + (i < extra ? 1 : 0);
            for (size_t j = 0; j < len; j++)
                give(c, c->first[t] + start + j, (int32_t)m);
            start += len;
            i++;
        }
    }
}

static void assign_roundrobin(ctx_t *c)
{
    size_t next = 0;
    for (size_t p = 0; p < c->np && c->nm > 0; p++) {
        for (size_t tries = 0; tries < c->nm; tries++) {
            size_t m = (next + tries) % c->nm;
            if (eligible(c, m, p)) {
                give(c, p, (int32_t)m);
                next = m + 1;
                break;
            }
        }
    }
}

static mq_err_t collect(ctx_t *c)
{
    for (size_t m = 0; m < c->nm; m++) {
        asg_member_t *am = &c->members[m];
        am->out = malloc((c->cnt[m] + 1) * sizeof(asg_tp_t));
        am->n_out = 0;
        if (!am->out) {
            asg_free_results(c->members, c->nm);
            return MQ_ERR_NO_MEMORY;
        }
    }
    for (size_t p = 0; p < c->np; p++) {
        if (c->owner[p] < 0)
            continue;
        asg_member_t *am = &c->members[c->owner[p]];
        int32_t t = c->ptopic[p];
        am->out[am->n_out++] = (asg_tp_t){c->topics[t].name, (int32_t)(p - c->first[t])};
    }
    return MQ_OK;
}

mq_err_t assign(const char *assignor, const asg_topic_t *topics, size_t n_topics,
                asg_member_t *members, size_t n_members)
{
    if (!assignor_known(assignor))
        return MQ_ERR_UNSUPPORTED_ASSIGNOR;
    for (size_t m = 0; m < n_members; m++) {
        members[m].out = NULL;
        members[m].n_out = 0;
    }
    ctx_t c;
    if (ctx_init(&c, topics, n_topics, members, n_members) != MQ_OK)
        return MQ_ERR_NO_MEMORY;
    if (!assignor || !*assignor || !strcmp(assignor, "sticky"))
        assign_sticky(&c);
    else if (!strcmp(assignor, "range"))
        assign_range(&c);
    else
        assign_roundrobin(&c);
    mq_err_t err = collect(&c);
    ctx_free(&c);
    return err;
}

void asg_free_results(asg_member_t *members, size_t n_members)
{
    for (size_t m = 0; m < n_members; m++) {
        free(members[m].out);
        members[m].out = NULL;
        members[m].n_out = 0;
    }
}
