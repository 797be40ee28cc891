/*
 * fuzz_expr.c - libFuzzer target for the expression language: parses the
 * input as a program into a fresh graph and, when it parses, gives every
 * input a value derived from the data, evaluates it, differentiates the
 * output with respect to every input and frees everything; then reads the
 * same bytes as a value literal (cr_expr_parse_value). Any crash,
 * leak, sanitizer report or stack overflow is a bug. Build and run with
 * `make fuzz` (clang -fsanitize=fuzzer,address,undefined).
 */
#include <chainrule.h>

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cr_graph *g = cr_graph_new();
    if (!g)
        return 0;
    cr_expr_program *p = NULL;
    cr_error err;
    if (cr_expr_parse(g, (const char *)data, size, &p, &err) == CR_OK) {
        for (size_t i = 0; i < cr_expr_num_inputs(p); i++) {
            const cr_expr_symbol *in = cr_expr_input(p, i);
            double v = 0.25 + (double)(data[i % size] % 17) / 8.0;
            cr_expr_set(p, in->name, (i % 2) ? v : -v, NULL);
            cr_node_require_grad(in->node, 1);
        }
        if (cr_expr_eval(p, &err) == CR_OK || err.status == CR_EDOMAIN)
            cr_graph_backward(g, cr_expr_output(p)->node, 0);
        cr_expr_free(p);
    } else if (err.line < 0 || err.column < 0) {
        __builtin_trap(); /* positions are 1-based, or 0 when they do not apply */
    }
    cr_graph_free(g);
    /* the same bytes as a value literal (--at's values) */
    cr_tensor *t = NULL;
    if (cr_expr_parse_value((const char *)data, size, 1, &t, &err) != CR_OK &&
        (t != NULL || err.column < 0))
        __builtin_trap(); /* a failure returns no tensor and a position */
    cr_tensor_free(t);
    return 0;
}
