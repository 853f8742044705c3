/*
 * persist_cmds.h - the saves and rewrites the server starts without a
 * client: `save` rules and automatic or scheduled AOF rewrites (worker 0's
 * cron), the rewrite that switches the AOF on (CONFIG SET appendonly yes),
 * They run as the same multi-shard txns as SAVE,
 * BGSAVE and BGREWRITEAOF (persist_cmds.c); the persistence controller
 * (persist/persist.h) decides whether one may start. (The shutdown save is
 * SHUTDOWN's own: cmd/shutdown.h.)
 *
 * Thread: the engine's owner (worker 0 for the cron checks).
 */
#ifndef TESSERA_PERSIST_CMDS_H
#define TESSERA_PERSIST_CMDS_H

struct ts_engine;

/* Starts a background save of every shard without a client (a `save`
 * rule, a scheduled BGSAVE); nothing happens when one is in progress. */
void ts_bgsave_start(struct ts_engine *e);
/* Starts a BGREWRITEAOF without a client (CONFIG SET appendonly yes). */
void ts_aof_rewrite_start(struct ts_engine *e);
/* Worker 0's cron: starts a BGSAVE when a `save` rule says so. */
void ts_save_rules_check(struct ts_engine *e);
/* Worker 0's cron: a scheduled or automatic BGREWRITEAOF. */
void ts_aof_rewrite_check(struct ts_engine *e);

#endif
