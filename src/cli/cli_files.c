/*
 * cli_files.c - the files a `chainrule` subcommand reads and writes,
 * checked before any work: an output never overwrites an input or another
 * output (see cli_common.h).
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"

#include <string.h>
#include <sys/stat.h>

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
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        strcpy(dir, ".");
    else if (slash == path)
        strcpy(dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return id;
    if (stat(dir, &st) != 0)
        return id;
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

int cli_files_check(cli *c)
{
    for (int o = 0; o < CLI_N_OPTIONS; o++) {
        if (!c->files[o] || cli_option_role((cli_opt)o) != CLI_ROLE_OUT)
            continue;
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
