/* The in-memory topic registry. Readers (I/O loops) look topics up without
 * touching SQLite; changes go through the metadata thread (meta.h), which
 * writes meta.db first and then publishes here. */
#ifndef BROKER_TOPICS_H
#define BROKER_TOPICS_H

#include <pthread.h>
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
    /* Guards cfg and config_json, which the metadata thread replaces on
     * alter while other threads read them (topic_get_config). */
    pthread_mutex_t cfg_lock;
} topic_t;

/* Looks a topic up and takes a reference; NULL if it does not exist. */
topic_t *topics_get(const char *name);
void topic_release(topic_t *t);

/* Calls fn for every topic (in name order) with a reference held. */
void topics_foreach(void (*fn)(topic_t *t, void *arg), void *arg);
int topics_count(void);

/* Checks `[a-zA-Z0-9._-]{1,249}`, not "." or "..". MQ_OK or MQ_ERR_INVALID_TOPIC. */
mq_err_t topics_validate_name(const char *name);

/* Copies the topic's effective log config and, if json is not NULL, a
 * malloc'd copy of its explicit configs (NULL when out of memory). */
void topic_get_config(topic_t *t, log_config_t *cfg, char **json);
/* Sum of partition counts over all topics. */
int64_t topics_partition_total(void);

/* Registry updates: used by the metadata thread only. */

/* A topic with `partitions` NULL part slots, refs = 1 (the caller's). */
topic_t *topic_new(const char *name, int32_t partitions, const log_config_t *cfg,
                   const char *config_json, int64_t created_ms);
/* Replaces the config (under cfg_lock); takes ownership of config_json. */
void topic_set_config(topic_t *t, const log_config_t *cfg, char *config_json);
/* Adds t to the registry, which takes over the caller's reference.
 * MQ_OK, MQ_ERR_TOPIC_EXISTS or MQ_ERR_NO_MEMORY. */
mq_err_t topics_publish(topic_t *t);
/* Removes a topic; the registry's reference passes to the caller and the
 * topic is marked deleting. NULL if absent. */
topic_t *topics_unpublish(const char *name);
/* Waits until the caller holds the only reference to an unpublished topic.
 * Returns 0, or -1 if timeout_ms passed first. */
int topic_wait_sole_ref(topic_t *t, int timeout_ms);

#endif
