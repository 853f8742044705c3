/*
 * log.h - the server log, in Redis's line format
 * ("pid:role dd Mon yyyy hh:mm:ss.mmm <level-char> message").
 *
 * Owns: the log destination (stdout or `logfile`) and the level filter.
 * Thread: any thread may log; lines are written whole under a mutex (logging
 * is never on a hot path). ts_log_open runs once at startup.
 */
#ifndef TESSERA_LOG_H
#define TESSERA_LOG_H

enum { TS_LOG_DEBUG = 0, TS_LOG_VERBOSE = 1, TS_LOG_NOTICE = 2, TS_LOG_WARNING = 3 };

int ts_log_open(const char *path, int level);   /* "" = stdout; 0 or -errno */
void ts_log_set_level(int level);
void ts_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
