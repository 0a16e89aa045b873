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
    /** Consumer: partitions were assigned or revoked (see
     *  mq_event_rebalance_type() and mq_event_partitions()). */
    MQ_EVENT_REBALANCE = 4,
    /** Consumer: the position reached the end of a partition's log
     *  (enable.partition.eof); mq_event_topic(), mq_event_partition() and
     *  mq_event_offset() say which and where. */
    MQ_EVENT_PARTITION_EOF = 5,
    /** Consumer: the outcome of an asynchronous or automatic commit, with the
     *  committed partitions in mq_event_partitions(). */
    MQ_EVENT_COMMIT = 6,
    /** Consumer: mq_consumer_close() finished; the last event. */
    MQ_EVENT_CLOSED = 7,
    /** A connection to a broker changed state: mq_event_conn_state(),
     *  mq_event_broker(), mq_event_conn_attempt(),
     *  mq_event_conn_delay_ms(); the reason in mq_event_error() and
     *  mq_event_error_string(). */
    MQ_EVENT_CONNECTION = 8,
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
 * @brief Accessors for events from mq_producer_poll() and mq_consumer_poll().
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
 * @brief The message's topic (delivery report), or the partition's topic
 *        (::MQ_EVENT_PARTITION_EOF, or an error about one partition).
 * @param ev The event; not NULL.
 * @return A string owned by the event; "" for other events.
 */
MQ_API const char *mq_event_topic(const mq_event_t *ev);

/**
 * @brief The message's partition.
 * @param ev The event; not NULL.
 * @return The partition (delivery report, ::MQ_EVENT_PARTITION_EOF, or an
 *         error about one partition), or -1 if none was chosen (e.g.
 *         unknown topic) or for other events.
 */
MQ_API int32_t mq_event_partition(const mq_event_t *ev);

/**
 * @brief The offset the broker gave the message, or the end offset of an
 *        ::MQ_EVENT_PARTITION_EOF event.
 * @param ev The event; not NULL.
 * @return The offset; -1 if not delivered, acks is none, or for other events.
 */
MQ_API int64_t mq_event_offset(const mq_event_t *ev);

/**
 * @brief The message's timestamp in ms since the epoch (the broker's append
 *        time if the topic uses log-append time).
 * @param ev The event; not NULL.
 * @return The timestamp; for ::MQ_EVENT_CONNECTION the wall-clock time
 *         (ms since the epoch) of the state change; -1 for other events.
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

/** @brief The state an ::MQ_EVENT_CONNECTION event reports. */
typedef enum mq_conn_state {
    MQ_CONN_NONE = 0,      /**< Not a connection event. */
    MQ_CONN_CONNECTED = 1, /**< Connected (TCP, TLS when configured): requests flow. */
    /** An established connection was lost (the reason is the event's error);
     *  a ::MQ_CONN_RECONNECTING event follows. */
    MQ_CONN_DISCONNECTED = 2,
    /** A connection attempt failed or a connection was lost: the next
     *  attempt (mq_event_conn_attempt()) starts after
     *  mq_event_conn_delay_ms(), drawn as `min(cur * U(0.75, 1.5), max)`
     *  with `cur` doubling from reconnect.backoff.ms up to
     *  reconnect.backoff.max.ms (back to the start once a connection has
     *  stayed up for reconnect.backoff.max.ms). */
    MQ_CONN_RECONNECTING = 3,
} mq_conn_state_t;

/**
 * @brief The state of an ::MQ_EVENT_CONNECTION event.
 * @param ev The event; not NULL.
 * @return One of ::mq_conn_state_t; ::MQ_CONN_NONE for other events.
 */
MQ_API mq_conn_state_t mq_event_conn_state(const mq_event_t *ev);

/**
 * @brief The broker an ::MQ_EVENT_CONNECTION event is about.
 * @param ev The event; not NULL.
 * @return "host:port" from bootstrap.servers, owned by the event; "" for
 *         other events.
 */
MQ_API const char *mq_event_broker(const mq_event_t *ev);

/**
 * @brief For ::MQ_CONN_RECONNECTING: the number of the next attempt (1 for
 *        the first retry since the backoff last started over).
 * @param ev The event; not NULL.
 * @return The attempt number; 0 for other events and states.
 */
MQ_API int32_t mq_event_conn_attempt(const mq_event_t *ev);

