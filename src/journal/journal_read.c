/*
 * Reading the journal back: CRC32C, the segment list, recovery at open
 * (a torn tail of the last segment is cut at the last whole record and
 * counted) and replay from the detector position. journal.h has the
 * format.
 */
#define _GNU_SOURCE
#include "journal/journal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

/* CRC32C (Castagnoli), reflected polynomial 0x82F63B78, the checksum of
 * iSCSI, ext4 metadata and Kafka record batches; a table built once. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;

        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
                              crc_table[0][crc_table[t - 1][i] & 0xff];
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* SSE4.2's crc32 instruction computes this very CRC, 8 bytes a cycle:
 * the journal checksums every byte an input receives, on the input's
 * thread (the table took 16% of the daemon's CPU with TCP at full rate).
 * Chosen at run time: the build does not assume the CPU. */
#define CRC_HW 1
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const unsigned char *s, size_t n)
{
    uint64_t c = ~crc;

    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        c = __builtin_ia32_crc32di(c, v);
        s += 8;
        n -= 8;
    }
    while (n-- > 0)
        c = __builtin_ia32_crc32qi((uint32_t)c, *s++);
    return ~(uint32_t)c;
}

static bool crc_has_hw;
#endif

static void
crc_once_init(void)
{
    crc_init();
#ifdef CRC_HW
    crc_has_hw = __builtin_cpu_supports("sse4.2");
#endif
}

