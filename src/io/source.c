/*
 * source.c - the byte sources the data readers read from: a file (read(2)
 * into a buffer of our own) or bytes in memory, either inflated with
 * zlib's inflate when it starts with the gzip magic; and the one format of
 * errors about a source's content (cr_data_fail). Nothing here allocates
 * outside the library's allocator hook: zlib's gzopen/gzread (which call
 * malloc directly) are not used, so out-of-memory tests reach every
 * allocation of a file load.
 */
#include "io/data_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- errors about a file's content ---- */

cr_status cr_data_fail(cr_error *err, cr_status st, const char *name, size_t row,
                       size_t col, const char *fmt, ...)
{
    if (!err)
        return st;
    char text[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (row && col)
        cr_error_set(err, st, name, "%s:%zu:%zu: %s", name, row, col, text);
    else if (row)
        cr_error_set(err, st, name, "%s:%zu: %s", name, row, text);
    else
        cr_error_set(err, st, name, "%s: %s", name, text);
    err->line = row > INT_MAX ? INT_MAX : (int)row;
    err->column = col > INT_MAX ? INT_MAX : (int)col;
    return st;
}

/* ---- byte sources: a file or memory, plain or gzip'd ---- */

/* zlib allocates through the library's allocator (cr_set_allocator). */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    CR_UNUSED(opaque);
    return cr_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    CR_UNUSED(opaque);
    cr_free(p);
}

/* One read(2) of the file into dst: the count (0 at the end, which sets
 * in_eof), or -1 with err set. */
static long long source_read_fd(cr_source *r, unsigned char *dst, size_t n, cr_error *err)
{
    ssize_t k;
    do
        k = read(r->fd, dst, n);
    while (k < 0 && errno == EINTR);
    if (k < 0) {
        cr_data_fail(err, CR_EIO, r->name, 0, 0, "%s", strerror(errno));
        return -1;
    }
    if (k == 0)
        r->in_eof = 1;
    r->raw_fed += (size_t)k;
    return k;
}

/* Makes at least want (1 or 2) raw bytes visible in r->in unless the raw
 * data ends first: 1 if there are some, 0 at the end, -1 with err set. */
static int source_input(cr_source *r, size_t want, cr_error *err)
{
    while (r->in_len < want && !r->in_eof) {
        if (r->in_len && r->in != r->buf)
            memmove(r->buf, r->in, r->in_len);
        r->in = r->buf;
        long long k =
            source_read_fd(r, r->buf + r->in_len, CR_SOURCE_BUFFER - r->in_len, err);
        if (k < 0)
            return -1;
        r->in_len += (size_t)k;
    }
    return r->in_len > 0;
}

static int gzip_magic(const cr_source *r)
{
    return r->in_len >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
}

/* Starts inflating if the data begins with the gzip magic. */
static cr_status source_start(cr_source *r, cr_error *err)
{
    if (source_input(r, 2, err) < 0)
        return err ? err->status : CR_EIO;
    if (!gzip_magic(r))
        return CR_OK;
    r->zs.zalloc = z_alloc;
    r->zs.zfree = z_free;
    if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
        return cr_data_fail(err, CR_ENOMEM, r->name, 0, 0, "out of memory starting zlib");
    r->inflating = 1;
    return CR_OK;
}

cr_status cr_source_open_file(cr_source *r, const char *path, size_t max_input,
                              cr_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = path;
    r->max_input = max_input ? max_input : CR_DATA_MAX_INPUT;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        return cr_data_fail(err, e == ENOENT ? CR_ENOTFOUND : CR_EIO, path, 0, 0, "%s",
                            strerror(e));
    }
    struct stat sb;
    if (fstat(r->fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size >= 0) {
        r->raw_size = (size_t)sb.st_size;
        r->raw_known = 1;
    }
    r->buf = cr_malloc(CR_SOURCE_BUFFER);
    if (!r->buf) {
        cr_source_close(r);
        return cr_data_fail(err, CR_ENOMEM, path, 0, 0, "out of memory");
    }
    r->in = r->buf;
    cr_status st = source_start(r, err);
    if (st != CR_OK)
        cr_source_close(r);
    return st;
}

cr_status cr_source_open_mem(cr_source *r, const void *data, size_t size, const char *name,
                             size_t max_input, cr_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = name ? name : "<memory>";
    r->max_input = max_input ? max_input : CR_DATA_MAX_INPUT;
    r->fd = -1;
    r->in = data ? data : (const unsigned char *)"";
    r->in_len = data ? size : 0;
    r->in_eof = 1;
    r->raw_size = r->raw_fed = r->in_len;
    r->raw_known = 1;
    return source_start(r, err);
}

size_t cr_source_raw_left(const cr_source *r)
{
    if (!r->raw_known)
        return SIZE_MAX;
    const size_t used = r->raw_fed - r->in_len;
    return r->raw_size > used ? r->raw_size - used : 0;
}

