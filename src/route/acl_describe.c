/*
 * acl_describe.c - what the ACL shows: a user as rules (ACL LIST, ACL SAVE),
 * ACL GETUSER's map, ACL CAT.
 *
 * A selector's command bitmap is described as Redis 7.0 does it, so the
 * text is the same rule list Redis prints: start from +@all (when the
 * "future commands" bit is set) or -@all, then repeatedly apply the
 * category that covers the most remaining differences with the fewest
 * exceptions, then fix what is left command by command. Redis walks its
 * command dictionary, whose order is random per process; we walk the
 * universe in name order, so the single-command tail may list the same
 * rules in another order than a given Redis process does.
 *
 * Thread: reads immutable snapshots; any thread.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "acl_internal.h"
#include "tessera/util/sha256.h"

static const struct { const char *name; uint32_t flag; } user_flags[] = {
    {"on", USER_ENABLED}, {"off", USER_DISABLED}, {"nopass", USER_NOPASS},
    {"skip-sanitize-payload", USER_SANITIZE_SKIP}, {"sanitize-payload", USER_SANITIZE},
};

static void put(ts_buf *b, const char *s) { ts_buf_append(b, s, strlen(s)); }

/* Commands (and subcommands) of category cat allowed / denied in s. */
static void count_category(const acl_selector *s, uint32_t cat, unsigned long *on, unsigned long *off)
{
    *on = *off = 0;
    for (int i = 0; i < ts_acl_universe_size; i++) {
        if (!(ts_acl_universe[i].cats & cat)) continue;
        if (acl_sel_bit(s, i)) (*on)++;
        else (*off)++;
    }
}

static void apply_rule(acl_selector *s, char sign, const char *cat)
{
    char op[32];
    size_t n = strlen(cat);
    op[0] = sign;
    op[1] = '@';
    memcpy(op + 2, cat, n + 1);
    acl_sel_apply(s, op, n + 2);
}

/* Redis's ACLDescribeSelectorCommandRules. */
static void describe_commands(const acl_selector *sel, ts_buf *out)
{
    acl_selector fake, temp;
    acl_sel_init(&fake, 0, TS_ACL_PUBSUB_RESETCHANNELS);
    acl_sel_init(&temp, 0, TS_ACL_PUBSUB_RESETCHANNELS);
    size_t start = out->len;
    bool additive = !acl_sel_bit(sel, ACL_FUTURE_BIT);
    put(out, additive ? "-@all " : "+@all ");
    acl_sel_apply(&fake, additive ? "-@all" : "+@all", 5);
    memcpy(temp.allowed, sel->allowed, sizeof(temp.allowed));

    int ncat = ts_acl_category_count();
    bool applied[32] = {false};
    for (;;) {
        int best = -1;
        unsigned long mindiff = INT_MAX, maxsame = 0;
        for (int j = 0; j < ncat; j++) {
            if (applied[j]) continue;
            unsigned long on, off;
            count_category(&temp, 1u << j, &on, &off);
            unsigned long diff = additive ? off : on, same = additive ? on : off;
            if (same > diff && (diff < mindiff || (diff == mindiff && same > maxsame))) {
                best = j;
                mindiff = diff;
                maxsame = same;
            }
        }
        if (best < 0) break;
        const char *cat = ts_acl_category_name(best);
        apply_rule(&fake, additive ? '+' : '-', cat);
        apply_rule(&temp, additive ? '-' : '+', cat);
        put(out, additive ? "+@" : "-@");
        put(out, cat);
        ts_buf_putc(out, ' ');
        applied[best] = true;
    }

    /* Single commands: a container's change covers its subcommands, which
     * are visited right after it. */
    for (int i = 0; i < ts_acl_universe_size; i++) {
        bool userbit = acl_sel_bit(sel, i), fakebit = acl_sel_bit(&fake, i);
        if (userbit != fakebit) {
            ts_buf_putc(out, userbit ? '+' : '-');
            put(out, ts_acl_universe[i].name);
            ts_buf_putc(out, ' ');
            acl_sel_change_perm(&fake, i, userbit);
        }
        /* First arguments of command p come after its subcommands. */
        int p = ts_acl_universe[i].parent < 0 ? i : ts_acl_universe[i].parent;
        if (acl_children_end(p) - 1 != i) continue;
        if (acl_sel_bit(sel, p)) continue;
        for (int f = 0; f < sel->nfirstargs; f++) {
            if (sel->firstargs[f].id != p) continue;
            for (int a = 0; a < sel->firstargs[f].n; a++) {
                ts_buf_putc(out, '+');
                put(out, ts_acl_universe[p].name);
                ts_buf_putc(out, '|');
                put(out, sel->firstargs[f].args[a]);
                ts_buf_putc(out, ' ');
            }
        }
    }
    if (out->len > start) out->len--;   /* the trailing blank */
    if (memcmp(fake.allowed, sel->allowed, sizeof(fake.allowed)) != 0)
        ts_panic("ACL: the described rules do not rebuild the user's command bitmap");
    acl_sel_free(&fake);
    acl_sel_free(&temp);
}

