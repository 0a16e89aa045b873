/**
 * @file mqclient.h
 * @brief libmqclient: the C client library for mq.
 *
 * This is the only public header. Every function returns an ::mq_err_t (0 on
 * success, a negative code on failure) unless its documentation says
 * otherwise. Handles are opaque; whoever creates a handle destroys it.
 */
#ifndef MQCLIENT_H
#define MQCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Marks the functions libmqclient exports. */
#if defined(__GNUC__)
#define MQ_API __attribute__((visibility("default")))
#else
#define MQ_API
#endif

/** @brief Library version as a string, e.g. "0.1.0". */
#define MQ_VERSION_STR "0.1.0"
/** @brief Library version as 0xMMmmpp. */
#define MQ_VERSION_NUM 0x000100

/**
 * @brief Every error libmqclient (and the broker, on the wire) reports.
 *
 * Codes are negative; the wire carries their magnitude (error_code = -code).
 * docs/protocol.md maps each code to its gRPC status, HTTP status and whether
 * it is retriable; mq_err_is_retriable() answers the last question in code.
 */
typedef enum mq_err {
    MQ_OK = 0,                          /**< Success. */
    MQ_ERR_UNKNOWN = -1,                /**< An error with no better code. */
    MQ_ERR_INVALID_ARG = -2,            /**< NULL or out-of-range argument. */
    MQ_ERR_NO_MEMORY = -3,              /**< Allocation failed. */
    MQ_ERR_INVALID_CONFIG = -4,         /**< Unknown config key or bad value. */
    MQ_ERR_UNKNOWN_TOPIC = -5,          /**< The topic does not exist. */
    MQ_ERR_UNKNOWN_PARTITION = -6,      /**< The topic has no such partition. */
    MQ_ERR_TOPIC_EXISTS = -7,           /**< Creating a topic that exists. */
    MQ_ERR_INVALID_TOPIC = -8,          /**< Topic name breaks the naming rules. */
    MQ_ERR_INVALID_PARTITIONS = -9,     /**< Partition count out of bounds. */
    MQ_ERR_CORRUPT_MESSAGE = -10,       /**< Record batch CRC mismatch. */
    MQ_ERR_INVALID_BATCH = -11,         /**< Record batch layout is malformed. */
    MQ_ERR_MESSAGE_TOO_LARGE = -12,     /**< A batch or message exceeds the size limit. */
    MQ_ERR_REQUEST_TOO_LARGE = -13,     /**< A request exceeds the request size limit. */
    MQ_ERR_OFFSET_OUT_OF_RANGE = -14,   /**< Fetch offset outside the log. */
    MQ_ERR_TIMED_OUT = -15,             /**< A request or operation timed out. */
    MQ_ERR_TRANSPORT = -16,             /**< Connection failed or was lost. */
    MQ_ERR_SHUTTING_DOWN = -17,         /**< The broker is shutting down. */
    MQ_ERR_STORAGE = -18,               /**< The broker could not read or write its disk. */
    MQ_ERR_PROTOCOL = -19,              /**< Malformed request or response. */
    MQ_ERR_UNSUPPORTED = -20,           /**< Unknown RPC or unsupported version. */
    MQ_ERR_TOO_MANY_CONNECTIONS = -21,  /**< The broker's connection limit is reached. */
    MQ_ERR_NOT_FOUND = -22,             /**< A named resource does not exist. */
    MQ_ERR_QUEUE_FULL = -23,            /**< The producer's buffer is full. */
    MQ_ERR_MSG_TIMED_OUT = -24,         /**< Not delivered within message.timeout.ms. */
    MQ_ERR_CLOSED = -25,                /**< The handle is closing or closed. */
    MQ_ERR_OUT_OF_ORDER_SEQUENCE = -26, /**< Producer sequence gap. */
    MQ_ERR_PRODUCER_FENCED = -27,       /**< A newer producer epoch exists. */
    MQ_ERR_UNKNOWN_PRODUCER = -28,      /**< The broker does not know the producer id. */
    MQ_ERR_AUTHENTICATION = -29,        /**< TLS handshake or identity check failed. */
    MQ_ERR_TOPIC_AUTHORIZATION = -30,   /**< The principal may not use the topic. */
    MQ_ERR_GROUP_AUTHORIZATION = -31,   /**< The principal may not use the group. */
    MQ_ERR_CLUSTER_AUTHORIZATION = -32, /**< The principal may not act on the cluster. */
    MQ_ERR_UNKNOWN_MEMBER = -33,        /**< The group does not know the member: join again. */
    MQ_ERR_FENCED_MEMBER_EPOCH = -34,   /**< Member epoch fenced: drop all partitions, rejoin. */
    MQ_ERR_STALE_MEMBER_EPOCH = -35,    /**< Partition not owned at that epoch: heartbeat first. */
    MQ_ERR_GROUP_NOT_EMPTY = -36,       /**< The operation needs a group without members. */
    MQ_ERR_INVALID_SESSION_TIMEOUT = -37, /**< Session timeout outside the broker's bounds. */
    MQ_ERR_UNSUPPORTED_ASSIGNOR = -38,    /**< The broker has no assignor of that name. */
    MQ_ERR_INVALID_GROUP_ID = -39,        /**< Empty, too long or bad characters. */
    MQ_ERR_MAX_POLL_EXCEEDED = -40,       /**< No poll within max.poll.interval.ms: left group. */
} mq_err_t;

