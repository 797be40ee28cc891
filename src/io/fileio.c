/*
 * fileio.c - the one atomic file writer of chainrule. Every file the
 * library and the command write (model files, DOT text, rendered
 * pictures, training history CSV, loss-curve SVG) goes through
 * cr_file_write_atomic: a new temporary file PATH.tmp-XXXXXX (mkstemp) in
 * the destination's directory, filled, flushed, fsync'ed, closed, renamed
 * over PATH, then the directory fsync'ed. A crash or SIGKILL at any moment
 * leaves PATH either as it was or complete, plus at most one stray
 * PATH.tmp-XXXXXX (never read by chainrule; safe to delete).
 */
#include "io/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cr_status cr_file_fail(cr_error *err, const char *path, const char *what)
{
    cr_status st = errno == ENOENT ? CR_ENOTFOUND : CR_EIO;
    return cr_error_set(err, st, path, "%s: %s%s", path, what, strerror(errno));
}

/* fsync of the directory dir, so a rename in it is durable. Failure is not
 * an error: some file systems do not support it. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
#ifdef HAVE_FSYNC
        fsync(fd);
#endif
        close(fd);
    }
}

cr_status cr_file_write_atomic(const char *path, cr_write_fn fill, void *ctx, cr_error *err)
{
    if (!path || !*path || !fill)
        return cr_error_set(err, CR_EINVAL, "write", "write: the path is missing");
    static const char suffix[] = ".tmp-XXXXXX";
    const size_t plen = strlen(path);
    /* one block: the temporary file's name, then the directory's */
    char *tmp = cr_malloc(2 * plen + sizeof suffix + 2);
    if (!tmp)
        return cr_error_set(err, CR_ENOMEM, path, "%s: out of memory", path);
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, suffix, sizeof suffix);
    char *dir = tmp + plen + sizeof suffix;
    const char *slash = strrchr(path, '/');
    if (!slash)
        strcpy(dir, ".");
    else {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    cr_status st = CR_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = cr_file_fail(err, path, "cannot create a temporary file next to it: ");
        cr_free(tmp);
        return st;
    }
    fchmod(fd, 0644);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        st = cr_file_fail(err, path, "");
        close(fd);
    } else {
        st = fill(f, ctx, err);
        if (st == CR_OK && (fflush(f) != 0 || ferror(f)))
            st = cr_file_fail(err, path, "writing: ");
#ifdef HAVE_FSYNC
        if (st == CR_OK && fsync(fileno(f)) != 0)
            st = cr_file_fail(err, path, "fsync: ");
#endif
        if (fclose(f) != 0 && st == CR_OK)
            st = cr_file_fail(err, path, "closing: ");
    }
    if (st == CR_OK && rename(tmp, path) != 0)
        st = cr_file_fail(err, path, "cannot replace it: ");
    if (st != CR_OK)
        unlink(tmp);
    else
        sync_dir(dir);
    cr_free(tmp);
    return st;
}

typedef struct blob {
    const void *data;
    size_t size;
} blob;

static cr_status write_blob(FILE *out, void *ctx, cr_error *err)
{
    const blob *b = ctx;
    CR_UNUSED(err); /* a short write shows in ferror, checked by the caller */
    if (b->size)
        fwrite(b->data, 1, b->size, out);
    return CR_OK;
}

cr_status cr_io_write_atomic(const char *path, const void *data, size_t size, cr_error *err)
{
    if (!path || !*path || (!data && size))
        return cr_error_set(err, CR_EINVAL, "save", "save: the path or data is missing");
    blob b = {data, size};
    return cr_file_write_atomic(path, write_blob, &b, err);
}
