/*
 * source.c - the byte sources the data readers read from: a file through
 * zlib's gzread (plain or gzip'd, which it detects), or bytes in memory
 * (inflated with zlib's inflate when they start with the gzip magic); and
 * the one format of errors about a source's content (cr_data_fail).
 */
#include "io/data_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

/* ---- byte sources: a file through gzread (plain or gzip), or memory ---- */

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

cr_status cr_source_open_file(cr_source *r, const char *path, cr_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = path;
    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        int e = errno;
        return cr_data_fail(err, e == ENOENT ? CR_ENOTFOUND : CR_EIO, path, 0, 0, "%s",
                            e ? strerror(e) : "cannot open");
    }
    gzbuffer(r->gz, 1u << 17);
    return CR_OK;
}

cr_status cr_source_open_mem(cr_source *r, const void *data, size_t size, const char *name,
                             cr_error *err)
{
    memset(r, 0, sizeof *r);
    r->name = name ? name : "<memory>";
    r->mem = data ? data : (const unsigned char *)"";
    r->mem_size = data ? size : 0;
    if (r->mem_size >= 2 && r->mem[0] == 0x1f && r->mem[1] == 0x8b) {
        r->zs.zalloc = z_alloc;
        r->zs.zfree = z_free;
        if (inflateInit2(&r->zs, 15 + 16) != Z_OK)
            return cr_data_fail(err, CR_ENOMEM, r->name, 0, 0,
                                "out of memory starting zlib");
        r->inflating = 1;
    }
    return CR_OK;
}

void cr_source_close(cr_source *r)
{
    if (r->gz)
        gzclose(r->gz);
    if (r->inflating)
        inflateEnd(&r->zs);
    r->gz = NULL;
    r->inflating = 0;
}

/* Reads up to n bytes into buf: the count read (0 at the end), or -1 with
 * err set. A short count is only returned at the end of the data. */
long long cr_source_read(cr_source *r, void *buf, size_t n, cr_error *err)
{
    if (n > (1u << 30))
        n = 1u << 30;
    if (r->gz) {
        int got = gzread(r->gz, buf, (unsigned)n);
        int errnum = Z_OK;
        const char *msg = gzerror(r->gz, &errnum);
        if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
            if (errnum == Z_BUF_ERROR)
                cr_data_fail(err, CR_EFORMAT, r->name, 0, 0,
                             "truncated gzip data (unexpected end of file)");
            else if (errnum == Z_ERRNO)
                cr_data_fail(err, CR_EIO, r->name, 0, 0, "%s", strerror(errno));
            else
                cr_error_set(err, errnum == Z_DATA_ERROR ? CR_EFORMAT : CR_EIO, r->name,
                             "%s", msg);
            return -1;
        }
        return got;
    }
    if (!r->inflating) {
        size_t left = r->mem_size - r->mem_pos, k = n < left ? n : left;
        memcpy(buf, r->mem + r->mem_pos, k);
        r->mem_pos += k;
        return (long long)k;
    }
    r->zs.next_out = buf;
    r->zs.avail_out = (uInt)n;
    while (r->zs.avail_out > 0 && !r->inflate_done) {
        if (r->zs.avail_in == 0) {
            size_t left = r->mem_size - r->mem_pos;
            if (left == 0) {
                cr_data_fail(err, CR_EFORMAT, r->name, 0, 0,
                             "truncated gzip data (unexpected end of file)");
                return -1;
            }
            r->zs.next_in = (Bytef *)(r->mem + r->mem_pos);
            r->zs.avail_in = left < UINT_MAX ? (uInt)left : UINT_MAX;
            r->mem_pos += r->zs.avail_in;
        }
        int z = inflate(&r->zs, Z_NO_FLUSH);
        if (z == Z_STREAM_END)
            r->inflate_done = 1;
        else if (z == Z_MEM_ERROR) {
            cr_data_fail(err, CR_ENOMEM, r->name, 0, 0, "out of memory in zlib");
            return -1;
        } else if (z != Z_OK && z != Z_BUF_ERROR) {
            cr_data_fail(err, CR_EFORMAT, r->name, 0, 0, "corrupt gzip data (%s)",
                         r->zs.msg ? r->zs.msg : "inflate failed");
            return -1;
        }
    }
    return (long long)(n - r->zs.avail_out);
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
