/* ACL rules in memory (read-locked for checks, changed only after meta.db
 * committed the change), the decision procedure and the per-connection
 * decision cache. See acl.h. */
#include "acl.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"

#define MAX_SUPER_USERS 64

static struct {
    int enabled;
    char super_users[MAX_SUPER_USERS][256];
    int nsuper;
    pthread_rwlock_t lock;
    acl_rule_t *rules; /* sorted by id */
    size_t nrules, cap;
    uint64_t gen; /* atomic; bumped after every change, never 0 */
} g_acl = {.lock = PTHREAD_RWLOCK_INITIALIZER, .gen = 1};

static const char *const res_names[] = {"topic", "group", "cluster"};
static const char *const op_names[] = {"read",     "write", "create", "delete",
                                       "describe", "alter", "all"};
static const char *const pattern_names[] = {"literal", "prefix"};

static int parse_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (!strcasecmp(s, names[i]))
            return i;
    return -1;
}

int acl_res_parse(const char *s)
{
    return parse_name(s, res_names, ACL_RES_COUNT);
}
int acl_op_parse(const char *s)
{
    return parse_name(s, op_names, ACL_OP_COUNT);
}
int acl_pattern_parse(const char *s)
{
    return parse_name(s, pattern_names, 2);
}
const char *acl_res_name(acl_res_t r)
{
    return r < ACL_RES_COUNT ? res_names[r] : "?";
}
const char *acl_op_name(acl_op_t o)
{
    return o < ACL_OP_COUNT ? op_names[o] : "?";
}
const char *acl_pattern_name(acl_pattern_t p)
{
    return p <= ACL_PATTERN_PREFIX ? pattern_names[p] : "?";
}

/* ---- configuration ---- */

void acl_configure(const broker_config_t *cfg)
{
    g_acl.enabled = cfg->authorizer_enabled;
    g_acl.nsuper = 0;
    char list[sizeof(cfg->super_users)];
    snprintf(list, sizeof(list), "%s", cfg->super_users);
    for (char *save, *tok = strtok_r(list, ",", &save); tok && g_acl.nsuper < MAX_SUPER_USERS;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = '\0';
        if (n)
            snprintf(g_acl.super_users[g_acl.nsuper++], 256, "%s", tok);
    }
}

int acl_enabled(void)
{
    return g_acl.enabled;
}

static int is_super(const char *principal)
{
    for (int i = 0; i < g_acl.nsuper; i++)
        if (!strcmp(g_acl.super_users[i], principal))
            return 1;
    return 0;
}

void acl_cache_init(acl_cache_t *c, const char *principal)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->principal, sizeof(c->principal), "%s", principal);
    c->super_user = is_super(c->principal);
}

/* ---- decisions ---- */

static int name_matches(const acl_rule_t *r, const char *name)
{
    if (r->resource == ACL_RES_CLUSTER)
        return 1;
    if (r->pattern == ACL_PATTERN_PREFIX)
        return strncmp(name, r->name, strlen(r->name)) == 0;
    return !strcmp(r->name, "*") || !strcmp(r->name, name);
}

/* Allowing read, write, delete or alter implies describe (so a producer
 * allowed to write can look the topic up); a deny of those does not deny
 * describe. */
static int op_matches(const acl_rule_t *r, acl_op_t op)
{
    if (r->op == ACL_OP_ALL || r->op == op)
        return 1;
    return op == ACL_OP_DESCRIBE && r->allow &&
           (r->op == ACL_OP_READ || r->op == ACL_OP_WRITE || r->op == ACL_OP_DELETE ||
            r->op == ACL_OP_ALTER);
}

static int principal_matches(const acl_rule_t *r, const char *principal)
{
    return !strcmp(r->principal, "*") || !strcmp(r->principal, principal);
}

/* Under the read lock. Deny wins; no matching rule denies. */
static int decide_locked(const char *principal, acl_op_t op, acl_res_t res, const char *name,
                         int64_t *rule_id)
{
    int64_t allow_id = 0;
    for (size_t i = 0; i < g_acl.nrules; i++) {
        const acl_rule_t *r = &g_acl.rules[i];
        if (r->resource != res || !principal_matches(r, principal) || !op_matches(r, op) ||
            !name_matches(r, name))
            continue;
        if (!r->allow) {
            *rule_id = r->id;
            return 0;
        }
        if (!allow_id)
            allow_id = r->id;
    }
    *rule_id = allow_id;
    return allow_id != 0;
}

