/*
 * cmd_train.c - `chainrule train`: builds an MLP from --arch and friends,
 * or a layer model from --layers SPEC (and --shape), trains it on a CSV or
 * IDX data set (or a character model on a text file, --text) with a
 * progress display, optionally evaluates it on test data, and writes the
 * model file (atomically, after every epoch), the history and the chart
 * (train_plot.c).
 */
#include "cli_nn.h"
#include "commands.h"
#include "train_plot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_option_use options[] = {
    {CLI_HEADING, NULL, "Data:"},
    {CLI_OPT_DATA, NULL, NULL},
    {CLI_OPT_TARGET, NULL, NULL},
    {CLI_OPT_HEADER, NULL, NULL},
    {CLI_OPT_NO_HEADER, NULL, NULL},
    {CLI_OPT_MAX_INPUT, NULL, NULL},
    {CLI_OPT_IDX_IMAGES, NULL, NULL},
    {CLI_OPT_IDX_LABELS, NULL, NULL},
    {CLI_OPT_TEST_DATA, NULL, NULL},
    {CLI_OPT_TEST_IDX_IMAGES, NULL, NULL},
    {CLI_OPT_TEST_IDX_LABELS, NULL, NULL},
    {CLI_OPT_STANDARDIZE, NULL, NULL},
    {CLI_OPT_TEXT, NULL, NULL},
    {CLI_OPT_SEQ, NULL, NULL},
    {CLI_OPT_CARRY_STATE, NULL, NULL},
    {CLI_HEADING, NULL, "Model:"},
    {CLI_OPT_ARCH, NULL, NULL},
    {CLI_OPT_LAYERS, NULL, NULL},
    {CLI_OPT_SHAPE, NULL, NULL},
    {CLI_OPT_ACT, NULL, NULL},
    {CLI_OPT_OUT, NULL, NULL},
    {CLI_OPT_LOSS, NULL, NULL},
    {CLI_OPT_INIT, NULL, NULL},
    {CLI_OPT_NO_BIAS, NULL, NULL},
    {CLI_HEADING, NULL, "Training:"},
    {CLI_OPT_OPT, NULL, NULL},
    {CLI_OPT_LR, NULL, NULL},
    {CLI_OPT_EPOCHS, NULL, NULL},
    {CLI_OPT_MAX_ITER, NULL, NULL},
    {CLI_OPT_BATCH, NULL, NULL},
    {CLI_OPT_SEED, NULL, "initialisation, shuffling and split (default 1)"},
    {CLI_OPT_VAL_SPLIT, NULL, NULL},
    {CLI_OPT_PATIENCE, NULL, NULL},
    {CLI_OPT_TARGET_LOSS, NULL, NULL},
    {CLI_OPT_NO_TRAP, NULL, NULL},
    {CLI_HEADING, NULL, "Output:"},
    {CLI_OPT_MODEL_OUT, NULL, NULL},
    {CLI_OPT_HISTORY, NULL, NULL},
    {CLI_OPT_PLOT, NULL, NULL},
    {CLI_OPT_JSON, NULL, "final statistics as one JSON object on stdout"},
    {CLI_OPT_QUIET, NULL, NULL},
    {CLI_OPT_DEBUG, NULL, NULL},
    {CLI_OPT_DEBUG_PARAM, NULL, NULL},
};

const cli_spec cli_spec_train = {
    .name = "train",
    .usage = "Usage: chainrule train (--data F.csv [--target COL] | --idx-images F "
             "--idx-labels F |\n"
             "                        --text F [--seq N] [--carry-state])\n"
             "                       (--arch IN,H1,...,OUT | --layers SPEC) [OPTIONS]\n"
             "\n"
             "Trains a multilayer perceptron (--arch) or a network of layers (--layers)\n"
             "and saves it with --model.\n"
             "\n",
    CLI_SPEC_OPTIONS(options),
    .epilogue =
        "\n"
        "Any input may be '-' (standard input) or a pipe; each is read once. The\n"
        "outputs are checked before training starts: each must be in a writable\n"
        "directory and must not be an input or another output.\n"
        "Progress goes to stderr: a bar redrawn in place on a terminal, one line per\n"
        "epoch otherwise. Errors exit with status 2.\n"
        "\n"
        "Example (Fashion-MNIST):\n"
        "  D=/usr/share/datasets/fashion-mnist\n"
        "  chainrule train --idx-images $D/train-images-idx3-ubyte.gz \\\n"
        "    --idx-labels $D/train-labels-idx1-ubyte.gz --arch 784,256,10 --epochs 15 \\\n"
        "    --batch 64 --test-idx-images $D/t10k-images-idx3-ubyte.gz \\\n"
        "    --test-idx-labels $D/t10k-labels-idx1-ubyte.gz --model fashion.crm\n"
        "A convolutional network of the same data: --layers 'conv2d:32,3x3,pad=1 relu\n"
        "    maxpool:2 conv2d:64,3x3,pad=1 relu maxpool:2 flatten dense:128 relu\n"
        "    dropout:0.3 dense:10' --shape 1,28,28 in place of --arch.\n"
        "A character model (the vocabulary, the bytes of the text, is saved in the\n"
        "model file for chainrule generate; V in the layers is its size):\n"
        "  chainrule train --text /usr/share/common-licenses/GPL-3 --seq 64 \\\n"
        "    --layers 'embed:32 lstm:128,seq dense:V' --val-split 0.1 --model gpl.crm\n",
    .column = 22,
};

