/*
 * lexer.c - the expression language's lexer: checks that a program text is
 * valid UTF-8 without NUL bytes, cuts it into tokens (numbers read in the C
 * locale, names, one-character punctuation) with their line and column, and
 * describes a token for messages. Also the library's one UTF-8 validator
 * (cr_utf8_length).
 */
#include "lang/lang_private.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void lex_advance(cr_lexer *lx)
{
    unsigned char c = (unsigned char)lx->text[lx->pos++];
    if (c == '\n') {
        lx->line++;
        lx->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        lx->col++;
    }
}

static int lx_peekc(const cr_lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->text[lx->pos + ahead] : -1;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_ident_start(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}
static int is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }

cr_status cr_lang_fail(cr_error *err, cr_status st, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cr_error_setv(err, st, "expr", fmt, ap);
    va_end(ap);
    if (err) {
        err->line = line;
        err->column = col;
    }
    return st;
}

cr_status cr_lang_graph_failed(cr_graph *g, cr_error *err, int line, int col)
{
    const cr_error *ge = cr_graph_error(g);
    const cr_status st = ge->status != CR_OK ? ge->status : CR_ENOMEM;
    return cr_lang_fail(err, st, line, col, "%s", ge->message);
}

size_t cr_utf8_length(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

cr_status cr_lex_validate(const char *text, size_t len, cr_error *err)
{
    cr_lexer lx = {.text = text, .len = len, .line = 1, .col = 1};
    while (lx.pos < len) {
        const unsigned char *s = (const unsigned char *)text + lx.pos;
        if (*s == 0)
            return cr_lang_fail(err, CR_EFORMAT, lx.line, lx.col,
                                "NUL byte in the program text (not allowed)");
        size_t n = cr_utf8_length(s, len - lx.pos);
        if (n == 0)
            return cr_lang_fail(err, CR_EFORMAT, lx.line, lx.col,
                                "invalid UTF-8 in the program text (byte 0x%02x)", *s);
        while (n--)
            lex_advance(&lx);
    }
    return CR_OK;
}

static cr_status lex_number(cr_lexer *lx, cr_token *t, cr_error *err)
{
    const char *s = lx->text;
    size_t p = lx->pos;
    int ok = 1;
    while (p < lx->len && is_digit((unsigned char)s[p]))
        p++;
    if (p < lx->len && s[p] == '.') {
        p++;
        while (p < lx->len && is_digit((unsigned char)s[p]))
            p++;
    }
    if (p < lx->len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < lx->len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= lx->len || !is_digit((unsigned char)s[p]))
            ok = 0;
        while (p < lx->len && is_digit((unsigned char)s[p]))
            p++;
    }
    /* "1.2.3", "12abc", "1e": take the whole run and call it malformed;
     * "2x" is a number right before a name (a product, written 2*x). */
    const size_t number_end = p;
    const int product = ok && p < lx->len && is_ident_start((unsigned char)s[p]);
    if (p < lx->len && (is_ident_char((unsigned char)s[p]) || s[p] == '.'))
        ok = 0;
    if (!ok)
        while (p < lx->len &&
               (is_ident_char((unsigned char)s[p]) || s[p] == '.' ||
                ((s[p] == '+' || s[p] == '-') && (s[p - 1] == 'e' || s[p - 1] == 'E'))))
            p++;
    t->len = p - lx->pos;
    int shown = t->len > 40 ? 40 : (int)t->len;
    if (!ok && product && t->len <= 40)
        return cr_lang_fail(
            err, CR_ESYNTAX, t->line, t->col,
            "'%.*s' is not a name or a number: write %.*s*%.*s for a product", shown,
            s + lx->pos, (int)(number_end - lx->pos), s + lx->pos,
            (int)(lx->pos + t->len - number_end), s + number_end);
    if (!ok)
        return cr_lang_fail(err, CR_EFORMAT, t->line, t->col, "malformed number '%.*s%s'",
                            shown, s + lx->pos, t->len > 40 ? "..." : "");
    char *buf = cr_malloc(t->len + 1);
    if (!buf)
        return cr_lang_fail(err, CR_ENOMEM, t->line, t->col,
                            "out of memory reading a number");
    memcpy(buf, s + lx->pos, t->len);
    buf[t->len] = '\0';
    errno = 0;
    t->num = strtod(buf, NULL);
    cr_free(buf);
    if (!isfinite(t->num))
        return cr_lang_fail(err, CR_ERANGE, t->line, t->col,
                            "number '%.*s%s' is out of range", shown, s + lx->pos,
                            t->len > 40 ? "..." : "");
    while (lx->pos < p)
        lex_advance(lx);
    return CR_OK;
}

/* A hint for a character a program cannot hold (the n bytes at s): the
 * ASCII operator of a typeset one, or "" when there is none. */
