/*
 * cmd_train.c - `chainrule train`: builds an MLP from --arch and friends,
 * trains it on a CSV or IDX data set with a progress display, optionally
 * evaluates it on test data, and writes the model file, the history as
 * CSV and the loss/accuracy curves as an SVG chart (all atomically).
 */
#include "cli_nn.h"
#include "commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cli_help_train[] =
    "Usage: chainrule train (--data F.csv [--target COL] | --idx-images F --idx-labels F)\n"
    "                       --arch IN,H1,...,OUT [OPTIONS]\n"
    "\n"
    "Trains a multilayer perceptron and saves it with --model.\n"
    "\n"
    "Data:\n"
    "  --data F.csv        CSV file (header optional); --target COL names the target\n"
    "                      column by name or 1-based index (default: the last one).\n"
    "                      With --out softmax the target holds class labels 0..K-1.\n"
    "  --idx-images F --idx-labels F   IDX files (MNIST format, plain or .gz);\n"
    "                      pixels are scaled to [0, 1]\n"
    "  --test-data F.csv | --test-idx-images F --test-idx-labels F\n"
    "                      evaluate the trained model on test data\n"
    "  --standardize       standardise features (statistics kept in the model)\n"
    "Model:\n"
    "  --arch IN,H1,...,OUT  layer widths, e.g. 784,128,10\n"
    "  --act sigmoid|tanh|relu|linear   hidden activation (default relu)\n"
    "  --out sigmoid|softmax|linear     output activation (default softmax for IDX\n"
    "                      data, linear otherwise)\n"
    "  --loss sq_error|mse|bce|xent     (default xent for softmax, bce for sigmoid,\n"
    "                      mse for linear)\n"
    "  --init xavier|he|uniform|normal  (default he for relu, xavier otherwise)\n"
    "  --no-bias           layers without biases\n"
    "Training:\n"
    "  --opt sgd|momentum|adam|adamw|rmsprop   (default adam)\n"
    "  --lr RATE           learning rate (default: the optimizer's)\n"
    "  --epochs N          passes over the data (default 10, or no limit with\n"
    "                      --max-iter alone)\n"
    "  --max-iter N        stop after N steps\n"
    "  --batch N           rows per step (default 32)\n"
    "  --seed N            initialisation, shuffling and split (default 1)\n"
    "  --val-split F       fraction of rows held out for validation (default 0)\n"
    "  --patience N        early stopping after N epochs without improvement\n"
    "  --target-loss L     stop once an epoch's training loss is <= L\n"
    "  --no-trap-nonfinite do not stop at the first NaN or infinite value or gradient\n"
    "                      (by default training stops there and names the node)\n"
    "Output:\n"
    "  --model OUT         write the model file (atomically) after every epoch and at\n"
    "                      the end: when training fails, OUT holds the last good epoch\n"
    "  --history F.csv     per-epoch loss and accuracy\n"
    "  --plot F.svg        the loss and accuracy curves as an SVG chart\n"
    "  --json              final statistics as one JSON object on stdout\n"
    "  --quiet             no progress display\n"
    "  --debug             per epoch: each layer's gradient norm and the derivative\n"
    "                      chain of --debug-param (default W1), on stderr; at the\n"
    "                      end, that chain in the article's form\n"
    "\n"
    "Progress goes to stderr: a bar redrawn in place on a terminal, one line per\n"
    "epoch otherwise. Errors exit with status 2.\n"
    "\n"
    "Example (Fashion-MNIST):\n"
    "  D=/usr/share/datasets/fashion-mnist\n"
    "  chainrule train --idx-images $D/train-images-idx3-ubyte.gz \\\n"
    "    --idx-labels $D/train-labels-idx1-ubyte.gz --arch 784,256,10 --epochs 15 \\\n"
    "    --batch 64 --test-idx-images $D/t10k-images-idx3-ubyte.gz \\\n"
    "    --test-idx-labels $D/t10k-labels-idx1-ubyte.gz --model fashion.crm\n";