typedef struct train_cli {
    cli c;
    cli_nn_data data, test;
    const char *arch, *act, *out, *loss, *init, *opt, *model, *history, *plot;
    const char *debug_param, *layers;
    const char *text;          /* --text F */
    size_t seq;                /* --seq N, 0 when not given */
    int rank;                  /* --shape's rank; 0: from the data */
    size_t shape[CR_MAX_RANK]; /* --shape */
    char desc[1024];           /* the model as text, for the summary */
    double lr;
    int has_lr, standardize, no_bias, quiet, debug, tty, no_trap;
    int carry_state;     /* --carry-state */
    cli_model *cm;       /* the model being trained, saved after every epoch */
    cr_dataset *test_ds; /* test data, evaluated after every epoch */
    size_t saved_epoch;  /* the last epoch saved to --model (0: none) */
    cr_error save_err;   /* why a checkpoint could not be written */
    int save_failed;
    cr_train_options o;
    unsigned long seed;
    size_t epochs; /* --epochs, (size_t)-1 when not given */
    /* progress */
    double last_draw, epoch_start, last_epoch_end;
    size_t epochs_planned, epoch_seen;
} train_cli;

/* ---- options ---- */

static int parse_arch(train_cli *t, cr_mlp_spec *s)
{
    size_t widths[CR_MLP_MAX_HIDDEN + 2], n = 0;
    const char *p = t->arch;
    while (*p) {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p || v == 0 || v > (1u << 24) || (*end && *end != ',') || *p == '-')
            return cli_fail(&t->c, CLI_USAGE, 0, 0,
                            "--arch '%s': expected widths like 784,128,10 (each 1 to %u)",
                            t->arch, 1u << 24);
        if (n == CR_MLP_MAX_HIDDEN + 2)
            return cli_fail(&t->c, CLI_USAGE, 0, 0, "--arch: at most %d hidden layers",
                            CR_MLP_MAX_HIDDEN);
        widths[n++] = (size_t)v;
        p = *end ? end + 1 : end;
    }
    if (n < 2)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "--arch '%s': give at least the input and output widths", t->arch);
    cr_mlp_spec_init(s, widths[0], widths[n - 1]);
    s->n_hidden = n - 2;
    for (size_t l = 0; l + 2 < n; l++)
        s->hidden[l] = widths[l + 1];
    return CLI_OK;
}

