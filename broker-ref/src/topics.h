/* The in-memory topic registry. Readers (I/O loops) look topics up without
 * touching SQLite; changes go through the metadata thread (meta.h), which
 * writes meta.db first and then publishes here. */
#ifndef BROKER_TOPICS_H
#define BROKER_TOPICS_H

#include <stdint.h>

#include "log/partition.h"
#include "mqclient.h"

#define TOPIC_NAME_MAX 249

typedef struct topic {
    char name[TOPIC_NAME_MAX + 1];
    int32_t partition_count;
    part_t **parts;
    log_config_t cfg;
    char *config_json; /* the topic's explicit configs as a JSON object */
    int64_t created_ms;
    int refs;     /* atomic; the registry holds one */
    int deleting; /* set once removed from the registry */
} topic_t;

/* Looks a topic up and takes a reference; NULL if it does not exist. */
topic_t *topics_get(const char *name);
void topic_release(topic_t *t);

/* Calls fn for every topic (in name order) with a reference held. */
void topics_foreach(void (*fn)(topic_t *t, void *arg), void *arg);
int topics_count(void);

/* Checks `[a-zA-Z0-9._-]{1,249}`, not "." or "..". MQ_OK or MQ_ERR_INVALID_TOPIC. */
mq_err_t topics_validate_name(const char *name);

/* Registry updates: used by the metadata thread only. */
mq_err_t topics_publish(topic_t *t);
topic_t *topics_unpublish(const char *name);

#endif
