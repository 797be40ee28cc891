/*
 * fuzz_dot.c - libFuzzer target for the DOT writer fed hostile names: the
 * input gives the names of a small graph's nodes (split at NUL bytes) and
 * a title; the DOT text written to memory (and, when the switch byte says
 * so, to a file through the atomic writer) must pass a structural check:
 * valid UTF-8, every quoted string closed and free of raw control
 * characters, braces balanced outside strings with the graph's closing
 * brace the last thing in the text. Names the graph refuses must be
 * refused with a message. Never a crash, a leak or undefined behaviour.
 * Built and run by `make fuzz` / fuzz/run.sh (seed corpus fuzz/corpus/dot).
 */
#include <chainrule.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid:
 * written independently of src/dot.c on purpose. */
static size_t utf8_ok(const unsigned char *s, size_t n)
{
    if (s[0] < 0x80)
        return 1;
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n || s[0] > 0xF4 || s[0] == 0xC0 || s[0] == 0xC1)
        return 0;
    uint32_t cp = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* The structural check of the DOT text; aborts on any violation. */
static void check_dot(const char *text, size_t len)
{
    const unsigned char *u = (const unsigned char *)text;
    if (len < 9 || memcmp(text, "digraph ", 8) != 0)
        abort();
    int in_string = 0;
    long depth = 0;
    size_t closed_at = 0; /* where the depth went back to 0 */
    for (size_t i = 0; i < len;) {
        size_t n = utf8_ok(u + i, len - i);
        if (n == 0)
            abort(); /* invalid UTF-8 reached the output */
        if (n > 1) {
            if (!in_string)
                abort(); /* non-ASCII only inside quoted strings */
            i += n;
            continue;
        }
        unsigned char c = u[i];
        if (in_string) {
            if (c < 0x20 || c == 0x7F)
                abort(); /* raw control character inside a string */
            if (c == '\\') {
                if (i + 1 >= len || u[i + 1] < 0x20)
                    abort(); /* an escape must escape something printable */
                i += 2;
                continue;
            }
            if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{') {
            if (closed_at)
                abort(); /* a second graph after the first closed */
            depth++;
        } else if (c == '}') {
            if (--depth < 0)
                abort();
            if (depth == 0)
                closed_at = i + 1;
        }
        i++;
    }
    if (in_string || depth != 0 || !closed_at)
        abort();
    for (size_t i = closed_at; i < len; i++)
        if (u[i] != '\n' && u[i] != ' ')
            abort(); /* text after the graph's closing brace */
}

/* The i-th NUL-separated field of the input (copied, NUL-terminated). */
static char *field(const uint8_t *data, size_t size, int i)
{
    size_t start = 0;
    for (int k = 0; k < i; k++) {
        const uint8_t *z = memchr(data + start, 0, size - start);
        if (!z)
            return NULL;
        start = (size_t)(z - data) + 1;
    }
    const uint8_t *z = memchr(data + start, 0, size - start);
    size_t n = z ? (size_t)(z - data) - start : size - start;
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, data + start, n);
        s[n] = '\0';
    }
    return s;
}

/* Names node n, or checks the refusal explains itself. */
static void name_node(cr_graph *g, cr_node *n, const char *name)
{
    if (!n || !name)
        return;
    if (cr_node_set_name(n, name) != CR_OK && cr_graph_error(g)->message[0] == '\0')
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const unsigned sel = data[0];
    data++;
    size--;
    char *names[6];
    for (int i = 0; i < 6; i++)
        names[i] = field(data, size, i);
    cr_graph *g = cr_graph_new();
    if (!g)
        abort();
    /* z = sigmoid(x1 * w1 + x2 * w2 + b), E = (z - t)^2 / 2 */
    cr_node *x1 = cr_input_scalar(g, NULL, 0.1), *x2 = cr_input_scalar(g, NULL, 0.3);
    cr_node *w1 = cr_param_scalar(g, NULL, 0.5), *w2 = cr_param_scalar(g, NULL, 0.2);
    cr_node *b = cr_param_scalar(g, NULL, 1.83), *t = cr_input_scalar(g, NULL, 0.03);
    cr_node *s = cr_sop(g, 2, (cr_node *[]){x1, x2}, (cr_node *[]){w1, w2}, b);
    cr_node *z = cr_sigmoid(g, s);
    cr_node *E = cr_sq_error(g, z, t);
    if (!E)
        abort();
    cr_node *targets[5] = {x1, w1, b, s, z};
    for (int i = 0; i < 5; i++)
        name_node(g, targets[i], names[i]);
    if (cr_graph_forward(g, E) != CR_OK)
        abort();
    if ((sel & 1) && cr_graph_backward(g, E, 0) != CR_OK)
        abort();
    cr_dot_options o;
    cr_dot_options_init(&o);
    o.title = names[5];
    o.loss = (sel & 2) ? E : NULL;
    o.highlight = (sel & 6) == 6 ? w1 : NULL;
    o.include_backward = (sel >> 3) & 1;
    o.edge_values = !((sel >> 4) & 1);
    o.max_nodes = (sel >> 5) & 1 ? 4 : 0;
    o.rankdir = (sel >> 6) & 1 ? CR_DOT_TB : CR_DOT_LR;

    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        abort();
    cr_status st = cr_dot_write(g, mem, &o);
    if (fclose(mem) != 0 || st != CR_OK)
        abort();
    check_dot(text, len);
    if ((sel & 0x80) && (size & 7) == 0) { /* the same through the atomic writer */
        char path[] = "/tmp/fuzz-dot-XXXXXX";
        int fd = mkstemp(path);
        if (fd >= 0) {
            close(fd);
            if (cr_dot_write_file(g, path, &o) != CR_OK)
                abort();
            FILE *f = fopen(path, "rb");
            char *back = malloc(len + 1);
            if (!f || !back || fread(back, 1, len + 1, f) != len ||
                memcmp(back, text, len) != 0)
                abort(); /* the file holds exactly the text */
            fclose(f);
            free(back);
            unlink(path);
        }
    }
    free(text);
    cr_graph_free(g);
    for (int i = 0; i < 6; i++)
        free(names[i]);
    return 0;
}