static int make_spec(train_cli *t, cr_mlp_spec *s)
{
    cr_error err;
    int rc = parse_arch(t, s);
    if (rc != CLI_OK)
        return rc;
    s->hidden_act = CR_ACT_RELU;
    s->out_act = t->data.csv ? CR_ACT_LINEAR : CR_ACT_SOFTMAX;
    if ((t->act && cr_activation_parse(t->act, &s->hidden_act, &err) != CR_OK) ||
        (t->out && cr_activation_parse(t->out, &s->out_act, &err) != CR_OK))
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    s->loss = s->out_act == CR_ACT_SOFTMAX   ? CR_LOSS_XENT
              : s->out_act == CR_ACT_SIGMOID ? CR_LOSS_BCE
                                             : CR_LOSS_MSE;
    if (t->loss && cr_loss_parse(t->loss, &s->loss, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    s->init = s->hidden_act == CR_ACT_RELU ? CR_INIT_HE : CR_INIT_XAVIER;
    if (t->init && cr_init_parse(t->init, &s->init, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    s->bias = !t->no_bias;
    s->seed = t->seed;
    if (cr_mlp_spec_check(s, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    return CLI_OK;
}

/* --shape D1,D2,...: one sample's shape, 1 to CR_MAX_RANK - 1 sizes. */
static int parse_shape(train_cli *t, const char *v)
{
    const char *p = v;
    t->rank = 0;
    while (*p) {
        char *end;
        unsigned long long d = strtoull(p, &end, 10);
        if (end == p || *p == '-' || d == 0 || d > (1u << 24) || (*end && *end != ',') ||
            t->rank == CR_MAX_RANK - 1)
            return cli_fail(&t->c, CLI_USAGE, 0, 0,
                            "--shape '%s': expected 1 to %d sizes like 1,28,28 (each 1 to "
                            "%u)",
                            v, CR_MAX_RANK - 1, 1u << 24);
        t->shape[t->rank++] = (size_t)d;
        p = *end ? end + 1 : end;
    }
    if (t->rank == 0)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "--shape is empty: give sizes like 1,28,28");
    return CLI_OK;
}

static int set_optimizer(train_cli *t)
{
    cr_optim_kind kind = CR_OPTIM_ADAM;
    int momentum = t->opt && strcmp(t->opt, "momentum") == 0;
    cr_error err;
    if (momentum)
        kind = CR_OPTIM_SGD;
    else if (t->opt && cr_optim_kind_parse(t->opt, &kind, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "--opt: %s (or momentum)", err.message);
    t->o.optim = cr_optim_defaults(kind);
    if (momentum)
        t->o.optim.momentum = 0.9;
    if (t->has_lr)
        t->o.optim.lr = t->lr;
    if (cr_optim_check_options(&t->o.optim, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    return CLI_OK;
}

static int train_option(cli *c, void *ctx, cli_opt id, const char *v)
{
    train_cli *t = ctx;
    size_t seed;
    switch (id) {
    case CLI_OPT_DATA:
        t->data.csv = v;
        break;
    case CLI_OPT_TARGET:
        t->data.target = v;
        break;
    case CLI_OPT_IDX_IMAGES:
        t->data.idx_images = v;
        break;
    case CLI_OPT_IDX_LABELS:
        t->data.idx_labels = v;
        break;
    case CLI_OPT_HEADER:
    case CLI_OPT_NO_HEADER:
    case CLI_OPT_MAX_INPUT:
        return cli_nn_data_option(c, id, v, &t->data, &t->test);
    case CLI_OPT_TEST_DATA:
        t->test.csv = v;
        break;
    case CLI_OPT_TEST_IDX_IMAGES:
        t->test.idx_images = v;
        break;
    case CLI_OPT_TEST_IDX_LABELS:
        t->test.idx_labels = v;
        break;
    case CLI_OPT_ARCH:
        t->arch = v;
        break;
    case CLI_OPT_ACT:
        t->act = v;
        break;
    case CLI_OPT_OUT:
        t->out = v;
        break;
    case CLI_OPT_LOSS:
        t->loss = v;
        break;
    case CLI_OPT_INIT:
        t->init = v;
        break;
    case CLI_OPT_OPT:
        t->opt = v;
        break;
    case CLI_OPT_MODEL_OUT:
        t->model = v;
        break;
    case CLI_OPT_HISTORY:
        t->history = v;
        break;
    case CLI_OPT_PLOT:
        t->plot = v;
        break;
    case CLI_OPT_DEBUG_PARAM:
        t->debug_param = v;
        break;
    case CLI_OPT_LAYERS:
        t->layers = v;
        break;
    case CLI_OPT_SHAPE:
        return parse_shape(t, v);
    case CLI_OPT_TEXT:
        t->text = v;
        break;
    case CLI_OPT_SEQ:
        return cli_option_size(c, id, v, 1, &t->seq) ? CLI_USAGE : CLI_OK;
    case CLI_OPT_EPOCHS:
        return cli_option_size(c, id, v, 0, &t->epochs) ? CLI_USAGE : CLI_OK;
    case CLI_OPT_MAX_ITER: /* 0 would mean "no limit" to the library: refused */
        return cli_option_size(c, id, v, 1, &t->o.max_iter) ? CLI_USAGE : CLI_OK;
    case CLI_OPT_BATCH:
        return cli_option_size(c, id, v, 1, &t->o.batch) ? CLI_USAGE : CLI_OK;
    case CLI_OPT_PATIENCE:
        return cli_option_size(c, id, v, 0, &t->o.patience) ? CLI_USAGE : CLI_OK;
    case CLI_OPT_SEED:
        if (cli_option_size(c, id, v, 0, &seed))
            return CLI_USAGE;
        t->seed = (unsigned long)seed;
        break;
    case CLI_OPT_LR:
        if (cli_option_double(c, id, v, 0, 1e6, &t->lr))
            return CLI_USAGE;
        t->has_lr = 1;
        break;
    case CLI_OPT_VAL_SPLIT:
        return cli_option_double(c, id, v, 0, 0.99, &t->o.val_split) ? CLI_USAGE : CLI_OK;
    case CLI_OPT_TARGET_LOSS:
        return cli_option_double(c, id, v, 0, 1e300, &t->o.target_loss) ? CLI_USAGE
                                                                        : CLI_OK;
    case CLI_OPT_STANDARDIZE:
        t->standardize = 1;
        break;
    case CLI_OPT_NO_BIAS:
        t->no_bias = 1;
        break;
    case CLI_OPT_QUIET:
        t->quiet = 1;
        break;
    case CLI_OPT_DEBUG:
        t->debug = 1;
        break;
    case CLI_OPT_NO_TRAP:
        t->no_trap = 1;
        break;
    case CLI_OPT_CARRY_STATE:
        t->carry_state = 1;
        break;
    default:
        return cli_fail(c, CLI_USAGE, 0, 0, "option '%s' is not handled",
                        cli_option_name(id));
    }
    return CLI_OK;
}

/* --text: a character model from --layers, on no other data. */
static int check_text_options(train_cli *t)
{
    const char *other = t->data.csv                                ? "--data"
                        : t->data.idx_images || t->data.idx_labels ? "--idx-images"
                        : t->test.csv || t->test.idx_images || t->test.idx_labels
                            ? "the test data"
                        : t->arch        ? "--arch"
                        : t->rank        ? "--shape"
                        : t->standardize ? "--standardize"
                        : t->data.target ? "--target"
                                         : NULL;
    if (other)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "--text trains a character model: %s does not go with it", other);
    if (!t->layers)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "--text needs --layers, e.g. --layers 'embed:32 lstm:128,seq "
                        "dense:V' (V: the text's vocabulary size)");
    if (!t->seq)
        t->seq = 64;
    return CLI_OK;
}

static int parse(train_cli *t, int argc, char **argv)
{
    cr_train_options_init(&t->o);
    t->seed = 1;
    t->epochs = (size_t)-1; /* not given */
    int rc = cli_options_parse(&t->c, &cli_spec_train, argc, argv, train_option, t);
    if (rc != CLI_OK)
        return rc;
    if (t->text && check_text_options(t) != CLI_OK)
        return CLI_USAGE;
    if (t->seq && !t->text)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "--seq goes with --text");
    if (t->carry_state && !t->text)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "--carry-state goes with --text");
    if (!t->arch == !t->layers)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        t->arch ? "give --arch or --layers, not both"
                                : "--arch or --layers is required, e.g. --arch 784,128,10");
    if (t->arch && t->rank)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "--shape goes with --layers, not --arch");
    const char *mlp_only = t->act       ? "--act"
                           : t->out     ? "--out"
                           : t->init    ? "--init"
                           : t->no_bias ? "--no-bias"
                                        : NULL;
    if (t->layers && mlp_only)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "%s goes with --arch; with --layers, write it into the layers "
                        "(relu, softmax, dense:10,init=he,nobias)",
                        mlp_only);
    /* --max-iter alone is the only limit; --epochs alone or neither: epochs
     * (10 by default) */
    t->o.epochs = t->epochs != (size_t)-1 ? t->epochs : t->o.max_iter ? 0 : t->o.epochs;
    t->o.seed = t->seed;
    t->o.debug = t->debug;
    t->o.debug_param = t->debug_param;
    t->o.trap_nonfinite = !t->no_trap;
    if (t->o.epochs == 0 && t->o.max_iter == 0)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "give --epochs or --max-iter a positive value");
    return set_optimizer(t);
}