/**
 * @brief For ::MQ_CONN_RECONNECTING: how long the client waits, from the
 *        failure, before the next attempt.
 * @param ev The event; not NULL.
 * @return The delay in ms; -1 for other events and states.
 */
MQ_API int64_t mq_event_conn_delay_ms(const mq_event_t *ev);

/** @brief What a ::MQ_EVENT_REBALANCE event does; see mq_event_rebalance_type(). */
typedef enum mq_rebalance_type {
    MQ_REBALANCE_NONE = 0,   /**< Not a rebalance event. */
    MQ_REBALANCE_ASSIGN = 1, /**< The partitions were added to the assignment. */
    MQ_REBALANCE_REVOKE = 2, /**< The partitions were taken away (after a final commit). */
    MQ_REBALANCE_LOST = 3,   /**< The partitions were lost without a commit (the member
                                  was fenced or left the group); others may own them now. */
} mq_rebalance_type_t;

/**
 * @brief A topic, a partition and an offset: the element of every partition
 *        list the consumer takes or returns.
 *
 * In lists the consumer returns, @p topic is owned by the list (or event).
 */
typedef struct mq_topic_partition {
    const char *topic; /**< Topic name, NUL-terminated. */
    int32_t partition; /**< Partition number. */
    int32_t err;       /**< Per-partition outcome (an ::mq_err_t) in results. */
    int64_t offset;    /**< Offset (or a timestamp where a call says so). */
} mq_topic_partition_t;

/**
 * @brief What a rebalance event does.
 * @param ev The event; not NULL.
 * @return One of ::mq_rebalance_type_t; ::MQ_REBALANCE_NONE for other events.
 */
MQ_API mq_rebalance_type_t mq_event_rebalance_type(const mq_event_t *ev);

/**
 * @brief The partitions of a ::MQ_EVENT_REBALANCE or ::MQ_EVENT_COMMIT event.
 *
 * For a commit event each element's @c offset is the committed offset and
 * @c err its outcome.
 * @param ev The event; not NULL.
 * @param count Receives the number of elements; not NULL (0 for other events).
 * @return An array owned by the event (valid until mq_event_destroy()), or
 *         NULL when @p count is 0.
 */
MQ_API const mq_topic_partition_t *mq_event_partitions(const mq_event_t *ev, size_t *count);

/**
 * @brief Frees an event.
 * @param ev The event, or NULL (then nothing happens).
 */
MQ_API void mq_event_destroy(mq_event_t *ev);

/** @} */

/* ======================================================================== */
/**
 * @defgroup consumer Consumer
 * @brief Fetching consumer with consumer groups or manual assignment.
 *
 * The consumer's own I/O thread prefetches record batches for every
 * assigned partition (bounded by queued.max.messages.kbytes) and, in a
 * group, heartbeats to the broker, which assigns partitions. Messages and
 * events (rebalances, partition EOF, commit results, errors, statistics,
 * close) come out of mq_consumer_poll() or mq_consumer_poll_batch() on the
 * application's thread: no callback ever runs on an internal thread. The
 * functions may be called from several threads; polls are served one at a
 * time.
 *
 * Offsets: the @e position of a partition is the offset of the next message
 * poll returns. With enable.auto.offset.store (default) each returned
 * message @e stores position as the offset to commit; enable.auto.commit
 * commits stored offsets every auto.commit.interval.ms, before partitions
 * are revoked and on close, so only what poll returned is ever committed.
 * @{
 */

/** @brief An opaque consumer handle. */
typedef struct mq_consumer mq_consumer_t;

/** @brief One consumed message (opaque); see the mq_message_*() accessors. */
typedef struct mq_message mq_message_t;

/** @brief Messages returned together by mq_consumer_poll_batch(). */
typedef struct mq_message_batch mq_message_batch_t;

/** @brief Start offset: the partition's earliest offset. */
#define MQ_OFFSET_BEGINNING (-2)
/** @brief Start offset: the end of the partition (only new messages). */
#define MQ_OFFSET_END (-1)
/** @brief Start offset: the group's committed offset, else auto.offset.reset. */
#define MQ_OFFSET_STORED (-1000)
/** @brief No offset (e.g. the position before the first fetch). */
#define MQ_OFFSET_INVALID (-1001)

/** @brief mq_consumer_commit() flag: do not wait; the outcome comes as an
 *         ::MQ_EVENT_COMMIT event. */
#define MQ_COMMIT_ASYNC 0x1u

