/*
 * check_oplist.c - the op list (src/ops/oplist.h) and what is generated
 * from it: every function of the expression language is documented in
 * docs/expression-language.md, the man page and the fuzzer's dictionary;
 * every function that is an op carries the op's name; the table of
 * built-in ops has no duplicate names.
 */
#include "lang/lang_private.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A file of the source tree as a NUL-terminated string (free it). */
static char *source_file(const char *relative)
{
    char path[512];
    const char *top = getenv("top_srcdir");
    snprintf(path, sizeof path, "%s/%s", top ? top : ".", relative);
    size_t size;
    unsigned char *bytes = test_slurp(path, &size);
    char *text = realloc(bytes, size + 1);
    ck_assert_ptr_nonnull(text);
    text[size] = '\0';
    return text;
}

/* Whether word occurs in text as a whole word (not inside a longer name). */
static int has_word(const char *text, const char *word)
{
    const size_t len = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        const int before = p > text && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z') ||
                                         (p[-1] >= '0' && p[-1] <= '9'));
        const char after = p[len];
        if (!before && after != '_' && !(after >= 'a' && after <= 'z') &&
            !(after >= '0' && after <= '9'))
            return 1;
    }
    return 0;
}

/* The names of cr_expr_functions(), one by one: calls check(name) for each. */
static size_t for_each_function(void (*check)(const char *name, void *ctx), void *ctx)
{
    const char *list = cr_expr_functions();
    size_t count = 0;
    while (*list) {
        size_t len = strcspn(list, ",");
        char name[64];
        ck_assert_uint_lt(len, sizeof name);
        memcpy(name, list, len);
        name[len] = '\0';
        check(name, ctx);
        count++;
        list += len;
        while (*list == ',' || *list == ' ')
            list++;
    }
    return count;
}

typedef struct docs {
    char *language, *man, *dict;
} docs;

static void check_documented(const char *name, void *ctx)
{
    const docs *d = ctx;
    char call[80];
    snprintf(call, sizeof call, "`%s(", name);
    ck_assert_msg(strstr(d->language, call) != NULL,
                  "docs/expression-language.md does not document %s()", name);
    ck_assert_msg(has_word(d->man, name), "docs/chainrule.1 does not name %s", name);
    snprintf(call, sizeof call, "\"%s(\"", name);
    ck_assert_msg(strstr(d->dict, call) != NULL, "fuzz/expr.dict lacks %s", call);
    /* the language really accepts it under that name */
    ck_assert_ptr_nonnull(cr_lang_function_find(name, strlen(name)));
}

START_TEST(functions_documented)
{
    docs d = {source_file("docs/expression-language.md"), source_file("docs/chainrule.1"),
              source_file("fuzz/expr.dict")};
    size_t n = for_each_function(check_documented, &d);
    ck_assert_uint_ge(n, 12);
    free(d.language);
    free(d.man);
    free(d.dict);
}
END_TEST

/* The check itself can fail: a name that is nowhere. */
START_TEST(missing_function_detected)
{
    char *man = source_file("docs/chainrule.1");
    ck_assert(has_word(man, "sigmoid"));
    ck_assert(!has_word(man, "sigmoidal_no_such_function"));
    ck_assert(!has_word("softplus_x", "softplus"));
    free(man);
}
END_TEST

static void check_function_op(const char *name, void *ctx)
{
    CR_UNUSED(ctx);
    const cr_lang_function *f = cr_lang_function_find(name, strlen(name));
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(f->build);
    ck_assert_int_ge(f->min_args, 0);
    ck_assert_int_le(f->min_args, f->max_args);
    if (f->op) {
        ck_assert_str_eq(f->op->name, name);
        ck_assert_ptr_eq(cr_op_find(name), f->op);
    }
}

START_TEST(functions_are_their_ops)
{
    for_each_function(check_function_op, NULL);
    for (size_t i = 0; i < cr_builtin_op_count; i++)
        for (size_t j = i + 1; j < cr_builtin_op_count; j++)
            ck_assert_msg(strcmp(cr_builtin_ops[i]->name, cr_builtin_ops[j]->name) != 0,
                          "op '%s' is listed twice", cr_builtin_ops[i]->name);
}
END_TEST

Suite *oplist_suite(void)
{
    Suite *s = suite_create("oplist");
    TCase *tc = tcase_create("oplist");
    tcase_add_test(tc, functions_documented);
    tcase_add_test(tc, missing_function_detected);
    tcase_add_test(tc, functions_are_their_ops);
    suite_add_tcase(s, tc);
    return s;
}
