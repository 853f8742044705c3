/*
 * fdlimit.c - RLIMIT_NOFILE against maxclients (see fdlimit.h).
 *
 * Thread: the caller's (main at startup, one worker for CONFIG SET); the
 * limit is process-wide, which is why only one of them runs at a time.
 *
 * Why a bisection: whether setrlimit accepts a soft limit is monotonic in
 * the value (anything up to the hard limit always; above it, with
 * CAP_SYS_RESOURCE, anything up to fs.nr_open), so the highest accepted
 * limit is found in about 30 calls even for maxclients near INT_MAX, where
 * Redis's loop stepping down 16 at a time would take millions.
 */
#include "tessera/util/fdlimit.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "tessera/util/log.h"

/* Redis assumes 1024 when getrlimit fails (adjustOpenFilesLimit). */
#define TS_FDLIMIT_ASSUMED 1024

/* Sets the soft limit to `cur`; the hard limit is raised along when cur is
 * above it (which only a privileged process may), never lowered. */
static int try_limit(rlim_t cur, rlim_t hard)
{
    struct rlimit l = {.rlim_cur = cur, .rlim_max = cur > hard ? cur : hard};
    return setrlimit(RLIMIT_NOFILE, &l) == 0 ? 0 : -errno;
}

/* The highest soft limit in [old, want] the OS accepts, set; *err is the
 * errno of the refusal of `want` (0 when want itself was accepted). */
static rlim_t raise_limit(rlim_t old, rlim_t hard, rlim_t want, int *err)
{
    *err = -try_limit(want, hard);
    if (*err == 0) return want;
    rlim_t lo = old, hi = want;   /* lo is accepted, hi is not */
    if (hard != RLIM_INFINITY && hard > lo && hard < hi) lo = hard;
    while (hi - lo > 1) {
        rlim_t mid = lo + (hi - lo) / 2;
        if (try_limit(mid, hard) == 0) lo = mid;
        else hi = mid;
    }
    if (try_limit(lo, hard) != 0) return old;   /* cannot happen: lo was accepted */
    return lo;
}

int ts_fdlimit_fit(int maxclients, int reserved, bool startup)
{
    rlim_t want = (rlim_t)maxclients + (rlim_t)reserved;
    struct rlimit l;
    if (getrlimit(RLIMIT_NOFILE, &l) == -1) {
        ts_log(TS_LOG_WARNING, "Unable to obtain the current NOFILE limit (%s), assuming %d and setting the max "
                               "clients configuration accordingly.", strerror(errno), TS_FDLIMIT_ASSUMED);
        int fit = TS_FDLIMIT_ASSUMED - reserved;
        return fit > 0 ? (fit < maxclients ? fit : maxclients) : 0;
    }
    rlim_t old = l.rlim_cur;
    if (old >= want) return maxclients;
    int err;
    rlim_t best = raise_limit(old, l.rlim_max, want, &err);
    if (best == want) {
        ts_log(TS_LOG_NOTICE, "Increased maximum number of open files to %llu (it was originally set to %llu).",
               (unsigned long long)want, (unsigned long long)old);
        return maxclients;
    }
    if (best <= (rlim_t)reserved) {
        if (startup)
            ts_log(TS_LOG_WARNING, "Your current 'ulimit -n' of %llu is not enough for the server to start. Please "
                                   "increase your open file limit to at least %llu. Exiting.",
                   (unsigned long long)old, (unsigned long long)want);
        return 0;
    }
    int fit = (int)(best - (rlim_t)reserved);
    ts_log(TS_LOG_WARNING, "You requested maxclients of %d requiring at least %llu max file descriptors.",
           maxclients, (unsigned long long)want);
    ts_log(TS_LOG_WARNING, "Server can't set maximum open files to %llu because of OS error: %s.",
           (unsigned long long)want, strerror(err));
    ts_log(TS_LOG_WARNING, "Current maximum open files is %llu. maxclients has been reduced to %d to compensate "
                           "for low ulimit. If you need higher maxclients increase 'ulimit -n'.",
           (unsigned long long)best, fit);
    return fit;
}