/** @brief How a message's timestamp was set. */
typedef enum mq_timestamp_type {
    MQ_TIMESTAMP_CREATE_TIME = 0,     /**< Set by the producer. */
    MQ_TIMESTAMP_LOG_APPEND_TIME = 1, /**< Set by the broker when it stored the batch. */
} mq_timestamp_type_t;

/**
 * @brief Creates a consumer and starts its I/O thread.
 *
 * The consumer copies @p conf. It connects in the background; nothing is
 * fetched before mq_consumer_assign() or mq_consumer_subscribe().
 * @param conf The configuration; NULL means all defaults.
 * @param out Receives the handle, freed with mq_consumer_destroy(); not NULL.
 *        Set to NULL on failure.
 * @param errstr Buffer for a message on failure (may be NULL).
 * @param errstr_size Size of @p errstr in bytes.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if @p out is NULL;
 *         ::MQ_ERR_INVALID_CONFIG if bootstrap.servers cannot be parsed or
 *         keys contradict each other (@p errstr says which);
 *         ::MQ_ERR_NO_MEMORY if memory ran out;
 *         ::MQ_ERR_UNKNOWN if a thread, epoll or eventfd could not be created.
 */
MQ_API mq_err_t mq_consumer_new(const mq_conf_t *conf, mq_consumer_t **out, char *errstr,
                                size_t errstr_size);

/**
 * @brief Joins group.id with a subscription; the broker assigns partitions.
 *
 * Assignments and revocations come as ::MQ_EVENT_REBALANCE events. Calling
 * it again replaces the subscription.
 * @param c The consumer; not NULL.
 * @param topics Topic names (copied); not NULL unless @p count is 0. A
 *        name starting with '^' is a POSIX extended regular expression
 *        matched against whole topic names (then it must be the only one).
 * @param count Number of names; at least 1.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if @p c or @p topics is NULL, @p count is 0,
 *         a name is NULL or empty, or a regular expression is not alone;
 *         ::MQ_ERR_INVALID_CONFIG if group.id is empty;
 *         ::MQ_ERR_INVALID_ARG if partitions are assigned manually
 *         (mq_consumer_assign(); unassign first);
 *         ::MQ_ERR_CLOSED if the consumer is closing;
 *         ::MQ_ERR_NO_MEMORY if memory ran out.
 */
MQ_API mq_err_t mq_consumer_subscribe(mq_consumer_t *c, const char *const *topics, size_t count);

/**
 * @brief Leaves the group (after committing, with enable.auto.commit) and
 *        drops every partition; a revoke event follows.
 * @param c The consumer; not NULL.
 * @return ::MQ_OK (also when not subscribed);
 *         ::MQ_ERR_INVALID_ARG if @p c is NULL;
 *         ::MQ_ERR_CLOSED if the consumer is closing.
 */
MQ_API mq_err_t mq_consumer_unsubscribe(mq_consumer_t *c);

/**
 * @brief Replaces the assignment with exactly these partitions (manual
 *        assignment, no group membership).
 *
 * Each element's @c offset says where to start: an offset, or
 * ::MQ_OFFSET_BEGINNING, ::MQ_OFFSET_END, or ::MQ_OFFSET_STORED (the
 * committed offset of group.id, else auto.offset.reset). A partition kept
 * from the old assignment with ::MQ_OFFSET_STORED keeps its position.
 * Messages of removed partitions still queued are dropped. No rebalance
 * event is emitted.
 * @param c The consumer; not NULL.
 * @param parts The partitions (copied); NULL or @p count 0 unassigns all.
 * @param count Number of elements.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if @p c is NULL, an element has a NULL or
 *         empty topic, a negative partition, an offset below
 *         ::MQ_OFFSET_BEGINNING that is not ::MQ_OFFSET_STORED, a
 *         duplicate, or the consumer is subscribed to a group;
 *         ::MQ_ERR_CLOSED if the consumer is closing;
 *         ::MQ_ERR_NO_MEMORY if memory ran out.
 *         Unknown topics or partitions are reported later as error events.
 */
MQ_API mq_err_t mq_consumer_assign(mq_consumer_t *c, const mq_topic_partition_t *parts,
                                   size_t count);

/**
 * @brief The current assignment.
 * @param c The consumer; not NULL.
 * @param out Receives an array the caller frees with
 *        mq_topic_partitions_destroy() (NULL when empty); not NULL. Each
 *        element's offset is the partition's position.
 * @param count Receives the number of elements; not NULL.
 * @return ::MQ_OK;
 *         ::MQ_ERR_INVALID_ARG if an argument is NULL;
 *         ::MQ_ERR_NO_MEMORY if memory ran out.
 */