static void put_pattern(ts_buf *out, const acl_pattern *p)
{
    put(out, p->perm == KEY_ALL ? "~" : p->perm == KEY_READ ? "%R~" : "%W~");
    ts_buf_append(out, p->text, p->len);
}

/* Redis's ACLDescribeSelector. */
static void describe_selector(const acl_selector *s, ts_buf *out)
{
    if (s->flags & SEL_ALLKEYS) {
        put(out, "~* ");
    } else {
        for (int i = 0; i < s->npatterns; i++) {
            put_pattern(out, &s->patterns[i]);
            ts_buf_putc(out, ' ');
        }
    }
    if (s->flags & SEL_ALLCHANNELS) {
        put(out, "&* ");
    } else {
        put(out, "resetchannels ");
        for (int i = 0; i < s->nchannels; i++) {
            ts_buf_putc(out, '&');
            ts_buf_append(out, s->channels[i].text, s->channels[i].len);
            ts_buf_putc(out, ' ');
        }
    }
    describe_commands(s, out);
}

void acl_describe_user(const ts_acl_user *u, ts_buf *out)
{
    for (size_t j = 0; j < TS_ARRAY_LEN(user_flags); j++) {
        if (!(u->flags & user_flags[j].flag)) continue;
        put(out, user_flags[j].name);
        ts_buf_putc(out, ' ');
    }
    for (int i = 0; i < u->npasswords; i++) {
        ts_buf_putc(out, '#');
        ts_buf_append(out, u->passwords[i], TS_SHA256_HEX_LEN);
        ts_buf_putc(out, ' ');
    }
    for (int i = 0; i < u->nselectors; i++) {
        if (i > 0) put(out, " (");
        describe_selector(&u->selectors[i], out);
        if (i > 0) ts_buf_putc(out, ')');
    }
}

static void describe_line(const ts_acl_user *u, ts_buf *out)
{
    put(out, "user ");
    ts_buf_append(out, u->name, u->namelen);
    ts_buf_putc(out, ' ');
    acl_describe_user(u, out);
}

void ts_acl_reply_list(const ts_acl *acl, ts_reply *r, bool names_only)
{
    ts_reply_array(r, acl->nusers);
    ts_buf line;
    ts_buf_init(&line);
    for (int i = 0; i < acl->nusers; i++) {
        const ts_acl_user *u = acl->users[i];
        if (names_only) {
            ts_reply_bulk(r, u->name, u->namelen);
            continue;
        }
        line.len = 0;
        describe_line(u, &line);
        ts_reply_bulk(r, line.data, line.len);
    }
    ts_buf_free(&line);
}

