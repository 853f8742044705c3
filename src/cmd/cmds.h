/*
 * cmds.h - private to src/cmd: the implementation functions the command
 * table points at, and the multi-shard operation tables.
 * Thread: see cmd.h (a command runs on the owner of its keys' shard).
 * Every command function has the ts_cmd_fn signature and is declared and
 * defined spelled out, void cmd_x(ts_cmd_ctx *c), so grep and ctags find it.
 */
#ifndef TESSERA_CMDS_H
#define TESSERA_CMDS_H

#include "tessera/cmd/cmd.h"
#include "tessera/route/txn.h"
#include "tessera/types/table.h"

/* strings.c */
void cmd_get(ts_cmd_ctx *c);
void cmd_set(ts_cmd_ctx *c);
void cmd_setnx(ts_cmd_ctx *c);
void cmd_setex(ts_cmd_ctx *c);
void cmd_psetex(ts_cmd_ctx *c);
void cmd_getset(ts_cmd_ctx *c);
void cmd_getdel(ts_cmd_ctx *c);
void cmd_getex(ts_cmd_ctx *c);
void cmd_mget(ts_cmd_ctx *c);
void cmd_mset(ts_cmd_ctx *c);
void cmd_msetnx(ts_cmd_ctx *c);
void cmd_append(ts_cmd_ctx *c);
void cmd_strlen(ts_cmd_ctx *c);
void cmd_incr(ts_cmd_ctx *c);
void cmd_decr(ts_cmd_ctx *c);
void cmd_incrby(ts_cmd_ctx *c);
void cmd_decrby(ts_cmd_ctx *c);
void cmd_incrbyfloat(ts_cmd_ctx *c);
void cmd_getrange(ts_cmd_ctx *c);
void cmd_setrange(ts_cmd_ctx *c);
void cmd_lcs(ts_cmd_ctx *c);

/* keys.c */
void cmd_del(ts_cmd_ctx *c);
void cmd_exists(ts_cmd_ctx *c);
void cmd_type(ts_cmd_ctx *c);
void cmd_keys(ts_cmd_ctx *c);
void cmd_scan(ts_cmd_ctx *c);
void cmd_randomkey(ts_cmd_ctx *c);
void cmd_rename(ts_cmd_ctx *c);
void cmd_copy(ts_cmd_ctx *c);
void cmd_move(ts_cmd_ctx *c);
void cmd_object(ts_cmd_ctx *c);
void cmd_object_help(ts_cmd_ctx *c);
void cmd_dbsize(ts_cmd_ctx *c);
void cmd_flushdb(ts_cmd_ctx *c);
void cmd_flushall(ts_cmd_ctx *c);
void cmd_swapdb(ts_cmd_ctx *c);
void cmd_expire(ts_cmd_ctx *c);
void cmd_ttl(ts_cmd_ctx *c);
void cmd_persist(ts_cmd_ctx *c);

/* dump.c */
void cmd_dump(ts_cmd_ctx *c);
void cmd_restore(ts_cmd_ctx *c);

/* lists.c */
void cmd_lpush(ts_cmd_ctx *c);
void cmd_rpush(ts_cmd_ctx *c);
void cmd_lpushx(ts_cmd_ctx *c);
void cmd_rpushx(ts_cmd_ctx *c);
void cmd_lpop(ts_cmd_ctx *c);
void cmd_rpop(ts_cmd_ctx *c);
void cmd_llen(ts_cmd_ctx *c);
void cmd_lindex(ts_cmd_ctx *c);
void cmd_lrange(ts_cmd_ctx *c);
void cmd_lset(ts_cmd_ctx *c);
void cmd_linsert(ts_cmd_ctx *c);
void cmd_lrem(ts_cmd_ctx *c);
void cmd_ltrim(ts_cmd_ctx *c);
void cmd_lpos(ts_cmd_ctx *c);
void cmd_lmove(ts_cmd_ctx *c);
void cmd_rpoplpush(ts_cmd_ctx *c);
void cmd_lmpop(ts_cmd_ctx *c);

