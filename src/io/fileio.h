/*
 * fileio.h - private: the one atomic writer every output file of chainrule
 * goes through (fileio.c). See docs/reliability.md, "Files".
 */
#ifndef CR_FILEIO_H
#define CR_FILEIO_H

#include "core/internal.h"

#include <stdio.h>

/* Fills out (a temporary file) with the content; sets err on failure. Short
 * writes need not be checked: the writer checks ferror afterwards. */
typedef cr_status (*cr_write_fn)(FILE *out, void *ctx, cr_error *err);

/* Writes path through fill(out, ctx, err), as cr_io_write_atomic
 * (chainrule/io.h) documents and fileio.c's header details: atomically
 * through a temporary file TARGET.tmp-XXXXXX renamed over a regular file or
 * a new name (symbolic links followed), straight through for a character
 * device or a FIFO, refused (CR_EIO) for anything else and for a file with
 * several hard links. On any failure (fill's status; CR_ENOTFOUND when the
 * directory is missing; CR_EIO "PATH: writing: No space left on device";
 * CR_ENOMEM) the temporary file is removed, a regular file at path is
 * unchanged and err (may be NULL) is set. */
cr_status cr_file_write_atomic(const char *path, cr_write_fn fill, void *ctx,
                               cr_error *err);

/* Sets err from errno for a failed system call on path: CR_ENOTFOUND for
 * ENOENT, CR_EIO otherwise, "PATH: WHAT<strerror>"; returns the status. */
cr_status cr_file_fail(cr_error *err, const char *path, const char *what);

#endif
