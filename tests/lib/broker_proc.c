/* Spawning, stopping and restarting real mqbroker processes for tests. */
#include "broker_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MQBROKER_PATH
#define MQBROKER_PATH "mqbroker"
#endif

#define DEFAULT_READY_TIMEOUT_MS 15000
#define DEFAULT_STOP_TIMEOUT_MS 15000
#define DUMP_TAIL_BYTES (64 * 1024)

long long test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int test_scale_small(void)
{
    const char *s = getenv("MQ_TEST_SCALE");
    return s && strcmp(s, "small") == 0;
}

int test_scale(int full, int small)
{
    return test_scale_small() ? small : full;
}

int test_scaled(int n)
{
    if (!test_scale_small())
        return n;
    return n / 2 > 0 ? n / 2 : 1;
}

const char *broker_binary_path(void)
{
    const char *env = getenv("MQBROKER_BIN");
    return env && *env ? env : MQBROKER_PATH;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void set_error(broker_proc_t *bp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bp->error, sizeof bp->error, fmt, ap);
    va_end(ap);
}

int test_make_temp_dir(char *buf, size_t len, const char *prefix)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int n = snprintf(buf, len, "%s/%s-XXXXXX", base, prefix ? prefix : "mqtest");
    if (n < 0 || (size_t)n >= len)
        return -1;
    return mkdtemp(buf) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

int test_remove_tree(const char *path)
{
    if (!path || !*path)
        return -1;
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *broker_proc_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void free_list(char **list)
{
    for (int i = 0; i < BROKER_PROC_MAX_ARGS && list[i]; i++) {
        free(list[i]);
        list[i] = NULL;
    }
}

static int copy_list(char **dst, const char *const *src)
{
    int n = 0;
    for (; src && src[n]; n++) {
        if (n + 1 >= BROKER_PROC_MAX_ARGS)
            return -1;
        dst[n] = strdup(src[n]);
    }
    dst[n] = NULL;
    return 0;
}

/* Exit code from a wait status: the code, or 128+signal. */
static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

int broker_proc_alive(broker_proc_t *bp)
{
    if (bp->pid <= 0)
        return 0;
    int status;
    pid_t r = waitpid(bp->pid, &status, WNOHANG);
    if (r == 0)
        return 1;
    if (r == bp->pid)
        bp->exit_status = status;
    bp->pid = 0;
    bp->inner_pid = 0;
    return 0;
}

int broker_proc_wait(broker_proc_t *bp, int timeout_ms)
{
    long long deadline = test_now_ms() + timeout_ms;
    while (broker_proc_alive(bp)) {
        if (test_now_ms() >= deadline)
            return -2;
        sleep_ms(5);
    }
    return exit_code(bp->exit_status);
}

/* The broker process to signal: the wrapper's child when there is one. */
static pid_t signal_target(const broker_proc_t *bp)
{
    return bp->inner_pid > 0 ? bp->inner_pid : bp->pid;
}

int broker_proc_signal(broker_proc_t *bp, int sig)
{
    if (bp->pid <= 0)
        return -1;
    return kill(signal_target(bp), sig);
}

/* The first child of pid, from /proc; -1 if none. */
static pid_t child_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    char *text = broker_proc_read_file(path, NULL);
    if (!text)
        return -1;
    long child = strtol(text, NULL, 10);
    free(text);
    return child > 0 ? (pid_t)child : -1;
}

int broker_proc_kill(broker_proc_t *bp)
{
    if (bp->pid <= 0)
        return -1;
    if (bp->inner_pid > 0)
        kill(bp->inner_pid, SIGKILL);
    kill(bp->pid, SIGKILL);
    bp->inner_pid = 0;
    int status;
    while (waitpid(bp->pid, &status, 0) < 0 && errno == EINTR) {
    }
    bp->exit_status = status;
    bp->pid = 0;
    return 0;
}

int broker_proc_stop(broker_proc_t *bp, int timeout_ms)
{
    if (bp->pid <= 0)
        return -1;
    if (timeout_ms <= 0)
        timeout_ms = DEFAULT_STOP_TIMEOUT_MS;
    kill(signal_target(bp), SIGTERM);
    int code = broker_proc_wait(bp, timeout_ms);
    if (code != -2)
        return code;
    set_error(bp, "broker pid did not exit within %d ms of SIGTERM; killed", timeout_ms);
    broker_proc_kill(bp);
    return -1;
}