MQ_API mq_err_t mq_consumer_assignment(mq_consumer_t *c, mq_topic_partition_t **out, size_t *count);

/**
 * @brief Frees a list from mq_consumer_assignment() (topic strings too).
 * @param parts The list, or NULL (then nothing happens).
 * @param count Its number of elements.
 */
MQ_API void mq_topic_partitions_destroy(mq_topic_partition_t *parts, size_t count);

/**
 * @brief Takes the next message or event, waiting up to @p timeout_ms.
 *
 * Exactly one of @p msg and @p ev is set on ::MQ_OK. Messages of one
 * partition come in offset order; a rebalance event comes before the first
 * message of an assigned partition, a partition EOF event after the last
 * message before the end. Polling also tells a group that the application
 * is alive (max.poll.interval.ms).
 * @param c The consumer; not NULL.
 * @param timeout_ms 0 to return at once, -1 to wait without limit, else the
 *        longest wait in milliseconds.
 * @param msg Receives a message the caller frees with mq_message_destroy(),
 *        or NULL; not NULL.
 * @param ev Receives an event the caller frees with mq_event_destroy(), or
 *        NULL; not NULL.
 * @return ::MQ_OK with a message or an event;
 *         ::MQ_ERR_TIMED_OUT if nothing came within @p timeout_ms;
 *         ::MQ_ERR_CLOSED once the ::MQ_EVENT_CLOSED event was taken;
 *         ::MQ_ERR_NO_MEMORY if a message could not be allocated (try again);
 *         ::MQ_ERR_INVALID_ARG if @p c, @p msg or @p ev is NULL or
 *         @p timeout_ms is below -1.
 */
MQ_API mq_err_t mq_consumer_poll(mq_consumer_t *c, int32_t timeout_ms, mq_message_t **msg,
                                 mq_event_t **ev);

/**
 * @brief Takes up to @p max messages at once (or one event), waiting up to
 *        @p timeout_ms for the first.
 *
 * The messages are views into the fetched buffers (no copy); they stay
 * valid until mq_message_batch_destroy() releases them all together. An
 * event waiting ahead of the messages is returned alone in @p ev (then
 * @p out is NULL); messages are never returned past an event, so the order
 * of mq_consumer_poll() is kept.
 * @param c The consumer; not NULL.
 * @param timeout_ms As for mq_consumer_poll().
 * @param max Most messages to return; at least 1.
 * @param out Receives the batch (at least one message), or NULL; not NULL.
 * @param ev Receives an event, or NULL; not NULL.
 * @return ::MQ_OK with a batch or an event;
 *         ::MQ_ERR_TIMED_OUT if nothing came within @p timeout_ms;
 *         ::MQ_ERR_CLOSED once the ::MQ_EVENT_CLOSED event was taken;
 *         ::MQ_ERR_NO_MEMORY if the batch could not be allocated;
 *         ::MQ_ERR_INVALID_ARG if @p c, @p out or @p ev is NULL, @p max is
 *         0 or @p timeout_ms is below -1.
 */
MQ_API mq_err_t mq_consumer_poll_batch(mq_consumer_t *c, int32_t timeout_ms, size_t max,
                                       mq_message_batch_t **out, mq_event_t **ev);

/**
 * @brief Number of messages in a batch.
 * @param b The batch; not NULL.
 * @return At least 1.
 */
MQ_API size_t mq_message_batch_count(const mq_message_batch_t *b);

/**
 * @brief One message of a batch.
 * @param b The batch; not NULL.
 * @param i Index below mq_message_batch_count().
 * @return The message, owned by the batch (do not destroy it on its own);
 *         NULL if @p i is out of range.
 */
MQ_API const mq_message_t *mq_message_batch_get(const mq_message_batch_t *b, size_t i);

/**
 * @brief Releases a batch and every message in it.
 * @param b The batch, or NULL (then nothing happens).
 */
MQ_API void mq_message_batch_destroy(mq_message_batch_t *b);

/**
 * @brief Frees a message from mq_consumer_poll().
 * @param m The message, or NULL (then nothing happens).
 */
MQ_API void mq_message_destroy(mq_message_t *m);

/**
 * @brief The message's topic.
 * @param m The message; not NULL.
 * @return A string owned by the message.
 */
