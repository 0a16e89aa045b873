/* A parser for the Prometheus text exposition format 0.0.4 (what the
 * broker's /metrics serves): samples with labels and values. */
#ifndef MQADMIN_PROM_H
#define MQADMIN_PROM_H

#include <stddef.h>

typedef struct prom_label {
    char *name, *value;
} prom_label_t;

typedef struct prom_sample {
    char *name;
    prom_label_t *labels;
    int nlabels;
    double value;
} prom_sample_t;

typedef struct prom {
    prom_sample_t *s;
    int n, cap;
} prom_t;

/* Parses text into out (comments and blank lines skipped). Returns 0, or -1
 * with err naming the line and what is wrong with it. */
int prom_parse(const char *text, prom_t *out, char *err, size_t errlen);
void prom_free(prom_t *p);
/* A label's value, or NULL if the sample does not have it. */
const char *prom_label(const prom_sample_t *s, const char *name);

#endif