int acl_decide(const char *principal, acl_op_t op, acl_res_t res, const char *name,
               int64_t *rule_id)
{
    int64_t id = -1;
    int allow = 1;
    if (g_acl.enabled && !is_super(principal)) {
        pthread_rwlock_rdlock(&g_acl.lock);
        allow = decide_locked(principal, op, res, name ? name : "", &id);
        pthread_rwlock_unlock(&g_acl.lock);
    }
    if (rule_id)
        *rule_id = id;
    return allow;
}

/* FNV-1a over the name, mixed with the operation and resource. */
static uint64_t slot_hash(const char *name, size_t len, acl_op_t op, acl_res_t res)
{
    uint64_t h = 1469598103934665603ULL ^ ((uint64_t)op << 8 | (uint64_t)res);
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int acl_check(acl_cache_t *c, acl_op_t op, acl_res_t res, const char *name, int64_t *rule_id)
{
    int64_t id = -1;
    if (!g_acl.enabled || c->super_user) {
        if (rule_id)
            *rule_id = id;
        return 1;
    }
    if (!name)
        name = "";
    uint64_t gen = __atomic_load_n(&g_acl.gen, __ATOMIC_ACQUIRE);
    size_t len = strlen(name);
    acl_cache_slot_t *s = NULL;
    uint64_t h = 0;
    if (len < ACL_CACHE_NAME) {
        h = slot_hash(name, len, op, res);
        s = &c->slot[h % ACL_CACHE_SLOTS];
        if (s->gen == gen && s->hash == h && s->op == op && s->res == res &&
            !memcmp(s->name, name, len + 1)) {
            if (rule_id)
                *rule_id = s->rule_id;
            return s->allow;
        }
    }
    pthread_rwlock_rdlock(&g_acl.lock);
    int allow = decide_locked(c->principal, op, res, name, &id);
    pthread_rwlock_unlock(&g_acl.lock);
    if (s) {
        s->gen = gen;
        s->hash = h;
        s->op = (uint8_t)op;
        s->res = (uint8_t)res;
        s->allow = (uint8_t)allow;
        s->rule_id = id;
        memcpy(s->name, name, len + 1);
    }
    if (!allow)
        log_info("\"authorization denied\" principal=\"%s\" operation=%s resource=%s name=\"%s\" "
                 "rule=%" PRId64,
                 c->principal, acl_op_name(op), acl_res_name(res), name, id);
    if (rule_id)
        *rule_id = id;
    return allow;
}

int acl_allows_any_topic(acl_cache_t *c, acl_op_t op)
{
    if (!g_acl.enabled || c->super_user)
        return 1;
    int found = 0;
    pthread_rwlock_rdlock(&g_acl.lock);
    for (size_t i = 0; i < g_acl.nrules && !found; i++) {
        const acl_rule_t *r = &g_acl.rules[i];
        found = r->allow && r->resource == ACL_RES_TOPIC && principal_matches(r, c->principal) &&
                op_matches(r, op);
    }
    pthread_rwlock_unlock(&g_acl.lock);
    return found;
}

size_t acl_list(acl_rule_t **out)
{
    pthread_rwlock_rdlock(&g_acl.lock);
    size_t n = g_acl.nrules;
    *out = malloc((n ? n : 1) * sizeof(acl_rule_t));
    if (*out && n)
        memcpy(*out, g_acl.rules, n * sizeof(acl_rule_t));
    pthread_rwlock_unlock(&g_acl.lock);
    return *out ? n : 0;
}

/* ---- the in-memory set (changed after meta.db committed) ---- */

static int rules_insert(const acl_rule_t *r)
{
    pthread_rwlock_wrlock(&g_acl.lock);
    if (g_acl.nrules == g_acl.cap) {
        size_t cap = g_acl.cap ? g_acl.cap * 2 : 16;
        acl_rule_t *p = realloc(g_acl.rules, cap * sizeof(*p));
        if (!p) {
            pthread_rwlock_unlock(&g_acl.lock);
            return -1;
        }
        g_acl.rules = p;
        g_acl.cap = cap;
    }
    size_t i = g_acl.nrules;
    while (i > 0 && g_acl.rules[i - 1].id > r->id) {
        g_acl.rules[i] = g_acl.rules[i - 1];
        i--;
    }
    g_acl.rules[i] = *r;
    g_acl.nrules++;
    __atomic_add_fetch(&g_acl.gen, 1, __ATOMIC_ACQ_REL);
    pthread_rwlock_unlock(&g_acl.lock);
    return 0;
}

static void rules_remove(int64_t id)
{
    pthread_rwlock_wrlock(&g_acl.lock);
    for (size_t i = 0; i < g_acl.nrules; i++) {
        if (g_acl.rules[i].id != id)
            continue;
        memmove(&g_acl.rules[i], &g_acl.rules[i + 1], (g_acl.nrules - i - 1) * sizeof(acl_rule_t));
        g_acl.nrules--;
        break;
    }
    __atomic_add_fetch(&g_acl.gen, 1, __ATOMIC_ACQ_REL);
    pthread_rwlock_unlock(&g_acl.lock);
}

void acl_free_all(void)
{
    pthread_rwlock_wrlock(&g_acl.lock);
    free(g_acl.rules);
    g_acl.rules = NULL;
    g_acl.nrules = g_acl.cap = 0;
    __atomic_add_fetch(&g_acl.gen, 1, __ATOMIC_ACQ_REL);
    pthread_rwlock_unlock(&g_acl.lock);
}

/* ---- meta.db (metadata thread) ---- */

static const char CREATE_SQL[] = "CREATE TABLE IF NOT EXISTS acls ("
                                 "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
                                 "  principal TEXT NOT NULL,"
                                 "  resource TEXT NOT NULL,"
                                 "  pattern TEXT NOT NULL,"
                                 "  name TEXT NOT NULL,"
                                 "  operation TEXT NOT NULL,"
                                 "  permission TEXT NOT NULL,"
                                 "  created_ms INTEGER NOT NULL)";

static int ensure_table(sqlite3 *db, meta_result_t *res)
{
    char *msg = NULL;
    if (sqlite3_exec(db, CREATE_SQL, NULL, NULL, &msg) != SQLITE_OK) {
        res->err = MQ_ERR_STORAGE;
        snprintf(res->message, sizeof(res->message), "cannot create the acls table: %s",
                 msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static void sql_load(void *dbp, void *arg, meta_result_t *res)
{
    (void)arg;
    sqlite3 *db = dbp;
    res->err = MQ_OK;
    if (ensure_table(db, res) != 0)
        return;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, principal, resource, pattern, name, operation, permission "
                           "FROM acls ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        res->err = MQ_ERR_STORAGE;
        snprintf(res->message, sizeof(res->message), "cannot read acls: %s", sqlite3_errmsg(db));
        return;
    }
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        acl_rule_t r = {0};
        r.id = sqlite3_column_int64(st, 0);
        int rs = acl_res_parse((const char *)sqlite3_column_text(st, 2));
        int pt = acl_pattern_parse((const char *)sqlite3_column_text(st, 3));
        int op = acl_op_parse((const char *)sqlite3_column_text(st, 5));
        const char *perm = (const char *)sqlite3_column_text(st, 6);
        const char *p = (const char *)sqlite3_column_text(st, 1);
        const char *nm = (const char *)sqlite3_column_text(st, 4);
        if (rs < 0 || pt < 0 || op < 0 || !perm || !p || !nm) {
            log_warn("\"skipping malformed acl row\" id=%" PRId64, r.id);
            continue;
        }
        r.resource = (acl_res_t)rs;
        r.pattern = (acl_pattern_t)pt;
        r.op = (acl_op_t)op;
        r.allow = !strcasecmp(perm, "allow");
        snprintf(r.principal, sizeof(r.principal), "%s", p);
        snprintf(r.name, sizeof(r.name), "%s", nm);
        if (rules_insert(&r) != 0) {
            res->err = MQ_ERR_NO_MEMORY;
            break;
        }
        n++;
    }
    sqlite3_finalize(st);
    log_info("\"acls loaded\" count=%d authorizer=%s", n, g_acl.enabled ? "on" : "off");
}

mq_err_t acl_load(void)
{
    meta_result_t res;
    if (meta_run_sql_wait(sql_load, &res) != MQ_OK)
        log_error("\"cannot load acls\" err=%s error=\"%s\"", mq_err_name(res.err), res.message);
    return res.err;
}

typedef struct change {
    acl_rule_t rule; /* add: the rule (id filled in); remove: rule.id */
    int remove;
    meta_done_cb done;
    void *arg;
} change_t;

static void sql_add(void *dbp, void *arg, meta_result_t *res)
{
    sqlite3 *db = dbp;
    change_t *ch = arg;
    res->err = MQ_OK;
    if (ensure_table(db, res) != 0)
        return;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db,
                       "INSERT INTO acls(principal, resource, pattern, name, operation, "
                       "permission, created_ms) VALUES(?, ?, ?, ?, ?, ?, "
                       "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))",
                       -1, &st, NULL);
    const acl_rule_t *r = &ch->rule;
    sqlite3_bind_text(st, 1, r->principal, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, acl_res_name(r->resource), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, acl_pattern_name(r->pattern), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, acl_op_name(r->op), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, r->allow ? "allow" : "deny", -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        res->err = MQ_ERR_STORAGE;
        snprintf(res->message, sizeof(res->message), "cannot store the acl: %s",
                 sqlite3_errmsg(db));
    } else {
        ch->rule.id = sqlite3_last_insert_rowid(db);
        snprintf(res->message, sizeof(res->message), "%" PRId64, ch->rule.id);
    }
    sqlite3_finalize(st);
}

static void sql_remove(void *dbp, void *arg, meta_result_t *res)
{
    sqlite3 *db = dbp;
    change_t *ch = arg;
    res->err = MQ_OK;
    if (ensure_table(db, res) != 0)
        return;
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "DELETE FROM acls WHERE id = ?", -1, &st, NULL);
    sqlite3_bind_int64(st, 1, ch->rule.id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        res->err = MQ_ERR_STORAGE;
        snprintf(res->message, sizeof(res->message), "cannot delete the acl: %s",
                 sqlite3_errmsg(db));
    } else if (sqlite3_changes(db) == 0) {
        res->err = MQ_ERR_NOT_FOUND;
        snprintf(res->message, sizeof(res->message), "no acl with id %" PRId64, ch->rule.id);
    }
}