typedef struct train_cli {
    cli c;
    cli_nn_data data, test;
    const char *arch, *act, *out, *loss, *init, *opt, *model, *history, *plot;
    const char *debug_param;
    double lr;
    int has_lr, standardize, no_bias, quiet, debug, tty, no_trap;
    cr_mlp *mlp;        /* the model being trained, saved after every epoch */
    size_t saved_epoch; /* the last epoch saved to --model (0: none) */
    cr_error save_err;  /* why a checkpoint could not be written */
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

static int parse(train_cli *t, int argc, char **argv)
{
    cr_train_options_init(&t->o);
    t->seed = 1;
    t->epochs = (size_t)-1; /* not given */
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        int r;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(cli_help_train, stdout);
            return -1;
        }
#define STR(NAME, FIELD)                                                                   \
    if ((r = cli_nn_opt(&t->c, NAME, argc, argv, &i, &v)) != 0) {                          \
        if (r < 0)                                                                         \
            return CLI_USAGE;                                                              \
        FIELD = v;                                                                         \
        continue;                                                                          \
    }
#define SIZE(NAME, FIELD, LO)                                                              \
    if ((r = cli_nn_opt(&t->c, NAME, argc, argv, &i, &v)) != 0) {                          \
        if (r < 0 || cli_nn_size(&t->c, NAME, v, LO, &FIELD) != 0)                         \
            return CLI_USAGE;                                                              \
        continue;                                                                          \
    }
#define FLAG(NAME, FIELD)                                                                  \
    if (strcmp(a, NAME) == 0) {                                                            \
        FIELD = 1;                                                                         \
        continue;                                                                          \
    }
        STR("--data", t->data.csv)
        STR("--target", t->data.target)
        STR("--idx-images", t->data.idx_images)
        STR("--idx-labels", t->data.idx_labels)
        STR("--test-data", t->test.csv)
        STR("--test-idx-images", t->test.idx_images)
        STR("--test-idx-labels", t->test.idx_labels)
        STR("--arch", t->arch)
        STR("--act", t->act)
        STR("--out", t->out)
        STR("--loss", t->loss)
        STR("--init", t->init)
        STR("--opt", t->opt)
        STR("--model", t->model)
        STR("--history", t->history)
        STR("--plot", t->plot)
        STR("--debug-param", t->debug_param)
        SIZE("--epochs", t->epochs, 0)
        SIZE("--max-iter", t->o.max_iter, 0)
        SIZE("--batch", t->o.batch, 1)
        SIZE("--patience", t->o.patience, 0)
        FLAG("--standardize", t->standardize)
        FLAG("--no-bias", t->no_bias)
        FLAG("--json", t->c.json)
        FLAG("--quiet", t->quiet)
        FLAG("--debug", t->debug)
        FLAG("--no-trap-nonfinite", t->no_trap)
        if ((r = cli_nn_opt(&t->c, "--lr", argc, argv, &i, &v)) != 0) {
            if (r < 0 || cli_nn_double(&t->c, "--lr", v, 0, 1e6, &t->lr) != 0)
                return CLI_USAGE;
            t->has_lr = 1;
            continue;
        }
        if ((r = cli_nn_opt(&t->c, "--val-split", argc, argv, &i, &v)) != 0) {
            if (r < 0 || cli_nn_double(&t->c, "--val-split", v, 0, 0.99, &t->o.val_split))
                return CLI_USAGE;
            continue;
        }
        if ((r = cli_nn_opt(&t->c, "--target-loss", argc, argv, &i, &v)) != 0) {
            if (r < 0 ||
                cli_nn_double(&t->c, "--target-loss", v, 0, 1e300, &t->o.target_loss))
                return CLI_USAGE;
            continue;
        }
        if ((r = cli_nn_opt(&t->c, "--seed", argc, argv, &i, &v)) != 0) {
            size_t seed;
            if (r < 0 || cli_nn_size(&t->c, "--seed", v, 0, &seed) != 0)
                return CLI_USAGE;
            t->seed = (unsigned long)seed;
            continue;
        }
#undef STR
#undef SIZE
#undef FLAG
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "unknown option '%s' (see chainrule help train)", a);
    }
    if (!t->arch)
        return cli_fail(&t->c, CLI_USAGE, 0, 0,
                        "--arch is required, e.g. --arch 784,128,10");
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

