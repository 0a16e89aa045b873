/* Broker metrics, scraped as Prometheus text (format 0.0.4) from GET /metrics.
 * The recording functions are called from I/O loops at high rates: they only
 * do relaxed atomic adds on preallocated counters (no locks, no malloc). */
#ifndef BROKER_METRICS_H
#define BROKER_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Records the process start time (for uptime). Called once from main; safe
 * to call again. */
void metrics_init(void);

/* One finished gRPC call. method is the RPC name or its :path
 * ("/mq.v1.Broker/Produce" counts as "Produce"). */
void metrics_rpc(const char *method, int grpc_status, int64_t latency_us, size_t bytes_in,
                 size_t bytes_out);
/* A client connection opened (+1) or closed (-1). */
void metrics_connection(int delta);
/* A TLS handshake on port (TLS_PORT_CLIENT or TLS_PORT_ADMIN, tls.h) that
 * was refused (bad or missing certificate, old protocol, no principal) or,
 * with timed_out, did not finish in time: operators see a certificate
 * rotation gone wrong here before clients complain. */
void metrics_tls_failure(int port, int timed_out);
/* Records appended to a partition. */
void metrics_produced(const char *topic, int32_t partition, int64_t records, size_t bytes);
/* Drops a deleted topic's produce counters (a topic re-created under the
 * same name starts from zero). Called by the metadata thread. */
void metrics_forget_topic(const char *topic);
/* Batch bytes returned by Fetch. */
void metrics_fetched(size_t bytes);
/* One admin HTTP request answered with this status. */
void metrics_admin_request(int http_status, int64_t latency_us);

/* Seconds since metrics_init (or process load). */
double metrics_uptime_seconds(void);

/* Renders every metric, including partition sizes gathered now from the
 * topic registry. Returns a malloc'd NUL-terminated string (length in *len)
 * or NULL when out of memory. */
char *metrics_render(size_t *len);

#endif