/* sets.c */
void cmd_sadd(ts_cmd_ctx *c);
void cmd_srem(ts_cmd_ctx *c);
void cmd_sismember(ts_cmd_ctx *c);
void cmd_smismember(ts_cmd_ctx *c);
void cmd_scard(ts_cmd_ctx *c);
void cmd_smembers(ts_cmd_ctx *c);
void cmd_spop(ts_cmd_ctx *c);
void cmd_srandmember(ts_cmd_ctx *c);
void cmd_smove(ts_cmd_ctx *c);
void cmd_sinter(ts_cmd_ctx *c);
void cmd_sintercard(ts_cmd_ctx *c);
void cmd_sinterstore(ts_cmd_ctx *c);
void cmd_sunion(ts_cmd_ctx *c);
void cmd_sunionstore(ts_cmd_ctx *c);
void cmd_sdiff(ts_cmd_ctx *c);
void cmd_sdiffstore(ts_cmd_ctx *c);
void cmd_sscan(ts_cmd_ctx *c);

/* server.c, info.c (cmd_info, cmd_config_resetstat), config_cmd.c (cmd_config_get/set/help) */
void cmd_container(ts_cmd_ctx *c);
void cmd_ping(ts_cmd_ctx *c);
void cmd_echo(ts_cmd_ctx *c);
void cmd_quit(ts_cmd_ctx *c);
void cmd_command(ts_cmd_ctx *c);
void cmd_command_help(ts_cmd_ctx *c);
void cmd_info(ts_cmd_ctx *c);
void cmd_config_get(ts_cmd_ctx *c);
void cmd_config_set(ts_cmd_ctx *c);
void cmd_config_resetstat(ts_cmd_ctx *c);
void cmd_config_help(ts_cmd_ctx *c);

/* acl_cmd.c (WHOAMI is net/conn_cmds.c's) */
void cmd_acl_setuser(ts_cmd_ctx *c);
void cmd_acl_deluser(ts_cmd_ctx *c);
void cmd_acl_load(ts_cmd_ctx *c);
void cmd_acl_getuser(ts_cmd_ctx *c);
void cmd_acl_list(ts_cmd_ctx *c);
void cmd_acl_users(ts_cmd_ctx *c);
void cmd_acl_cat(ts_cmd_ctx *c);
void cmd_acl_save(ts_cmd_ctx *c);
void cmd_acl_genpass(ts_cmd_ctx *c);
void cmd_acl_log(ts_cmd_ctx *c);
void cmd_acl_dryrun(ts_cmd_ctx *c);
void cmd_acl_help(ts_cmd_ctx *c);
void cmd_time(ts_cmd_ctx *c);
void cmd_shutdown(ts_cmd_ctx *c);
void cmd_debug(ts_cmd_ctx *c);

/* hashes.c */
void cmd_hset(ts_cmd_ctx *c);
void cmd_hsetnx(ts_cmd_ctx *c);
void cmd_hmset(ts_cmd_ctx *c);
void cmd_hget(ts_cmd_ctx *c);
void cmd_hmget(ts_cmd_ctx *c);
void cmd_hdel(ts_cmd_ctx *c);
void cmd_hlen(ts_cmd_ctx *c);
void cmd_hstrlen(ts_cmd_ctx *c);
void cmd_hexists(ts_cmd_ctx *c);
void cmd_hkeys(ts_cmd_ctx *c);
void cmd_hvals(ts_cmd_ctx *c);
void cmd_hgetall(ts_cmd_ctx *c);
void cmd_hincrby(ts_cmd_ctx *c);
void cmd_hincrbyfloat(ts_cmd_ctx *c);
void cmd_hrandfield(ts_cmd_ctx *c);
void cmd_hscan(ts_cmd_ctx *c);

