/* Test helper: runs a real mqbroker process on loopback ephemeral ports.
 *
 * broker_proc_start() spawns MQBROKER_PATH with --data-dir, --listen
 * 127.0.0.1:0, --admin-listen 127.0.0.1:0 and --ready-file, plus extra
 * arguments and environment, and waits (bounded) for the ready line
 * `mqbroker ready client=HOST:PORT admin=HOST:PORT`. The broker's stdout and
 * stderr go to files in the helper's temp dir; broker_proc_dump_logs() prints
 * them (tests do so when they fail). Processes are only ever signalled by pid. */
#ifndef MQ_TESTS_BROKER_PROC_H
#define MQ_TESTS_BROKER_PROC_H

#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BROKER_PROC_MAX_ARGS 32
#define BROKER_PROC_PATH_MAX 1024

typedef struct broker_opts {
    /* Data directory; NULL = a fresh temp dir removed by broker_proc_destroy. */
    const char *data_dir;
    /* Extra command-line arguments and "KEY=VALUE" environment entries,
     * NULL-terminated; NULL = none. */
    const char *const *args;
    const char *const *env;
    /* Command placed before the broker (e.g. strace and its flags),
     * NULL-terminated; NULL = run the broker directly. */
    const char *const *wrapper;
    /* Bound on waiting for the ready file; 0 = 15000. */
    int ready_timeout_ms;
    /* Broker binary; NULL = MQBROKER_PATH. */
    const char *binary;
} broker_opts_t;

typedef struct broker_proc {
    pid_t pid;         /* 0 when not running */
    pid_t inner_pid;   /* with a wrapper: the broker itself (the wrapper's child) */
    int exit_status;   /* last wait status (see broker_proc_exit_code) */
    char tmp_dir[512]; /* ours: logs, ready file, default data */
    char data_dir[BROKER_PROC_PATH_MAX];
    char ready_file[BROKER_PROC_PATH_MAX];
    char stdout_path[BROKER_PROC_PATH_MAX];
    char stderr_path[BROKER_PROC_PATH_MAX];
    char client_host[64];
    int client_port;
    char admin_host[64];
    int admin_port;
    char client_addr[128]; /* "HOST:PORT" */
    char admin_addr[128];
    char error[512]; /* why the last call failed */
    int starts;      /* how many times the broker was started */
    /* Copies of the options, so restart can reuse them. */
    char *argv_store[BROKER_PROC_MAX_ARGS];
    char *env_store[BROKER_PROC_MAX_ARGS];
    char *wrap_store[BROKER_PROC_MAX_ARGS];
    char binary[BROKER_PROC_PATH_MAX];
    int ready_timeout_ms;
} broker_proc_t;

/* Creates the temp dir, spawns the broker and waits until it is ready.
 * Returns 0, or -1 with bp->error set (the process, if any, is killed; the
 * temp dir stays until broker_proc_destroy so its logs can be read). */
int broker_proc_start(broker_proc_t *bp, const broker_opts_t *opts);

/* Starts the broker again with the same options and data dir; ports may
 * differ and are re-read from the ready file. The broker must be stopped. */
int broker_proc_restart(broker_proc_t *bp);

/* With a wrapper (strace), signals go to the broker itself (inner_pid) and
 * SIGKILL goes to both, so no broker outlives its wrapper.
 *
 * SIGTERM, then waits up to timeout_ms (0 = 15000) for the exit; kills with
 * SIGKILL if it does not exit in time. Returns the exit code (0..255), 128+N
 * if killed by signal N, or -1 if it had to be killed or was not running. */
int broker_proc_stop(broker_proc_t *bp, int timeout_ms);

/* SIGKILL and reap. Returns 0, or -1 if it was not running. */
int broker_proc_kill(broker_proc_t *bp);

/* Sends a signal by pid (no reaping). */
int broker_proc_signal(broker_proc_t *bp, int sig);

/* Non-blocking check: 1 if the process is still running, 0 if it exited
 * (exit_status is then set). */
int broker_proc_alive(broker_proc_t *bp);

/* Waits up to timeout_ms for the process to exit on its own. Returns the
 * exit code as broker_proc_stop does, or -2 on timeout (still running). */
int broker_proc_wait(broker_proc_t *bp, int timeout_ms);

/* Kills the broker if running and removes the temp dir. Safe to call twice. */
void broker_proc_destroy(broker_proc_t *bp);

/* Prints the broker's stdout and stderr (last 64 KiB each) to out. */
void broker_proc_dump_logs(const broker_proc_t *bp, FILE *out);

/* Reads a whole file into a NUL-terminated malloc'd string (NULL if absent). */
char *broker_proc_read_file(const char *path, size_t *len);

/* Runs the broker binary to completion with exactly these arguments (no
 * implicit flags), capturing stdout and stderr as malloc'd strings. Kills it
 * after timeout_ms. Returns the exit code (128+N for signal N, -1 if it timed
 * out or could not run). */
int broker_proc_run(const char *const *args, int timeout_ms, char **out, char **err);

/* Makes an empty temp directory (mkdtemp under $TMPDIR or /tmp) into buf. */
int test_make_temp_dir(char *buf, size_t len, const char *prefix);
/* rm -rf path. Returns 0 or -1. */
int test_remove_tree(const char *path);

/* Monotonic milliseconds. */
long long test_now_ms(void);
/* 1 when MQ_TEST_SCALE=small. */
int test_scale_small(void);
/* n, or n/2 (at least 1) when MQ_TEST_SCALE=small. */
int test_scaled(int n);
/* small when MQ_TEST_SCALE=small, else full. */
int test_scale(int full, int small);

/* The broker binary the tests run (MQBROKER_PATH). */
const char *broker_binary_path(void);

#ifdef __cplusplus
}
#endif

#endif