MQ_API const char *mq_message_topic(const mq_message_t *m);

/**
 * @brief The message's partition.
 * @param m The message; not NULL.
 * @return The partition.
 */
MQ_API int32_t mq_message_partition(const mq_message_t *m);

/**
 * @brief The message's offset.
 * @param m The message; not NULL.
 * @return The offset.
 */
MQ_API int64_t mq_message_offset(const mq_message_t *m);

/**
 * @brief The message's key.
 * @param m The message; not NULL.
 * @param len Receives the length (0 for a null key); may be NULL.
 * @return A pointer owned by the message, or NULL for a null key.
 */
MQ_API const void *mq_message_key(const mq_message_t *m, size_t *len);

/**
 * @brief The message's value.
 * @param m The message; not NULL.
 * @param len Receives the length (0 for a null value); may be NULL.
 * @return A pointer owned by the message, or NULL for a null value.
 */
MQ_API const void *mq_message_value(const mq_message_t *m, size_t *len);

/**
 * @brief The message's timestamp in ms since the epoch.
 * @param m The message; not NULL.
 * @param type Receives how it was set; may be NULL.
 * @return The timestamp.
 */
MQ_API int64_t mq_message_timestamp(const mq_message_t *m, mq_timestamp_type_t *type);

/**
 * @brief Number of headers of the message.
 * @param m The message; not NULL.
 * @return The count.
 */
MQ_API size_t mq_message_header_count(const mq_message_t *m);

/**
 * @brief One header by index (in the order the producer gave them).
 *
 * Names are not NUL-terminated. Every pointer is owned by the message.
 * @param m The message; not NULL.
 * @param i Index below mq_message_header_count().
 * @param name Receives the name; not NULL.
 * @param name_len Receives the name's length; not NULL.
 * @param value Receives the value, NULL for a null value; not NULL.
 * @param value_len Receives the value's length; not NULL.
 * @return ::MQ_OK;
 *         ::MQ_ERR_NOT_FOUND if @p i is out of range;
 *         ::MQ_ERR_INVALID_ARG if a pointer argument is NULL;
 *         ::MQ_ERR_INVALID_BATCH if the header bytes are malformed.
 */
MQ_API mq_err_t mq_message_header_at(const mq_message_t *m, size_t i, const char **name,
                                     size_t *name_len, const void **value, size_t *value_len);

/**
 * @brief The value of the last header with this name.
 * @param m The message; not NULL.
 * @param name The header name, NUL-terminated; not NULL.
 * @param value Receives the value (NULL for a null value); not NULL.
 * @param value_len Receives its length; not NULL.
 * @return ::MQ_OK;
 *         ::MQ_ERR_NOT_FOUND if the message has no such header;
 *         ::MQ_ERR_INVALID_ARG if a pointer argument is NULL;
 *         ::MQ_ERR_INVALID_BATCH if the header bytes are malformed.
 */
MQ_API mq_err_t mq_message_header_get(const mq_message_t *m, const char *name, const void **value,
                                      size_t *value_len);

/**
 * @brief Commits offsets for group.id.
 *
 * With @p parts NULL, commits the stored offsets of every assigned
 * partition (see enable.auto.offset.store and mq_consumer_store_offsets()).
 * Otherwise commits exactly the given offsets (each the @e next offset to
 * consume). Synchronous unless @p flags has ::MQ_COMMIT_ASYNC; an
 * asynchronous commit reports as an ::MQ_EVENT_COMMIT event. In a group the
 * commit carries the member's epoch: a member fenced by a newer epoch is
 * rejected.
 * @param c The consumer; not NULL.
 * @param parts Offsets to commit (copied), or NULL.
 * @param count Number of elements of @p parts.
 * @param flags 0 or ::MQ_COMMIT_ASYNC.
 * @return ::MQ_OK (for async: the commit was queued; for sync: every
 *         partition was committed, or there was nothing to commit);
 *         ::MQ_ERR_INVALID_ARG if @p c is NULL, an element is invalid
 *         (NULL topic, negative partition or offset), or @p flags has an
 *         unknown bit;
 *         ::MQ_ERR_INVALID_CONFIG if group.id is empty;
 *         ::MQ_ERR_CLOSED if the consumer is closed;
 *         ::MQ_ERR_TIMED_OUT if a sync commit got no answer within
 *         request.timeout.ms;
 *         or, for a sync commit, the broker's error (e.g.
 *         ::MQ_ERR_FENCED_MEMBER_EPOCH, ::MQ_ERR_UNKNOWN_MEMBER,
 *         ::MQ_ERR_STALE_MEMBER_EPOCH, ::MQ_ERR_TRANSPORT, or the first
 *         per-partition error);
 *         ::MQ_ERR_NO_MEMORY if memory ran out.
 */