static void print_debug(const cr_train_debug *d)
{
    fprintf(stderr, "  gradient norms:");
    for (size_t l = 0; l < d->n_layers; l++)
        fprintf(stderr, " W%zu %.3e", l + 1, d->layer_grad_norm[l]);
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
        fprintf(stderr, " (%.1f s, %zu steps)\n", p->seconds, p->iteration);
    }
    if (p->debug) {
        if (t->quiet)
            fprintf(stderr, "epoch %zu:\n", p->epoch);
        print_debug(p->debug);
    }
    /* A checkpoint: the model file always holds the last good epoch. A model
     * whose parameters are no longer finite is refused by cr_mlp_save
     * (CR_EDOMAIN) and the previous file stays; training then stops at the
     * next step with the trap's report. */
    if (t->model && t->mlp) {
        cr_status st = cr_mlp_save(t->mlp, t->model, &t->save_err);
        if (st == CR_OK) {
            t->saved_epoch = p->epoch;
        } else if (st != CR_EDOMAIN) {
            t->save_failed = 1;
            return 1; /* stop: the model cannot be written */
        }
    }
    return 0;
}

/* ---- history CSV and SVG chart ---- */

static void csv_number(FILE *f, double v)
{
    if (!isnan(v))
        fprintf(f, "%.10g", v);
}

static void write_history(FILE *f, const cr_train_stats *s)
{
    fprintf(f, "epoch,loss,accuracy,val_loss,val_accuracy\n");
    for (size_t i = 0; i < s->n_history; i++) {
        fprintf(f, "%zu,", i + 1);
        csv_number(f, s->loss_history[i]);
        fputc(',', f);
        csv_number(f, s->accuracy_history[i]);
        fputc(',', f);
        csv_number(f, s->val_loss_history[i]);
        fputc(',', f);
        csv_number(f, s->val_accuracy_history[i]);
        fputc('\n', f);
    }
}

enum { SVG_W = 720, SVG_H = 420, PAD_L = 70, PAD_R = 70, PAD_T = 40, PAD_B = 50 };

static double svg_x(size_t i, size_t n)
{
    return PAD_L + (n > 1 ? (double)i / (double)(n - 1) : 0.5) * (SVG_W - PAD_L - PAD_R);
}

static double svg_y(double v, double lo, double hi)
{
    return PAD_T + (1.0 - (v - lo) / (hi - lo)) * (SVG_H - PAD_T - PAD_B);
}

static void svg_line(FILE *f, const double *v, size_t n, double lo, double hi,
                     const char *color, int dashed)
{
    int open = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            if (open)
                fprintf(f, "\"/>\n");
            open = 0;
            continue;
        }
        if (!open)
            fprintf(f,
                    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                    color, dashed ? " stroke-dasharray=\"6,4\"" : "");
        fprintf(f, "%s%.2f,%.2f", open ? " " : "", svg_x(i, n), svg_y(v[i], lo, hi));
        open = 1;
    }
    if (open)
        fprintf(f, "\"/>\n");
}

