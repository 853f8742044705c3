/*
 * version.h - the versions the server reports: the Redis version it
 * answers as (INFO, HELLO, RDB aux fields) and Tessera's own.
 * Thread: constants; any thread.
 */
#ifndef TESSERA_VERSION_H
#define TESSERA_VERSION_H

#define TS_VERSION "7.0.15"          /* the Redis version we answer as */
#define TS_VERSION_NUM 0x07000f      /* the same as Redis's REDIS_VERSION_NUM (redis.REDIS_VERSION_NUM) */
#define TS_TESSERA_VERSION "0.1.0"

#endif