size_t cr_source_bound(const cr_source *r)
{
    const size_t left = cr_source_raw_left(r);
    if (!r->inflating || left == SIZE_MAX)
        return left;
    if (r->done)
        return 0;
    /* and a little for what zlib holds: bits of a byte, a match under way */
    const size_t slack = 1024;
    if (left > (SIZE_MAX - slack) / CR_DEFLATE_MAX_RATIO)
        return SIZE_MAX;
    return left * CR_DEFLATE_MAX_RATIO + slack;
}

void cr_source_close(cr_source *r)
{
    if (r->fd >= 0)
        close(r->fd);
    if (r->inflating)
        inflateEnd(&r->zs);
    cr_free(r->buf);
    r->fd = -1;
    r->buf = NULL;
    r->inflating = 0;
}

/* Inflates into out[0..n) from the raw input: the count made (short only
 * at the end of the data), or -1 with err set. After a gzip member ends,
 * another one may follow (concatenated .gz files, as gzip and gzread read
 * them); anything else after it is ignored, as gzread ignores it. */
static long long source_inflate(cr_source *r, unsigned char *out, size_t n, cr_error *err)
{
    size_t made = 0;
    while (made < n && !r->done) {
        int more = source_input(r, 1, err);
        if (more < 0)
            return -1;
        if (!more) {
            cr_data_fail(err, CR_EFORMAT, r->name, 0, 0,
                         "truncated gzip data (unexpected end of file)");
            return -1;
        }
        uInt in = r->in_len < UINT_MAX ? (uInt)r->in_len : UINT_MAX;
        uInt room = n - made < UINT_MAX ? (uInt)(n - made) : UINT_MAX;
        r->zs.next_in = (Bytef *)r->in;
        r->zs.avail_in = in;
        r->zs.next_out = out + made;
        r->zs.avail_out = room;
        int z = inflate(&r->zs, Z_NO_FLUSH);
        r->in += in - r->zs.avail_in;
        r->in_len -= in - r->zs.avail_in;
        made += room - r->zs.avail_out;
        if (z == Z_STREAM_END) {
            if (source_input(r, 2, err) < 0)
                return -1;
            if (gzip_magic(r))
                inflateReset(&r->zs);
            else
                r->done = 1;
        } else if (z == Z_MEM_ERROR) {
            cr_data_fail(err, CR_ENOMEM, r->name, 0, 0, "out of memory in zlib");
            return -1;
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            cr_data_fail(err, CR_EFORMAT, r->name, 0, 0, "corrupt gzip data (%s)",
                         r->zs.msg ? r->zs.msg : "inflate failed");
            return -1;
        }
    }
    return (long long)made;
}

/* Copies plain data into out[0..n): the count (short only at the end), or
 * -1 with err set. */
static long long source_copy(cr_source *r, unsigned char *out, size_t n, cr_error *err)
{
    size_t got = 0;
    while (got < n) {
        if (r->in_len == 0 && r->fd >= 0 && !r->in_eof && n - got >= CR_SOURCE_BUFFER) {
            /* a large read of a plain file goes straight to the caller */
            long long k = source_read_fd(r, out + got, n - got, err);
            if (k < 0)
                return -1;
            got += (size_t)k;
            continue;
        }
        int more = source_input(r, 1, err);
        if (more < 0)
            return -1;
        if (!more)
            break;
        size_t k = n - got < r->in_len ? n - got : r->in_len;
        memcpy(out + got, r->in, k);
        r->in += k;
        r->in_len -= k;
        got += k;
    }
    return (long long)got;
}

static long long source_next(cr_source *r, void *buf, size_t n, cr_error *err)
{
    return r->inflating ? source_inflate(r, buf, n, err) : source_copy(r, buf, n, err);
}

long long cr_source_read(cr_source *r, void *buf, size_t n, cr_error *err)
{
    if (n > (1u << 30))
        n = 1u << 30;
    if (n == 0)
        return 0;
    if (r->out_total == r->max_input) {
        /* at the limit: more data is an error, the end is not */
        unsigned char byte;
        long long k = source_next(r, &byte, 1, err);
        if (k > 0)
            cr_data_fail(err, CR_ERANGE, r->name, 0, 0,
                         "more than %zu bytes of input%s (the max_input limit)",
                         r->max_input, r->inflating ? " once decompressed" : "");
        return k > 0 ? -1 : k;
    }
    if (n > r->max_input - r->out_total)
        n = r->max_input - r->out_total;
    long long got = source_next(r, buf, n, err);
    if (got > 0)
        r->out_total += (size_t)got;
    return got;
}

/* Reads exactly n bytes unless the data ends: the count read, or -1. */
long long cr_source_fill(cr_source *r, void *buf, size_t n, cr_error *err)
{
    size_t got = 0;
    while (got < n) {
        long long k = cr_source_read(r, (unsigned char *)buf + got, n - got, err);
        if (k < 0)
            return -1;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (long long)got;
}
