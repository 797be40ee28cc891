/*
 * sequence_regression.c - a recurrent network predicts the next value of a
 * noisy sine wave from the 12 values before it. The series is written as
 * a one-column CSV and read back by cr_sequence_load_mem, which cuts it
 * into windows; an Elman RNN and a GRU of 8 units (chainrule/recurrent.h),
 * each followed by a linear read-out, are trained with Adam and gradient
 * clipping on the mean squared error, and compared on a held-out stretch
 * of the wave with the naive forecast (the last value seen). Exits with
 * status 1 unless both beat it.
 */
#include <chainrule.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 12
#define UNITS 8
#define BATCH 16
#define EPOCHS 40

/* A deterministic noise in [-1, 1) (a linear congruential generator), so
 * that the data are the same on every machine. */
static double noise(unsigned long *s)
{
    *s = (*s * 6364136223846793005UL + 1442695040888963407UL) & 0xffffffffffffUL;
    return (double)(*s >> 16) / 2147483648.0 - 1.0;
}

/* n values of sin(0.35 k) + 0.1 noise from k = first, as CSV text. */
static char *series_csv(size_t first, size_t n, unsigned long *seed)
{
    char *text = malloc(n * 24 + 8), *p = text;
    if (!text)
        return NULL;
    p += sprintf(p, "value\n");
    for (size_t k = first; k < first + n; k++)
        p += sprintf(p, "%.6f\n", sin(0.35 * (double)k) + 0.1 * noise(seed));
    return text;
}

static cr_dataset *load(size_t first, size_t n, unsigned long *seed)
{
    char *text = series_csv(first, n, seed);
    cr_sequence_options o = {.window = WINDOW};
    cr_error err;
    cr_dataset *ds =
        text ? cr_sequence_load_mem(text, strlen(text), "sine.csv", &o, &err) : NULL;
    if (text && !ds)
        fprintf(stderr, "sequence_regression: %s\n", err.message);
    free(text);
    return ds;
}

/* The network on inputs x [rows, WINDOW, 1]: cell, then h W + b. */
static cr_node *network(cr_graph *g, const cr_rnn_params *p, cr_node *w, cr_node *b,
                        cr_node *x)
{
    cr_node *h = cr_rnn(g, p, x, NULL, 0, NULL);
    return cr_sop(g, 1, &h, &w, b);
}

/* Trains one cell; prints the validation error as it goes. The final
 * validation MSE in *val_mse. */
static int train(cr_rnn_cell cell, cr_dataset *tr, cr_dataset *va, double *val_mse)
{
    cr_graph *g = cr_graph_new();
    cr_graph_set_seed(g, 42);
    cr_rnn_params p;
    cr_rnn_params_new(g, "cell", cell, 1, UNITS, 1, &p);
    cr_node *w = cr_param_init(g, "w", 2, (size_t[]){UNITS, 1}, CR_INIT_XAVIER, 0, 0);
    cr_node *b = cr_param_scalar(g, "b", 0.0);
    const size_t nv = cr_dataset_rows(va);
    cr_node *x = cr_input(g, "x", 3, (size_t[]){BATCH, WINDOW, 1});
    cr_node *t = cr_input(g, "t", 2, (size_t[]){BATCH, 1});
    cr_node *loss = cr_mse(g, network(g, &p, w, b, x), t);
    cr_node *xv = cr_input(g, "xv", 3, (size_t[]){nv, WINDOW, 1});
    cr_node *tv = cr_input(g, "tv", 2, (size_t[]){nv, 1});
    cr_node *val = cr_mse(g, network(g, &p, w, b, xv), tv);
    cr_optim_options oo = cr_optim_defaults(CR_OPTIM_ADAM);
    oo.lr = 0.01;
    oo.clip_norm = 1.0;
    cr_optim *opt = cr_optim_new(g, &oo, NULL);
    if (!loss || !val || !opt) {
        fprintf(stderr, "sequence_regression: %s\n", cr_graph_error(g)->message);
        cr_graph_free(g);
        return 1;
    }
    cr_node_set_data(xv, cr_tensor_data(cr_dataset_features(va)), nv * WINDOW);
    cr_node_set_data(tv, cr_tensor_data(cr_dataset_targets(va)), nv);
    const size_t rows = cr_dataset_rows(tr), batches = rows / BATCH;
    size_t *order = malloc(rows * sizeof *order);
    int status = order ? 0 : 1;
    for (size_t epoch = 1; status == 0 && epoch <= EPOCHS; epoch++) {
        for (size_t i = 0; i < rows; i++)
            order[i] = i;
        cr_data_shuffle(order, rows, epoch, NULL);
        for (size_t k = 0; status == 0 && k < batches; k++) {
            status = cr_dataset_batch(tr, order + k * BATCH, BATCH,
                                      (cr_tensor *)cr_node_value(x),
                                      (cr_tensor *)cr_node_value(t), NULL) != CR_OK ||
                     cr_graph_forward(g, loss) != CR_OK ||
                     cr_graph_backward(g, loss, 0) != CR_OK || cr_optim_step(opt) != CR_OK;
        }
        if (status == 0 && cr_graph_forward(g, val) != CR_OK)
            status = 1;
        if (status == 0 && epoch % 10 == 0)
            printf("  %-4s epoch %2zu: validation MSE %.3f\n", cr_rnn_cell_name(cell),
                   epoch, cr_node_scalar(val));
    }
    if (status != 0)
        fprintf(stderr, "sequence_regression: %s\n", cr_graph_error(g)->message);
    *val_mse = cr_node_scalar(val);
    free(order);
    cr_optim_free(opt);
    cr_graph_free(g);
    return status;
}

int main(void)
{
    unsigned long seed = 7;
    cr_dataset *tr = load(0, 300, &seed);  /* 288 windows */
    cr_dataset *va = load(300, 76, &seed); /* 64 windows that follow */
    if (!tr || !va)
        return 1;
    /* the naive forecast: the next value is the last one seen */
    const size_t nv = cr_dataset_rows(va);
    const double *xd = cr_tensor_data(cr_dataset_features(va));
    const double *yd = cr_tensor_data(cr_dataset_targets(va));
    double naive = 0;
    for (size_t i = 0; i < nv; i++)
        naive += pow(yd[i] - xd[i * WINDOW + WINDOW - 1], 2) / (double)nv;
    printf("%zu training windows, %zu validation windows of %d steps\n",
           cr_dataset_rows(tr), nv, WINDOW);
    printf("naive forecast (last value): validation MSE %.3f\n", naive);
    int status = 0;
    const cr_rnn_cell cells[2] = {CR_RNN_TANH, CR_RNN_GRU};
    for (int c = 0; c < 2 && status == 0; c++) {
        double mse;
        status = train(cells[c], tr, va, &mse);
        if (status == 0) {
            printf("%s: validation MSE %.3f, %.1f times lower than the naive forecast\n",
                   cr_rnn_cell_name(cells[c]), mse, naive / mse);
            status = mse < naive ? 0 : 1;
        }
    }
    cr_dataset_free(tr);
    cr_dataset_free(va);
    return status;
}
