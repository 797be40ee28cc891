/*
 * cmd_generate.c - `chainrule generate`: loads a character model (one
 * trained with chainrule train --text) and prints text sampled from it,
 * continuing an optional prime text, with a temperature and a seed
 * (cr_model_generate).
 */
#include "cli_common.h"
#include "commands.h"

#include <stdlib.h>
#include <string.h>

static const cli_option_use options[] = {
    {CLI_OPT_MODEL, NULL, "a model file written by chainrule train --text --model"},
    {CLI_OPT_LENGTH, NULL, NULL},
    {CLI_OPT_TEMPERATURE, NULL, NULL},
    {CLI_OPT_SEED, NULL, "the sampler's seed (default 1): same seed, same text"},
    {CLI_OPT_PRIME, NULL, NULL},
    {CLI_OPT_JSON, NULL, "{\"prime\": \"...\", \"text\": \"...\"}"},
};

const cli_spec cli_spec_generate = {
    .name = "generate",
    .usage =
        "Usage: chainrule generate --model M [--length N] [--temperature T] [--seed N]\n"
        "                          [--prime TEXT] [--json]\n"
        "\n"
        "Samples text from a character model, one byte at a time: the model reads\n"
        "the last window of bytes (its --seq), and the next byte is drawn from its\n"
        "output at the window's last position, through a softmax at the given\n"
        "temperature. The prime text, then the sample, go to standard output.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue =
        "\nThe model must have a vocabulary (a text model) and read windows of byte\n"
        "indices. --temperature near 0 takes the most likely byte every time.\n",
    .column = 20,
};

typedef struct gen_args {
    const char *model;
    size_t length;
    double temperature;
    unsigned long seed;
    const char *prime;
} gen_args;

static int gen_option(cli *c, void *ctx, cli_opt id, const char *value)
{
    gen_args *a = ctx;
    size_t n;
    switch (id) {
    case CLI_OPT_MODEL:
        a->model = value;
        return CLI_OK;
    case CLI_OPT_LENGTH:
        return cli_option_size(c, id, value, 0, &a->length) ? CLI_USAGE : CLI_OK;
    case CLI_OPT_TEMPERATURE:
        return cli_option_double(c, id, value, 1e-6, 1e6, &a->temperature) ? CLI_USAGE
                                                                           : CLI_OK;
    case CLI_OPT_SEED:
        if (cli_option_size(c, id, value, 0, &n))
            return CLI_USAGE;
        a->seed = (unsigned long)n;
        return CLI_OK;
    case CLI_OPT_PRIME:
        a->prime = value;
        return CLI_OK;
    default:
        return cli_fail(c, CLI_USAGE, 0, 0, "option '%s' is not handled",
                        cli_option_name(id));
    }
}

int cli_cmd_generate(int argc, char **argv)
{
    cli c = {0};
    gen_args a = {.length = 500, .temperature = 1.0, .seed = 1};
    int rc = cli_options_parse(&c, &cli_spec_generate, argc, argv, gen_option, &a);
    if (rc != CLI_OK)
        return cli_finish(&c, rc < 0 ? CLI_OK : rc);
    if (!a.model)
        return cli_finish(&c, cli_fail(&c, CLI_USAGE, 0, 0, "--model is required"));
    cr_error err;
    cr_model *m = cr_model_load(cli_input_path(a.model), &err);
    if (!m)
        return cli_finish(&c, cli_fail_error(&c, CLI_USAGE, &err));
    unsigned char *out = malloc(a.length ? a.length : 1);
    cr_generate_options o = {.prime = a.prime,
                             .prime_len = a.prime ? strlen(a.prime) : 0,
                             .temperature = a.temperature,
                             .seed = a.seed};
    if (!out)
        rc = cli_fail(&c, CLI_USAGE, 0, 0, "out of memory for %zu bytes", a.length);
    else if (cr_model_generate(m, a.length, &o, out, &err) != CR_OK)
        rc = cli_fail_error(&c, CLI_USAGE, &err);
    else if (c.json) {
        char *text = cli_strndup((const char *)out, a.length);
        printf("{\"prime\": ");
        cli_json_string(stdout, a.prime ? a.prime : "");
        printf(", \"text\": ");
        cli_json_string(stdout, text ? text : "");
        printf("}\n");
        c.json_done = 1;
        free(text);
    } else {
        fputs(a.prime ? a.prime : "", stdout);
        fwrite(out, 1, a.length, stdout);
        putchar('\n');
    }
    free(out);
    cr_model_free(m);
    return cli_finish(&c, rc);
}
