/*
 * cmds.h - private to src/cmd: the implementation functions the command
 * table points at, and the multi-shard operation tables.
 * Thread: see cmd.h (a command runs on the owner of its keys' shard).
 */
#ifndef TESSERA_CMDS_H
#define TESSERA_CMDS_H

#include "tessera/cmd/cmd.h"
#include "tessera/route/txn.h"

#define TS_CMD_FN(name) void name(ts_cmd_ctx *c)

/* strings.c */
TS_CMD_FN(cmd_get); TS_CMD_FN(cmd_set); TS_CMD_FN(cmd_setnx); TS_CMD_FN(cmd_setex); TS_CMD_FN(cmd_psetex);
TS_CMD_FN(cmd_getset); TS_CMD_FN(cmd_getdel); TS_CMD_FN(cmd_getex); TS_CMD_FN(cmd_mget); TS_CMD_FN(cmd_mset);
TS_CMD_FN(cmd_msetnx); TS_CMD_FN(cmd_append); TS_CMD_FN(cmd_strlen); TS_CMD_FN(cmd_incr); TS_CMD_FN(cmd_decr);
TS_CMD_FN(cmd_incrby); TS_CMD_FN(cmd_decrby); TS_CMD_FN(cmd_incrbyfloat); TS_CMD_FN(cmd_getrange);
TS_CMD_FN(cmd_setrange); TS_CMD_FN(cmd_lcs);
/* keys.c */
TS_CMD_FN(cmd_del); TS_CMD_FN(cmd_exists); TS_CMD_FN(cmd_type); TS_CMD_FN(cmd_keys); TS_CMD_FN(cmd_scan);
TS_CMD_FN(cmd_randomkey); TS_CMD_FN(cmd_rename); TS_CMD_FN(cmd_copy); TS_CMD_FN(cmd_move);
TS_CMD_FN(cmd_object); TS_CMD_FN(cmd_object_help); TS_CMD_FN(cmd_dbsize); TS_CMD_FN(cmd_flushdb);
TS_CMD_FN(cmd_flushall); TS_CMD_FN(cmd_swapdb);
TS_CMD_FN(cmd_expire); TS_CMD_FN(cmd_ttl); TS_CMD_FN(cmd_persist);
/* dump.c */
TS_CMD_FN(cmd_dump); TS_CMD_FN(cmd_restore);
/* lists.c */
TS_CMD_FN(cmd_lpush); TS_CMD_FN(cmd_rpush); TS_CMD_FN(cmd_lpushx); TS_CMD_FN(cmd_rpushx); TS_CMD_FN(cmd_lpop);
TS_CMD_FN(cmd_rpop); TS_CMD_FN(cmd_llen); TS_CMD_FN(cmd_lindex); TS_CMD_FN(cmd_lrange); TS_CMD_FN(cmd_lset);
TS_CMD_FN(cmd_linsert); TS_CMD_FN(cmd_lrem); TS_CMD_FN(cmd_ltrim); TS_CMD_FN(cmd_lpos); TS_CMD_FN(cmd_lmove);
TS_CMD_FN(cmd_rpoplpush); TS_CMD_FN(cmd_lmpop);
/* sets.c */
TS_CMD_FN(cmd_sadd); TS_CMD_FN(cmd_srem); TS_CMD_FN(cmd_sismember); TS_CMD_FN(cmd_smismember);
TS_CMD_FN(cmd_scard); TS_CMD_FN(cmd_smembers); TS_CMD_FN(cmd_spop); TS_CMD_FN(cmd_srandmember);
TS_CMD_FN(cmd_smove); TS_CMD_FN(cmd_sinter); TS_CMD_FN(cmd_sintercard); TS_CMD_FN(cmd_sinterstore);
TS_CMD_FN(cmd_sunion); TS_CMD_FN(cmd_sunionstore); TS_CMD_FN(cmd_sdiff); TS_CMD_FN(cmd_sdiffstore);
TS_CMD_FN(cmd_sscan);
/* server.c */
TS_CMD_FN(cmd_container); TS_CMD_FN(cmd_ping); TS_CMD_FN(cmd_echo); TS_CMD_FN(cmd_quit);
TS_CMD_FN(cmd_command);
TS_CMD_FN(cmd_command_help); TS_CMD_FN(cmd_info); TS_CMD_FN(cmd_config_get); TS_CMD_FN(cmd_config_set);
TS_CMD_FN(cmd_config_resetstat); TS_CMD_FN(cmd_config_help); TS_CMD_FN(cmd_time); TS_CMD_FN(cmd_shutdown);
TS_CMD_FN(cmd_debug);
/* hashes.c */
TS_CMD_FN(cmd_hset); TS_CMD_FN(cmd_hsetnx); TS_CMD_FN(cmd_hmset); TS_CMD_FN(cmd_hget); TS_CMD_FN(cmd_hmget);
TS_CMD_FN(cmd_hdel); TS_CMD_FN(cmd_hlen); TS_CMD_FN(cmd_hstrlen); TS_CMD_FN(cmd_hexists); TS_CMD_FN(cmd_hkeys);
TS_CMD_FN(cmd_hvals); TS_CMD_FN(cmd_hgetall); TS_CMD_FN(cmd_hincrby); TS_CMD_FN(cmd_hincrbyfloat);
TS_CMD_FN(cmd_hrandfield); TS_CMD_FN(cmd_hscan);