static void write_svg(FILE *f, const cr_train_stats *s, const char *title)
{
    const size_t n = s->n_history;
    double lo = INFINITY, hi = -INFINITY;
    int has_acc = 0;
    for (size_t i = 0; i < n; i++) {
        const double v[2] = {s->loss_history[i], s->val_loss_history[i]};
        for (int k = 0; k < 2; k++) {
            if (isfinite(v[k])) {
                lo = fmin(lo, v[k]);
                hi = fmax(hi, v[k]);
            }
        }
        has_acc |= isfinite(s->accuracy_history[i]);
    }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    }
    lo = fmin(lo, 0.0);
    if (hi - lo < 1e-12)
        hi = lo + 1.0;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
            SVG_W, SVG_H, SVG_W, SVG_H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">",
            SVG_W / 2);
    for (const char *p = title; *p; p++) { /* escape for XML */
        if (*p == '<')
            fputs("&lt;", f);
        else if (*p == '&')
            fputs("&amp;", f);
        else
            fputc(*p, f);
    }
    fprintf(f, "</text>\n");
    const int x0 = PAD_L, x1 = SVG_W - PAD_R, y0 = PAD_T, y1 = SVG_H - PAD_B;
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#444\"/>\n",
            x0, y0, x1 - x0, y1 - y0);
    for (int k = 0; k <= 5; k++) { /* grid and axis labels */
        const double frac = k / 5.0, y = y1 - frac * (y1 - y0);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                x0, y, x1, y);
        fprintf(
            f,
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#1f77b4\">%.4g</text>\n",
            x0 - 6, y + 4, lo + frac * (hi - lo));
        if (has_acc)
            fprintf(f, "<text x=\"%d\" y=\"%.1f\" fill=\"#d62728\">%.1f</text>\n", x1 + 6,
                    y + 4, frac);
    }
    const size_t step = n > 10 ? (n + 9) / 10 : 1;
    for (size_t i = 0; i < n; i += step)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%zu</text>\n",
                svg_x(i, n), y1 + 18, i + 1);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">epoch</text>\n",
            (x0 + x1) / 2, SVG_H - 10);
    fprintf(f,
            "<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\" "
            "fill=\"#1f77b4\">loss</text>\n",
            (y0 + y1) / 2);
    if (has_acc)
        fprintf(f,
                "<text transform=\"translate(%d,%d) rotate(90)\" text-anchor=\"middle\" "
                "fill=\"#d62728\">accuracy</text>\n",
                SVG_W - 18, (y0 + y1) / 2);
    svg_line(f, s->loss_history, n, lo, hi, "#1f77b4", 0);
    svg_line(f, s->val_loss_history, n, lo, hi, "#1f77b4", 1);
    if (has_acc) {
        svg_line(f, s->accuracy_history, n, 0.0, 1.0, "#d62728", 0);
        svg_line(f, s->val_accuracy_history, n, 0.0, 1.0, "#d62728", 1);
    }
    const char *names[4] = {"training loss", "validation loss", "training accuracy",
                            "validation accuracy"};
    const char *colors[4] = {"#1f77b4", "#1f77b4", "#d62728", "#d62728"};
    for (int k = 0; k < (has_acc ? 4 : 2); k++) {
        const int lx = x0 + 10 + (k % 2) * 170, ly = y0 + 16 + (k / 2) * 16;
        fprintf(f,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" "
                "stroke-width=\"2\"%s/>\n",
                lx, ly - 4, lx + 24, ly - 4, colors[k],
                k % 2 ? " stroke-dasharray=\"6,4\"" : "");
        fprintf(f, "<text x=\"%d\" y=\"%d\">%s</text>\n", lx + 30, ly, names[k]);
    }
    fprintf(f, "</svg>\n");
}

/* Writes what fn prints to path atomically. */
static int write_file(train_cli *t, const char *path,
                      void (*fn)(FILE *, const cr_train_stats *, const char *),
                      const cr_train_stats *s, const char *title)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    if (!mem)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s: out of memory", path);
    fn(mem, s, title);
    int bad = fclose(mem) != 0;
    cr_error err;
    if (bad) {
        free(buf);
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s: out of memory", path);
    }
    cr_status st = cr_io_write_atomic(path, buf, size, &err);
    free(buf);
    return st == CR_OK ? CLI_OK : cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
}