/* ---- progress and debug display (stderr) ---- */

/* Prints one debug record; norms are per layer with weights: an MLP's
 * W1, W2, ..., a layer model's L1, L4, ... (its layers with parameters). */
static void print_debug(const cr_train_debug *d, const cli_model *m)
{
    fprintf(stderr, "  gradient norms:");
    for (size_t l = 0, i = 0; l < d->n_layers; l++, i++) {
        while (m->model && i < cr_model_num_layers(m->model) &&
               cr_model_layer_num_params(m->model, i) == 0)
            i++;
        fprintf(stderr, " %s%zu %.3e", m->mlp ? "W" : "L", m->mlp ? l + 1 : i + 1,
                d->layer_grad_norm[l]);
    }
    fprintf(stderr, "\n  chain |dE/d.|:");
    for (size_t i = 0; i < d->n_links; i++)
        fprintf(stderr, "%s %s %.3e", i ? " ->" : "", d->chain[i].label, d->chain[i].norm);
    fprintf(stderr, "\n");
}

static int on_step(const cr_train_progress *p, void *ctx)
{
    train_cli *t = ctx;
    if (p->seconds - t->last_draw < 0.1 && p->rows_done < p->train_rows)
        return 0;
    t->last_draw = p->seconds;
    enum { WIDTH = 24 };
    const double frac = (double)p->rows_done / (double)p->train_rows;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < (int)(frac * WIDTH) ? '=' : ' ';
    bar[WIDTH] = '\0';
    if (p->epoch != t->epoch_seen) {
        t->epoch_seen = p->epoch;
        t->epoch_start = t->last_epoch_end;
    }
    const double dt = p->seconds - t->epoch_start;
    fprintf(stderr, "\r\033[Kepoch %zu", p->epoch);
    if (t->epochs_planned)
        fprintf(stderr, "/%zu", t->epochs_planned);
    fprintf(stderr, " [%s] %3.0f%%  loss %.4f", bar, 100 * frac, p->epoch_loss);
    if (!isnan(p->epoch_accuracy))
        fprintf(stderr, "  acc %.4f", p->epoch_accuracy);
    if (dt > 0)
        fprintf(stderr, "  %.0f samples/s", (double)p->rows_done / dt);
    fflush(stderr);
    return 0;
}

static int on_epoch(const cr_train_progress *p, void *ctx)
{
    train_cli *t = ctx;
    t->last_epoch_end = p->seconds;
    if (!t->quiet) {
        fprintf(stderr, "%sepoch %zu", t->tty ? "\r\033[K" : "", p->epoch);
        if (t->epochs_planned)
            fprintf(stderr, "/%zu", t->epochs_planned);
        fprintf(stderr, ": loss %.6g", p->epoch_loss);
        if (!isnan(p->epoch_accuracy))
            fprintf(stderr, ", accuracy %.4f", p->epoch_accuracy);
        if (!isnan(p->val_loss))
            fprintf(stderr, ", val_loss %.6g", p->val_loss);
        if (!isnan(p->val_accuracy))
            fprintf(stderr, ", val_accuracy %.4f", p->val_accuracy);
        cr_eval_result r = {0};
        cli plain = {.cmd = t->c.cmd}; /* a failure is said on stderr only */
        if (t->test_ds && cli_nn_evaluate(&plain, t->cm, t->test_ds,
                                          cli_nn_data_name(&t->test), &r) == CLI_OK) {
            fprintf(stderr, ", test_loss %.6g", r.loss);
            if (r.n_classes)
                fprintf(stderr, ", test_accuracy %.4f", r.accuracy);
        }
        cr_eval_result_free(&r);
        fprintf(stderr, " (%.1f s, %zu steps)\n", p->seconds, p->iteration);
    }
    if (p->debug) {
        if (t->quiet)
            fprintf(stderr, "epoch %zu:\n", p->epoch);
        print_debug(p->debug, t->cm);
    }
    /* A checkpoint: the model file always holds the last good epoch. A model
     * whose parameters are no longer finite is refused by cr_mlp_save
     * (CR_EDOMAIN) and the previous file stays; training then stops at the
     * next step with the trap's report. */
    if (t->model && t->cm) {
        cr_status st = cli_model_save(t->cm, t->model, &t->save_err);
        if (st == CR_OK) {
            t->saved_epoch = p->epoch;
        } else if (st != CR_EDOMAIN) {
            t->save_failed = 1;
            return 1; /* stop: the model cannot be written */
        }
    }
    return 0;
}