/* zsets.c */
void cmd_zadd(ts_cmd_ctx *c);
void cmd_zincrby(ts_cmd_ctx *c);
void cmd_zrem(ts_cmd_ctx *c);
void cmd_zcard(ts_cmd_ctx *c);
void cmd_zscore(ts_cmd_ctx *c);
void cmd_zmscore(ts_cmd_ctx *c);
void cmd_zrank(ts_cmd_ctx *c);
void cmd_zrevrank(ts_cmd_ctx *c);
void cmd_zcount(ts_cmd_ctx *c);
void cmd_zlexcount(ts_cmd_ctx *c);
void cmd_zrange(ts_cmd_ctx *c);
void cmd_zrangestore(ts_cmd_ctx *c);
void cmd_zrevrange(ts_cmd_ctx *c);
void cmd_zrangebyscore(ts_cmd_ctx *c);
void cmd_zrevrangebyscore(ts_cmd_ctx *c);
void cmd_zrangebylex(ts_cmd_ctx *c);
void cmd_zrevrangebylex(ts_cmd_ctx *c);
void cmd_zremrangebyrank(ts_cmd_ctx *c);
void cmd_zremrangebyscore(ts_cmd_ctx *c);
void cmd_zremrangebylex(ts_cmd_ctx *c);
void cmd_zpopmin(ts_cmd_ctx *c);
void cmd_zpopmax(ts_cmd_ctx *c);
void cmd_zmpop(ts_cmd_ctx *c);
void cmd_zrandmember(ts_cmd_ctx *c);
void cmd_zunion(ts_cmd_ctx *c);
void cmd_zinter(ts_cmd_ctx *c);
void cmd_zdiff(ts_cmd_ctx *c);
void cmd_zunionstore(ts_cmd_ctx *c);
void cmd_zinterstore(ts_cmd_ctx *c);
void cmd_zdiffstore(ts_cmd_ctx *c);
void cmd_zintercard(ts_cmd_ctx *c);
void cmd_zscan(ts_cmd_ctx *c);

/* streams.c */
void cmd_xadd(ts_cmd_ctx *c);
void cmd_xlen(ts_cmd_ctx *c);
void cmd_xrange(ts_cmd_ctx *c);
void cmd_xrevrange(ts_cmd_ctx *c);
void cmd_xdel(ts_cmd_ctx *c);
void cmd_xtrim(ts_cmd_ctx *c);
void cmd_xread(ts_cmd_ctx *c);
void cmd_xgroup_create(ts_cmd_ctx *c);
void cmd_xgroup_setid(ts_cmd_ctx *c);
void cmd_xgroup_destroy(ts_cmd_ctx *c);
void cmd_xgroup_createconsumer(ts_cmd_ctx *c);
void cmd_xgroup_delconsumer(ts_cmd_ctx *c);
void cmd_xgroup_help(ts_cmd_ctx *c);
void cmd_xack(ts_cmd_ctx *c);
void cmd_xpending(ts_cmd_ctx *c);
void cmd_xclaim(ts_cmd_ctx *c);
void cmd_xautoclaim(ts_cmd_ctx *c);
void cmd_xinfo_stream(ts_cmd_ctx *c);
void cmd_xinfo_groups(ts_cmd_ctx *c);
void cmd_xinfo_consumers(ts_cmd_ctx *c);
void cmd_xinfo_help(ts_cmd_ctx *c);
void cmd_xsetid(ts_cmd_ctx *c);

/* Multi-shard operations (multi_keys.c, multi_strings.c, server.c, info.c, config_cmd.c, shutdown.c). */
extern const ts_txn_ops ts_multi_mget, ts_multi_mset, ts_multi_msetnx, ts_multi_lcs, ts_multi_del,
    ts_multi_exists, ts_multi_keys, ts_multi_randomkey, ts_multi_rename, ts_multi_copy, ts_multi_dbsize,
    ts_multi_flush, ts_multi_swapdb, ts_multi_info,
    ts_multi_config_set, ts_multi_acl_change, ts_multi_resetstat, ts_multi_debug, ts_multi_borrow, ts_multi_sort, ts_multi_snapshot,
    ts_multi_shutdown;

