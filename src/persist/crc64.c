/*
 * crc64.c - Redis's CRC-64 (Jones polynomial 0xad93d23594c935a9, reflected
 * input and output, initial value 0, no final xor): the checksum of RDB
 * files and DUMP payloads.
 *
 * Owns: eight 256-entry lookup tables, built once (pthread_once) on first
 * use and read-only afterwards, so any thread may call ts_crc64.
 *
 * Why slice-by-8: the checksum runs over whole snapshot files; consuming
 * eight bytes per step with eight tables is several times faster than the
 * bytewise table loop and needs no CPU-specific instructions. The tables
 * are computed, not pasted: table[0][b] is the reflected CRC of byte b,
 * table[k][b] advances table[k-1][b] by one more zero byte.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "tessera/persist/rdb.h"

/* The Jones polynomial, bit-reversed for the reflected algorithm. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

static uint64_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (unsigned b = 0; b < 256; b++) {
        uint64_t c = b;
        for (int i = 0; i < 8; i++) c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc_tab[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (unsigned b = 0; b < 256; b++) {
            uint64_t c = crc_tab[k - 1][b];
            crc_tab[k][b] = (c >> 8) ^ crc_tab[0][c & 0xff];
        }
}

static inline uint64_t load_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

uint64_t ts_crc64(uint64_t crc, const void *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const unsigned char *s = p;
    while (n >= 8) {
        crc ^= load_le64(s);
        crc = crc_tab[7][crc & 0xff] ^ crc_tab[6][(crc >> 8) & 0xff] ^ crc_tab[5][(crc >> 16) & 0xff] ^
              crc_tab[4][(crc >> 24) & 0xff] ^ crc_tab[3][(crc >> 32) & 0xff] ^ crc_tab[2][(crc >> 40) & 0xff] ^
              crc_tab[1][(crc >> 48) & 0xff] ^ crc_tab[0][crc >> 56];
        s += 8;
        n -= 8;
    }
    while (n--) crc = crc_tab[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