/* ---- the command ---- */

static void print_summary(train_cli *t, const cli_model *m, const cr_train_stats *s,
                          const cr_eval_result *test)
{
    const char *arch = t->desc;
    if (t->c.json) {
        printf("{\"%s\": ", m->mlp ? "arch" : "layers");
        cli_json_string(stdout, arch);
        printf(", \"epochs\": %zu, \"iterations\": %zu, \"seconds\": ", s->epochs,
               s->iterations);
        cli_json_number(stdout, s->seconds);
        printf(", \"stop\": \"%s\", \"train_rows\": %zu, \"val_rows\": %zu",
               cr_train_stop_name(s->stop), s->train_rows, s->val_rows);
        cli_json_maybe_member(stdout, "loss", s->train_loss);
        cli_json_maybe_member(stdout, "accuracy", s->train_accuracy);
        cli_json_maybe_member(stdout, "val_loss", s->val_loss);
        cli_json_maybe_member(stdout, "val_accuracy", s->val_accuracy);
        if (test) {
            printf(", \"test\": {");
            cli_nn_print_eval(stdout, test, 1);
            printf("}");
        }
        printf(", \"model\": ");
        if (t->model)
            cli_json_string(stdout, t->model);
        else
            printf("null");
        printf(", \"history\": [");
        for (size_t i = 0; i < s->n_history; i++) {
            printf("%s{\"epoch\": %zu", i ? ", " : "", i + 1);
            cli_json_maybe_member(stdout, "loss", s->loss_history[i]);
            cli_json_maybe_member(stdout, "accuracy", s->accuracy_history[i]);
            cli_json_maybe_member(stdout, "val_loss", s->val_loss_history[i]);
            cli_json_maybe_member(stdout, "val_accuracy", s->val_accuracy_history[i]);
            printf("}");
        }
        printf("]}\n");
        t->c.json_done = 1;
        return;
    }
    printf("model       %s (%zu weights)\n", arch,
           m->mlp ? cr_mlp_num_weights(m->mlp) : cr_model_num_weights(m->model));
    printf("trained     %zu epochs, %zu iterations in %.2f s (stopped: %s)\n", s->epochs,
           s->iterations, s->seconds, cr_train_stop_name(s->stop));
    printf("train       %zu rows, loss %.6g", s->train_rows, s->train_loss);
    if (!isnan(s->train_accuracy))
        printf(", accuracy %.4f", s->train_accuracy);
    printf("\n");
    if (s->val_rows) {
        printf("validation  %zu rows, loss %.6g", s->val_rows, s->val_loss);
        if (!isnan(s->val_accuracy))
            printf(", accuracy %.4f", s->val_accuracy);
        printf("\n");
    }
    if (test) {
        printf("test        %zu rows, loss %.6g", test->rows, test->loss);
        if (test->n_classes)
            printf(", accuracy %.4f", test->accuracy);
        printf("\n");
    }
    if (t->model)
        printf("saved       %s\n", t->model);
}

/* Training images kept as bytes (an eighth of the memory of doubles) when
 * they are unsigned-byte IDX files and need no standardising: the pixels,
 * scaled by 1/255 as each batch is loaded, are exactly those of the
 * double path. n_inputs and n_outputs are the widths the model needs (0:
 * any). Returns 1 with *xb and *yb (labels) filled when every check
 * passes; 0 otherwise, leaving the ordinary loader to read the files and
 * report any error. */
static int load_bytes(const train_cli *t, size_t n_inputs, size_t n_outputs, size_t classes,
                      cr_idx_bytes *xb, cr_tensor **yb)
{
    /* on any mismatch the ordinary loader reads both files again */
    if (!t->data.idx_images || !t->data.idx_labels || t->standardize ||
        !cli_input_rereadable(t->data.idx_images) ||
        !cli_input_rereadable(t->data.idx_labels))
        return 0;
    cr_idx_options o = {
        .one_hot = classes > 0, .num_classes = classes, .max_input = t->data.max_input};
    const cr_idx_options bytes = {.max_input = t->data.max_input};
    if (cr_idx_read_bytes(t->data.idx_images, &bytes, xb, NULL) != CR_OK)
        return 0;
    *yb = !n_inputs || xb->item_size == n_inputs ? cr_idx_read(t->data.idx_labels, &o, NULL)
                                                 : NULL;
    if (*yb && cr_tensor_rank(*yb) == 2 && cr_tensor_shape(*yb)[0] == xb->items &&
        (!n_outputs || cr_tensor_shape(*yb)[1] == n_outputs))
        return 1;
    cr_tensor_free(*yb);
    *yb = NULL;
    cr_idx_bytes_free(xb);
    return 0;
}

