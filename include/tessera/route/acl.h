/*
 * acl.h - users and what they may run (Redis 7.0's ACL): the users, their
 * passwords and selectors, ACL SETUSER's rule language, the permission
 * check of a call, and the descriptions ACL LIST and ACL GETUSER print.
 *
 * Owns: the ACL snapshot type. A snapshot is the whole user set at one
 * moment; it never changes once built. A change (ACL SETUSER, DELUSER,
 * LOAD, CONFIG SET requirepass) builds a new snapshot from the current one
 * and every engine installs it (cmd/acl_cmd.c runs that as a transaction
 * over all shards), so the command path reads its engine's snapshot with
 * no lock and no atomic. Users are shared between snapshots by reference.
 * Thread: a snapshot and its users are read by any thread; only the
 * reference counts are atomic. Building runs on one thread at a time (the
 * first shard of an exclusive transaction, or main at startup).
 *
 * Identity: each user has a serial number that survives changes (SETUSER on
 * an existing user keeps it) and is new when the user is created, so a
 * connection that remembers (name, serial) knows whether its user still
 * exists (DELUSER, ACL LOAD disconnect) or merely changed (applies live,
 * as in Redis 7.0). Each snapshot has a generation number, unique for the
 * life of the process, so a cached (generation, user pointer) pair is valid
 * exactly while that generation is installed.
 *
 * The command set the rules speak of is Redis 7.0's whole table
 * (acl_commands.inc), so a rule may name a command Tessera does not
 * implement yet and the descriptions match Redis's.
 */
#ifndef TESSERA_ACL_H
#define TESSERA_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tessera/config/config.h"
#include "tessera/proto/reply.h"
#include "tessera/route/command.h"
#include "tessera/util/common.h"

/* Command categories, in Redis's order (ACL CAT, COMMAND INFO). */
enum {
    TS_ACL_CAT_KEYSPACE = 1u << 0, TS_ACL_CAT_READ = 1u << 1, TS_ACL_CAT_WRITE = 1u << 2,
    TS_ACL_CAT_SET = 1u << 3, TS_ACL_CAT_SORTEDSET = 1u << 4, TS_ACL_CAT_LIST = 1u << 5,
    TS_ACL_CAT_HASH = 1u << 6, TS_ACL_CAT_STRING = 1u << 7, TS_ACL_CAT_BITMAP = 1u << 8,
    TS_ACL_CAT_HYPERLOGLOG = 1u << 9, TS_ACL_CAT_GEO = 1u << 10, TS_ACL_CAT_STREAM = 1u << 11,
    TS_ACL_CAT_PUBSUB = 1u << 12, TS_ACL_CAT_ADMIN = 1u << 13, TS_ACL_CAT_FAST = 1u << 14,
    TS_ACL_CAT_SLOW = 1u << 15, TS_ACL_CAT_BLOCKING = 1u << 16, TS_ACL_CAT_DANGEROUS = 1u << 17,
    TS_ACL_CAT_CONNECTION = 1u << 18, TS_ACL_CAT_TRANSACTION = 1u << 19, TS_ACL_CAT_SCRIPTING = 1u << 20,
};

/* Results of a permission check (and ACL LOG reasons). */
enum ts_acl_verdict {
    TS_ACL_OK = 0,
    TS_ACL_DENIED_CMD,
    TS_ACL_DENIED_KEY,
    TS_ACL_DENIED_AUTH,      /* only for the log */
    TS_ACL_DENIED_CHANNEL,
};

typedef struct ts_acl ts_acl;
typedef struct ts_acl_user ts_acl_user;

/* The ACL id of a command by its full name ("get", "config|set"); -1 when
 * Redis 7.0 has no such command. Pure; any thread. */
int ts_acl_command_id(const char *fullname);
/* Number of categories and the name of category i (Redis's order). */
int ts_acl_category_count(void);
const char *ts_acl_category_name(int i);

/* ---- snapshots ---- */
void ts_acl_ref(ts_acl *acl);
void ts_acl_unref(ts_acl *acl);          /* the last reference frees it */
uint64_t ts_acl_generation(const ts_acl *acl);

/* How a new selector starts (acl-pubsub-default). */
enum { TS_ACL_PUBSUB_RESETCHANNELS = 0, TS_ACL_PUBSUB_ALLCHANNELS = 1 };

/* The startup snapshot: the default user (all commands, keys and channels,
 * nopass, or requirepass's password), then the configuration's `user`
 * directives in order (a `user default` line resets it first), then the
 * aclfile when one is named (acl-pubsub-default shapes new selectors). NULL
 * with err filled (Redis's wording) when a rule or the file is invalid: the
 * server must not start. */
