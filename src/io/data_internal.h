/*
 * data_internal.h - private: what the data readers of src/io share. Byte
 * sources (a file or memory, plain or gzip'd) and the format of errors
 * about their content (source.c), and class labels made one-hot
 * (dataset.c). The CSV reader is csv.c, the IDX reader idx.c.
 */
#ifndef CR_DATA_INTERNAL_H
#define CR_DATA_INTERNAL_H

#include "core/internal.h"

#include <zlib.h>

/* Largest class count a label column may imply (one-hot rows are K wide). */
#define CR_DATA_MAX_CLASSES 65536
/* The readers' unit of reading, in bytes. */
#define CR_DATA_CHUNK ((size_t)1 << 16)

/* ---- errors about a file's content ---- */

/* Sets err (may be NULL) and returns st: "NAME:ROW:COL: text",
 * "NAME:ROW: text" (col 0) or "NAME: text" (row 0); where = NAME,
 * line/column = row/col. */
cr_status cr_data_fail(cr_error *err, cr_status st, const char *name, size_t row,
                       size_t col, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- byte sources ---- */

/* Size of a file source's read buffer, in bytes. */
#define CR_SOURCE_BUFFER ((size_t)1 << 17)

/* A source of bytes: a file (read with read(2) into a buffer from
 * cr_malloc) or memory, inflated with zlib when it starts with the gzip
 * magic (zlib allocating through cr_malloc too), so every allocation of a
 * reader goes through the library's allocator hook. */
typedef struct cr_source {
    const char *name;
    int fd;                  /* the file, or -1 for memory */
    unsigned char *buf;      /* the file's read buffer (CR_SOURCE_BUFFER) */
    const unsigned char *in; /* raw bytes not yet used: in the buffer or memory */
    size_t in_len;
    int in_eof;       /* no raw bytes beyond in[0..in_len) */
    z_stream zs;      /* inflating gzip'd data */
    int inflating;    /* zs is initialised */
    int done;         /* the last gzip member ended */
    size_t raw_size;  /* raw bytes in all (memory, or a regular file) */
    int raw_known;    /* raw_size is known (not a pipe or a device) */
    size_t raw_fed;   /* raw bytes brought in so far */
    size_t max_input; /* the most bytes read gives out (SIZE_MAX: no limit) */
    size_t out_total; /* bytes read gave out so far */
} cr_source;

/* Deflate expands at most 1032 times (a 258-byte match per 2 bits). */
#define CR_DEFLATE_MAX_RATIO 1032

/* Opens the file at path (borrowed, and used as the name in messages),
 * gzip'd when it starts with the gzip magic; reading it gives out at most
 * max_input bytes (0: CR_DATA_MAX_INPUT). CR_ENOTFOUND / CR_EIO "PATH: No
 * such file or directory", CR_ENOMEM. On failure nothing is left to
 * close. */
cr_status cr_source_open_file(cr_source *r, const char *path, size_t max_input,
                              cr_error *err);

/* Opens size bytes at data (borrowed: they must outlive the source), gzip'd
 * when they start with the gzip magic; name (NULL: "<memory>") is used in
 * messages; max_input as for cr_source_open_file. CR_ENOMEM. */
cr_status cr_source_open_mem(cr_source *r, const void *data, size_t size, const char *name,
                             size_t max_input, cr_error *err);

/* The raw (maybe gzip'd) bytes of the source not used yet; SIZE_MAX when
 * the raw size is not known (a pipe, a device). */
size_t cr_source_raw_left(const cr_source *r);

/* The most bytes the rest of the source can give out: its raw bytes left,
 * or 1032 times that (and a little) when gzip'd; SIZE_MAX when the raw
 * size is not known. */
size_t cr_source_bound(const cr_source *r);

/* Releases what the source holds; it may be closed twice. */
void cr_source_close(cr_source *r);

/* Reads up to n bytes into buf: the count read (0 at the end), or -1 with
 * err set (CR_EIO, CR_EFORMAT "truncated gzip data (unexpected end of
 * file)" or "corrupt gzip data (...)", CR_ERANGE "NAME: more than N bytes
 * of input (the max_input limit)" once the data goes past max_input,
 * CR_ENOMEM). A short count is only returned at the end of the data. */
long long cr_source_read(cr_source *r, void *buf, size_t n, cr_error *err);

/* Reads exactly n bytes unless the data ends: the count read, or -1. */
long long cr_source_fill(cr_source *r, void *buf, size_t n, cr_error *err);

/* ---- class labels ---- */

/* Labels [rows, 1] into a new one-hot [rows, K] tensor (K = *num_classes,
 * or max + 1 when it is 0, stored back); labels must have been checked
 * with cr_label_ok. NULL with err set (CR_ENOMEM). */
cr_tensor *cr_labels_one_hot(const double *labels, size_t rows, size_t *num_classes,
                             cr_error *err);

/* A label must be an integer in 0..K-1 (K given, or the limit). */
int cr_label_ok(double v, size_t k);

/* ---- sequences (sequence.c, text.c) ---- */

/* Cuts the series v[0..n) into windows, a new data set: row i holds
 * v[i*stride .. i*stride+window) as features; its targets are the window
 * shifted by one (every_step, [rows, window]) or the value after it
 * ([rows, 1]). num_classes is recorded. CR_EFORMAT when n < window + 1:
 * "NAME: N UNIT: a window of W and NEXT need W+1"; CR_ENOMEM. */
cr_dataset *cr_series_windows(const double *v, size_t n, size_t window, size_t stride,
                              int every_step, size_t num_classes, const char *name,
                              const char *unit, const char *next, cr_error *err);

/* The name a text was read under (borrowed); NULL for a NULL t. */
const char *cr_text_name(const cr_text *t);

#endif