/* Parses "HOST:PORT" (HOST may be "[v6]") ending at a space or newline. */
static int parse_addr(const char *s, char *host, size_t hostlen, int *port, char *addr,
                      size_t addrlen)
{
    size_t n = strcspn(s, " \r\n");
    if (n == 0 || n >= addrlen)
        return -1;
    memcpy(addr, s, n);
    addr[n] = '\0';
    char *colon = strrchr(addr, ':');
    if (!colon || colon == addr)
        return -1;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || p <= 0 || p > 65535)
        return -1;
    const char *h = addr;
    size_t hl = (size_t)(colon - addr);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

/* Parses the ready line into bp. 0 on success. */
static int parse_ready(broker_proc_t *bp, const char *text)
{
    const char *line = strstr(text, "mqbroker ready ");
    if (!line)
        return -1;
    const char *c = strstr(line, "client=");
    const char *a = strstr(line, "admin=");
    if (!c || !a)
        return -1;
    if (parse_addr(c + 7, bp->client_host, sizeof bp->client_host, &bp->client_port,
                   bp->client_addr, sizeof bp->client_addr) != 0)
        return -1;
    return parse_addr(a + 6, bp->admin_host, sizeof bp->admin_host, &bp->admin_port, bp->admin_addr,
                      sizeof bp->admin_addr);
}

/* Reads the ready file; a line without '\n' counts only once it is stable. */
static int read_ready(broker_proc_t *bp)
{
    char *text = broker_proc_read_file(bp->ready_file, NULL);
    if (!text)
        return -1;
    int rc = parse_ready(bp, text);
    if (rc == 0 && !strchr(text, '\n')) {
        sleep_ms(20);
        char *again = broker_proc_read_file(bp->ready_file, NULL);
        rc = again && strcmp(again, text) == 0 ? parse_ready(bp, again) : -1;
        free(again);
    }
    free(text);
    return rc;
}

static void append_marker(const char *path, int n)
{
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fprintf(f, "=== broker start %d ===\n", n);
    fclose(f);
}

/* Child side of the fork: redirect output, set env, exec. Never returns. */
static void exec_child(broker_proc_t *bp, char **argv, char **envp)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int in = open("/dev/null", O_RDONLY);
    int out = open(bp->stdout_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int err = open(bp->stderr_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (in < 0 || out < 0 || err < 0)
        _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    execvpe(argv[0], argv, envp);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

extern char **environ;

/* The environment plus extras, built before fork (no malloc in the child).
 * Extras replace inherited entries of the same name. */
static char **build_env(char *const *extra)
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra[m])
        m++;
    char **envp = calloc(n + m + 1, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t kl = strcspn(extra[j], "=");
            replaced = strncmp(environ[i], extra[j], kl) == 0 && environ[i][kl] == '=';
        }
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        envp[k++] = extra[j];
    envp[k] = NULL;
    return envp;
}

