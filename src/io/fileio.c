/*
 * fileio.c - the one file writer of chainrule. Every file the library and
 * the command write (model files, DOT text, rendered pictures, training
 * history CSV, loss-curve SVG) goes through cr_file_write_atomic, which
 * looks at what the path names first:
 *
 * - a regular file, or nothing: written atomically. A new temporary file
 *   TARGET.tmp-XXXXXX next to it (created with O_EXCL and locked with
 *   flock while it is written), filled, flushed, fsync'ed, renamed over
 *   TARGET, then the directory fsync'ed. A crash or SIGKILL at any moment
 *   leaves TARGET either as it was or complete, plus at most one stray
 *   temporary file, which the next save to TARGET removes (a temporary
 *   file nobody holds locked is stale). An existing file keeps its mode
 *   (and owner, where allowed); a new one gets 0666 & ~umask. A symbolic
 *   link is followed: its target is replaced and the link kept. A file
 *   with several hard links is refused (renaming would split them).
 * - a character device or a FIFO (/dev/null, /dev/stdout on a terminal, a
 *   named pipe): written straight through, as a shell redirection would.
 * - anything else (a directory, a socket, a block device): refused.
 *
 * docs/reliability.md, "Files", lists the rules and their tests.
 */
#define _DEFAULT_SOURCE 1 /* flock */
#include "io/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Symbolic links followed at most, as the kernel's own limit. */
#define MAX_LINKS 40

static const char tmp_suffix[] = ".tmp-XXXXXX";
#define TMP_RANDOM 6 /* the Xs */

cr_status cr_file_fail(cr_error *err, const char *path, const char *what)
{
    cr_status st = errno == ENOENT ? CR_ENOTFOUND : CR_EIO;
    return cr_error_set(err, st, path, "%s: %s%s", path, what, strerror(errno));
}

/* fsync of the directory dir, so a rename in it is durable. Failure is not
 * an error: some file systems do not support it. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
#ifdef HAVE_FSYNC
        fsync(fd);
#endif
        close(fd);
    }
}

/* Fills the open file fd through fill, flushes it and, with sync, fsyncs
 * it; fd stays open (the stream is on a duplicate of it). */
static cr_status fill_fd(int fd, const char *path, int sync, cr_write_fn fill, void *ctx,
                         cr_error *err)
{
    int copy = dup(fd);
    FILE *f = copy >= 0 ? fdopen(copy, "wb") : NULL;
    if (!f) {
        cr_status st = cr_file_fail(err, path, "");
        if (copy >= 0)
            close(copy);
        return st;
    }
    cr_status st = fill(f, ctx, err);
    if (st == CR_OK && (fflush(f) != 0 || ferror(f)))
        st = cr_file_fail(err, path, "writing: ");
#ifdef HAVE_FSYNC
    if (st == CR_OK && sync && fsync(fd) != 0)
        st = cr_file_fail(err, path, "fsync: ");
#else
    CR_UNUSED(sync);
#endif
    if (fclose(f) != 0 && st == CR_OK)
        st = cr_file_fail(err, path, "closing: ");
    return st;
}

/* A character device or a FIFO: opened for writing as it is (no O_CREAT,
 * no O_TRUNC; a FIFO waits for its reader) and written straight through. */
static cr_status write_through(const char *path, cr_write_fn fill, void *ctx, cr_error *err)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return cr_file_fail(err, path, "");
    struct stat st;
    cr_status status;
    if (fstat(fd, &st) != 0)
        status = cr_file_fail(err, path, "");
    else if (!S_ISCHR(st.st_mode) && !S_ISFIFO(st.st_mode))
        status =
            cr_error_set(err, CR_EIO, path, "%s: changed while it was being opened", path);
    else
        status = fill_fd(fd, path, 0, fill, ctx, err);
    close(fd);
    return status;
}

/* The name path leads to once symbolic links are followed (a regular file,
 * or a name that does not exist yet, e.g. a dangling link's target), in a
 * new string (cr_free) in *out. */
static cr_status resolve_links(const char *path, char **out, cr_error *err)
{
    char *cur = cr_strdup(path);
    for (int hops = 0; cur; hops++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *out = cur;
            return CR_OK;
        }
        if (hops == MAX_LINKS) {
            cr_free(cur);
            return cr_error_set(err, CR_EIO, path, "%s: too many levels of symbolic links",
                                path);
        }
        size_t cap = st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
        char *link = cr_malloc(cap);
        if (!link)
            break;
        ssize_t n = readlink(cur, link, cap);
        if (n < 0 || (size_t)n >= cap) {
            cr_status s =
                n < 0 ? cr_file_fail(err, path, "reading a symbolic link: ")
                      : cr_error_set(err, CR_EIO, path,
                                     "%s: a symbolic link changed while read", path);
            cr_free(link);
            cr_free(cur);
            return s;
        }
        link[n] = '\0';
        const char *slash = strrchr(cur, '/');
        size_t keep = link[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1;
        char *next = cr_malloc(keep + (size_t)n + 1);
        if (next) {
            memcpy(next, cur, keep);
            memcpy(next + keep, link, (size_t)n + 1);
        }
        cr_free(link);
        cr_free(cur);
        cur = next;
    }
    return cr_error_set(err, CR_ENOMEM, path, "%s: out of memory", path);
}