static void history_fn(FILE *f, const cr_train_stats *s, const char *title)
{
    (void)title;
    write_history(f, s);
}

static void svg_fn(FILE *f, const cr_train_stats *s, const char *title)
{
    write_svg(f, s, title);
}

/* ---- the command ---- */

static void print_summary(train_cli *t, const cr_mlp *m, const cr_train_stats *s,
                          const cr_eval_result *test)
{
    char arch[256];
    cr_mlp_spec_format(cr_mlp_get_spec(m), arch, sizeof arch);
    if (t->c.json) {
        printf("{\"arch\": ");
        cli_json_string(stdout, arch);
        printf(", \"epochs\": %zu, \"iterations\": %zu, \"seconds\": ", s->epochs,
               s->iterations);
        cli_json_number(stdout, s->seconds);
        printf(", \"stop\": \"%s\", \"train_rows\": %zu, \"val_rows\": %zu",
               cr_train_stop_name(s->stop), s->train_rows, s->val_rows);
        cli_nn_json_member(stdout, "loss", s->train_loss);
        cli_nn_json_member(stdout, "accuracy", s->train_accuracy);
        cli_nn_json_member(stdout, "val_loss", s->val_loss);
        cli_nn_json_member(stdout, "val_accuracy", s->val_accuracy);
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
            cli_nn_json_member(stdout, "loss", s->loss_history[i]);
            cli_nn_json_member(stdout, "accuracy", s->accuracy_history[i]);
            cli_nn_json_member(stdout, "val_loss", s->val_loss_history[i]);
            cli_nn_json_member(stdout, "val_accuracy", s->val_accuracy_history[i]);
            printf("}");
        }
        printf("]}\n");
        t->c.json_done = 1;
        return;
    }
    printf("model       %s (%zu weights)\n", arch, cr_mlp_num_weights(m));
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
 * double path. Returns 1 with *xb and *yb (labels) filled when every check
 * passes; 0 otherwise, leaving the ordinary loader to read the files and
 * report any error. */
static int load_bytes(const train_cli *t, const cr_mlp_spec *spec, size_t classes,
                      cr_idx_bytes *xb, cr_tensor **yb)
{
    if (!t->data.idx_images || !t->data.idx_labels || t->standardize)
        return 0;
    cr_idx_options o = {.one_hot = classes > 0, .num_classes = classes};
    if (cr_idx_read_bytes(t->data.idx_images, 0, xb, NULL) != CR_OK)
        return 0;
    *yb =
        xb->item_size == spec->n_inputs ? cr_idx_read(t->data.idx_labels, &o, NULL) : NULL;
    if (*yb && cr_tensor_rank(*yb) == 2 && cr_tensor_shape(*yb)[0] == xb->items &&
        cr_tensor_shape(*yb)[1] == spec->n_outputs)
        return 1;
    cr_tensor_free(*yb);
    *yb = NULL;
    cr_idx_bytes_free(xb);
    return 0;
}