/**
 * @brief A short English description of an error code.
 * @param err Any value; unknown values get a generic description.
 * @return A static string; never NULL. The caller must not free it.
 */
MQ_API const char *mq_err_str(mq_err_t err);

/**
 * @brief The symbolic name of an error code, e.g. "MQ_ERR_TIMED_OUT".
 * @param err Any value; unknown values return "MQ_ERR_UNKNOWN".
 * @return A static string; never NULL.
 */
MQ_API const char *mq_err_name(mq_err_t err);

/**
 * @brief Whether retrying the failed operation may succeed.
 * @param err An error code.
 * @return 1 if retriable (e.g. ::MQ_ERR_TRANSPORT, ::MQ_ERR_TIMED_OUT), 0 if
 *         not or if @p err is ::MQ_OK or unknown.
 */
MQ_API int mq_err_is_retriable(mq_err_t err);

/**
 * @brief The library version.
 * @return ::MQ_VERSION_STR as a static string.
 */
MQ_API const char *mq_version(void);

/* ======================================================================== */
/**
 * @defgroup conf Configuration
 * @brief String key/value configuration shared by every client handle.
 *
 * Keys and their defaults are listed in docs/configuration.md (generated
 * from the library's config table). A configuration object is plain data: it
 * is not thread-safe, and a handle created from it keeps its own copy, so
 * the caller may change or destroy it afterwards.
 * @{
 */

/** @brief An opaque set of configuration values. */
typedef struct mq_conf mq_conf_t;

/**
 * @brief Creates a configuration holding every key's default.
 * @return A new object the caller frees with mq_conf_destroy(), or NULL if
 *         memory ran out.
 */
MQ_API mq_conf_t *mq_conf_new(void);

/**
 * @brief Sets one key.
 *
 * The value is parsed and range-checked at once; on failure the old value
 * stays and @p errstr names the key and what it allows.
 * @param conf The configuration; not NULL.
 * @param key A key from docs/configuration.md, e.g. "linger.ms"; not NULL.
 * @param value The value as text, e.g. "5"; not NULL. Booleans take
 *        true/false (also 1/0); enums take one of their listed names.
 * @param errstr Buffer for a message on failure (may be NULL). It is always
 *        NUL-terminated when @p errstr_size is at least 1.
 * @param errstr_size Size of @p errstr in bytes.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if @p conf, @p key or @p value is NULL;
 *         ::MQ_ERR_INVALID_CONFIG if the key is unknown or the value has the
 *         wrong type or is out of range;
 *         ::MQ_ERR_NO_MEMORY if a string value could not be copied.
 */
MQ_API mq_err_t mq_conf_set(mq_conf_t *conf, const char *key, const char *value, char *errstr,
                            size_t errstr_size);

/**
 * @brief Reads one key's current value as text.
 *
 * Call with @p buf NULL to learn the size needed.
 * @param conf The configuration; not NULL.
 * @param key The key; not NULL.
 * @param buf Where the NUL-terminated value is written; may be NULL.
 * @param size In: the size of @p buf. Out: the bytes needed including the
 *        terminating NUL. Not NULL.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if @p conf, @p key or @p size is NULL, or if
 *         @p buf is not NULL and too small (then @p size says how much is
 *         needed);
 *         ::MQ_ERR_INVALID_CONFIG if the key is unknown.
 */