/* What run() trains on: the data sets, or the images kept as bytes. */
typedef struct train_data {
    cr_dataset *train, *test;
    cr_idx_bytes xb; /* with bytes: the training images */
    cr_tensor *yb;   /* and their labels; without bytes, --text's targets
                        when the model predicts one byte per window */
    int bytes;
} train_data;

static int load_test(train_cli *t, train_data *d, size_t n_inputs, size_t n_outputs,
                     size_t classes)
{
    if ((t->test.csv || t->test.idx_images || t->test.idx_labels) &&
        !(d->test = cli_nn_load(&t->c, &t->test, n_inputs, n_outputs, classes, 1)))
        return CLI_USAGE;
    return CLI_OK;
}

/* --arch: the MLP of spec and its data. */
static int prepare_mlp(train_cli *t, const cr_mlp_spec *spec, train_data *d, cli_model *cm)
{
    cr_error err;
    const size_t classes = spec->out_act == CR_ACT_SOFTMAX ? spec->n_outputs : 0;
    d->bytes = load_bytes(t, spec->n_inputs, spec->n_outputs, classes, &d->xb, &d->yb);
    if (!d->bytes && !(d->train = cli_nn_load(&t->c, &t->data, spec->n_inputs,
                                              spec->n_outputs, classes, 1)))
        return CLI_USAGE;
    if (load_test(t, d, spec->n_inputs, spec->n_outputs, classes) != CLI_OK)
        return CLI_USAGE;
    if (!(cm->mlp = cr_mlp_new(spec, &err)))
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    cr_mlp_spec_format(spec, t->desc, sizeof t->desc);
    return CLI_OK;
}

/* The number of classes of a layer list for the xent loss: the units of
 * its last dense layer when only activations and dropout follow it. */
static size_t spec_classes(const cr_layer_spec *layers, size_t n)
{
    while (n > 0 && (layers[n - 1].kind == CR_LAYER_ACTIVATION ||
                     layers[n - 1].kind == CR_LAYER_DROPOUT))
        n--;
    return n > 0 && layers[n - 1].kind == CR_LAYER_DENSE ? layers[n - 1].units : 0;
}

/* The input shape when --shape is not given: the data's width, made
 * [1, N, N] for IDX images of N*N pixels before a 2-D first layer and
 * [1, width] (one channel) before a 1-D one. */
static void default_shape(train_cli *t, const cr_layer_spec *first, size_t width)
{
    const cr_layer_kind k = first->kind;
    t->rank = 1;
    t->shape[0] = width;
    if (k == CR_LAYER_CONV2D || k == CR_LAYER_MAXPOOL2D || k == CR_LAYER_AVGPOOL2D) {
        size_t side = (size_t)llround(sqrt((double)width));
        if (t->data.idx_images && side * side == width) {
            t->rank = 3;
            t->shape[0] = 1;
            t->shape[1] = t->shape[2] = side;
        }
    } else if (k == CR_LAYER_CONV1D || k == CR_LAYER_MAXPOOL1D || k == CR_LAYER_AVGPOOL1D) {
        t->rank = 2;
        t->shape[0] = 1;
        t->shape[1] = width;
    }
}

/* The model's layers as text into t->desc, for the summary. */
static void describe_layers(train_cli *t, const cr_model *m)
{
    size_t used = 0;
    const size_t n = cr_model_num_layers(m);
    t->desc[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < sizeof t->desc; i++) {
        if (i)
            t->desc[used++] = ' ';
        int k = cr_layer_spec_format(cr_model_layer(m, i), t->desc + used,
                                     sizeof t->desc - used);
        used = k < 0                                ? used
               : used + (size_t)k >= sizeof t->desc ? sizeof t->desc - 1
                                                    : used + (size_t)k;
    }
}

/* --layers: the layer model and its data. The loss is xent for IDX data
 * or a softmax last, bce for a sigmoid last, mse otherwise (--loss
 * chooses); xent's labels are one-hot rows of the last dense layer's
 * width. */
