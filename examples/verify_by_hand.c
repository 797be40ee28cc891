/*
 * verify_by_hand.c - checking gradients derived on paper, factor by factor,
 * on the seed article's neuron: s = x1*w1 + x2*w2 + b, predicted =
 * sigmoid(s), E = 1/2 (desired - predicted)^2 with x1 = 0.1, x2 = 0.3,
 * desired = 0.03, w1 = 0.5, w2 = 0.2, b = 1.83.
 *
 * Round 1 is the article's own derivation: its dE/dw1 and dE/dw2 are right
 * (to its nine digits), but its ds/db = 0 and so dE/db = 0 are wrong.
 * Round 2 is a student who took the sigmoid's derivative as s*(1-s)
 * instead of predicted*(1-predicted): every gradient is then wrong, and
 * the report names that factor with both values.
 */
#include <chainrule.h>

#include <stdio.h>

static int run(cr_graph *g, cr_node *E, const char *title, const cr_claim *claims, size_t n)
{
    printf("== %s\n", title);
    cr_claim_report *report = NULL;
    /* the article prints nine decimals: accept its rounding */
    cr_status st = cr_check_claims(g, E, claims, n, 1e-9, 1e-7, &report);
    if (!report) {
        fprintf(stderr, "verify_by_hand: %s\n", cr_graph_error(g)->message);
        return 1;
    }
    cr_claim_report_print(report, stdout);
    printf("result: %s\n\n", cr_strerror(st));
    cr_claim_report_free(report);
    return st == CR_ECHECK ? 0 : 1; /* both rounds contain a mistake */
}

int main(void)
{
    cr_graph *g = cr_graph_new();
    if (!g)
        return 1;
    cr_node *x1 = cr_input_scalar(g, "x1", 0.1);
    cr_node *x2 = cr_input_scalar(g, "x2", 0.3);
    cr_node *desired = cr_input_scalar(g, "desired", 0.03);
    cr_node *w1 = cr_param_scalar(g, "w1", 0.5);
    cr_node *w2 = cr_param_scalar(g, "w2", 0.2);
    cr_node *b = cr_param_scalar(g, "b", 1.83);
    cr_node *s = cr_sop(g, 2, (cr_node *[]){x1, x2}, (cr_node *[]){w1, w2}, b);
    cr_node *predicted = cr_sigmoid(g, s);
    cr_node *E = cr_sq_error(g, predicted, desired);
    if (!E || cr_node_set_name(s, "s") != CR_OK ||
        cr_node_set_name(predicted, "predicted") != CR_OK ||
        cr_node_set_name(E, "E") != CR_OK) {
        fprintf(stderr, "verify_by_hand: %s\n", cr_graph_error(g)->message);
        cr_graph_free(g);
        return 1;
    }

    /* of (NULL: E), wrt, element, value */
    const cr_claim article[] = {
        {"E", "predicted", 0, 0.844352143}, /* predicted - desired */
        {"predicted", "s", 0, 0.109860473}, /* predicted * (1 - predicted) */
        {"s", "w1", 0, 0.1},                /* x1 */
        {"s", "w2", 0, 0.3},                /* x2 */
        {"s", "b", 0, 0.0},                 /* the article: "ds/db is 0" */
        {NULL, "w1", 0, 0.009276093},
        {NULL, "w2", 0, 0.027828278},
        {NULL, "b", 0, 0.0},
    };
    const double wrong_factor = 1.94 * (1.0 - 1.94); /* s*(1-s) */
    const cr_claim student[] = {
        {"E", "predicted", 0, 0.844352143},
        {"predicted", "s", 0, wrong_factor},
        {"s", "w1", 0, 0.1},
        {"s", "w2", 0, 0.3},
        {"s", "b", 0, 1.0},
        {NULL, "w1", 0, 0.844352143 * wrong_factor * 0.1},
        {NULL, "w2", 0, 0.844352143 * wrong_factor * 0.3},
        {NULL, "b", 0, 0.844352143 * wrong_factor},
    };
    int status =
        run(g, E, "the article's derivation", article, sizeof article / sizeof article[0]);
    status |= run(g, E, "a derivation with dpredicted/ds = s*(1-s)", student,
                  sizeof student / sizeof student[0]);
    cr_graph_free(g);
    return status;
}
