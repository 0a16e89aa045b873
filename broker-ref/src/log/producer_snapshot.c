/* Producer-state snapshot files (see producer_snapshot.h).
 *
 * Layout, big-endian: "MQPS", version (1 byte, 1), offset (8), body length
 * (4), CRC32C of the body (4), then the body from producers_encode. */
#include "producer_snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "be.h"
#include "log.h"
#include "partition.h"
#include "segment.h"
#include "wire/crc32c.h"

#define MAGIC "MQPS"
#define VERSION 1
#define HEADER 21
#define TMP_EXT PSNAP_EXT ".tmp"
/* A bound for reading a file back: far above any real state (a million
 * producers), so a damaged length cannot ask for gigabytes. */
#define MAX_BODY (1u << 30)

static void file_name(char *buf, size_t n, int64_t offset, const char *ext)
{
    snprintf(buf, n, "%020" PRId64 "%s", offset, ext);
}

/* Offsets of the files in dir named "<20 digits>ext", sorted ascending. */
static mq_err_t list_offsets(int dirfd, const char *ext, int64_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    /* A fresh open, not dup(): a dup shares the read position with every
     * other dup, and two roll threads may list at once. */
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return MQ_ERR_STORAGE;
    }
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    mq_err_t err = MQ_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int64_t off = seg_parse_name(de->d_name, ext);
        if (off < 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            int64_t *nv = realloc(v, cap * sizeof(*nv));
            if (!nv) {
                err = MQ_ERR_NO_MEMORY;
                break;
            }
            v = nv;
        }
        v[n++] = off;
    }
    closedir(d);
    if (err != MQ_OK) {
        free(v);
        return err;
    }
    for (size_t i = 1; i < n; i++) /* few files: insertion sort */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    *count = n;
    return MQ_OK;
}

static void remove_file(const char *dir, int dirfd, int64_t offset, const char *ext)
{
    char name[48];
    file_name(name, sizeof(name), offset, ext);
    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
        log_warn("\"cannot remove producer snapshot\" dir=%s file=%s errno=%d", dir, name, errno);
}

/* Keeps the snapshot at offset, anything newer (a later roll's), and the
 * newest one before it. */
static void prune(const char *dir, int dirfd, int64_t offset)
{
    int64_t *v;
    size_t n;
    if (list_offsets(dirfd, PSNAP_EXT, &v, &n) != MQ_OK)
        return;
    size_t keep_from = 0; /* index of the newest one below offset */
    for (size_t i = 0; i < n && v[i] < offset; i++)
        keep_from = i;
    for (size_t i = 0; i < keep_from; i++)
        remove_file(dir, dirfd, v[i], PSNAP_EXT);
    free(v);
}

mq_err_t psnap_write(const char *dir, int dirfd, int64_t offset, const uint8_t *body, size_t len)
{
    char tmp[48], name[48];
    file_name(tmp, sizeof(tmp), offset, TMP_EXT);
    file_name(name, sizeof(name), offset, PSNAP_EXT);
    uint8_t hdr[HEADER];
    memcpy(hdr, MAGIC, 4);
    hdr[4] = VERSION;
    be_put(hdr + 5, (uint64_t)offset, 8);
    be_put(hdr + 13, len, 4);
    be_put(hdr + 17, mq__crc32c(0, body, len), 4);

    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int ok = fd >= 0;
    if (ok) {
        /* One buffer, one write: the header is tiny next to the body. */
        uint8_t *all = malloc(HEADER + len);
        ok = all != NULL;
        if (ok) {
            memcpy(all, hdr, HEADER);
            memcpy(all + HEADER, body, len);
            ok = seg_pwrite(fd, all, HEADER + len, 0) == MQ_OK && part_io_fdatasync(fd) == 0;
            free(all);
        }
    }
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && renameat(dirfd, tmp, dirfd, name) != 0) {
        ok = 0;
        e = errno;
    }
    if (ok && fsync(dirfd) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        unlinkat(dirfd, tmp, 0);
        log_error("\"cannot write producer snapshot\" dir=%s file=%s errno=%d", dir, name, e);
        return MQ_ERR_STORAGE;
    }
    prune(dir, dirfd, offset);
    return MQ_OK;
}

