/* Prometheus text format: `name{label="value",...} value [timestamp]`, label
 * values escaped with \\, \" and \n; `#` lines are HELP/TYPE or comments. */
#include "prom.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_name_char(int c, int first)
{
    return isalpha(c) || c == '_' || c == ':' || (!first && isdigit(c));
}

/* A metric or label name at *p; malloc'd, NULL if there is none. */
static char *parse_name(const char **p)
{
    const char *s = *p;
    if (!is_name_char((unsigned char)*s, 1))
        return NULL;
    while (is_name_char((unsigned char)**p, 0))
        (*p)++;
    return strndup(s, (size_t)(*p - s));
}

/* A quoted label value at *p (after the opening quote); malloc'd. */
static char *parse_value(const char **p)
{
    const char *s = *p;
    char *out = malloc(strlen(s) + 1), *o = out;
    if (!out)
        return NULL;
    for (; *s && *s != '"' && *s != '\n'; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *o++ = *s == 'n' ? '\n' : *s;
        } else {
            *o++ = *s;
        }
    }
    if (*s != '"') {
        free(out);
        return NULL;
    }
    *o = '\0';
    *p = s + 1;
    return out;
}

static void free_sample(prom_sample_t *s)
{
    for (int i = 0; i < s->nlabels; i++) {
        free(s->labels[i].name);
        free(s->labels[i].value);
    }
    free(s->labels);
    free(s->name);
}

static const char *parse_labels(const char **p, prom_sample_t *s)
{
    (*p)++; /* { */
    while (**p != '}') {
        prom_label_t l = {parse_name(p), NULL};
        if (!l.name)
            return "a label name";
        if (**p != '=' || (*p)[1] != '"') {
            free(l.name);
            return "=\" after a label name";
        }
        *p += 2;
        l.value = parse_value(p);
        prom_label_t *nl =
            l.value ? realloc(s->labels, (size_t)(s->nlabels + 1) * sizeof *nl) : NULL;
        if (!nl) {
            free(l.name);
            free(l.value);
            return "a closed label value";
        }
        s->labels = nl;
        s->labels[s->nlabels++] = l;
        if (**p == ',')
            (*p)++;
        else if (**p != '}')
            return ", or } after a label";
    }
    (*p)++;
    return NULL;
}

/* One sample line; returns NULL or what was expected. */
static const char *parse_line(const char *line, prom_sample_t *s)
{
    const char *p = line;
    memset(s, 0, sizeof *s);
    if (!(s->name = parse_name(&p)))
        return "a metric name";
    if (*p == '{') {
        const char *want = parse_labels(&p, s);
        if (want)
            return want;
    }
    if (*p != ' ' && *p != '\t')
        return "a space before the value";
    while (*p == ' ' || *p == '\t')
        p++;
    char *end = NULL;
    s->value = strtod(p, &end); /* also takes NaN, +Inf, -Inf */
    if (end == p)
        return "a number";
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end && *end != '\n' && !isdigit((unsigned char)*end) && *end != '-')
        return "the end of the line or a timestamp";
    return NULL;
}

static int add_sample(prom_t *out, prom_sample_t *s)
{
    if (out->n == out->cap) {
        int cap = out->cap ? out->cap * 2 : 64;
        prom_sample_t *ns = realloc(out->s, (size_t)cap * sizeof *ns);
        if (!ns)
            return -1;
        out->s = ns;
        out->cap = cap;
    }
    out->s[out->n++] = *s;
    return 0;
}

int prom_parse(const char *text, prom_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    int lineno = 0;
    for (const char *line = text; line && *line;
         line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '#' || *line == '\n' || *line == '\r' || !*line)
            continue;
        prom_sample_t s;
        const char *want = parse_line(line, &s);
        if (want || add_sample(out, &s) != 0) {
            int n = (int)strcspn(line, "\n");
            snprintf(err, errlen, "line %d of the metrics: expected %s in '%.*s'", lineno,
                     want ? want : "memory", n > 120 ? 120 : n, line);
            free_sample(&s);
            prom_free(out);
            return -1;
        }
    }
    return 0;
}

void prom_free(prom_t *p)
{
    for (int i = 0; i < p->n; i++)
        free_sample(&p->s[i]);
    free(p->s);
    memset(p, 0, sizeof *p);
}

const char *prom_label(const prom_sample_t *s, const char *name)
{
    for (int i = 0; i < s->nlabels; i++)
        if (!strcmp(s->labels[i].name, name))
            return s->labels[i].value;
    return NULL;
}