static int spawn(broker_proc_t *bp)
{
    char *argv[3 * BROKER_PROC_MAX_ARGS + 16];
    int n = 0;
    for (int i = 0; bp->wrap_store[i]; i++)
        argv[n++] = bp->wrap_store[i];
    argv[n++] = bp->binary;
    argv[n++] = "--data-dir";
    argv[n++] = bp->data_dir;
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--admin-listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--ready-file";
    argv[n++] = bp->ready_file;
    for (int i = 0; bp->argv_store[i]; i++)
        argv[n++] = bp->argv_store[i];
    argv[n] = NULL;

    unlink(bp->ready_file);
    bp->starts++;
    append_marker(bp->stdout_path, bp->starts);
    append_marker(bp->stderr_path, bp->starts);
    char **envp = build_env(bp->env_store);
    if (!envp) {
        set_error(bp, "out of memory");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(envp);
        set_error(bp, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0)
        exec_child(bp, argv, envp);
    free(envp);
    bp->pid = pid;
    return 0;
}

static int wait_ready(broker_proc_t *bp)
{
    long long deadline = test_now_ms() + bp->ready_timeout_ms;
    for (;;) {
        if (read_ready(bp) == 0) {
            if (bp->wrap_store[0])
                bp->inner_pid = child_of(bp->pid);
            return 0;
        }
        if (!broker_proc_alive(bp)) {
            set_error(bp, "broker exited (code %d) before it was ready; stderr in %s",
                      exit_code(bp->exit_status), bp->stderr_path);
            return -1;
        }
        if (test_now_ms() >= deadline) {
            set_error(bp, "broker not ready within %d ms (no ready line in %s)",
                      bp->ready_timeout_ms, bp->ready_file);
            broker_proc_kill(bp);
            return -1;
        }
        sleep_ms(10);
    }
}

int broker_proc_start(broker_proc_t *bp, const broker_opts_t *opts)
{
    broker_opts_t none = {0};
    if (!opts)
        opts = &none;
    memset(bp, 0, sizeof *bp);
    if (test_make_temp_dir(bp->tmp_dir, sizeof bp->tmp_dir, "mqbroker-test") != 0) {
        set_error(bp, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    snprintf(bp->ready_file, sizeof bp->ready_file, "%s/ready", bp->tmp_dir);
    snprintf(bp->stdout_path, sizeof bp->stdout_path, "%s/broker.stdout", bp->tmp_dir);
    snprintf(bp->stderr_path, sizeof bp->stderr_path, "%s/broker.stderr", bp->tmp_dir);
    if (opts->data_dir) {
        snprintf(bp->data_dir, sizeof bp->data_dir, "%s", opts->data_dir);
    } else {
        snprintf(bp->data_dir, sizeof bp->data_dir, "%s/data", bp->tmp_dir);
        mkdir(bp->data_dir, 0755);
    }
    snprintf(bp->binary, sizeof bp->binary, "%s",
             opts->binary ? opts->binary : broker_binary_path());
    bp->ready_timeout_ms =
        opts->ready_timeout_ms > 0 ? opts->ready_timeout_ms : DEFAULT_READY_TIMEOUT_MS;
    if (copy_list(bp->argv_store, opts->args) != 0 || copy_list(bp->env_store, opts->env) != 0 ||
        copy_list(bp->wrap_store, opts->wrapper) != 0) {
        set_error(bp, "too many extra arguments (max %d)", BROKER_PROC_MAX_ARGS - 1);
        return -1;
    }
    if (access(bp->binary, X_OK) != 0) {
        set_error(bp, "broker binary %s: %s", bp->binary, strerror(errno));
        return -1;
    }
    if (spawn(bp) != 0)
        return -1;
    return wait_ready(bp);
}

int broker_proc_restart(broker_proc_t *bp)
{
    if (bp->pid > 0 && broker_proc_alive(bp)) {
        set_error(bp, "restart: broker pid %d is still running", (int)bp->pid);
        return -1;
    }
    bp->client_port = bp->admin_port = 0;
    if (spawn(bp) != 0)
        return -1;
    return wait_ready(bp);
}

void broker_proc_destroy(broker_proc_t *bp)
{
    if (bp->pid > 0)
        broker_proc_kill(bp);
    if (bp->tmp_dir[0] && !getenv("MQ_TEST_KEEP"))
        test_remove_tree(bp->tmp_dir);
    bp->tmp_dir[0] = '\0';
    free_list(bp->argv_store);
    free_list(bp->env_store);
    free_list(bp->wrap_store);
}

static void dump_tail(const char *label, const char *path, FILE *out)
{
    size_t len = 0;
    char *text = broker_proc_read_file(path, &len);
    if (!text) {
        fprintf(out, "---- %s (%s): none ----\n", label, path);
        return;
    }
    const char *start = text;
    if (len > DUMP_TAIL_BYTES)
        start = text + len - DUMP_TAIL_BYTES;
    fprintf(out, "---- %s (%s) ----\n%s%s---- end %s ----\n", label, path, start,
            len && text[len - 1] != '\n' ? "\n" : "", label);
    free(text);
}

void broker_proc_dump_logs(const broker_proc_t *bp, FILE *out)
{
    if (!bp->tmp_dir[0])
        return;
    dump_tail("broker stdout", bp->stdout_path, out);
    dump_tail("broker stderr", bp->stderr_path, out);
    fflush(out);
}

int broker_proc_run(const char *const *args, int timeout_ms, char **out, char **err)
{
    broker_proc_t bp;
    memset(&bp, 0, sizeof bp);
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    if (test_make_temp_dir(bp.tmp_dir, sizeof bp.tmp_dir, "mqbroker-run") != 0)
        return -1;
    snprintf(bp.stdout_path, sizeof bp.stdout_path, "%s/stdout", bp.tmp_dir);
    snprintf(bp.stderr_path, sizeof bp.stderr_path, "%s/stderr", bp.tmp_dir);
    snprintf(bp.binary, sizeof bp.binary, "%s", broker_binary_path());

    char *argv[BROKER_PROC_MAX_ARGS + 2];
    int n = 0;
    argv[n++] = bp.binary;
    for (int i = 0; args && args[i] && n < BROKER_PROC_MAX_ARGS; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        test_remove_tree(bp.tmp_dir);
        return -1;
    }
    if (pid == 0)
        exec_child(&bp, argv, environ);
    bp.pid = pid;
    int code = broker_proc_wait(&bp, timeout_ms);
    if (code == -2) {
        broker_proc_kill(&bp);
        code = -1;
    }
    if (out)
        *out = broker_proc_read_file(bp.stdout_path, NULL);
    if (err)
        *err = broker_proc_read_file(bp.stderr_path, NULL);
    test_remove_tree(bp.tmp_dir);
    return code;
}