static const char *character_hint(const char *s, size_t n)
{
    static const char *const hints[][2] = {
        {"\u00d7", ": write * for a product"},
        {"\u00b7", ": write * for a product"},
        {"\u22c5", ": write * for a product"},
        {"\u2219", ": write * for a product"},
        {"\u00f7", ": write / for a division"},
        {"\u2212", ": write - (the ASCII minus)"},
        {"\u00b2", ": write ^2 for a square"},
        {"\u00b3", ": write ^3 for a cube"},
        {"\u2264", ": write <="},
        {"\u2265", ": write >="},
        {"\u221a", ": write sqrt(x)"},
        {"\u2211", ": write sum(x)"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (strlen(hints[i][0]) == n && memcmp(hints[i][0], s, n) == 0)
            return hints[i][1];
    return (unsigned char)s[0] >= 0x80 ? ": only ASCII operators and names are allowed"
                                       : "";
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Notes the comment text[start..pos) (start at its '#') as a group marker
 * when it is one: alone on its line, "# layer NAME" or "# group: NAME"
 * with a NAME that is not empty. Other comments are only comments. */
static void note_marker(cr_lexer *lx, size_t start)
{
    const char *s = lx->text;
    size_t b = start, e = lx->pos;
    while (b > 0 && is_blank((unsigned char)s[b - 1]))
        b--;
    if (b > 0 && s[b - 1] != '\n')
        return; /* code before the comment on its line */
    for (b = start + 1; b < e && is_blank((unsigned char)s[b]);)
        b++;
    while (e > b && is_blank((unsigned char)s[e - 1]))
        e--;
    int layer =
        e - b > 6 && memcmp(s + b, "layer", 5) == 0 && is_blank((unsigned char)s[b + 5]);
    if (!layer && !(e - b > 6 && memcmp(s + b, "group:", 6) == 0))
        return;
    if (!layer)
        for (b += 6; b < e && is_blank((unsigned char)s[b]);)
            b++;
    if (b == e)
        return;
    lx->mark_start = b;
    lx->mark_len = e - b;
    lx->marked = 1;
}

cr_status cr_lex_next(cr_lexer *lx, cr_token *t, cr_error *err)
{
    for (;;) {
        int c = lx_peekc(lx, 0);
        if (is_blank(c)) {
            lex_advance(lx);
        } else if (c == '#') {
            size_t start = lx->pos;
            while (lx->pos < lx->len && lx->text[lx->pos] != '\n')
                lex_advance(lx);
            note_marker(lx, start);
        } else {
            break;
        }
    }
    t->start = lx->pos;
    t->line = lx->line;
    t->col = lx->col;
    t->len = 1;
    int c = lx_peekc(lx, 0);
    if (c < 0) {
        t->kind = T_EOF;
        t->len = 0;
        return CR_OK;
    }
    if (is_digit(c) || (c == '.' && is_digit(lx_peekc(lx, 1)))) {
        t->kind = T_NUMBER;
        return lex_number(lx, t, err);
    }
    if (is_ident_start(c)) {
        size_t p = lx->pos;
        while (p < lx->len && is_ident_char((unsigned char)lx->text[p]))
            p++;
        t->kind = T_IDENT;
        t->len = p - lx->pos;
        while (lx->pos < p)
            lex_advance(lx);
        return CR_OK;
    }
    /* two-character comparisons: <=, >=, == */
    if ((c == '<' || c == '>' || c == '=') && lx_peekc(lx, 1) == '=') {
        t->kind = c == '<' ? T_LE : c == '>' ? T_GE : T_EQ;
        t->len = 2;
        lex_advance(lx);
        lex_advance(lx);
        return CR_OK;
    }
    /* one-character tokens, in the order of their kinds */
    static const char punct[] = "\n;+-*/^(),=<>?:[]@";
    static const enum cr_tok_kind punct_kind[] = {
        T_NEWLINE, T_SEMI,     T_PLUS,   T_MINUS,    T_STAR,     T_SLASH,
        T_CARET,   T_LPAREN,   T_RPAREN, T_COMMA,    T_ASSIGN,   T_LT,
        T_GT,      T_QUESTION, T_COLON,  T_LBRACKET, T_RBRACKET, T_AT};
    const char *hit = c > 0 ? strchr(punct, c) : NULL;
    if (!hit) {
        size_t n =
            cr_utf8_length((const unsigned char *)lx->text + lx->pos, lx->len - lx->pos);
        if (c >= 0x80 || (c > 0x20 && c < 0x7F))
            return cr_lang_fail(err, CR_ESYNTAX, t->line, t->col,
                                "unexpected character '%.*s'%s", (int)n, lx->text + lx->pos,
                                character_hint(lx->text + lx->pos, n));
        return cr_lang_fail(err, CR_ESYNTAX, t->line, t->col,
                            "unexpected character (byte 0x%02x)", (unsigned)c);
    }
    t->kind = punct_kind[hit - punct];
    lex_advance(lx);
    return CR_OK;
}

cr_tok_text cr_lex_describe(const cr_lexer *lx, const cr_token *t)
{
    cr_tok_text d;
    if (t->kind == T_EOF)
        snprintf(d.text, sizeof d.text, "the end of the program");
    else if (t->kind == T_NEWLINE)
        snprintf(d.text, sizeof d.text, "the end of the line");
    else
        snprintf(d.text, sizeof d.text, "'%.*s%s'", t->len > 40 ? 40 : (int)t->len,
                 lx->text + t->start, t->len > 40 ? "..." : "");
    return d;
}