MQ_API mq_err_t mq_conf_get(const mq_conf_t *conf, const char *key, char *buf, size_t *size);

/**
 * @brief Copies a configuration.
 * @param conf The configuration to copy; not NULL.
 * @return A new object the caller frees with mq_conf_destroy(), or NULL if
 *         @p conf is NULL or memory ran out.
 */
MQ_API mq_conf_t *mq_conf_dup(const mq_conf_t *conf);

/**
 * @brief Frees a configuration.
 * @param conf The configuration, or NULL (then nothing happens).
 */
MQ_API void mq_conf_destroy(mq_conf_t *conf);

/** @} */

/* ======================================================================== */
/**
 * @defgroup producer Producer
 * @brief Batching, partitioning producer with delivery reports.
 *
 * mq_produce() copies a message into a per-partition batch and returns at
 * once; the producer's own I/O thread sends sealed batches. The outcome of
 * every accepted message comes back as exactly one delivery report event
 * from mq_producer_poll(), on the application's thread: no callback ever
 * runs on an internal thread. A producer handle may be used from several
 * threads at once.
 * @{
 */

/** @brief An opaque producer handle. */
typedef struct mq_producer mq_producer_t;

/** @brief An opaque event returned by mq_producer_poll(). */
typedef struct mq_event mq_event_t;

/** @brief Pass as the partition to let the partitioner choose. */
#define MQ_PARTITION_ANY (-1)

/**
 * @brief mq_produce() flag: when the buffer is full, wait for space up to
 *        max.block.ms instead of failing with ::MQ_ERR_QUEUE_FULL.
 */
#define MQ_PRODUCE_BLOCK 0x1u

/** @brief One message header (a key/value pair); both are copied. */
typedef struct mq_msg_header {
    const char *key;   /**< Header name, NUL-terminated; not NULL. */
    const void *value; /**< Header value; NULL means a null value. */
    size_t value_len;  /**< Bytes in @p value. */
} mq_msg_header_t;

/** @brief What an event is about; see mq_event_type(). */
typedef enum mq_event_type {
    MQ_EVENT_DELIVERY = 1, /**< The outcome of one produced message. */
    MQ_EVENT_ERROR = 2,    /**< A client-wide error, e.g. a broker is down
                                (::MQ_ERR_TRANSPORT) or a TLS handshake failed
                                (::MQ_ERR_AUTHENTICATION, text with OpenSSL's
                                reason; the client keeps retrying). */
    MQ_EVENT_STATS = 3,    /**< Statistics as JSON (statistics.interval.ms). */
} mq_event_type_t;

/** @brief Whether a reported message is stored by the broker. */
typedef enum mq_persisted {
    MQ_NOT_PERSISTED = 0,      /**< Certainly not stored (never sent, or rejected). */
    MQ_POSSIBLY_PERSISTED = 1, /**< Sent, but no answer came (it may be stored). */
    MQ_PERSISTED = 2,          /**< Acknowledged by the broker per `acks`. */
} mq_persisted_t;

/**
 * @brief Creates a producer and starts its I/O thread.
 *
 * The producer copies @p conf; the caller still owns and destroys it. The
 * producer does not connect before it returns: a broker that is down is
 * retried with backoff while messages wait (up to message.timeout.ms).
 * @param conf The configuration; NULL means all defaults.
 * @param out Receives the new handle, freed with mq_producer_destroy(); not
 *        NULL. Set to NULL on failure.
 * @param errstr Buffer for a message on failure (may be NULL).
 * @param errstr_size Size of @p errstr in bytes.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if @p out is NULL;
 *         ::MQ_ERR_INVALID_CONFIG if bootstrap.servers is empty or cannot be
 *         parsed, if keys contradict each other, or if a TLS certificate,
 *         key, CA or CRL (ssl.*) cannot be loaded (@p errstr says which and
 *         gives OpenSSL's reason);
 *         ::MQ_ERR_NO_MEMORY if memory ran out;
 *         ::MQ_ERR_UNKNOWN if a thread, epoll or eventfd could not be created.
 */
MQ_API mq_err_t mq_producer_new(const mq_conf_t *conf, mq_producer_t **out, char *errstr,
                                size_t errstr_size);

