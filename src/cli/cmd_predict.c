/*
 * cmd_predict.c - `chainrule predict`: loads a model file and prints one
 * prediction per data row, as CSV (the class and the outputs for a
 * classifier, the outputs otherwise) or as JSON; for a character model
 * (--text), the byte it predicts after every window of the text and its
 * probability.
 */
#include "cli_nn.h"
#include "commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_option_use options[] = {
    {CLI_OPT_MODEL, NULL, NULL},
    {CLI_OPT_DATA, NULL, "rows to predict (header optional)"},
    {CLI_OPT_TARGET, NULL, "a column to ignore (name or 1-based index)"},
    {CLI_OPT_HEADER, NULL, NULL},
    {CLI_OPT_NO_HEADER, NULL, NULL},
    {CLI_OPT_MAX_INPUT, NULL, NULL},
    {CLI_OPT_IDX_IMAGES, NULL, NULL},
    {CLI_OPT_TEXT, NULL,
     "a text file (plain or .gz) for a character model: the byte\n"
     "predicted after each window of the text"},
    {CLI_OPT_JSON, NULL,
     "{\"outputs\": [[...], ...]} plus \"classes\": [...] for a classifier;\n"
     "with --text {\"windows\": N, \"predictions\": [{\"offset\", \"next\",\n"
     "\"predicted\", \"probability\"}, ...]}"},
};

const cli_spec cli_spec_predict = {
    .name = "predict",
    .usage =
        "Usage: chainrule predict --model M (--data F.csv | --idx-images F | --text F)\n"
        "                         [--json]\n"
        "\n"
        "Prints one prediction per row of the data: for a classifier the predicted\n"
        "class then the outputs (class probabilities), otherwise the outputs, as CSV\n"
        "with a header line. The data's columns are the model's inputs; a CSV file\n"
        "with one column more (or with --target COL) has that target column ignored.\n"
        "\n"
        "For a character model (trained with train --text), --text F gives one row\n"
        "per window of T bytes of the text, windows starting at every byte: offset\n"
        "(0-based) of the byte that follows the window, that byte (empty after the\n"
        "text's end), the byte the model predicts there (the most likely one; a model\n"
        "that predicts every position is read at its last) and its probability.\n"
        "Bytes are quoted, with \\n, \\t, \\r, \\\\ and \\xHH for the others that\n"
        "are not printable ASCII.\n"
        "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue = "\nAny input may be '-' (standard input) or a pipe; each is read once.\n",
    .column = 18,
};

static void print_predictions(cli *c, const cli_model *m, const double *out, size_t rows)
{
    const size_t no = cli_model_outputs(m);
    const size_t k = cli_model_classes(m);
    if (c->json) {
        printf("{\"outputs\": [");
        for (size_t r = 0; r < rows; r++) {
            printf("%s[", r ? ", " : "");
            for (size_t j = 0; j < no; j++) {
                printf("%s", j ? ", " : "");
                cli_json_number(stdout, out[r * no + j]);
            }
            printf("]");
        }
        printf("]");
        if (k) {
            printf(", \"classes\": [");
            for (size_t r = 0; r < rows; r++)
                printf("%s%zu", r ? ", " : "", cli_model_class(m, out + r * no));
            printf("]");
        }
        printf("}\n");
        c->json_done = 1;
        return;
    }
    if (k)
        printf("class,");
    for (size_t j = 0; j < no; j++)
        printf("%sy%zu", j ? "," : "", j + 1);
    printf("\n");
    for (size_t r = 0; r < rows; r++) {
        if (k)
            printf("%zu,", cli_model_class(m, out + r * no));
        for (size_t j = 0; j < no; j++)
            printf("%s%.10g", j ? "," : "", out[r * no + j]);
        printf("\n");
    }
}

/* Writes byte b as a CSV field: quoted ("" for a quote), with C escapes
 * for the backslash and the bytes that are not printable ASCII. */
static void print_byte(unsigned char b)
{
    if (b == '"')
        printf("\"\"\"\"");
    else if (b == '\\')
        printf("\"\\\\\"");
    else if (b == '\n' || b == '\t' || b == '\r')
        printf("\"\\%c\"", b == '\n' ? 'n' : b == '\t' ? 't' : 'r');
    else if (b >= 0x20 && b < 0x7f)
        printf("\"%c\"", b);
    else
        printf("\"\\x%02x\"", b);
}

/* Writes byte b as a JSON string (bytes that are not ASCII become
 * U+FFFD, as cli_json_string says). */
static void print_byte_json(unsigned char b)
{
    const char s[2] = {(char)b, 0};
    cli_json_string(stdout, s);
}

/* The predictions of the windows starting at 0..rows-1 of the text (n
 * bytes), each from the last nv values of its output row of no: the byte
 * at offset start + steps, the most likely symbol and its probability
 * (the output is a softmax's when probs, else logits). */
