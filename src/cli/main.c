/*
 * main.c - the `chainrule` program: dispatches to the subcommand named by
 * the first argument (the table is in commands.h), and answers --help,
 * help SUBCOMMAND and --version.
 */
#ifdef HAVE_CONFIG_H
#include <config.h>
#endif
#include "cli_common.h"
#include "commands.h"

#include <gsl/gsl_errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct cli_command {
    const char *name;
    const char *summary;
    const cli_spec *spec;
    int (*run)(int argc, char **argv);
} cli_command;

#define CLI_ENTRY(name, summary) {#name, summary, &cli_spec_##name, cli_cmd_##name},
static const cli_command commands[] = {CLI_COMMANDS(CLI_ENTRY)};
#undef CLI_ENTRY
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static const cli_command *find_command(const char *name)
{
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: chainrule SUBCOMMAND [OPTIONS] 'PROGRAM'\n"
        "       chainrule SUBCOMMAND [OPTIONS] -f FILE\n\n"
        "Values, gradients and derivative chains of small programs such as\n"
        "  's = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'\n\n"
        "Subcommands:\n");
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nOther forms:\n"
                 "  chainrule help SUBCOMMAND   options of one subcommand\n"
                 "  chainrule --help            this text\n"
                 "  chainrule --version         the version\n\n"
                 "Exit status: 0 success, 1 evaluation problem (NaN or infinite value,\n"
                 "failed check), 2 usage or input error.\n"
                 "The expression language: docs/expression-language.md, man chainrule.\n");
}

static void list_commands(FILE *out)
{
    for (int i = 0; i < N_COMMANDS; i++)
        fprintf(out, "%s%s", i ? ", " : "", commands[i].name);
}

static int unknown_command(const char *name)
{
    if (name[0] == '-')
        fprintf(stderr,
                "chainrule: unknown option '%s' (options go after the subcommand; "
                "subcommands: ",
                name);
    else
        fprintf(stderr, "chainrule: unknown subcommand '%s' (subcommands: ", name);
    list_commands(stderr);
    fprintf(stderr, ")\n");
    return CLI_USAGE;
}

/* OpenBLAS starts its worker threads when it loads, before main, and each
 * worker allocates a large buffer; under an address-space limit (ulimit -v)
 * that allocation fails and the worker retries forever, so the first
 * cr_graph_new (which stops idle workers) and the exit (which joins them)
 * wait for good. Under such a limit, with one thread wanted and no
 * OPENBLAS_NUM_THREADS given, the program starts itself again with
 * OPENBLAS_NUM_THREADS=1: OpenBLAS then starts no workers, and the command
 * ends with its result or an out-of-memory error. A failed exec goes on as
 * before. */
static void avoid_blas_workers_under_a_memory_limit(char **argv)
{
    struct rlimit as;
    if (getenv("OPENBLAS_NUM_THREADS") || getrlimit(RLIMIT_AS, &as) != 0 ||
        as.rlim_cur == RLIM_INFINITY)
        return;
    const char *threads = getenv("CR_NUM_THREADS");
    if (threads && strtol(threads, NULL, 10) > 1)
        return;
    if (setenv("OPENBLAS_NUM_THREADS", "1", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    avoid_blas_workers_under_a_memory_limit(argv);
    /* A closed pipe gives a write error (exit 2), never a signal; and GSL
     * reports through return codes (which chainrule checks) instead of
     * aborting: the program chooses the handler, as the library leaves it. */
    signal(SIGPIPE, SIG_IGN);
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *first = argv[1];
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 ||
        (strcmp(first, "help") == 0 && argc == 2)) {
        usage(stdout);
        return fflush(stdout) == 0 ? CLI_OK : CLI_USAGE;
    }
    if (strcmp(first, "--version") == 0) {
        printf("chainrule %s\n", cr_version());
        return fflush(stdout) == 0 ? CLI_OK : CLI_USAGE;
    }
    if (strcmp(first, "help") == 0) {
        if (argc > 3) {
            fprintf(stderr, "chainrule: help takes one subcommand name\n");
            return CLI_USAGE;
        }
        const cli_command *cmd = find_command(argv[2]);
        if (!cmd)
            return unknown_command(argv[2]);
        cli_help_print(cmd->spec, stdout);
        return fflush(stdout) == 0 ? CLI_OK : CLI_USAGE;
    }
    const cli_command *cmd = find_command(first);
    if (!cmd)
        return unknown_command(first);
    return cmd->run(argc - 1, argv + 1);
}