/**
 * @brief Queues one message for sending.
 *
 * Every buffer is copied before this returns. On success exactly one
 * ::MQ_EVENT_DELIVERY event for this message will come out of
 * mq_producer_poll(); on failure none will.
 * @param p The producer; not NULL.
 * @param topic Topic name, NUL-terminated; not NULL. An unknown topic is
 *        reported in the message's delivery report (::MQ_ERR_UNKNOWN_TOPIC).
 * @param partition A partition number, or ::MQ_PARTITION_ANY to use the key's
 *        murmur2 hash (as Kafka's clients do) or, without a key, a sticky
 *        partition that changes with each batch.
 * @param key Key bytes; NULL means no key.
 * @param key_len Bytes in @p key.
 * @param value Value bytes; NULL means a null value.
 * @param value_len Bytes in @p value.
 * @param headers Array of @p header_count headers; may be NULL when
 *        @p header_count is 0.
 * @param header_count Number of headers.
 * @param timestamp_ms Message time in ms since the epoch; 0 or negative means
 *        the current time.
 * @param opaque Any value; handed back by mq_event_opaque().
 * @param flags 0 or ::MQ_PRODUCE_BLOCK.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if @p p or @p topic is NULL, the topic name is
 *         empty, @p partition is below ::MQ_PARTITION_ANY, a length is set
 *         with a NULL buffer, or @p flags has an unknown bit;
 *         ::MQ_ERR_UNKNOWN_PARTITION if @p partition is not below the
 *         topic's partition count (when that is known already; else the
 *         delivery report carries this error);
 *         ::MQ_ERR_MESSAGE_TOO_LARGE if the encoded record exceeds
 *         message.max.bytes;
 *         ::MQ_ERR_QUEUE_FULL if queue.buffering.max.messages or
 *         queue.buffering.max.kbytes is reached (with ::MQ_PRODUCE_BLOCK:
 *         still full after max.block.ms);
 *         ::MQ_ERR_CLOSED if mq_producer_close() has been called;
 *         ::MQ_ERR_NO_MEMORY if memory ran out.
 */
MQ_API mq_err_t mq_produce(mq_producer_t *p, const char *topic, int32_t partition, const void *key,
                           size_t key_len, const void *value, size_t value_len,
                           const mq_msg_header_t *headers, size_t header_count,
                           int64_t timestamp_ms, void *opaque, uint32_t flags);

/**
 * @brief Takes the next event, waiting for one up to @p timeout_ms.
 * @param p The producer; not NULL.
 * @param timeout_ms 0 to return at once, -1 to wait without limit, else
 *        the longest wait in milliseconds.
 * @param out Receives the event, which the caller frees with
 *        mq_event_destroy(); not NULL. Set to NULL when there is none.
 * @return ::MQ_OK with an event in @p out;
 *         ::MQ_ERR_TIMED_OUT if no event came within @p timeout_ms;
 *         ::MQ_ERR_CLOSED if the producer is closed and every event has
 *         been taken (no more will come);
 *         ::MQ_ERR_INVALID_ARG if @p p or @p out is NULL or @p timeout_ms is
 *         below -1.
 */
MQ_API mq_err_t mq_producer_poll(mq_producer_t *p, int32_t timeout_ms, mq_event_t **out);

/**
 * @brief A file descriptor that is readable while events wait to be polled.
 *
 * Add it to the application's own poll/epoll loop (for reading) and call
 * mq_producer_poll() with timeout 0 until it returns ::MQ_ERR_TIMED_OUT when
 * it becomes readable. Do not read, write or close it.
 * @param p The producer; not NULL.
 * @return The descriptor, or ::MQ_ERR_INVALID_ARG if @p p is NULL.
 */
MQ_API int mq_producer_fd(mq_producer_t *p);

/**
 * @brief Sends every queued message at once (ignoring linger.ms) and waits
 *        until each has its delivery report queued.
 *
 * The reports themselves still have to be taken with mq_producer_poll().
 * @param p The producer; not NULL.
 * @param timeout_ms The longest wait in milliseconds; -1 waits without limit.
 * @return ::MQ_OK when every message produced before the call is reported;
 *         ::MQ_ERR_TIMED_OUT if some are still outstanding;
 *         ::MQ_ERR_INVALID_ARG if @p p is NULL or @p timeout_ms is below -1.
 */
MQ_API mq_err_t mq_producer_flush(mq_producer_t *p, int32_t timeout_ms);