MQ_API mq_err_t mq_consumer_commit(mq_consumer_t *c, const mq_topic_partition_t *parts,
                                   size_t count, uint32_t flags);

/**
 * @brief Stores offsets as the ones to commit next (explicitly, for
 *        enable.auto.offset.store=false).
 * @param c The consumer; not NULL.
 * @param parts Each element's offset is the next offset to consume; the
 *        partition must be assigned (else its @c err is set to
 *        ::MQ_ERR_UNKNOWN_PARTITION).
 * @param count Number of elements; at least 1.
 * @return ::MQ_OK if every offset was stored;
 *         ::MQ_ERR_UNKNOWN_PARTITION if some partition is not assigned;
 *         ::MQ_ERR_INVALID_ARG if @p c or @p parts is NULL, @p count is 0,
 *         or an element has a NULL topic or negative offset.
 */
MQ_API mq_err_t mq_consumer_store_offsets(mq_consumer_t *c, mq_topic_partition_t *parts,
                                          size_t count);

/**
 * @brief Moves an assigned partition's position; the next message poll
 *        returns from it is at @p offset.
 *
 * Messages already fetched for the partition are dropped. Does not block.
 * @param c The consumer; not NULL.
 * @param topic The topic; not NULL.
 * @param partition An assigned partition.
 * @param offset An offset, ::MQ_OFFSET_BEGINNING, ::MQ_OFFSET_END or
 *        ::MQ_OFFSET_STORED. An offset past the end is resolved by
 *        auto.offset.reset when fetched.
 * @return ::MQ_OK;
 *         ::MQ_ERR_UNKNOWN_PARTITION if the partition is not assigned;
 *         ::MQ_ERR_INVALID_ARG if @p c or @p topic is NULL or @p offset is
 *         invalid.
 */
MQ_API mq_err_t mq_consumer_seek(mq_consumer_t *c, const char *topic, int32_t partition,
                                 int64_t offset);

/**
 * @brief Looks up, per partition, the first offset whose timestamp is at or
 *        after a time (ListOffsets). Blocks up to @p timeout_ms.
 * @param c The consumer; not NULL.
 * @param parts In: each element's @c offset is a time in ms since the epoch
 *        (or ::MQ_OFFSET_BEGINNING / ::MQ_OFFSET_END). Out: the offset, or
 *        -1 if no message is that late (then seek to ::MQ_OFFSET_END), with
 *        @c err set per partition. The partitions need not be assigned.
 * @param count Number of elements; at least 1.
 * @param timeout_ms The longest wait; -1 = request.timeout.ms.
 * @return ::MQ_OK if every partition has an answer (check each @c err:
 *         ::MQ_ERR_UNKNOWN_TOPIC, ::MQ_ERR_UNKNOWN_PARTITION, ...);
 *         ::MQ_ERR_TIMED_OUT if no answer came in time;
 *         ::MQ_ERR_TRANSPORT if the broker could not be reached;
 *         ::MQ_ERR_INVALID_ARG if @p c or @p parts is NULL, @p count is 0,
 *         an element is invalid, or @p timeout_ms is below -1;
 *         ::MQ_ERR_CLOSED if the consumer is closed;
 *         ::MQ_ERR_NO_MEMORY if memory ran out.
 */
MQ_API mq_err_t mq_consumer_offsets_for_times(mq_consumer_t *c, mq_topic_partition_t *parts,
                                              size_t count, int32_t timeout_ms);

/**
 * @brief Stops fetching assigned partitions until mq_consumer_resume().
 *
 * Messages of these partitions already fetched are dropped (they are
 * fetched again after resume, from the position). A rebalance keeps a
 * partition paused while it stays assigned.
 * @param c The consumer; not NULL.
 * @param parts The partitions (offsets ignored); each element's @c err is
 *        set (::MQ_ERR_UNKNOWN_PARTITION if not assigned).
 * @param count Number of elements.
 * @return ::MQ_OK if every partition was paused;
 *         ::MQ_ERR_UNKNOWN_PARTITION if some partition is not assigned;
 *         ::MQ_ERR_INVALID_ARG if @p c or @p parts is NULL or an element
 *         has a NULL topic.
 */
