/*
 * slot.c - CRC16 (XMODEM: polynomial 0x1021, init 0, no reflection), hash
 * tags and the slot->shard table. The CRC uses a 256-entry table computed
 * at compile time by a constant-expression macro, so there is no init order
 * to get wrong.
 */
#include "tessera/route/slot.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CRC_STEP(c) (((c) & 0x8000) ? (uint16_t)(((c) << 1) ^ 0x1021) : (uint16_t)((c) << 1))
#define CRC_BYTE(b) CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP(CRC_STEP((uint16_t)((b) << 8)))))))))
#define CRC_ROW(b) CRC_BYTE(b), CRC_BYTE(b + 1), CRC_BYTE(b + 2), CRC_BYTE(b + 3), \
                   CRC_BYTE(b + 4), CRC_BYTE(b + 5), CRC_BYTE(b + 6), CRC_BYTE(b + 7)
#define CRC_ROWS(b) CRC_ROW(b), CRC_ROW(b + 8), CRC_ROW(b + 16), CRC_ROW(b + 24)

static const uint16_t crc_table[256] = {
    CRC_ROWS(0), CRC_ROWS(32), CRC_ROWS(64), CRC_ROWS(96),
    CRC_ROWS(128), CRC_ROWS(160), CRC_ROWS(192), CRC_ROWS(224),
};

static uint16_t crc_slice[8][256];   /* [0] = crc_table */

__attribute__((constructor)) static void crc_slice_init(void)
{
    for (int b = 0; b < 256; b++) crc_slice[0][b] = crc_table[b];
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++) {
            uint16_t prev = crc_slice[k - 1][b];
            crc_slice[k][b] = (uint16_t)((prev << 8) ^ crc_table[prev >> 8]);
        }
}

uint16_t ts_slot_owner[TS_SLOTS];

uint16_t ts_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    const unsigned char *p = (const unsigned char *)buf;
    while (len >= 8) {
        crc = (uint16_t)(crc_slice[7][(crc >> 8) ^ p[0]] ^ crc_slice[6][(crc & 0xff) ^ p[1]] ^
                         crc_slice[5][p[2]] ^ crc_slice[4][p[3]] ^ crc_slice[3][p[4]] ^
                         crc_slice[2][p[5]] ^ crc_slice[1][p[6]] ^ crc_slice[0][p[7]]);
        p += 8;
        len -= 8;
    }
    while (len--) crc = (uint16_t)((crc << 8) ^ crc_table[((crc >> 8) ^ *p++) & 0xff]);
    return crc;
}

unsigned ts_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t start = (size_t)(open - key) + 1;
        const char *close = memchr(key + start, '}', len - start);
        /* Only a non-empty tag counts: "{}" hashes the whole key. */
        if (close && close != key + start)
            return ts_crc16(key + start, (size_t)(close - (key + start))) & (TS_SLOTS - 1);
    }
    return ts_crc16(key, len) & (TS_SLOTS - 1);
}

void ts_slot_map_init(unsigned nshards)
{
    /* Contiguous ranges, like an evenly split cluster: slot ranges of
     * neighbouring keys stay on one shard, and the map is easy to print. */
    for (unsigned s = 0; s < TS_SLOTS; s++)
        ts_slot_owner[s] = (uint16_t)((s * nshards) / TS_SLOTS);
}

unsigned ts_cursor_shard(const char *cursor, size_t len, unsigned nshards)
{
    char tmp[32];
    size_t n = len < sizeof(tmp) - 1 ? len : sizeof(tmp) - 1;
    memcpy(tmp, cursor, n);
    tmp[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long v = strtoull(tmp, &end, 10);
    if (errno || *end) v = 0;
    return (unsigned)(v % TS_MAX_SHARDS) % nshards;
}