/* Removes the stale temporary files of a save to base in the directory
 * dir: names base.tmp-XXXXXX of regular files that no writer holds locked
 * (a writer killed mid-save leaves its file unlocked). Best effort. */
static void remove_stale(const char *dir, const char *base)
{
    const size_t blen = strlen(base), nlen = blen + sizeof tmp_suffix - 1;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *name = e->d_name;
        if (strlen(name) != nlen || memcmp(name, base, blen) != 0 ||
            memcmp(name + blen, tmp_suffix, sizeof tmp_suffix - 1 - TMP_RANDOM) != 0)
            continue;
        int fd = openat(dirfd(d), name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlinkat(dirfd(d), name, 0);
        close(fd);
    }
    closedir(d);
}

/* Creates the temporary file tmp (its last TMP_RANDOM bytes are replaced
 * by random letters and digits) with mode, and locks it: the descriptor,
 * or -1 with errno set. */
static int create_temp(char *tmp, mode_t mode)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char *x = tmp + strlen(tmp) - TMP_RANDOM;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)&ts;
    for (int attempt = 0; attempt < 100; attempt++) {
        for (int i = 0; i < TMP_RANDOM; i++) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            x[i] = digits[(r >> 33) % (sizeof digits - 1)];
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return -1;
        /* Locked until the rename, so remove_stale leaves it alone; one
         * that remove_stale took between the open and the lock is gone
         * (no links): try another name. Without locks (some network file
         * systems) nothing is ever taken for stale. */
        struct stat st;
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR)
            continue;
        if (fstat(fd, &st) == 0 && st.st_nlink > 0)
            return fd;
        close(fd);
    }
    errno = EEXIST;
    return -1;
}

/* Writes target (a regular file described by *old, or a new name when old
 * is NULL) atomically, as the header says; path is the name the caller
 * gave, for messages. */
static cr_status write_replace(const char *path, const char *target, const struct stat *old,
                               cr_write_fn fill, void *ctx, cr_error *err)
{
    const size_t tlen = strlen(target);
    /* one block: the temporary file's name, then the directory's */
    char *tmp = cr_malloc(2 * tlen + sizeof tmp_suffix + 2);
    if (!tmp)
        return cr_error_set(err, CR_ENOMEM, path, "%s: out of memory", path);
    memcpy(tmp, target, tlen);
    memcpy(tmp + tlen, tmp_suffix, sizeof tmp_suffix);
    char *dir = tmp + tlen + sizeof tmp_suffix;
    const char *slash = strrchr(target, '/');
    const char *base = slash ? slash + 1 : target;
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = slash == target ? 1 : (size_t)(slash - target);
        memcpy(dir, target, len);
        dir[len] = '\0';
    }
    remove_stale(dir, base);
    /* an existing file's content stays private until its mode is set */
    int fd = create_temp(tmp, old ? 0600 : 0666);
    if (fd < 0) {
        cr_status st =
            cr_file_fail(err, path, "cannot create a temporary file next to it: ");
        cr_free(tmp);
        return st;
    }
    if (old) {
        struct stat now;
        int kept = 0; /* best effort: keeping the owner needs the right to */
        if (fstat(fd, &now) == 0 &&
            (now.st_uid != old->st_uid || now.st_gid != old->st_gid))
            kept = fchown(fd, old->st_uid, old->st_gid);
        kept |= fchmod(fd, old->st_mode & 07777);
        CR_UNUSED(kept);
    }
    cr_status st = fill_fd(fd, path, 1, fill, ctx, err);
    if (st == CR_OK && rename(tmp, target) != 0)
        st = cr_file_fail(err, path, "cannot replace it: ");
    if (st != CR_OK)
        unlink(tmp);
    close(fd); /* releases the lock, after the rename */
    if (st == CR_OK)
        sync_dir(dir);
    cr_free(tmp);
    return st;
}

/* What an existing non-regular file is, for the refusal. */
static const char *file_kind(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISBLK(mode))
        return "a block device";
    return "not a regular file";
}

cr_status cr_file_write_atomic(const char *path, cr_write_fn fill, void *ctx, cr_error *err)
{
    if (!path || !*path || !fill)
        return cr_error_set(err, CR_EINVAL, "write", "write: the path is missing");
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (!exists && errno != ENOENT)
        return cr_file_fail(err, path, "");
    if (exists && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)))
        return write_through(path, fill, ctx, err);
    if (exists && !S_ISREG(st.st_mode))
        return cr_error_set(err, CR_EIO, path,
                            "%s: is %s; chainrule writes regular files, character devices "
                            "and FIFOs only",
                            path, file_kind(st.st_mode));
    if (exists && st.st_nlink > 1)
        return cr_error_set(err, CR_EIO, path,
                            "%s: has %ju hard links; saving renames a new file over the "
                            "name, which would split them: remove the other links or save "
                            "under another name",
                            path, (uintmax_t)st.st_nlink);
    char *target = NULL;
    cr_status status = resolve_links(path, &target, err);
    if (status != CR_OK)
        return status;
    struct stat seen;
    if (exists &&
        (lstat(target, &seen) != 0 || seen.st_dev != st.st_dev || seen.st_ino != st.st_ino))
        status = cr_error_set(err, CR_EIO, path,
                              "%s: its symbolic links lead to %s, which changed while they "
                              "were followed",
                              path, target);
    else
        status = write_replace(path, target, exists ? &st : NULL, fill, ctx, err);
    cr_free(target);
    return status;
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