static int prepare_layers(train_cli *t, train_data *d, cli_model *cm)
{
    cr_error err;
    cr_layer_spec layers[CR_MODEL_MAX_LAYERS];
    size_t n;
    if (cr_model_spec_parse(t->layers, 0, layers, CR_MODEL_MAX_LAYERS, &n, NULL, &err) !=
        CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "--layers: %s", err.message);
    cr_model_options mo;
    cr_model_options_init(&mo);
    mo.seed = t->seed;
    mo.batch = t->o.batch;
    const cr_layer_spec *last = &layers[n - 1];
    const int act = last->kind == CR_LAYER_ACTIVATION;
    mo.loss = act && last->act == CR_ACT_SIGMOID                     ? CR_LOSS_BCE
              : (act && last->act == CR_ACT_SOFTMAX) || !t->data.csv ? CR_LOSS_XENT
                                                                     : CR_LOSS_MSE;
    if (t->loss && cr_loss_parse(t->loss, &mo.loss, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    const size_t classes = mo.loss == CR_LOSS_XENT ? spec_classes(layers, n) : 0;
    if (mo.loss == CR_LOSS_XENT && classes < 2)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "--layers: the xent loss needs a last dense layer of 2 or more "
                        "classes (then at most an activation), e.g. ... dense:10");
    size_t n_in = 1;
    for (int i = 0; i < t->rank; i++)
        n_in *= t->shape[i];
    if (!t->rank)
        n_in = 0;
    d->bytes = load_bytes(t, n_in, classes, classes, &d->xb, &d->yb);
    if (!d->bytes && !(d->train = cli_nn_load(&t->c, &t->data, n_in, classes, classes, 1)))
        return CLI_USAGE;
    const size_t width = d->bytes ? d->xb.item_size : cr_dataset_cols(d->train);
    const int given = t->rank > 0;
    if (!given)
        default_shape(t, &layers[0], width);
    if (!(cm->model = cr_model_new_from_spec(t->layers, 0, t->rank, t->shape, &mo, &err))) {
        /* the first layer refusing a shape that came from the data */
        const int hint = !given && strstr(err.message, ": layer 1 (") != NULL;
        char shape[96];
        cr_shape_format(shape, sizeof shape, t->rank, t->shape);
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "--layers: %s%s%s%s", err.message,
                        hint ? " (the input shape " : "", hint ? shape : "",
                        hint ? " came from the data: give --shape)" : "");
    }
    const size_t targets = cr_model_target_size(cm->model),
                 tcols = d->bytes ? cr_tensor_shape(d->yb)[1]
                                  : cr_dataset_target_cols(d->train);
    if (tcols != targets)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "%s has %zu target columns, the model has %zu outputs",
                        cli_nn_data_name(&t->data), tcols, targets);
    if (load_test(t, d, width, targets, classes) != CLI_OK)
        return CLI_USAGE;
    describe_layers(t, cm->model);
    return CLI_OK;
}

/* --text: the windows of the text and a character model of its
 * vocabulary (V in the layers), whose loss reads one byte id per
 * position. A model that predicts every position of a window
 * (lstm:N,seq) trains on windows that follow each other (with
 * --carry-state, its recurrent state carried from one to the next); one
 * that predicts one byte (lstm:N: the last state) on windows starting at
 * every byte, with the byte after the window as the target. */
static int prepare_text(train_cli *t, train_data *d, cli_model *cm)
{
    cr_error err;
    const cr_text_options to = {.max_input = t->data.max_input};
    cr_text *text = cr_text_load(cli_input_path(t->text), &to, &err);
    if (!text)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "--text: %s", err.message);
    const cr_vocab *v = cr_text_vocab(text);
    cr_model_options mo;
    cr_model_options_init(&mo);
    mo.seed = t->seed;
    mo.batch = t->o.batch;
    mo.loss = CR_LOSS_XENT_INDEX;
    mo.carry_state = t->carry_state;
    if (t->carry_state)
        t->o.shuffle = 0; /* each batch row walks through its stretch in order */
    int rc = CLI_OK;
    t->rank = 1;
    t->shape[0] = t->seq;
    if (t->loss)
        rc = cli_fail(&t->c, CLI_USAGE, 0, 0,
                      "--loss does not go with --text: a character model's loss is "
                      "xent_index");
    else if (!(cm->model = cr_model_new_from_spec(t->layers, cr_vocab_size(v), 1, t->shape,
                                                  &mo, &err)) ||
             cr_model_set_vocab(cm->model, cr_vocab_symbols(v), cr_vocab_size(v), &err) !=
                 CR_OK)
        rc = cli_fail(&t->c, CLI_USAGE, 0, 0, "--layers: %s", err.message);
    const size_t positions = rc == CLI_OK ? cr_model_target_size(cm->model) : 0;
    if (rc == CLI_OK && positions != t->seq && positions != 1)
        rc = cli_fail(&t->c, CLI_USAGE, 0, 0,
                      "--layers: the model predicts %zu positions; a character model "
                      "predicts each of the window's %zu (e.g. lstm:128,seq) or one",
                      positions, t->seq);
    if (rc == CLI_OK && positions == 1 && t->carry_state)
        rc = cli_fail(&t->c, CLI_USAGE, 0, 0,
                      "--carry-state needs a model that predicts every position of its "
                      "window (e.g. lstm:128,seq): only its windows follow each other");
    const size_t classes = positions ? cr_model_output_size(cm->model) / positions : 0;
    if (rc == CLI_OK && classes != cr_vocab_size(v))
        rc =
            cli_fail(&t->c, CLI_USAGE, 0, 0,
                     "--layers: the model gives %zu classes per position, the text has %zu "
                     "symbols: end with dense:V",
                     classes, cr_vocab_size(v));
    if (rc == CLI_OK &&
        !(d->train = cr_text_windows(text, t->seq, positions == 1 ? 1 : 0, &err)))
        rc = cli_fail(&t->c, CLI_USAGE, 0, 0, "--text: %s", err.message);
    cr_text_free(text);
    if (rc != CLI_OK || positions != 1) {
        if (rc == CLI_OK)
            describe_layers(t, cm->model);
        return rc;
    }
    /* one target per window: the byte after it */
    const size_t rows = cr_dataset_rows(d->train), shape[2] = {rows, 1};
    if (!(d->yb = cr_tensor_new(2, shape, &err)))
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    const double *y = cr_tensor_data(cr_dataset_targets(d->train));
    double *last = cr_tensor_data_mut(d->yb);
    for (size_t r = 0; r < rows; r++)
        last[r] = y[r * t->seq + t->seq - 1];
    describe_layers(t, cm->model);
    return CLI_OK;
}