ts_acl *ts_acl_startup(const ts_config *cfg, char *err, size_t errlen);

/* Each returns a new snapshot derived from base (base is untouched), or
 * NULL with the client's error text in err (without "ERR "). */
/* ACL SETUSER name rules...: every rule applies or none does. */
ts_acl *ts_acl_setuser(const ts_acl *base, ts_arg name, int nrules, const ts_arg *rules, int pubsub_default,
                       char *err, size_t errlen);
/* ACL DELUSER: *deleted counts the users that existed. Refuses "default". */
ts_acl *ts_acl_deluser(const ts_acl *base, int nnames, const ts_arg *names, long *deleted, char *err,
                       size_t errlen);
/* CONFIG SET requirepass: the default user's passwords become this one
 * (or nopass when it is empty). */
ts_acl *ts_acl_set_requirepass(const ts_acl *base, const char *password);
/* ACL LOAD: the users of the aclfile replace all users; the default user
 * keeps its identity. NULL with Redis's list of problems on any error. */
ts_acl *ts_acl_load_file(const ts_acl *base, const char *path, int pubsub_default, char *err, size_t errlen);
/* ACL SAVE: writes the users in aclfile format (a temp file renamed over
 * path). 0, or -1 after logging why. */
int ts_acl_save_file(const ts_acl *acl, const char *path);

/* ---- users ---- */
const ts_acl_user *ts_acl_find(const ts_acl *acl, const char *name, size_t len);
const ts_acl_user *ts_acl_default_user(const ts_acl *acl);
const char *ts_acl_user_name(const ts_acl_user *u, size_t *len);
uint64_t ts_acl_user_serial(const ts_acl_user *u);
/* May run anything (a selector with all commands, keys and channels). */
bool ts_acl_user_unrestricted(const ts_acl_user *u);
/* The default user has no password (nopass): protected mode's condition. */
bool ts_acl_default_nopass(const ts_acl *acl);
/* A new connection must authenticate (Redis's authRequired): the default
 * user needs a password or is off. */
bool ts_acl_auth_required(const ts_acl *acl);

/* Redis's ACLCheckUserCredentials: the user exists, is on, and the
 * password matches (constant time) or the user is nopass. */
const ts_acl_user *ts_acl_authenticate(const ts_acl *acl, ts_arg user, ts_arg password);

/* May u run this call? TS_ACL_OK, or the denial with *argpos set to the
 * argument index of the key or channel refused (0 for a command). */
int ts_acl_check(const ts_acl_user *u, const ts_command *cmd, int argc, const ts_arg *argv, int *argpos);
/* Redis's ACLUserCheckCmdWithUnrestrictedKeyAccess(..., CMD_KEY_ACCESS): a
 * selector that allows this call may also read every key (allkeys, or a
 * "*" pattern with read permission). What SORT's BY and GET need: the
 * keys they read are not known before the call runs. */
bool ts_acl_reads_any_key(const ts_acl_user *u, const ts_command *cmd, int argc, const ts_arg *argv);

/* ---- replies ---- */
void ts_acl_reply_getuser(const ts_acl *acl, ts_arg name, ts_reply *r);
void ts_acl_reply_list(const ts_acl *acl, ts_reply *r, bool names_only);
/* ACL CAT [category]; false (nothing written) for an unknown category. */
bool ts_acl_reply_cat(const ts_arg *category, ts_reply *r);
/* "user <name> <rules>" of every user, one per line (ACL SAVE's text).
 * Returned malloc'd. */
char *ts_acl_describe_all(const ts_acl *acl, size_t *len);

/* ---- the ACL log (ACL LOG), shared by all workers ---- */
typedef struct ts_acl_log ts_acl_log;
enum { TS_ACL_CTX_TOPLEVEL, TS_ACL_CTX_MULTI, TS_ACL_CTX_LUA };
ts_acl_log *ts_acl_log_new(void);
void ts_acl_log_free(ts_acl_log *log);
/* Any thread. Groups with a similar entry of the last minute (among the
 * newest 10), else adds one and trims to max_len. */
void ts_acl_log_add(ts_acl_log *log, int reason, int context, ts_arg object, ts_arg username,
                    const char *client_info, long max_len);
void ts_acl_log_reply(ts_acl_log *log, long count, ts_reply *r);
void ts_acl_log_reset(ts_acl_log *log);

#endif
