/*
 * check.c - the tessera-check tool: Redis's redis-check-aof and
 * redis-check-rdb in one executable, over the same scanner and checker the
 * server uses (aof_scan.c, rdb_check.c), so the tool and startup agree on
 * where a file stops being valid.
 *
 *   tessera-check aof [--fix] <file.aof>
 *   tessera-check rdb <file.rdb>
 *   tessera-check [--fix] <file>     (mode guessed, see guess_mode)
 *
 * Shape: the file is mmap()ed read-only and checked in place; only --fix
 * on a truncated tail writes, with a single ftruncate() + fsync() to the
 * last valid command, never a rewrite. Output lines copy redis-check-aof /
 * redis-check-rdb 7.0's where the two tools report the same thing, so
 * scripts that grep for "is valid" or "RDB looks OK" keep working; the
 * differences (no confirmation prompt, corruption in the middle refused
 * by --fix, exit code 2 for usage and I/O errors) are documented in
 * docs/persistence.md, "Checking files: tessera-check".
 *
 * The file is built into its own executable: it is excluded from the core
 * library's glob in CMakeLists.txt like src/main.c, and it provides the
 * few functions main.c would (the clocks; server stand-ins that never run).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tessera/persist/aof_scan.h"
#include "tessera/config/config.h"
#include "tessera/persist/rdb_check.h"
#include "tessera/types/table.h"

/* ---- the tool ---- */

enum { EXIT_VALID = 0, EXIT_INVALID = 1, EXIT_USAGE = 2 };

typedef struct mapped {
    const unsigned char *data;
    size_t len;
    void *map;
} mapped;

static int map_file(const char *path, mapped *m)
{
    memset(m, 0, sizeof(*m));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "Cannot open file %s: %s\n", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fprintf(stderr, "Cannot stat file %s: %s\n", path, errno ? strerror(errno) : "not a regular file");
        close(fd);
        return -1;
    }
    m->len = (size_t)sb.st_size;
    m->data = (const unsigned char *)"";
    if (m->len > 0) {
        m->map = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m->map == MAP_FAILED) {
            fprintf(stderr, "Cannot mmap file %s: %s\n", path, strerror(errno));
            close(fd);
            return -1;
        }
        madvise(m->map, m->len, MADV_SEQUENTIAL);
        m->data = m->map;
    }
    close(fd);
    return 0;
}

static void unmap_file(mapped *m)
{
    if (m->map) munmap(m->map, m->len);
    m->map = NULL;
}

/* The RDB checker's report, shared by `rdb` and an AOF's preamble. */
static void print_rdb_stats(const ts_rdb_check_stats *st)
{
    printf("[info] %llu keys read\n", (unsigned long long)st->keys);
    printf("[info] %llu expires\n", (unsigned long long)st->expires);
    printf("[info] %llu already expired\n", (unsigned long long)st->already_expired);
    printf("[info] %llu strings, %llu lists, %llu sets, %llu zsets, %llu hashes, %llu streams\n",
           (unsigned long long)st->types[TS_TYPE_STRING], (unsigned long long)st->types[TS_TYPE_LIST],
           (unsigned long long)st->types[TS_TYPE_SET], (unsigned long long)st->types[TS_TYPE_ZSET],
           (unsigned long long)st->types[TS_TYPE_HASH], (unsigned long long)st->types[TS_TYPE_STREAM]);
}

static void print_rdb_ok(const ts_rdb_check_stats *st, size_t rdb_len)
{
    if (st->checksum == 1) printf("[offset %zu] Checksum OK\n", rdb_len);
    else if (st->checksum == 0) printf("[offset %zu] Checksum not computed (zero trailer), not checked\n", rdb_len);
    printf("[offset %zu] \\o/ RDB looks OK! \\o/\n", rdb_len);
    print_rdb_stats(st);
}

static int check_rdb(const char *path)
{
    mapped m;
    if (map_file(path, &m) != 0) return EXIT_USAGE;
    ts_config cfg;
    ts_config_init_defaults(&cfg);
    ts_rdb_check_stats st;
    char err[512];
    size_t rdb_len = 0;
    printf("[offset 0] Checking RDB file %s\n", path);
    int rc = ts_rdb_check_mem(m.data, m.len, &cfg, &rdb_len, &st, err, sizeof err);
    ts_config_free(&cfg);
    unmap_file(&m);
    if (rc != 0) {
        printf("--- RDB ERROR DETECTED ---\n");
        printf("[offset %zu] %s\n", st.error_off, err);
        print_rdb_stats(&st);
        return EXIT_INVALID;
    }
    if (st.version > 0) printf("[info] RDB format version %d\n", st.version);
    if (rdb_len < m.len)
        printf("[offset %zu] %zu bytes after the end of the RDB (not checked, the loader ignores them)\n", rdb_len,
               m.len - rdb_len);
    print_rdb_ok(&st, rdb_len);
    return EXIT_VALID;
}

