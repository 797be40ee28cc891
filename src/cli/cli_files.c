/*
 * cli_files.c - the files a `chainrule` subcommand reads and writes,
 * checked before any work: an output goes to a writable directory and
 * never overwrites an input or another output; an input may be "-"
 * (standard input) or a pipe, which can be read only once (see
 * cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MAX_PATH = 4096 };

/* The directory part of path into dir ("." or "/" when it has none); 0, or
 * -1 when it does not fit. */
static int dir_of(const char *path, char *dir, size_t size)
{
    const char *slash = strrchr(path, '/');
    int n = !slash          ? snprintf(dir, size, ".")
            : slash == path ? snprintf(dir, size, "/")
                            : snprintf(dir, size, "%.*s", (int)(slash - path), path);
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

/* Where a path leads: an existing file's device and inode, or, for a file
 * not there yet, its directory's and its name. */
typedef struct file_id {
    int known;  /* 0: neither could be found */
    int exists; /* the file itself */
    dev_t dev;
    ino_t ino;
    const char *name; /* the last component, when !exists */
    size_t name_len;
} file_id;

static file_id identify(const char *path)
{
    file_id id = {0};
    struct stat st;
    if (stat(path, &st) == 0) {
        id.known = id.exists = 1;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
        return id;
    }
    char dir[MAX_PATH];
    if (dir_of(path, dir, sizeof dir) != 0 || stat(dir, &st) != 0)
        return id;
    const char *slash = strrchr(path, '/');
    id.known = 1;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.name = slash ? slash + 1 : path;
    id.name_len = strlen(id.name);
    return id;
}

static int same_file(const file_id *a, const file_id *b)
{
    if (!a->known || !b->known || a->exists != b->exists || a->dev != b->dev ||
        a->ino != b->ino)
        return 0;
    return a->exists ||
           (a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0);
}

/* An output can be written: not a directory, and its directory exists and
 * may be written (cr_io_write_atomic creates a file there and renames it). */
static int writable(cli *c, cli_opt o, const char *path)
{
    const char *label = cli_option_label(o);
    struct stat st;
    char dir[MAX_PATH];
    const size_t len = strlen(path);
    if (len == 0 || path[len - 1] == '/' || (stat(path, &st) == 0 && S_ISDIR(st.st_mode)))
        return cli_fail(c, CLI_USAGE, 0, 0, "%s: '%s' is a directory, not a file", label,
                        path);
    if (dir_of(path, dir, sizeof dir) != 0)
        return cli_fail(c, CLI_USAGE, 0, 0, "%s: '%s': the name is too long", label, path);
    int e = 0;
    if (stat(dir, &st) != 0)
        e = errno;
    else if (!S_ISDIR(st.st_mode))
        e = ENOTDIR;
    else if (access(dir, W_OK | X_OK) != 0)
        e = errno;
    if (e)
        return cli_fail(c, CLI_USAGE, 0, 0, "%s: cannot write '%s': %s: %s", label, path,
                        dir, strerror(e));
    return CLI_OK;
}

int cli_files_check(cli *c)
{
    int stdin_reader = -1;
    for (int i = 0; i < CLI_N_OPTIONS; i++) {
        if (!c->files[i] || cli_option_role((cli_opt)i) != CLI_ROLE_IN ||
            strcmp(c->files[i], "-") != 0)
            continue;
        if (stdin_reader >= 0)
            return cli_fail(c, CLI_USAGE, 0, 0,
                            "%s and %s both read standard input ('-'); give one a file",
                            cli_option_label((cli_opt)stdin_reader),
                            cli_option_label((cli_opt)i));
        stdin_reader = i;
    }
    for (int o = 0; o < CLI_N_OPTIONS; o++) {
        if (!c->files[o] || cli_option_role((cli_opt)o) != CLI_ROLE_OUT)
            continue;
        int rc = writable(c, (cli_opt)o, c->files[o]);
        if (rc != CLI_OK)
            return rc;
        const file_id out = identify(c->files[o]);
        for (int i = 0; i < CLI_N_OPTIONS; i++) {
            const cli_role role = cli_option_role((cli_opt)i);
            if (i == o || !c->files[i] || strcmp(c->files[i], "-") == 0 ||
                (role == CLI_ROLE_OUT && i > o))
                continue;
            const file_id other = identify(c->files[i]);
            if (!same_file(&out, &other))
                continue;
            if (role == CLI_ROLE_IN)
                return cli_fail(c, CLI_USAGE, 0, 0,
                                "%s: '%s' is the file %s reads; an output must not "
                                "overwrite an input",
                                cli_option_label((cli_opt)o), c->files[o],
                                cli_option_label((cli_opt)i));
            return cli_fail(c, CLI_USAGE, 0, 0, "%s: '%s' is also written by %s",
                            cli_option_label((cli_opt)o), c->files[o],
                            cli_option_label((cli_opt)i));
        }
    }
    return CLI_OK;
}

const char *cli_input_path(const char *path)
{
    return strcmp(path, "-") == 0 ? "/dev/stdin" : path;
}

const char *cli_input_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

int cli_input_rereadable(const char *path)
{
    struct stat st;
    return strcmp(path, "-") != 0 && (stat(path, &st) != 0 || S_ISREG(st.st_mode));
}

int cli_input_read(cli *c, const char *path, size_t max, char **data, size_t *size)
{
    const int is_stdin = strcmp(path, "-") == 0;
    const char *name = cli_input_name(path);
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (!f)
        return cli_fail(c, CLI_USAGE, 0, 0, "cannot open '%s': %s", name, strerror(errno));
    size_t cap = 0;
    int rc = CLI_OK;
    *data = NULL;
    *size = 0;
    for (;;) {
        if (cli_grow((void **)data, &cap, *size + 65536, 1) != 0) {
            rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory reading '%s'", name);
            break;
        }
        size_t got = fread(*data + *size, 1, cap - *size, f);
        *size += got;
        if (max && *size > max) {
            rc = cli_fail(c, CLI_USAGE, 0, 0, "'%s' is too large (over %zu bytes)", name,
                          max);
            break;
        }
        if (got == 0) {
            if (ferror(f))
                rc = cli_fail(c, CLI_USAGE, 0, 0, "cannot read '%s': %s", name,
                              strerror(errno));
            break;
        }
    }
    if (!is_stdin)
        fclose(f);
    return rc;
}