MQ_API mq_err_t mq_consumer_pause(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count);

/**
 * @brief Resumes fetching paused partitions, from their positions.
 * @param c The consumer; not NULL.
 * @param parts As for mq_consumer_pause().
 * @param count Number of elements.
 * @return As for mq_consumer_pause().
 */
MQ_API mq_err_t mq_consumer_resume(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count);

/**
 * @brief The positions (next offset poll returns) of assigned partitions.
 * @param c The consumer; not NULL.
 * @param parts Each element's @c offset receives the position
 *        (::MQ_OFFSET_INVALID before the start offset is known) and @c err
 *        its outcome (::MQ_ERR_UNKNOWN_PARTITION if not assigned).
 * @param count Number of elements.
 * @return ::MQ_OK if every partition is assigned;
 *         ::MQ_ERR_UNKNOWN_PARTITION if some is not;
 *         ::MQ_ERR_INVALID_ARG if @p c or @p parts is NULL or an element
 *         has a NULL topic.
 */
MQ_API mq_err_t mq_consumer_position(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count);

/**
 * @brief Reads group.id's committed offsets from the broker. Blocks up to
 *        @p timeout_ms.
 * @param c The consumer; not NULL.
 * @param parts Each element's @c offset receives the committed offset (-1
 *        when there is none) and @c err its outcome.
 * @param count Number of elements; at least 1.
 * @param timeout_ms The longest wait; -1 = request.timeout.ms.
 * @return ::MQ_OK if the broker answered (check each @c err);
 *         ::MQ_ERR_INVALID_CONFIG if group.id is empty;
 *         ::MQ_ERR_TIMED_OUT if no answer came in time;
 *         ::MQ_ERR_TRANSPORT if the broker could not be reached;
 *         ::MQ_ERR_INVALID_ARG if @p c or @p parts is NULL, @p count is 0,
 *         an element has a NULL topic, or @p timeout_ms is below -1;
 *         ::MQ_ERR_CLOSED if the consumer is closed;
 *         ::MQ_ERR_NO_MEMORY if memory ran out; or the broker's error.
 */
MQ_API mq_err_t mq_consumer_committed(mq_consumer_t *c, mq_topic_partition_t *parts, size_t count,
                                      int32_t timeout_ms);

/**
 * @brief A file descriptor that is readable while messages or events wait
 *        to be polled.
 *
 * Add it to the application's poll/epoll loop (for reading) and call
 * mq_consumer_poll() with timeout 0 until it returns ::MQ_ERR_TIMED_OUT.
 * Do not read, write or close it.
 * @param c The consumer; not NULL.
 * @return The descriptor, or ::MQ_ERR_INVALID_ARG if @p c is NULL.
 */
MQ_API int mq_consumer_fd(mq_consumer_t *c);

/**
 * @brief Closes the consumer: final revoke, commit (with
 *        enable.auto.commit), leaving the group.
 *
 * With @p timeout_ms 0 it only starts the close: the application keeps
 * polling until the ::MQ_EVENT_CLOSED event. Otherwise the call drives the
 * close itself and returns within @p timeout_ms even if the broker is gone
 * (what is not done by then is abandoned); the events it produced, the
 * ::MQ_EVENT_CLOSED event last, stay available to mq_consumer_poll().
 * Calling it again waits again (or returns at once once closed).
 * @param c The consumer; not NULL.
 * @param timeout_ms 0 to start the close only; -1 to wait without limit;
 *        else the longest wait in milliseconds.
 * @return ::MQ_OK if the close finished (or, with 0, was started);
 *         ::MQ_ERR_TIMED_OUT if it was cut short at the timeout;
 *         ::MQ_ERR_INVALID_ARG if @p c is NULL or @p timeout_ms is below -1.
 */
MQ_API mq_err_t mq_consumer_close(mq_consumer_t *c, int32_t timeout_ms);

/**
 * @brief Frees the consumer.
 *
 * If the close has not finished, it is cut short (no commit waits).
 * Messages, batches and events it returned stay valid until destroyed.
 * @param c The consumer, or NULL (then nothing happens).
 */
MQ_API void mq_consumer_destroy(mq_consumer_t *c);

/** @} */

#ifdef __cplusplus
}
#endif

#endif /* MQCLIENT_H */