/* Committed (or failed): apply to memory, then tell the caller. */
static void change_done(loop_t *loop, void *arg, const meta_result_t *res)
{
    change_t *ch = arg;
    meta_result_t out = *res;
    if (res->err == MQ_OK) {
        if (ch->remove) {
            rules_remove(ch->rule.id);
            log_info("\"acl removed\" id=%" PRId64, ch->rule.id);
        } else if (rules_insert(&ch->rule) != 0) {
            out.err = MQ_ERR_NO_MEMORY;
            snprintf(out.message, sizeof(out.message), "out of memory");
        } else {
            log_info("\"acl added\" id=%" PRId64 " principal=\"%s\" %s %s %s:%s:%s", ch->rule.id,
                     ch->rule.principal, ch->rule.allow ? "allow" : "deny",
                     acl_op_name(ch->rule.op), acl_res_name(ch->rule.resource),
                     acl_pattern_name(ch->rule.pattern), ch->rule.name);
        }
    }
    ch->done(loop, ch->arg, &out);
    free(ch);
}

static void submit_change(change_t *ch, loop_t *reply_loop, meta_done_cb done, void *arg)
{
    if (!ch) {
        static const meta_result_t oom = {.err = MQ_ERR_NO_MEMORY, .message = "out of memory"};
        done(reply_loop, arg, &oom);
        return;
    }
    ch->done = done;
    ch->arg = arg;
    meta_run_sql(ch->remove ? sql_remove : sql_add, reply_loop, change_done, ch);
}

void acl_add(const acl_rule_t *rule, loop_t *reply_loop, meta_done_cb done, void *arg)
{
    change_t *ch = calloc(1, sizeof(*ch));
    if (ch)
        ch->rule = *rule;
    submit_change(ch, reply_loop, done, arg);
}

void acl_remove(int64_t id, loop_t *reply_loop, meta_done_cb done, void *arg)
{
    change_t *ch = calloc(1, sizeof(*ch));
    if (ch) {
        ch->rule.id = id;
        ch->remove = 1;
    }
    submit_change(ch, reply_loop, done, arg);
}