static int run(train_cli *t, cr_mlp_spec *spec, cr_dataset **train, cr_dataset **test,
               cr_mlp **m, cr_train_stats *s, cr_eval_result *te, cr_idx_bytes *xb,
               cr_tensor **yb)
{
    cr_error err;
    const size_t classes = spec->out_act == CR_ACT_SOFTMAX ? spec->n_outputs : 0;
    const int bytes = load_bytes(t, spec, classes, xb, yb);
    if (!bytes && !(*train = cli_nn_load(&t->c, &t->data, spec->n_inputs, spec->n_outputs,
                                         classes, 1)))
        return CLI_USAGE;
    if ((t->test.csv || t->test.idx_images || t->test.idx_labels) &&
        !(*test =
              cli_nn_load(&t->c, &t->test, spec->n_inputs, spec->n_outputs, classes, 1)))
        return CLI_USAGE;
    if (!(*m = cr_mlp_new(spec, &err)))
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    cr_tensor *x = bytes ? NULL : cr_dataset_features(*train),
              *y = bytes ? *yb : cr_dataset_targets(*train);
    if (t->standardize) {
        cr_standardizer *st = cr_standardizer_fit(x, &err);
        if (!st || cr_mlp_set_input_stats(*m, cr_standardizer_mean(st),
                                          cr_standardizer_std(st), &err) != CR_OK) {
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
    t->mlp = *m;
    cr_status st = bytes ? cr_mlp_train_bytes(*m, xb->data, 1.0 / 255.0, cr_tensor_data(y),
                                              xb->items, &t->o, s, &err)
                         : cr_mlp_train(*m, cr_tensor_data(x), cr_tensor_data(y),
                                        cr_dataset_rows(*train), &t->o, s, &err);
    if (st != CR_OK) {
        if (t->tty && !t->quiet)
            fputc('\n', stderr);
        cli_fail(&t->c, CLI_EVAL, 0, 0, "training failed: %s", err.message);
        if (t->model && t->saved_epoch)
            fprintf(stderr, "chainrule train: %s keeps the model of epoch %zu\n", t->model,
                    t->saved_epoch);
        else if (t->model)
            fprintf(stderr, "chainrule train: %s was left as it was\n", t->model);
        return CLI_EVAL;
    }
    if (t->save_failed)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", t->save_err.message);
    if (t->debug && s->n_debug && s->debug[s->n_debug - 1].chain_text)
        fprintf(stderr, "derivative chain of %s at the end (last batch):\n%s",
                t->debug_param ? t->debug_param : "W1",
                s->debug[s->n_debug - 1].chain_text);
    if (*test && cr_mlp_evaluate(*m, cr_tensor_data(cr_dataset_features(*test)),
                                 cr_tensor_data(cr_dataset_targets(*test)),
                                 cr_dataset_rows(*test), te, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    if (t->model && cr_mlp_save(*m, t->model, &err) != CR_OK)
        return cli_fail(&t->c, CLI_USAGE, 0, 0, "%s", err.message);
    char title[300];
    snprintf(title, sizeof title, "chainrule train: ");
    cr_mlp_spec_format(spec, title + strlen(title), sizeof title - strlen(title));
    int rc = CLI_OK;
    if (t->history)
        rc = write_file(t, t->history, history_fn, s, title);
    if (rc == CLI_OK && t->plot)
        rc = write_file(t, t->plot, svg_fn, s, title);
    if (rc == CLI_OK)
        print_summary(t, *m, s, *test ? te : NULL);
    return rc;
}

int cli_cmd_train(int argc, char **argv)
{
    train_cli t = {0};
    t.c.cmd = "train";
    t.c.help = cli_help_train;
    int rc = parse(&t, argc, argv);
    if (rc < 0)
        return fflush(stdout) == 0 ? CLI_OK : CLI_USAGE;
    cr_mlp_spec spec;
    if (rc == CLI_OK)
        rc = make_spec(&t, &spec);
    if (rc != CLI_OK)
        return rc;
    cr_dataset *train = NULL, *test = NULL;
    cr_mlp *m = NULL;
    cr_train_stats s = {0};
    cr_eval_result te = {0};
    cr_idx_bytes xb = {0};
    cr_tensor *yb = NULL;
    rc = run(&t, &spec, &train, &test, &m, &s, &te, &xb, &yb);
    cr_idx_bytes_free(&xb);
    cr_tensor_free(yb);
    cr_eval_result_free(&te);
    cr_train_stats_free(&s);
    cr_mlp_free(m);
    cr_dataset_free(train);
    cr_dataset_free(test);
    return cli_finish(&t.c, rc);
}