static int truncate_file(const char *path, size_t to)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)to) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return close(fd);
}

static int check_aof(const char *path, bool fix)
{
    mapped m;
    if (map_file(path, &m) != 0) return EXIT_USAGE;
    if (m.len == 0) {
        printf("AOF %s is empty\n", path);
        return EXIT_VALID;
    }
    printf("Start checking Old-Style AOF\n");
    bool preamble = m.len >= 5 && memcmp(m.data, "REDIS", 5) == 0;
    if (preamble) printf("[offset 0] Checking RDB preamble of %s\n", path);
    ts_aof_scan_result res;
    ts_aof_scan(m.data, m.len, NULL, NULL, &res);
    size_t size = m.len;
    unmap_file(&m);
    if (preamble) {
        if (res.rdb_len == 0) {
            printf("--- RDB ERROR DETECTED ---\n");
            printf("[offset %zu] %s\n", res.error_pos, res.error);
            print_rdb_stats(&res.rdb);
            printf("RDB preamble of AOF file is not sane, aborting.\n");
            if (fix) printf("The RDB preamble cannot be fixed by truncating the AOF. Fix the AOF by hand.\n");
            printf("AOF %s is not valid.\n", path);
            return EXIT_INVALID;
        }
        print_rdb_ok(&res.rdb, res.rdb_len);
        printf("RDB preamble is OK, proceeding with AOF tail...\n");
    }
    if (res.truncated || res.corrupt) printf("0x%16zx: %s\n", res.error_pos, res.error);
    printf("AOF analyzed: filename=%s, size=%zu, ok_up_to=%zu, ok_up_to_line=%llu, diff=%zu\n", path, size,
           res.valid_len, (unsigned long long)res.valid_lines + 1, size - res.valid_len);
    if (!res.truncated && !res.corrupt) {
        printf("AOF %s is valid\n", path);
        return EXIT_VALID;
    }
    if (!fix) {
        printf("AOF %s is not valid. Use the --fix option to try fixing it.\n", path);
        return EXIT_INVALID;
    }
    if (res.corrupt) {
        printf("AOF %s has a format error at offset %zu, not just a truncated tail: truncating it there would "
               "drop everything after that point.\n", path, res.error_off);
        printf("Fix the AOF by hand (make a backup first), then check it again.\n");
        return EXIT_INVALID;
    }
    printf("This will shrink the AOF %s from %zu bytes, with %zu bytes, to %zu bytes\n", path, size,
           size - res.valid_len, res.valid_len);
    if (truncate_file(path, res.valid_len) != 0) {
        printf("Failed to truncate AOF %s: %s\n", path, strerror(errno));
        return EXIT_INVALID;
    }
    printf("Successfully truncated AOF %s\n", path);
    return EXIT_VALID;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* No mode given: a name ending in ".aof" is an AOF (it may well start with
 * an RDB preamble), else the "REDIS" signature means an RDB, else an AOF. */
static const char *guess_mode(const char *path)
{
    if (ends_with(path, ".aof")) return "aof";
    char sig[5];
    FILE *f = fopen(path, "rb");
    if (!f) return "aof";   /* check_aof reports the open error */
    size_t n = fread(sig, 1, sizeof sig, f);
    fclose(f);
    return n == sizeof sig && memcmp(sig, "REDIS", 5) == 0 ? "rdb" : "aof";
}

static int usage(void)
{
    fprintf(stderr,
            "Usage: tessera-check aof [--fix] <file.aof>\n"
            "       tessera-check rdb <file.rdb>\n"
            "       tessera-check [--fix] <file>   (aof or rdb guessed from the name and the signature)\n");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    const char *mode = NULL, *path = NULL;
    bool fix = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--fix")) fix = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), EXIT_VALID;
        else if (!mode && !path && (!strcmp(a, "aof") || !strcmp(a, "rdb"))) mode = a;
        else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "Unknown option %s\n", a);
            return usage();
        } else if (!path) path = a;
        else return usage();
    }
    if (!path) return usage();
    if (!mode) mode = guess_mode(path);
    if (!strcmp(mode, "rdb")) {
        if (fix) {
            fprintf(stderr, "--fix applies to AOF files only\n");
            return usage();
        }
        return check_rdb(path);
    }
    return check_aof(path, fix);
}