/* zsets.c */
TS_CMD_FN(cmd_zadd); TS_CMD_FN(cmd_zincrby); TS_CMD_FN(cmd_zrem); TS_CMD_FN(cmd_zcard); TS_CMD_FN(cmd_zscore);
TS_CMD_FN(cmd_zmscore); TS_CMD_FN(cmd_zrank); TS_CMD_FN(cmd_zrevrank); TS_CMD_FN(cmd_zcount);
TS_CMD_FN(cmd_zlexcount); TS_CMD_FN(cmd_zrange); TS_CMD_FN(cmd_zrangestore); TS_CMD_FN(cmd_zrevrange);
TS_CMD_FN(cmd_zrangebyscore); TS_CMD_FN(cmd_zrevrangebyscore); TS_CMD_FN(cmd_zrangebylex);
TS_CMD_FN(cmd_zrevrangebylex); TS_CMD_FN(cmd_zremrangebyrank); TS_CMD_FN(cmd_zremrangebyscore);
TS_CMD_FN(cmd_zremrangebylex); TS_CMD_FN(cmd_zpopmin); TS_CMD_FN(cmd_zpopmax); TS_CMD_FN(cmd_zmpop);
TS_CMD_FN(cmd_zrandmember); TS_CMD_FN(cmd_zunion); TS_CMD_FN(cmd_zinter); TS_CMD_FN(cmd_zdiff);
TS_CMD_FN(cmd_zunionstore); TS_CMD_FN(cmd_zinterstore); TS_CMD_FN(cmd_zdiffstore); TS_CMD_FN(cmd_zintercard);
TS_CMD_FN(cmd_zscan);

/* streams.c */
TS_CMD_FN(cmd_xadd); TS_CMD_FN(cmd_xlen); TS_CMD_FN(cmd_xrange); TS_CMD_FN(cmd_xrevrange); TS_CMD_FN(cmd_xdel);
TS_CMD_FN(cmd_xtrim); TS_CMD_FN(cmd_xread); TS_CMD_FN(cmd_xgroup_create); TS_CMD_FN(cmd_xgroup_setid);
TS_CMD_FN(cmd_xgroup_destroy); TS_CMD_FN(cmd_xgroup_createconsumer); TS_CMD_FN(cmd_xgroup_delconsumer);
TS_CMD_FN(cmd_xgroup_help); TS_CMD_FN(cmd_xack); TS_CMD_FN(cmd_xpending); TS_CMD_FN(cmd_xclaim);
TS_CMD_FN(cmd_xautoclaim); TS_CMD_FN(cmd_xinfo_stream); TS_CMD_FN(cmd_xinfo_groups); TS_CMD_FN(cmd_xinfo_consumers);
TS_CMD_FN(cmd_xinfo_help); TS_CMD_FN(cmd_xsetid);

/* Multi-shard operations (multi_keys.c, multi_strings.c, server.c, info.c, config_cmd.c). */
extern const ts_txn_ops ts_multi_mget, ts_multi_mset, ts_multi_msetnx, ts_multi_lcs, ts_multi_del,
    ts_multi_exists, ts_multi_keys, ts_multi_randomkey, ts_multi_rename, ts_multi_copy, ts_multi_dbsize,
    ts_multi_flush, ts_multi_swapdb, ts_multi_info,
    ts_multi_config_set, ts_multi_resetstat, ts_multi_debug, ts_multi_borrow, ts_multi_snapshot;

/* persist_cmds.c */
TS_CMD_FN(cmd_save); TS_CMD_FN(cmd_bgsave); TS_CMD_FN(cmd_bgrewriteaof); TS_CMD_FN(cmd_lastsave);

/* LMPOP/ZMPOP/BLMPOP/BZMPOP: numkeys at numkeys_at, the keys, then w0|w1
 * (LEFT|RIGHT or MIN|MAX), then [COUNT n], checked in Redis 7.0's order
 * with its errors (replied here; false then). table.c. */
typedef struct ts_mpop_args {
    int first_key, nkeys;
    bool second_word;   /* RIGHT / MAX */
    long count;         /* 1 without COUNT */
} ts_mpop_args;
bool ts_parse_mpop(ts_cmd_ctx *c, int numkeys_at, const char *w0, const char *w1, ts_mpop_args *o);

/* blocking_cmds.c */
/* Redis's timeout argument: seconds as a float (BLPOP...) or integer
 * milliseconds (XREAD BLOCK). NULL and *ms = the timeout in ms, or the error
 * text to reply. */
const char *ts_parse_block_timeout(ts_arg a, bool seconds, int64_t *ms);
ts_cmd_fn cmd_blpop, cmd_brpop, cmd_blmove, cmd_brpoplpush, cmd_blmpop, cmd_bzpopmin, cmd_bzpopmax, cmd_bzmpop;

#endif
