/*
 * acl_internal.h - the ACL's data structures, shared by the files of the
 * ACL (acl_rules.c: the rule language; acl_snapshot.c: snapshots and
 * checks; acl_describe.c: ACL LIST / GETUSER
 * / CAT; acl_file.c: the aclfile and `user` directives; acl_log.c: ACL LOG).
 * Nothing outside src/route/acl*.c includes it.
 *
 * Thread: as acl.h: snapshots and users are immutable once published; the
 * functions that modify a user or selector here only ever touch a private
 * copy that no snapshot holds yet.
 */
#ifndef TESSERA_ACL_INTERNAL_H
#define TESSERA_ACL_INTERNAL_H

#include <stdatomic.h>

#include "tessera/route/acl.h"

/* The command bitmap of a selector: one bit per command of the universe.
 * The last bit is never a command: +@all / allcommands set it, so the
 * descriptions know the rules started from "everything" (Redis's
 * "future commands" bit). */
#define ACL_BITS 1024
#define ACL_WORDS (ACL_BITS / 64)
#define ACL_FUTURE_BIT (ACL_BITS - 1)

/* A row of the universe (acl_commands.inc). */
typedef struct ts_acl_command_def {
    const char *name;       /* full name, lower case: "get", "config|set" */
    int parent;             /* index of the container command, or -1 */
    uint32_t cats;          /* TS_ACL_CAT_* */
} ts_acl_command_def;

extern const ts_acl_command_def *const ts_acl_universe;
extern const int ts_acl_universe_size;

/* Index of the command named by an ACL rule ("get", "config|get"; any case;
 * at most one '|'), Redis's lookupCommandBySdsLogic; -1 when unknown. */
int acl_lookup_command(const char *name, size_t len);
/* One past the last subcommand of command i (subcommands follow their parent). */
int acl_children_end(int i);

enum {
    SEL_ROOT = 1u << 0,
    SEL_ALLKEYS = 1u << 1,
    SEL_ALLCOMMANDS = 1u << 2,
    SEL_ALLCHANNELS = 1u << 3,
};

enum {
    USER_ENABLED = 1u << 0,
    USER_DISABLED = 1u << 1,
    USER_NOPASS = 1u << 2,
    USER_SANITIZE_SKIP = 1u << 3,
    USER_SANITIZE = 1u << 4,
};

/* Key pattern permissions (%R~, %W~, ~). */
enum { KEY_READ = 1, KEY_WRITE = 2, KEY_ALL = 3 };

typedef struct acl_pattern {
    uint8_t perm;           /* KEY_*; unused for channels */
    size_t len;
    char *text;             /* NUL-terminated; never contains blanks or NUL */
} acl_pattern;

/* "+cmd|arg": an otherwise denied command allowed with this first argument. */
typedef struct acl_firstargs {
    int id;
    int n;
    char **args;
} acl_firstargs;

typedef struct acl_selector {
    uint32_t flags;         /* SEL_* */
    uint64_t allowed[ACL_WORDS];
    acl_firstargs *firstargs;
    int nfirstargs;
    acl_pattern *patterns;  /* in the order added */
    int npatterns;
    acl_pattern *channels;
    int nchannels;
} acl_selector;

struct ts_acl_user {
    atomic_int refs;
    uint64_t serial;
    char *name;
    size_t namelen;
    uint32_t flags;         /* USER_* */
    char (*passwords)[65];  /* SHA-256 hex digests, in the order added */
    int npasswords;
    acl_selector *selectors;    /* [0] is the root selector */
    int nselectors;
    bool unrestricted;      /* set when published: some selector allows everything */
};

struct ts_acl {
    atomic_int refs;
    uint64_t gen;
    ts_acl_user **users;    /* sorted by name, bytewise (Redis's rax order) */
    int nusers;
};

/* Errors of a rule (Redis's errno values in ACLSetUser). */
enum {
    ACL_ERR_NONE = 0,
    ACL_ERR_SYNTAX,         /* EINVAL */
    ACL_ERR_UNKNOWN,        /* ENOENT */
    ACL_ERR_KEYS_AFTER_ALL, /* EEXIST */
    ACL_ERR_CHANNELS_AFTER_ALL, /* EISDIR */
    ACL_ERR_NO_SUCH_PASS,   /* ENODEV */
    ACL_ERR_BAD_HASH,       /* EBADMSG */
    ACL_ERR_DUPLICATE_USER, /* EALREADY */
    ACL_ERR_SUBCOMMAND_ARG, /* ECHILD */
};
const char *acl_error_text(int code);

/* Users and selectors (acl_rules.c). */
ts_acl_user *acl_user_new(const char *name, size_t len, int pubsub_default);
ts_acl_user *acl_user_clone(const ts_acl_user *u);
void acl_user_unref(ts_acl_user *u);
/* One rule on a private user; ACL_ERR_*. */
int acl_user_apply(ts_acl_user *u, const char *op, size_t oplen, int pubsub_default);
/* Applies each rule of a SETUSER-style list (selectors spread over several
 * arguments merged first). 0, or -1 with Redis's message in err. */
int acl_user_apply_rules(ts_acl_user *u, int n, const ts_arg *rules, int pubsub_default, char *err, size_t errlen);
/* Merges "(a" "b)" into "(a b)" as Redis does; NULL with *bad set to the
 * index of the unmatched opening argument. Each result is a malloc'd,
 * NUL-terminated copy: free the array with acl_args_free. */
ts_arg *acl_merge_selectors(int n, const ts_arg *rules, int *nout, int *bad);
void acl_args_free(ts_arg *v, int n);
void acl_strv_free(char **v, int n);
bool acl_has_blanks(const char *s, size_t len);
void acl_sel_init(acl_selector *s, uint32_t flags, int pubsub_default);
void acl_sel_free(acl_selector *s);
int acl_sel_apply(acl_selector *s, const char *op, size_t oplen);
bool acl_sel_bit(const acl_selector *s, int id);
/* The allowed first arguments of command id, or NULL. */
acl_firstargs *acl_firstargs_of(const acl_selector *s, int id);
void acl_sel_change_perm(acl_selector *s, int id, bool allow);

/* Snapshots (acl_snapshot.c): a new snapshot over users (takes the array and its
 * references), with a fresh generation. */
ts_acl *acl_snapshot_new(ts_acl_user **users, int nusers);
/* A new user array holding a reference to each user of base. */
ts_acl_user **acl_users_copy(const ts_acl *base, int extra);
/* Index of name in a sorted user array, or -(insertion point) - 1. */
int acl_users_find(ts_acl_user *const *users, int n, const char *name, size_t len);
/* Publishes a private user into a sorted user array with room for one
 * more, replacing a user of the same name (its reference is dropped).
 * Returns the new count. */
int acl_users_put(ts_acl_user **v, int n, ts_acl_user *u);
ts_acl_user *acl_default_new(const char *requirepass, int pubsub_default);
void acl_set_password(ts_acl_user *u, const char *password);

/* Descriptions (acl_describe.c). */
void acl_describe_user(const ts_acl_user *u, ts_buf *out);

#endif
