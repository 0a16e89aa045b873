/* mqbroker: configuration, start-up in order (metadata, fsync thread,
 * listeners and I/O threads), the ready line, and a graceful stop on
 * SIGTERM/SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "acl.h"
#include "config.h"
#include "flusher.h"
#include "group_rpc.h"
#include "housekeeping.h"
#include "log.h"
#include "meta.h"
#include "metrics.h"
#include "server.h"
#include "tls.h"

#define MQBROKER_VERSION "0.1.0"

static void usage(FILE *out)
{
    fputs("usage: mqbroker [--config FILE] [flags]\n"
          "\n"
          "The mq reference broker: gRPC over HTTP/2 on the client port, REST on the\n"
          "admin port.\n"
          "\n"
          "  --config FILE          read `key = value` lines first (# comments)\n"
          "  --data-dir DIR         data directory (data.dir, default ./data)\n"
          "  --listen HOST:PORT     client port (listen, default 127.0.0.1:9092;\n"
          "                         port 0 picks a free one)\n"
          "  --admin-listen HOST:PORT\n"
          "                         admin REST port (admin.listen, default 127.0.0.1:9642)\n"
          "  --log-level LEVEL      error, warn, info or debug (log.level)\n"
          "  --ready-file FILE      also write the ready line to FILE (ready.file)\n"
          "  --ssl-cert FILE, --ssl-key FILE, --ssl-ca FILE, --ssl-client-auth MODE\n"
          "                         serve TLS on the --listen port and the admin port\n"
          "                         (MODE none|requested|required; docs/security.md)\n"
          "  --KEY VALUE, --KEY=VALUE\n"
          "                         set any configuration key, e.g. --io.threads 2\n"
          "  --print-config-doc     print the reference of every key (markdown)\n"
          "  --version              print the version\n"
          "  --help                 this text\n"
          "\n"
          "Flags override the file. Every key is described in docs/configuration.md.\n"
          "When serving, mqbroker prints `mqbroker ready client=HOST:PORT admin=HOST:PORT`.\n"
          "SIGTERM or SIGINT stops it gracefully; SIGHUP reloads TLS certificates, keys\n"
          "and CRLs (connections stay up).\n",
          out);
}

/* Writes the ready line to path atomically (tmp file + rename). */
static int write_ready_file(const char *path, const char *line)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int ok = fputs(line, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("mqbroker %s\n", MQBROKER_VERSION);
            return 0;
        }
        if (!strcmp(argv[i], "--print-config-doc")) {
            config_print_doc(stdout);
            return 0;
        }
    }
    char err[1024];
    if (config_from_args(&g_config, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "mqbroker: %s\n", err);
        return 2;
    }
    g_log_level = g_config.log_level;
    if (tls_init(&g_config, err, sizeof(err)) != 0) {
        fprintf(stderr, "mqbroker: %s\n", err);
        return 2;
    }
    acl_configure(&g_config);
    metrics_init();
    raise_fd_limit();

    /* Every thread inherits this mask; the main thread takes the signals. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    log_info("\"starting\" version=%s data_dir=%s", MQBROKER_VERSION, g_config.data_dir);
    group_rpc_init(&g_config);
    mq_err_t rc = meta_start(&g_config);
    if (rc != MQ_OK) {
        log_error("\"cannot load metadata\" data_dir=%s err=%s", g_config.data_dir,
                  mq_err_name(rc));
        return 1;
    }
    if ((rc = acl_load()) != MQ_OK || (rc = group_store_load()) != MQ_OK ||
        (rc = flusher_start()) != MQ_OK || (rc = server_start(&g_config)) != MQ_OK) {
        log_error("\"start failed\" err=%s", mq_err_name(rc));
        server_stop(0);
        flusher_stop();
        server_close_all();
        meta_stop();
        server_free();
        return 1;
    }
    housekeeping_start(server_loop(0), g_config.housekeeping_interval_ms);
    group_rpc_start(server_loop(0));

    /* With TLS or several listeners, the line also lists every listener. */
    char line[4096];
    const char *all = server_listeners();
    int plain_one = !strchr(all, ',') && !strncmp(all, "plaintext://", 12) && !server_admin_tls();
    if (plain_one)
        snprintf(line, sizeof(line), "mqbroker ready client=%s admin=%s\n", server_client_addr(),
                 server_admin_addr());
    else
        snprintf(
            line, sizeof(line), "mqbroker ready client=%s admin=%s listeners=%s admin_tls=%s\n",
            server_client_addr(), server_admin_addr(), all, server_admin_tls() ? "true" : "false");
    fputs(line, stdout);
    fflush(stdout);
    if (g_config.ready_file[0] && write_ready_file(g_config.ready_file, line) != 0)
        log_error("\"cannot write ready file\" path=%s errno=%d", g_config.ready_file, errno);

    int sig = 0;
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig != SIGHUP)
            break;
        char why[1024];
        if (tls_reload(why, sizeof(why)) == 0)
            log_info("\"tls reloaded\" on=SIGHUP");
        else
            log_error("\"tls reload failed, keeping the old certificates\" err=\"%s\"", why);
    }
    log_info("\"shutting down\" signal=%d timeout_ms=%lld", sig,
             (long long)g_config.shutdown_timeout_ms);
    server_stop(g_config.shutdown_timeout_ms);
    flusher_stop();
    server_close_all();
    group_store_schedule(); /* the last group changes */
    meta_stop();
    server_free();
    acl_free_all();
    tls_shutdown();
    log_info("\"stopped\"");
    return 0;
}
