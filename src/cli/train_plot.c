/*
 * train_plot.c - the files `chainrule train` writes besides the model:
 * the per-epoch history as CSV (--history) and the loss and accuracy
 * curves as an SVG chart (--plot), each written atomically.
 */
#include "train_plot.h"

#include <math.h>
#include <stdlib.h>

/* ---- history CSV ---- */

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

/* ---- SVG chart ---- */

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
/* ---- writing ---- */

/* Writes what fn prints to path atomically. */
static int write_file(cli *c, const char *path,
                      void (*fn)(FILE *, const cr_train_stats *, const char *),
                      const cr_train_stats *s, const char *title)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&buf, &size);
    if (!mem)
        return cli_fail(c, CLI_USAGE, 0, 0, "%s: out of memory", path);
    fn(mem, s, title);
    int bad = fclose(mem) != 0;
    cr_error err;
    if (bad) {
        free(buf);
        return cli_fail(c, CLI_USAGE, 0, 0, "%s: out of memory", path);
    }
    cr_status st = cr_io_write_atomic(path, buf, size, &err);
    free(buf);
    return st == CR_OK ? CLI_OK : cli_fail(c, CLI_USAGE, 0, 0, "%s", err.message);
}

static void history_fn(FILE *f, const cr_train_stats *s, const char *title)
{
    (void)title;
    write_history(f, s);
}

int train_history_write(cli *c, const char *path, const cr_train_stats *s)
{
    return write_file(c, path, history_fn, s, NULL);
}

int train_plot_write(cli *c, const char *path, const cr_train_stats *s, const char *title)
{
    return write_file(c, path, write_svg, s, title);
}
