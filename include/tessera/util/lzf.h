/*
 * lzf.h - LZF compression in liblzf's format (src/util/lzf.c): the
 * compressed strings of Redis's RDB files (rdbcompression) and the
 * compressed interior nodes of long lists (list-compress-depth).
 *
 * Owns: nothing; both directions work on the caller's buffers. Any thread.
 */
#ifndef TESSERA_LZF_H
#define TESSERA_LZF_H

#include <stddef.h>

/* compress returns the compressed size, or 0 when the output would not fit
 * in out_cap bytes; decompress returns the decompressed size, or 0 when the
 * input is corrupt or the output does not fit. */
size_t ts_lzf_compress(const void *in, size_t in_len, void *out, size_t out_cap);
size_t ts_lzf_decompress(const void *in, size_t in_len, void *out, size_t out_cap);

#endif