static cr_status train_model(train_cli *t, cli_model *cm, const train_data *d,
                             cr_train_stats *s, cr_error *err)
{
    if (d->bytes) {
        const double *y = cr_tensor_data(d->yb), scale = 1.0 / 255.0;
        return cm->mlp ? cr_mlp_train_bytes(cm->mlp, d->xb.data, scale, y, d->xb.items,
                                            &t->o, s, err)
                       : cr_model_train_bytes(cm->model, d->xb.data, scale, y, d->xb.items,
                                              &t->o, s, err);
    }
    /* yb without bytes: --text's one target per window */
    const double *x = cr_tensor_data(cr_dataset_features(d->train)),
                 *y = cr_tensor_data(d->yb ? d->yb : cr_dataset_targets(d->train));
    const size_t rows = cr_dataset_rows(d->train);
    return cm->mlp ? cr_mlp_train(cm->mlp, x, y, rows, &t->o, s, err)
                   : cr_model_train(cm->model, x, y, rows, &t->o, s, err);
}

static int run(train_cli *t, train_data *d, cli_model *cm, cr_train_stats *s,
               cr_eval_result *te)
{
    cr_error err;
    if (t->standardize) {
        cr_standardizer *st = cr_standardizer_fit(cr_dataset_features(d->train), &err);
        const double *mean = cr_standardizer_mean(st), *sd = cr_standardizer_std(st);
        if (!st ||
            (cm->mlp ? cr_mlp_set_input_stats(cm->mlp, mean, sd, &err)
                     : cr_model_set_input_stats(cm->model, mean, sd, &err)) != CR_OK) {
            cr_standardizer_free(st);
            return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
        }
        cr_standardizer_free(st);
    }
    t->tty = isatty(STDERR_FILENO);
    t->o.ctx = t;
    t->o.on_step = !t->quiet && t->tty ? on_step : NULL;
    t->o.on_epoch = on_epoch;
    t->epochs_planned = t->o.epochs;
    t->cm = cm;
    t->test_ds = d->test;
    const int model_existed = t->model && access(t->model, F_OK) == 0;
    if (train_model(t, cm, d, s, &err) != CR_OK) {
        if (t->tty && !t->quiet)
            fputc('\n', stderr);
        cli_fail(&t->c, CLI_EVAL, 0, 0, "training failed: %s", err.message);
        if (t->model && t->saved_epoch)
            fprintf(stderr, "chainrule train: %s keeps the model of epoch %zu\n", t->model,
                    t->saved_epoch);
        else if (t->model && model_existed)
            fprintf(stderr, "chainrule train: %s was left as it was\n", t->model);
        else if (t->model)
            fprintf(stderr, "chainrule train: %s was not written (no epoch finished)\n",
                    t->model);
        return CLI_EVAL;
    }
    if (t->save_failed)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", t->save_err.message);
    if (t->debug && s->n_debug && s->debug[s->n_debug - 1].chain_text)
        fprintf(stderr, "derivative chain of %s at the end (last batch):\n%s",
                t->debug_param ? t->debug_param
                : cm->mlp      ? "W1"
                               : "L1.W",
                s->debug[s->n_debug - 1].chain_text);
    int rc;
    if (d->test && (rc = cli_nn_evaluate(&t->c, cm, d->test, cli_nn_data_name(&t->test),
                                         te)) != CLI_OK)
        return rc;
    if (t->model && cli_model_save(cm, t->model, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    char title[sizeof t->desc + 32];
    snprintf(title, sizeof title, "chainrule train: %s", t->desc);
    rc = CLI_OK;
    if (t->history)
        rc = train_history_write(&t->c, t->history, s);
    if (rc == CLI_OK && t->plot)
        rc = train_plot_write(&t->c, t->plot, s, title);
    if (rc == CLI_OK)
        print_summary(t, cm, s, d->test ? te : NULL);
    return rc;
}

int cli_cmd_train(int argc, char **argv)
{
    train_cli t = {0};
    int rc = parse(&t, argc, argv);
    if (rc < 0)
        return fflush(stdout) == 0 ? CLI_OK : CLI_USAGE;
    cr_mlp_spec spec;
    if (rc == CLI_OK && t.arch)
        rc = make_spec(&t, &spec);
    if (rc != CLI_OK)
        return rc;
    train_data d = {0};
    cli_model cm = {0};
    cr_train_stats s = {0};
    cr_eval_result te = {0};
    rc = t.arch   ? prepare_mlp(&t, &spec, &d, &cm)
         : t.text ? prepare_text(&t, &d, &cm)
                  : prepare_layers(&t, &d, &cm);
    if (rc == CLI_OK)
        rc = run(&t, &d, &cm, &s, &te);
    cr_idx_bytes_free(&d.xb);
    cr_tensor_free(d.yb);
    cr_eval_result_free(&te);
    cr_train_stats_free(&s);
    cli_model_free(&cm);
    cr_dataset_free(d.train);
    cr_dataset_free(d.test);
    return cli_finish(&t.c, rc);
}