uint32_t
sn_crc32c(uint32_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;

    pthread_once(&crc_once, crc_once_init);
#ifdef CRC_HW
    if (crc_has_hw)
        return crc_hw(crc, s, n);
#endif
    crc = ~crc;
    /* Slicing by 8: eight table lookups per 8 bytes. */
    while (n >= 8) {
        uint32_t lo = crc ^ (uint32_t)jn_get(s, 4);
        uint32_t hi = (uint32_t)jn_get(s + 4, 4);

        crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
              crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
              crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
        s += 8;
        n -= 8;
    }
    while (n-- > 0)
        crc = crc_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

enum sn_status
jn_segs_push(struct sn_journal *j, uint64_t base)
{
    if (j->n_segs > 0 && j->segs[j->n_segs - 1] == base)
        return SN_OK; /* reopened an empty segment of the same name */
    if (j->n_segs == j->cap_segs) {
        size_t cap = j->cap_segs ? j->cap_segs * 2 : 16;
        uint64_t *s = realloc(j->segs, cap * sizeof(*s));

        if (s == NULL)
            return SN_ENOMEM;
        j->segs = s;
        j->cap_segs = cap;
    }
    j->segs[j->n_segs++] = base;
    if (j->n_segs == 1)
        j->first = base;
    return SN_OK;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* One record at off in map[0..len): its body length, or 0 with why set
 * when the bytes there are not a whole, intact record. */
static uint32_t
check_rec(const unsigned char *map, size_t len, size_t off, const char **why)
{
    uint32_t n;

    if (len - off < JN_HDR) {
        *why = "record header cut short";
        return 0;
    }
    n = (uint32_t)jn_get(map + off, 4);
    if (n < JN_BODY_FIXED || n > SN_JOURNAL_REC_MAX) {
        *why = "record length out of range";
        return 0;
    }
    if (len - off - JN_HDR < n) {
        *why = "record cut short";
        return 0;
    }
    if (sn_crc32c(0, map + off + JN_HDR, n) != (uint32_t)jn_get(map + off + 4, 4)) {
        *why = "CRC32C mismatch";
        return 0;
    }
    if (JN_BODY_FIXED + jn_get(map + off + JN_HDR + 16, 2) +
            jn_get(map + off + JN_HDR + 18, 2) +
            jn_get(map + off + JN_HDR + 20, 2) >
        n) {
        *why = "name lengths exceed the record";
        return 0;
    }
    return n;
}

/* Map a segment read-only; *map NULL for an empty file. */
static enum sn_status
map_seg(const char *path, unsigned char **map, size_t *len,
        struct sn_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *map = NULL;
    *len = 0;
    if (fd < 0 || fstat(fd, &st) != 0) {
        sn_error_set(err, "journal segment %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return SN_EIO;
    }
    if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

        if (m == MAP_FAILED) {
            sn_error_set(err, "journal segment %s: mmap: %s", path,
                         strerror(errno));
            close(fd);
            return SN_EIO;
        }
        *map = m;
        *len = (size_t)st.st_size;
    }
    close(fd);
    return SN_OK;
}

static void
read_positions(struct sn_journal *j)
{
    char path[PATH_MAX], key[16];
    unsigned long long v;
    FILE *f;

    snprintf(path, sizeof(path), "%s/positions", j->dir);
    f = fopen(path, "re");
    if (f == NULL)
        return;
    while (fscanf(f, "%15s %llu", key, &v) == 2) {
        if (strcmp(key, "output") == 0)
            j->out_pos = v;
        else if (strcmp(key, "detector") == 0)
            j->det_pos = v;
    }
    fclose(f);
}

/* Cut the last segment after its last whole record. */
static enum sn_status
check_tail(struct sn_journal *j, uint64_t base, struct sn_error *err)
{
    char path[PATH_MAX];
    unsigned char *map;
    size_t len, off = 0;
    const char *why = NULL;
    enum sn_status rc;

    jn_seg_path(j, base, path, sizeof(path));
    rc = map_seg(path, &map, &len, err);
    if (rc != SN_OK)
        return rc;
    while (off < len) {
        uint32_t n = check_rec(map, len, off, &why);

        if (n == 0)
            break;
        off += JN_HDR + n;
    }
    if (map != NULL)
        munmap(map, len);
    if (off < len) {
        if (truncate(path, (off_t)off) != 0) {
            sn_error_set(err, "journal segment %s: cannot cut the torn tail "
                         "at offset %zu: %s", path, off, strerror(errno));
            return SN_EIO;
        }
        sn_counter_add(j->c_truncated, 1);
        sn_counter_add(j->c_truncated_bytes, len - off);
        sn_log_warn("journal segment %s: %s at offset %zu (position %" PRIu64
                    "): cut %zu bytes of a write that did not complete "
                    "(never acknowledged)",
                    path, why, off, base + off, len - off);
    }
    {
        /* A killed process's last writes may sit in the page cache only:
         * on disk before positions may name them (journal.h). */
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            (void)fdatasync(fd);
            close(fd);
        }
    }
    j->end = base + off;
    return SN_OK;
}

enum sn_status
jn_recover(struct sn_journal *j, struct sn_error *err)
{
    DIR *dir = opendir(j->dir);
    struct dirent *e;
    enum sn_status rc = SN_OK;

    if (dir == NULL) {
        sn_error_set(err, "journal directory %s: %s", j->dir, strerror(errno));
        return SN_EIO;
    }
    while ((e = readdir(dir)) != NULL) {
        size_t l = strlen(e->d_name);
        char *endp;
        unsigned long long base;

        if (l != 24 || strcmp(e->d_name + 20, ".seg") != 0)
            continue;
        base = strtoull(e->d_name, &endp, 10);
        if (endp != e->d_name + 20)
            continue;
        rc = jn_segs_push(j, base);
        if (rc != SN_OK)
            break;
    }
    closedir(dir);
    if (rc != SN_OK)
        return rc;
    if (j->n_segs > 0) { /* an empty journal has no array (qsort(NULL)) */
        qsort(j->segs, j->n_segs, sizeof(*j->segs), cmp_u64);
        j->first = j->segs[0];
    }
    read_positions(j);
    if (j->n_segs > 0) {
        rc = check_tail(j, j->segs[j->n_segs - 1], err);
        if (rc != SN_OK)
            return rc;
    } else {
        /* Every segment gone: go on from where the consumers were. */
        j->end = j->out_pos > j->det_pos ? j->out_pos : j->det_pos;
        j->first = j->end;
    }
    if (j->out_pos > j->end)
        j->out_pos = j->end;
    if (j->det_pos > j->end)
        j->det_pos = j->end;
    if (j->out_pos < j->first)
        j->out_pos = j->first;
    if (j->det_pos < j->first)
        j->det_pos = j->first;
    sn_gauge_set(j->g_segments, j->n_segs);
    sn_gauge_set(j->g_size, j->end - j->first);
    j->synced = j->end;
    return SN_OK;
}

enum sn_status
sn_journal_replay(struct sn_journal *j, sn_journal_rec_fn fn, void *arg,
                  struct sn_error *err)
{
    uint64_t from = j->det_pos < j->out_pos ? j->det_pos : j->out_pos;
    /* As recorded before the crash: replayed batches move j->out_pos. */
    uint64_t out_pos = j->out_pos;
    enum sn_status rc = SN_OK;
    /* The three names of a record, NUL-terminated. */
    char *names = malloc(3 * 65536 + 3);

    if (names == NULL)
        return SN_ENOMEM;

    for (size_t i = 0; i < j->n_segs && rc == SN_OK; i++) {
        uint64_t base = j->segs[i];
        uint64_t next = i + 1 < j->n_segs ? j->segs[i + 1] : j->end;
        char path[PATH_MAX];
        unsigned char *map;
        size_t len, maplen, off;

        if (next <= from)
            continue;
        jn_seg_path(j, base, path, sizeof(path));
        rc = map_seg(path, &map, &len, err);
        if (rc != SN_OK)
            break;
        maplen = len;
        if (base + len > next)
            len = (size_t)(next - base);
        off = from > base ? (size_t)(from - base) : 0;
        while (off < len && rc == SN_OK) {
            const char *why = NULL;
            uint32_t n = check_rec(map, len, off, &why);
            const unsigned char *p = map + off + JN_HDR;
            struct sn_journal_rec r;
            size_t li, lp, lt;

            if (n == 0) {
                /* A sealed segment went bad (disk): the rest of it is
                 * skipped, said and counted; replay goes on. */
                sn_counter_add(j->c_truncated, 1);
                sn_log_error("journal segment %s: %s at offset %zu: "
                             "skipping the %zu bytes after it",
                             path, why, off, len - off);
                break;
            }
            li = (size_t)jn_get(p + 16, 2);
            lp = (size_t)jn_get(p + 18, 2);
            lt = (size_t)jn_get(p + 20, 2);
            memcpy(names, p + JN_BODY_FIXED, li);
            names[li] = '\0';
            memcpy(names + li + 1, p + JN_BODY_FIXED + li, lp);
            names[li + 1 + lp] = '\0';
            memcpy(names + li + lp + 2, p + JN_BODY_FIXED + li + lp, lt);
            names[li + lp + 2 + lt] = '\0';
            r.pos = base + off;
            r.end = r.pos + JN_HDR + n;
            r.recv_ns = (int64_t)jn_get(p, 8);
            r.source_offset = (int64_t)jn_get(p + 8, 8);
            r.input = names;
            r.peer = names + li + 1;
            r.transport = names + li + lp + 2;
            r.data = (const char *)p + JN_BODY_FIXED + li + lp + lt;
            r.len = n - (uint32_t)(JN_BODY_FIXED + li + lp + lt);
            r.detect_only = r.end <= out_pos;
            rc = fn(arg, &r);
            if (rc == SN_OK)
                sn_counter_add(j->c_replayed, 1);
            off += JN_HDR + n;
        }
        if (map != NULL)
            munmap(map, maplen);
    }
    free(names);
    return rc;
}
