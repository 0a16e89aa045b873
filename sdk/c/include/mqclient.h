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

#ifdef __cplusplus
}
#endif

#endif /* MQCLIENT_H */
