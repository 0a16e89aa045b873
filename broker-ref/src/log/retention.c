/* Retention by time and by bytes (see retention.h). */
#include "retention.h"

#include <sys/stat.h>

static int64_t newest_ms(const segment_t *s)
{
    if (s->max_ts >= 0)
        return s->max_ts;
    struct stat st;
    if (fstat(s->fd, &st) != 0)
        return INT64_MAX; /* unknown: keep it */
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}

size_t retention_count(segment_t *const *segs, size_t n, const log_config_t *cfg, int64_t now_ms,
                       uint64_t total_bytes)
{
    size_t k = 0;
    if (cfg->retention_ms >= 0) {
        while (k + 1 < n && now_ms - newest_ms(segs[k]) > cfg->retention_ms) {
            total_bytes -= segs[k]->size;
            k++;
        }
    }
    if (cfg->retention_bytes >= 0) {
        while (k + 1 < n && total_bytes > (uint64_t)cfg->retention_bytes) {
            total_bytes -= segs[k]->size;
            k++;
        }
    }
    return k;
}