/* The body of one snapshot, checked against its header (*body malloc'd).
 * MQ_ERR_STORAGE if the file is missing, short or damaged. */
static mq_err_t read_body(int fd, int64_t offset, uint8_t **body, uint32_t *len)
{
    uint8_t hdr[HEADER];
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < HEADER || seg_pread(fd, hdr, HEADER, 0) != MQ_OK)
        return MQ_ERR_STORAGE;
    *len = (uint32_t)be_get(hdr + 13, 4);
    if (memcmp(hdr, MAGIC, 4) != 0 || hdr[4] != VERSION || (int64_t)be_get(hdr + 5, 8) != offset ||
        *len > MAX_BODY || (uint64_t)st.st_size != HEADER + (uint64_t)*len)
        return MQ_ERR_STORAGE;
    if (!(*body = malloc(*len ? *len : 1)))
        return MQ_ERR_NO_MEMORY;
    if (seg_pread(fd, *body, *len, HEADER) != MQ_OK ||
        mq__crc32c(0, *body, *len) != (uint32_t)be_get(hdr + 17, 4)) {
        free(*body);
        *body = NULL;
        return MQ_ERR_STORAGE;
    }
    return MQ_OK;
}

/* Reads and decodes one snapshot; MQ_ERR_STORAGE if it is damaged. */
static mq_err_t load_one(int dirfd, int64_t offset, partition_producers_t **out)
{
    char name[48];
    file_name(name, sizeof(name), offset, PSNAP_EXT);
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return MQ_ERR_STORAGE;
    uint8_t *body = NULL;
    uint32_t len = 0;
    mq_err_t err = read_body(fd, offset, &body, &len);
    close(fd);
    partition_producers_t *pp = NULL;
    if (err == MQ_OK && !(pp = partition_producers_new()))
        err = MQ_ERR_NO_MEMORY;
    if (err == MQ_OK)
        err = producers_decode(pp, body, len);
    free(body);
    if (err != MQ_OK) {
        partition_producers_free(pp);
        return err;
    }
    *out = pp;
    return MQ_OK;
}

mq_err_t psnap_load(const char *dir, int dirfd, int64_t max_offset, partition_producers_t **out,
                    int64_t *offset)
{
    *out = NULL;
    *offset = -1;
    int64_t *v;
    size_t n;
    if (list_offsets(dirfd, TMP_EXT, &v, &n) == MQ_OK) {
        for (size_t i = 0; i < n; i++)
            remove_file(dir, dirfd, v[i], TMP_EXT);
        free(v);
    }
    mq_err_t err = list_offsets(dirfd, PSNAP_EXT, &v, &n);
    if (err != MQ_OK)
        return err == MQ_ERR_NO_MEMORY ? err : MQ_OK; /* unreadable: replay the log */
    err = MQ_OK;
    for (size_t i = n; i-- > 0;) {
        if (v[i] > max_offset) {
            log_warn("\"removing producer snapshot past the log end\" dir=%s offset=%" PRId64
                     " log_end=%" PRId64,
                     dir, v[i], max_offset);
            remove_file(dir, dirfd, v[i], PSNAP_EXT);
            continue;
        }
        err = load_one(dirfd, v[i], out);
        if (err == MQ_OK) {
            *offset = v[i];
            break;
        }
        if (err == MQ_ERR_NO_MEMORY)
            break;
        log_warn("\"damaged producer snapshot skipped\" dir=%s offset=%" PRId64, dir, v[i]);
        err = MQ_OK;
    }
    free(v);
    return err;
}