/* sort.c */
void cmd_sort(ts_cmd_ctx *c);
void cmd_sort_ro(ts_cmd_ctx *c);
/* Whether a SORT call may read keys it does not name (a BY or GET pattern
 * with '*'): the dispatcher then holds every shard (cmd->wide_keys). */
bool ts_sort_wide_keys(int argc, const ts_arg *argv);
const char *ts_sort_any_key_option(const struct ts_command *cmd, int argc, const ts_arg *argv);

/* persist_cmds.c */
void cmd_save(ts_cmd_ctx *c);
void cmd_bgsave(ts_cmd_ctx *c);
void cmd_bgrewriteaof(ts_cmd_ctx *c);
void cmd_lastsave(ts_cmd_ctx *c);

/* LMPOP/ZMPOP/BLMPOP/BZMPOP: numkeys at numkeys_at, the keys, then w0|w1
 * (LEFT|RIGHT or MIN|MAX), then [COUNT n], checked in Redis 7.0's order
 * with its errors (replied here; false then). table.c. */
typedef struct ts_mpop_args {
    int first_key, nkeys;
    bool second_word;   /* RIGHT / MAX */
    long count;         /* 1 without COUNT */
} ts_mpop_args;
bool ts_parse_mpop(ts_cmd_ctx *c, int numkeys_at, const char *w0, const char *w1, ts_mpop_args *o);

/* HRANDFIELD/ZRANDMEMBER key count [with] (argc >= 3), with WITHVALUES or
 * WITHSCORES: the count and whether `with` was given, checked in Redis
 * 7.0's order with its errors (replied here; false then). table.c. */
bool ts_parse_rand_count(ts_cmd_ctx *c, const char *with, long long *count, bool *with_given);

/* The options of SCAN, SSCAN, HSCAN and ZSCAN from argv[from]: [MATCH
 * pattern] [COUNT count], and SCAN's [TYPE type] when with_type, checked
 * as Redis 7.0 does with its errors (replied here; false then). table.c. */
typedef struct ts_scan_opts {
    long long count;    /* 10 without COUNT */
    ts_arg pattern;     /* ptr NULL: no MATCH (or "*"); "" matches only the empty name */
    ts_arg type;        /* ptr NULL: no TYPE */
} ts_scan_opts;
bool ts_parse_scan_opts(ts_cmd_ctx *c, int from, bool with_type, ts_scan_opts *o);
/* The reply of SSCAN, HSCAN and ZSCAN on a missing key: cursor 0, nothing. table.c. */
void ts_reply_empty_scan(ts_cmd_ctx *c);

/* blocking_cmds.c */
/* Redis's timeout argument: seconds as a float (BLPOP...) or integer
 * milliseconds (XREAD BLOCK). NULL and *ms = the timeout in ms, or the error
 * text to reply. */
const char *ts_parse_block_timeout(ts_arg a, bool seconds, int64_t *ms);
void cmd_blpop(ts_cmd_ctx *c);
void cmd_brpop(ts_cmd_ctx *c);
void cmd_blmove(ts_cmd_ctx *c);
void cmd_brpoplpush(ts_cmd_ctx *c);
void cmd_blmpop(ts_cmd_ctx *c);
void cmd_bzpopmin(ts_cmd_ctx *c);
void cmd_bzpopmax(ts_cmd_ctx *c);
void cmd_bzmpop(ts_cmd_ctx *c);
/* The first of the keys argv[from..to) that holds a value of type, for
 * writing (in a blocking command's serve mode, only the key being served
 * is tried): its position, with its entry in *e; 0 when no key does, -1
 * after replying WRONGTYPE. LMPOP, ZMPOP and the blocking pops. */
int ts_first_key_of_type(ts_cmd_ctx *c, int from, int to, int type, ts_entry **e);

#endif