/**
 * @brief Stops intake, flushes up to @p timeout_ms, then fails what is left.
 *
 * After the call mq_produce() returns ::MQ_ERR_CLOSED. Messages not reported
 * within the timeout get a delivery report with ::MQ_ERR_CLOSED (persisted
 * status ::MQ_POSSIBLY_PERSISTED if they were sent and unanswered). Every
 * report stays available to mq_producer_poll(), which returns ::MQ_ERR_CLOSED
 * once they are all taken. The I/O thread has stopped when this returns.
 * Calling it again does nothing and returns ::MQ_OK.
 * @param p The producer; not NULL.
 * @param timeout_ms The longest wait in milliseconds; -1 waits without limit.
 * @return ::MQ_OK if every message was delivered or failed on its own;
 *         ::MQ_ERR_TIMED_OUT if some were failed with ::MQ_ERR_CLOSED;
 *         ::MQ_ERR_INVALID_ARG if @p p is NULL or @p timeout_ms is below -1.
 */
MQ_API mq_err_t mq_producer_close(mq_producer_t *p, int32_t timeout_ms);

/**
 * @brief Frees the producer.
 *
 * If mq_producer_close() was not called, it is called with timeout 0 first.
 * Events not yet polled are freed; events already handed out stay valid
 * until the caller frees them with mq_event_destroy().
 * @param p The producer, or NULL (then nothing happens).
 */
MQ_API void mq_producer_destroy(mq_producer_t *p);

/** @} */

/* ======================================================================== */
/**
 * @defgroup event Events
 * @brief Accessors for events from mq_producer_poll().
 *
 * Accessors never fail: asked for something the event type does not carry,
 * they return the neutral value they list. Strings they return live as long
 * as the event.
 * @{
 */

/**
 * @brief The event's type.
 * @param ev The event; not NULL.
 * @return One of ::mq_event_type_t.
 */
MQ_API mq_event_type_t mq_event_type(const mq_event_t *ev);

/**
 * @brief The outcome: ::MQ_OK for a delivered message, else why it failed
 *        (delivery report) or what went wrong (error event).
 * @param ev The event; not NULL.
 * @return An ::mq_err_t; ::MQ_OK for stats events.
 */
MQ_API mq_err_t mq_event_error(const mq_event_t *ev);

/**
 * @brief A human-readable description of the error, with detail from the
 *        broker when it sent some.
 * @param ev The event; not NULL.
 * @return A string owned by the event; "" when there is no error.
 */
MQ_API const char *mq_event_error_string(const mq_event_t *ev);

/**
 * @brief The opaque value given to mq_produce().
 * @param ev The event; not NULL.
 * @return The value; NULL for events other than delivery reports.
 */
MQ_API void *mq_event_opaque(const mq_event_t *ev);

/**
 * @brief The message's topic.
 * @param ev The event; not NULL.
 * @return A string owned by the event; "" for events other than delivery
 *         reports.
 */
MQ_API const char *mq_event_topic(const mq_event_t *ev);

/**
 * @brief The message's partition.
 * @param ev The event; not NULL.
 * @return The partition, or -1 if none was chosen (e.g. unknown topic) or
 *         the event is not a delivery report.
 */
MQ_API int32_t mq_event_partition(const mq_event_t *ev);

/**
 * @brief The offset the broker gave the message.
 * @param ev The event; not NULL.
 * @return The offset; -1 if not delivered, acks is none, or the event is not
 *         a delivery report.
 */
MQ_API int64_t mq_event_offset(const mq_event_t *ev);

/**
 * @brief The message's timestamp in ms since the epoch (the broker's append
 *        time if the topic uses log-append time).
 * @param ev The event; not NULL.
 * @return The timestamp; -1 for events other than delivery reports.
 */
MQ_API int64_t mq_event_timestamp(const mq_event_t *ev);

/**
 * @brief Whether the message is stored by the broker.
 * @param ev The event; not NULL.
 * @return One of ::mq_persisted_t; ::MQ_NOT_PERSISTED for events other than
 *         delivery reports.
 */
MQ_API mq_persisted_t mq_event_persisted(const mq_event_t *ev);

/**
 * @brief The statistics of an ::MQ_EVENT_STATS event as one JSON object.
 * @param ev The event; not NULL.
 * @return A NUL-terminated string owned by the event; "" for other events.
 */
MQ_API const char *mq_event_stats(const mq_event_t *ev);

/**
 * @brief Frees an event.
 * @param ev The event, or NULL (then nothing happens).
 */
MQ_API void mq_event_destroy(mq_event_t *ev);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* MQCLIENT_H */
