/*
 * slot.h - key placement: Redis Cluster hash slots and the slot->shard map.
 *
 * slot = CRC16-XMODEM(key, or the part inside the first non-empty {...}) mod 16384,
 * exactly the Redis Cluster function, so users co-locate keys with hash tags as
 * they do in Redis Cluster. shard = owner[slot]: a table (not `slot % N`) so
 * slots can later move between shards.
 *
 * Thread: all functions are pure; the owner table is written once at startup
 * (ts_slot_map_init, before the workers start) and read-only afterwards.
 */
#ifndef TESSERA_SLOT_H
#define TESSERA_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define TS_SLOTS 16384
#define TS_MAX_SHARDS 256   /* most worker threads (shards) a server runs */

uint16_t ts_crc16(const char *buf, size_t len);
unsigned ts_key_slot(const char *key, size_t len);

/* Slot->shard table. */
void ts_slot_map_init(unsigned nshards);
extern uint16_t ts_slot_owner[TS_SLOTS];
static inline unsigned ts_key_shard(const char *key, size_t len)
{
    return ts_slot_owner[ts_key_slot(key, len)];
}

/* The shard a SCAN cursor names (its low bits; an unparsable cursor gives
 * 0: the command itself reports the error there). */
unsigned ts_cursor_shard(const char *cursor, size_t len, unsigned nshards);

#endif