static void print_text_predictions(cli *c, const unsigned char *text, size_t n,
                                   size_t steps, const unsigned char *symbols, size_t nv,
                                   int probs, const double *out, size_t rows, size_t no)
{
    if (c->json)
        printf("{\"windows\": %zu, \"predictions\": [", rows);
    else
        printf("offset,next,predicted,probability\n");
    for (size_t r = 0; r < rows; r++) {
        const double *z = out + r * no + (no - nv);
        size_t best = 0;
        for (size_t k = 1; k < nv; k++)
            if (z[k] > z[best])
                best = k;
        double p = z[best];
        if (!probs) { /* the softmax's value at its largest logit */
            double sum = 0;
            for (size_t k = 0; k < nv; k++)
                sum += exp(z[k] - z[best]);
            p = 1.0 / sum;
        }
        const size_t at = r + steps;
        if (c->json) {
            printf("%s{\"offset\": %zu, \"next\": ", r ? ", " : "", at);
            if (at < n)
                print_byte_json(text[at]);
            else
                printf("null");
            printf(", \"predicted\": ");
            print_byte_json(symbols[best]);
            printf(", \"probability\": ");
            cli_json_number(stdout, p);
            printf("}");
        } else {
            printf("%zu,", at);
            if (at < n)
                print_byte(text[at]);
            printf(",");
            print_byte(symbols[best]);
            printf(",%.4f\n", p);
        }
    }
    if (c->json) {
        printf("]}\n");
        c->json_done = 1;
    }
}

/* predict --text: the windows of the text read with the model's
 * vocabulary, predicted, printed. Returns an exit status. */
static int predict_text(cli *c, const cli_nn_data *d, cli_model *m)
{
    int rc = cli_nn_text_model(c, d, m);
    if (rc != CLI_OK)
        return rc;
    size_t nv;
    const unsigned char *symbols = cr_model_vocab(m->model, &nv);
    const size_t steps = cr_model_input_size(m->model);
    const cr_layer_spec *last = cr_model_layer(m->model, cr_model_num_layers(m->model) - 1);
    const int probs = last->kind == CR_LAYER_ACTIVATION && last->act == CR_ACT_SOFTMAX;
    const char *name = cli_input_name(d->text);
    cr_error err;
    const cr_text_options to = {.max_input = d->max_input};
    cr_text *text = cr_text_load(cli_input_path(d->text), &to, &err);
    cr_vocab *v = text ? cr_vocab_new(symbols, nv, &err) : NULL;
    if (!v) {
        cr_text_free(text);
        return cli_fail(c, CLI_USAGE, 0, 0, "--text: %s", err.message);
    }
    const size_t n = cr_text_length(text);
    const unsigned char *bytes = cr_text_bytes(text);
    double *ids = malloc(n * sizeof *ids);
    cr_tensor *x = NULL;
    cr_dataset *ds = NULL;
    double *out = NULL;
    if (n < steps) {
        rc = cli_fail(c, CLI_USAGE, 0, 0,
                      "--text: %s: %zu bytes, fewer than the model's window of %zu", name,
                      n, steps);
    } else if (!ids) {
        rc = cli_fail(c, CLI_USAGE, 0, 0, "out of memory");
    } else if (cr_vocab_encode(v, bytes, n, ids, &err) != CR_OK) {
        rc = cli_fail(c, CLI_USAGE, 0, 0, "--text: %s: %s", name, err.message);
    } else {
        /* windows starting at every byte, the last one ending with the text */
        const size_t rows = n - steps + 1;
        x = cr_tensor_new(2, (size_t[]){rows, steps}, &err);
        for (size_t r = 0; x && r < rows; r++)
            memcpy(cr_tensor_data_mut(x) + r * steps, ids + r, steps * sizeof *ids);
        ds = x ? cr_dataset_new(x, NULL, 0, &err) : NULL;
        x = NULL; /* the data set's (or freed by cr_dataset_new) */
        if (!ds)
            rc = cli_fail(c, CLI_USAGE, 0, 0, "%s", err.message);
        else if ((rc = cli_nn_predict(c, m, ds, name, &out)) == CLI_OK)
            print_text_predictions(c, bytes, n, steps, symbols, nv, probs, out, rows,
                                   cli_model_outputs(m));
    }
    free(out);
    cr_dataset_free(ds);
    free(ids);
    cr_vocab_free(v);
    cr_text_free(text);
    return rc;
}

int cli_cmd_predict(int argc, char **argv)
{
    cli c = {0};
    cli_nn_data d = {0};
    cli_model m = {0};
    int rc = cli_nn_parse_io(&c, &cli_spec_predict, argc, argv, &d, &m);
    if (rc != CLI_OK) {
        cli_model_free(&m);
        return cli_finish(&c, rc < 0 ? CLI_OK : rc);
    }
    if (d.text) {
        rc = predict_text(&c, &d, &m);
        cli_model_free(&m);
        return cli_finish(&c, rc);
    }
    cr_dataset *ds = cli_nn_load(&c, &d, cli_model_inputs(&m), cli_model_outputs(&m), 0, 0);
    double *out = NULL;
    if (!ds)
        rc = CLI_USAGE;
    else if ((rc = cli_nn_predict(&c, &m, ds, cli_nn_data_name(&d), &out)) == CLI_OK)
        print_predictions(&c, &m, out, cr_dataset_rows(ds));
    free(out);
    cr_dataset_free(ds);
    cli_model_free(&m);
    return cli_finish(&c, rc);
}