char *ts_acl_describe_all(const ts_acl *acl, size_t *len)
{
    ts_buf out;
    ts_buf_init(&out);
    for (int i = 0; i < acl->nusers; i++) {
        describe_line(acl->users[i], &out);
        ts_buf_putc(&out, '\n');
    }
    ts_buf_putc(&out, '\0');
    *len = out.len - 1;
    return out.data;   /* the buffer's bytes, handed over */
}

/* Redis's aclAddReplySelectorDescription: commands, keys, channels. */
static void reply_selector(const acl_selector *s, ts_reply *r)
{
    ts_buf b;
    ts_buf_init(&b);
    ts_reply_cstr(r, "commands");
    describe_commands(s, &b);
    ts_reply_bulk(r, b.data, b.len);
    ts_reply_cstr(r, "keys");
    b.len = 0;
    if (s->flags & SEL_ALLKEYS) {
        put(&b, "~*");
    } else {
        for (int i = 0; i < s->npatterns; i++) {
            if (i) ts_buf_putc(&b, ' ');
            put_pattern(&b, &s->patterns[i]);
        }
    }
    ts_reply_bulk(r, b.data, b.len);
    ts_reply_cstr(r, "channels");
    b.len = 0;
    if (s->flags & SEL_ALLCHANNELS) {
        put(&b, "&*");
    } else {
        for (int i = 0; i < s->nchannels; i++) {
            if (i) ts_buf_putc(&b, ' ');
            ts_buf_putc(&b, '&');
            ts_buf_append(&b, s->channels[i].text, s->channels[i].len);
        }
    }
    ts_reply_bulk(r, b.data, b.len);
    ts_buf_free(&b);
}

void ts_acl_reply_getuser(const ts_acl *acl, ts_arg name, ts_reply *r)
{
    const ts_acl_user *u = ts_acl_find(acl, name.ptr, name.len);
    if (!u) {
        ts_reply_null(r);
        return;
    }
    ts_reply_map(r, 6);
    ts_reply_cstr(r, "flags");
    int nflags = 0;
    for (size_t j = 0; j < TS_ARRAY_LEN(user_flags); j++) nflags += (u->flags & user_flags[j].flag) != 0;
    ts_reply_set(r, nflags);
    for (size_t j = 0; j < TS_ARRAY_LEN(user_flags); j++)
        if (u->flags & user_flags[j].flag) ts_reply_cstr(r, user_flags[j].name);
    ts_reply_cstr(r, "passwords");
    ts_reply_array(r, u->npasswords);
    for (int i = 0; i < u->npasswords; i++) ts_reply_bulk(r, u->passwords[i], TS_SHA256_HEX_LEN);
    reply_selector(&u->selectors[0], r);
    ts_reply_cstr(r, "selectors");
    ts_reply_array(r, u->nselectors - 1);
    for (int i = 1; i < u->nselectors; i++) {
        ts_reply_map(r, 3);
        reply_selector(&u->selectors[i], r);
    }
}

bool ts_acl_reply_cat(const ts_arg *category, ts_reply *r)
{
    int ncat = ts_acl_category_count();
    if (!category) {
        ts_reply_array(r, ncat);
        for (int j = 0; j < ncat; j++) ts_reply_cstr(r, ts_acl_category_name(j));
        return true;
    }
    uint32_t cat = 0;
    for (int j = 0; j < ncat; j++) {
        const char *name = ts_acl_category_name(j);
        if (strlen(name) == category->len && strncasecmp(name, category->ptr, category->len) == 0) cat = 1u << j;
    }
    if (!cat) return false;
    int n = 0;
    for (int i = 0; i < ts_acl_universe_size; i++) n += (ts_acl_universe[i].cats & cat) != 0;
    ts_reply_array(r, n);
    for (int i = 0; i < ts_acl_universe_size; i++)
        if (ts_acl_universe[i].cats & cat) ts_reply_cstr(r, ts_acl_universe[i].name);
    return true;
}
