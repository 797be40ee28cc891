/*
 * check_optim.c - tests of the optimizers: two hand-computed update steps
 * of each rule, clipping, schedules, weight decay against AdamW, option
 * validation with its messages, step errors (a NULL optimizer too), and a
 * step that allocates nothing. Steps after a backward with the non-finite
 * trap (which lets SGD take the gradient norm from its update pass) must
 * match steps without it bit for bit.
 *
 * Every test trains w = [1.5, -0.4] on one of two losses:
 *   QUAD  L = 0.5 * sum(w*w)    so the gradient is g = w
 *   LIN   L = sum(c*w), c = [0.5, -2.0], so the gradient is g = c
 */
#include "testutil.h"
#include "core/internal.h"

#include <math.h>
#include <string.h>

#define TOL 1e-12

enum loss_kind { QUAD, LIN };

typedef struct fixture {
    cr_graph *g;
    cr_node *w, *loss;
    cr_optim *opt;
} fixture;

static fixture setup(enum loss_kind kind, const cr_optim_options *o)
{
    fixture f = {0};
    f.g = cr_graph_new();
    ck_assert_ptr_nonnull(f.g);
    size_t shape[1] = {2};
    double w0[2] = {1.5, -0.4}, c[2] = {0.5, -2.0};
    cr_error err;
    cr_tensor *t = cr_tensor_new_from(1, shape, w0, &err);
    f.w = cr_param(f.g, "w", t);
    cr_tensor_free(t);
    if (kind == QUAD) {
        f.loss = cr_scale(f.g, cr_sum(f.g, cr_mul(f.g, f.w, f.w)), 0.5);
    } else {
        cr_tensor *ct = cr_tensor_new_from(1, shape, c, &err);
        f.loss = cr_sum(f.g, cr_mul(f.g, cr_constant(f.g, ct), f.w));
        cr_tensor_free(ct);
    }
    ck_assert_msg(f.loss != NULL, "%s", cr_graph_error(f.g)->message);
    f.opt = cr_optim_new(f.g, o, &err);
    ck_assert_msg(f.opt != NULL, "%s", err.message);
    return f;
}

static void teardown(fixture *f)
{
    cr_optim_free(f->opt);
    cr_graph_free(f->g);
}

/* forward, backward, step; then checks w against the expected values. */
static void step_expect(fixture *f, double w0, double w1)
{
    ck_assert_int_eq(cr_graph_forward(f->g, f->loss), CR_OK);
    ck_assert_int_eq(cr_graph_backward(f->g, f->loss, 0), CR_OK);
    ck_assert_int_eq(cr_optim_step(f->opt), CR_OK);
    const cr_tensor *v = cr_node_value(f->w);
    ck_assert_double_eq_tol(cr_tensor_get(v, 0), w0, TOL);
    ck_assert_double_eq_tol(cr_tensor_get(v, 1), w1, TOL);
}

/* Two update steps of one rule, hand-computed: w after the first and after
 * the second step. Options not listed are cr_optim_defaults(kind)'s. */
typedef struct update_case {
    const char *name;
    cr_optim_kind kind;
    enum loss_kind loss;
    double lr, momentum, weight_decay;
    int nesterov;
    double w1[2], w2[2];
} update_case;

// clang-format off
static const update_case update_cases[] = {
    /* w -= 0.1*w: w1 = 0.9*w0 = [1.35, -0.36]; w2 = 0.81*w0 = [1.215, -0.324] */
    {"sgd", CR_OPTIM_SGD, QUAD, 0.1, 0, 0, 0, {1.35, -0.36}, {1.215, -0.324}},
    /* v1 = g1 = w0; w1 = w0 - 0.1*w0 = 0.9*w0 = [1.35, -0.36]
     * v2 = 0.9*v1 + g2 = 0.9*w0 + 0.9*w0 = 1.8*w0;
     * w2 = 0.9*w0 - 0.1*1.8*w0 = 0.72*w0 = [1.08, -0.288] */
    {"sgd momentum", CR_OPTIM_SGD, QUAD, 0.1, 0.9, 0, 0, {1.35, -0.36}, {1.08, -0.288}},
    /* v1 = w0; update = g + 0.9*v1 = 1.9*w0; w1 = w0 - 0.19*w0 = 0.81*w0
     *    = [1.215, -0.324]
     * g2 = 0.81*w0; v2 = 0.9*w0 + 0.81*w0 = 1.71*w0;
     * update = 0.81*w0 + 0.9*1.71*w0 = 2.349*w0;
     * w2 = 0.81*w0 - 0.2349*w0 = 0.5751*w0 = [0.86265, -0.23004] */
    {"sgd nesterov", CR_OPTIM_SGD, QUAD, 0.1, 0.9, 0, 1,
     {1.215, -0.324}, {0.86265, -0.23004}},
    /* g = c + 0.1*w: g1 = [0.5+0.15, -2-0.04] = [0.65, -2.04];
     * w1 = [1.5-0.065, -0.4+0.204] = [1.435, -0.196]
     * g2 = [0.5+0.1435, -2-0.0196] = [0.6435, -2.0196];
     * w2 = [1.435-0.06435, -0.196+0.20196] = [1.37065, 0.00596] */
    {"sgd weight decay", CR_OPTIM_SGD, LIN, 0.1, 0, 0.1, 0,
     {1.435, -0.196}, {1.37065, 0.00596}},
    /* Adam, beta1 0.9, beta2 0.999, eps 1e-8.
     * step 1, g = w0 = [1.5, -0.4]:
     *   m = 0.1*g = [0.15, -0.04]; s = 0.001*g^2 = [0.00225, 0.00016]
     *   m^ = m/0.1 = g; s^ = s/0.001 = g^2; update = g/(|g| + 1e-8)
     *   w1 = [1.5 - 0.1*1.5/1.50000001, -0.4 + 0.1*0.4/0.40000001]
     *      = [1.4000000006666667, -0.3000000025]
     * step 2, g = w1:
     *   m = 0.9*[0.15, -0.04] + 0.1*w1 = [0.2750000000666667, -0.06600000025]
     *   s = 0.999*[0.00225, 0.00016] + 0.001*w1^2
     *     = [0.00420775000186667, 0.0002498400015]
     *   m^ = m/(1-0.81) = m/0.19 = [1.447368421403509, -0.3473684223684211]
     *   s^ = s/(1-0.998001) = s/0.001999 = [2.104927464665668, 0.124982492]
     *   w2 = w1 - 0.1*m^/(sqrt(s^) + 1e-8)
     *      = [1.3002390629683902, -0.20174249705626704] */
    {"adam", CR_OPTIM_ADAM, QUAD, 0.1, 0, 0, 0,
     {1.4000000006666667, -0.3000000025}, {1.3002390629683902, -0.20174249705626704}},
    /* Weight decay 0.5 on LIN (g = c = [0.5, -2]): Adam adds it to the
     * gradient, AdamW shrinks the weights directly.
     * Adam + L2, step 1: g = c + 0.5*w0 = [1.25, -2.2]; the first Adam step
     *   is lr*g/(|g| + 1e-8): w1 = [1.5 - 0.1*1.25/1.25000001,
     *   -0.4 + 0.1*2.2/2.20000001] = [1.4000000008, -0.30000000045454545]
     * step 2: g = c + 0.5*w1 = [1.2000000004, -2.150000000227]
     *   m = 0.9*0.1*[1.25, -2.2] + 0.1*g = [0.23250000004, -0.4130000000227]
     *   s = 0.999*0.001*[1.5625, 4.84] + 0.001*g^2
     *     = [0.00300093750096, 0.009457660000977]
     *   w2 = w1 - 0.1*(m/0.19)/(sqrt(s/0.001999) + 1e-8)
     *      = [1.3001271895912654, -0.20006652368007166] */
    {"adam l2", CR_OPTIM_ADAM, LIN, 0.1, 0, 0.5, 0,
     {1.4000000008, -0.30000000045454545}, {1.3001271895912654, -0.20006652368007166}},
    /* AdamW, step 1: w <- w - 0.1*0.5*w = 0.95*w0 = [1.425, -0.38], then the
     *   Adam step on g = c: -0.1*c/(|c| + 1e-8)
     *   w1 = [1.425 - 0.1*0.5/0.50000001, -0.38 + 0.1*2/2.00000001]
     *      = [1.325000002, -0.2800000005]
     * step 2: 0.95*w1 = [1.2587500019, -0.266000000475]; g = c again, so
     *   m^ = c, s^ = c^2 and the step is again -0.1*c/(|c| + 1e-8):
     *   w2 = [1.1587500039, -0.166000000975] */
    {"adamw", CR_OPTIM_ADAMW, LIN, 0.1, 0, 0.5, 0,
     {1.325000002, -0.2800000005}, {1.1587500039, -0.166000000975}},
    /* RMSprop, alpha 0.99, eps 1e-8.
     * step 1, g = w0: s = 0.01*g^2 = [0.0225, 0.0016]; sqrt(s) = [0.15, 0.04]
     *   w1 = w0 - 0.01*g/(sqrt(s) + 1e-8)
     *      = [1.5 - 0.015/0.15000001, -0.4 + 0.004/0.04000001]
     *      = [1.4000000066666662, -0.300000025]
     * step 2, g = w1: s = 0.99*s + 0.01*w1^2 = [0.0418750001866667, 0.00248400015]
     *   w2 = w1 - 0.01*w1/(sqrt(s) + 1e-8)
     *      = [1.3315851209971206, -0.2398071073357448] */
    {"rmsprop", CR_OPTIM_RMSPROP, QUAD, 0.01, 0, 0, 0,
     {1.4000000066666662, -0.300000025}, {1.3315851209971206, -0.2398071073357448}},
    /* With momentum 0.5 the first step is the same (v1 = u1); the second adds
     * 0.5*v1 = 0.5*[9.999999333, -9.9999975] times lr 0.01 to the update:
     *   w2 = [1.3315851209971206 - 0.01*0.5*9.999999333,
     *         -0.2398071073357448 + 0.01*0.5*9.9999975]
     *      = [1.2815851243304537, -0.18980711983574172] */
    {"rmsprop momentum", CR_OPTIM_RMSPROP, QUAD, 0.01, 0.5, 0, 0,
     {1.4000000066666662, -0.300000025}, {1.2815851243304537, -0.18980711983574172}},
};
// clang-format on

START_TEST(two_steps)
{
    const update_case *u = &update_cases[_i];
    cr_optim_options o = cr_optim_defaults(u->kind);
    o.lr = u->lr;
    o.momentum = u->momentum;
    o.weight_decay = u->weight_decay;
    o.nesterov = u->nesterov;
    fixture f = setup(u->loss, &o);
    step_expect(&f, u->w1[0], u->w1[1]);
    step_expect(&f, u->w2[0], u->w2[1]);
    ck_assert_uint_eq(cr_optim_steps(f.opt), 2);
    teardown(&f);
}
END_TEST

/* The same two steps with CR_GRAPH_TRAP_NONFINITE set: SGD then skips its
 * own scan of the gradients and sums their squares in the update pass. The
 * parameters and the reported norm must be exactly those without the trap. */
START_TEST(trapped_steps_match)
{
    const update_case *u = &update_cases[_i];
    cr_optim_options o = cr_optim_defaults(u->kind);
    o.lr = u->lr;
    o.momentum = u->momentum;
    o.weight_decay = u->weight_decay;
    o.nesterov = u->nesterov;
    fixture plain = setup(u->loss, &o), trapped = setup(u->loss, &o);
    cr_graph_set_flags(trapped.g, CR_GRAPH_TRAP_NONFINITE);
    for (int step = 0; step < 3; step++) {
        fixture *fs[2] = {&plain, &trapped};
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(cr_graph_forward(fs[k]->g, fs[k]->loss), CR_OK);
            ck_assert_int_eq(cr_graph_backward(fs[k]->g, fs[k]->loss, 0), CR_OK);
            /* the trapped side takes the path without its own scan */
            ck_assert_int_eq(cr_grad_known_finite(fs[k]->w), k == 1);
            ck_assert_int_eq(cr_optim_step(fs[k]->opt), CR_OK);
        }
        for (size_t i = 0; i < 2; i++)
            ck_assert_double_eq(cr_tensor_get(cr_node_value(trapped.w), i),
                                cr_tensor_get(cr_node_value(plain.w), i));
        ck_assert_double_eq(cr_optim_grad_norm(trapped.opt), cr_optim_grad_norm(plain.opt));
        ck_assert(cr_optim_grad_norm(plain.opt) > 0);
    }
    teardown(&plain);
    teardown(&trapped);
}
END_TEST

START_TEST(clipping)
{
    cr_optim_options o = cr_optim_defaults(CR_OPTIM_SGD);
    o.lr = 0.1;
    o.clip_norm = 1.0;
    fixture f = setup(QUAD, &o);
    ck_assert_double_eq(cr_optim_grad_norm(f.opt), 0.0);
    /* g = w0, |g| = sqrt(1.5^2 + 0.4^2) = sqrt(2.41) = 1.5524174696260025 > 1:
     * the step uses g/|g|, so w moves 0.1 towards 0 along w0's direction:
     * w1 = w0 * (1 - 0.1/1.5524174696260025) = w0 * 0.9355843165 */
    double n0 = sqrt(2.41), k1 = 1 - 0.1 / n0;
    step_expect(&f, 1.5 * k1, -0.4 * k1);
    ck_assert_double_eq_tol(cr_optim_grad_norm(f.opt), n0, TOL);
    /* |w1| = n0 - 0.1, still above 1: w2 = w1 * (1 - 0.1/(n0 - 0.1)) */
    double k2 = k1 * (1 - 0.1 / (n0 - 0.1));
    step_expect(&f, 1.5 * k2, -0.4 * k2);
    ck_assert_double_eq_tol(cr_optim_grad_norm(f.opt), n0 - 0.1, TOL);
    teardown(&f);

    /* Below the threshold nothing is scaled. */
    o.clip_norm = 10.0;
    f = setup(QUAD, &o);
    step_expect(&f, 1.35, -0.36);
    ck_assert_double_eq_tol(cr_optim_grad_norm(f.opt), n0, TOL);
    teardown(&f);
}
END_TEST

START_TEST(schedules)
{
    cr_optim_options o = cr_optim_defaults(CR_OPTIM_SGD);
    o.lr = 0.1;
    ck_assert_double_eq(cr_optim_lr_at(&o, 0), 0.1);
    ck_assert_double_eq(cr_optim_lr_at(&o, 1000), 0.1);

    o.schedule = CR_LR_STEP;
    o.step_size = 3;
    o.gamma = 0.5;
    /* 0.1 * 0.5^floor(t/3) */
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 0), 0.1, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 2), 0.1, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 3), 0.05, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 5), 0.05, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 6), 0.025, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 10), 0.0125, TOL);

    o.schedule = CR_LR_COSINE;
    o.cosine_steps = 10;
    o.lr_min = 0.01;
    /* 0.01 + 0.09*(1 + cos(pi*t/10))/2 */
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 0), 0.1, TOL);
    /* t=2: 0.01 + 0.045*(1 + cos(0.2 pi)) = 0.01 + 0.045*1.8090169944 */
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 2), 0.09140576474687263, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 5), 0.055, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 10), 0.01, TOL);
    ck_assert_double_eq_tol(cr_optim_lr_at(&o, 25), 0.01, TOL);

    /* The optimizer applies the schedule step by step: with step_size 1 and
     * gamma 0.5, SGD on QUAD gives w1 = w0*(1 - 0.1) and
     * w2 = w1*(1 - 0.05) = w0*0.855 = [1.2825, -0.342]. */
    o.schedule = CR_LR_STEP;
    o.step_size = 1;
    fixture f = setup(QUAD, &o);
    ck_assert_double_eq_tol(cr_optim_lr(f.opt), 0.1, TOL);
    step_expect(&f, 1.35, -0.36);
    ck_assert_double_eq_tol(cr_optim_lr(f.opt), 0.05, TOL);
    step_expect(&f, 1.2825, -0.342);
    ck_assert_double_eq_tol(cr_optim_lr(f.opt), 0.025, TOL);
    cr_optim_reset(f.opt);
    ck_assert_uint_eq(cr_optim_steps(f.opt), 0);
    ck_assert_double_eq_tol(cr_optim_lr(f.opt), 0.1, TOL);
    teardown(&f);
}
END_TEST

/* One bad field per row, with the exact message. */
typedef struct bad_case {
    const char *field;
    double value;
    const char *message;
} bad_case;

static const bad_case bad_cases[] = {
    {"lr", -0.1, "learning rate must be positive and finite, got -0.1"},
    {"lr", 0, "learning rate must be positive and finite, got 0"},
    {"lr", NAN, "learning rate must be positive and finite, got nan"},
    {"momentum", 1.0, "momentum must be in [0, 1), got 1"},
    {"momentum", -0.2, "momentum must be in [0, 1), got -0.2"},
    {"weight_decay", -1e-4, "weight decay must be finite and not negative, got -0.0001"},
    {"beta1", 1.0, "beta1 must be in [0, 1), got 1"},
    {"beta2", -0.5, "beta2 must be in [0, 1), got -0.5"},
    {"eps", 0, "eps must be positive and finite, got 0"},
    {"alpha", 1.5, "RMSprop alpha must be in [0, 1), got 1.5"},
    {"clip_norm", -1, "clip norm must be finite and not negative (0: off), got -1"},
    {"nesterov", 1, "Nesterov momentum needs SGD with a momentum above 0"},
    {"kind", 9, "unknown optimizer kind 9"},
    {"gamma", 0, "step schedule: gamma must be in (0, 1], got 0"},
    {"step_size", 0, "step schedule: step_size must be >= 1"},
    {"lr_min", 0.5, "cosine schedule: lr_min must be in [0, lr=0.01], got 0.5"},
    {"cosine_steps", 0, "cosine schedule: cosine_steps must be >= 1"},
    {"schedule", 7, "unknown learning-rate schedule 7"},
};

START_TEST(bad_options)
{
    const bad_case *bc = &bad_cases[_i];
    cr_optim_options o = cr_optim_defaults(CR_OPTIM_SGD);
    const char *f = bc->field;
    if (!strcmp(f, "lr"))
        o.lr = bc->value;
    else if (!strcmp(f, "momentum"))
        o.momentum = bc->value;
    else if (!strcmp(f, "weight_decay"))
        o.weight_decay = bc->value;
    else if (!strcmp(f, "beta1"))
        o.beta1 = bc->value;
    else if (!strcmp(f, "beta2"))
        o.beta2 = bc->value;
    else if (!strcmp(f, "eps"))
        o.eps = bc->value;
    else if (!strcmp(f, "alpha"))
        o.alpha = bc->value;
    else if (!strcmp(f, "clip_norm"))
        o.clip_norm = bc->value;
    else if (!strcmp(f, "nesterov"))
        o.nesterov = (int)bc->value;
    else if (!strcmp(f, "kind"))
        o.kind = (cr_optim_kind)bc->value;
    else if (!strcmp(f, "gamma") || !strcmp(f, "step_size")) {
        o.schedule = CR_LR_STEP;
        o.gamma = !strcmp(f, "gamma") ? bc->value : 0.5;
        o.step_size = !strcmp(f, "step_size") ? (size_t)bc->value : 2;
    } else if (!strcmp(f, "lr_min") || !strcmp(f, "cosine_steps")) {
        o.schedule = CR_LR_COSINE;
        o.lr_min = !strcmp(f, "lr_min") ? bc->value : 0;
        o.cosine_steps = !strcmp(f, "cosine_steps") ? (size_t)bc->value : 5;
    } else if (!strcmp(f, "schedule"))
        o.schedule = (cr_lr_schedule)bc->value;
    cr_error err;
    cr_error_clear(&err);
    ck_assert_int_eq(cr_optim_check_options(&o, &err), CR_EINVAL);
    ck_assert_str_eq(err.message, bc->message);
    cr_graph *g = cr_graph_new();
    cr_error_clear(&err);
    ck_assert_ptr_null(cr_optim_new(g, &o, &err));
    ck_assert_int_eq(err.status, CR_EINVAL);
    ck_assert_str_eq(err.message, bc->message);
    cr_graph_free(g);
}
END_TEST

START_TEST(names_and_defaults)
{
    cr_optim_kind k = CR_OPTIM_SGD;
    cr_error err;
    ck_assert_int_eq(cr_optim_kind_parse("adamw", &k, &err), CR_OK);
    ck_assert_int_eq(k, CR_OPTIM_ADAMW);
    ck_assert_str_eq(cr_optim_kind_name(CR_OPTIM_RMSPROP), "rmsprop");
    ck_assert_str_eq(cr_optim_kind_name((cr_optim_kind)42), "unknown");
    ck_assert_int_eq(cr_optim_kind_parse("lbfgs", &k, &err), CR_EINVAL);
    ck_assert_str_eq(err.message,
                     "unknown optimizer 'lbfgs' (expected sgd, adam, adamw or rmsprop)");
    ck_assert_int_eq(k, CR_OPTIM_ADAMW);
    cr_optim_options o = cr_optim_defaults(CR_OPTIM_ADAMW);
    ck_assert_double_eq(o.lr, 0.001);
    ck_assert_double_eq(o.weight_decay, 0.01);
    ck_assert_double_eq(o.beta2, 0.999);
    ck_assert_int_eq(cr_optim_check_options(&o, &err), CR_OK);
    /* NULL options: SGD defaults. */
    cr_graph *g = cr_graph_new();
    cr_optim *opt = cr_optim_new(g, NULL, &err);
    ck_assert_ptr_nonnull(opt);
    ck_assert_int_eq(cr_optim_get_options(opt)->kind, CR_OPTIM_SGD);
    ck_assert_double_eq(cr_optim_lr(opt), 0.01);
    ck_assert_int_eq(cr_optim_step(opt), CR_OK); /* no parameters: nothing to do */
    cr_optim_free(opt);
    cr_graph_free(g);
    ck_assert_ptr_null(cr_optim_new(NULL, NULL, &err));
    ck_assert_str_eq(err.message, "graph is NULL");
}
END_TEST

START_TEST(step_errors)
{
    cr_optim_options o = cr_optim_defaults(CR_OPTIM_ADAM);
    fixture f = setup(QUAD, &o);
    /* No backward yet. */
    ck_assert_int_eq(cr_optim_step(f.opt), CR_ESTATE);
    ck_assert_str_eq(cr_graph_error(f.g)->message,
                     "optimizer step: parameter 'w' has no gradient; call "
                     "cr_graph_backward first");
    ck_assert_uint_eq(cr_optim_steps(f.opt), 0);
    /* A parameter added after the optimizer was made. */
    ck_assert_ptr_nonnull(cr_param_scalar(f.g, "late", 2.5));
    ck_assert_int_eq(cr_optim_step(f.opt), CR_ESTATE);
    ck_assert_str_eq(cr_graph_error(f.g)->message,
                     "optimizer step: the graph has 2 parameters, the optimizer was "
                     "created for 1");
    teardown(&f);

    /* A NaN gradient is refused and nothing moves. */
    f = setup(QUAD, &o);
    double nan2[2] = {NAN, 1.0};
    ck_assert_int_eq(cr_node_set_data(f.w, nan2, 2), CR_OK);
    ck_assert_int_eq(cr_graph_forward(f.g, f.loss), CR_OK);
    ck_assert_int_eq(cr_graph_backward(f.g, f.loss, 0), CR_OK);
    ck_assert_int_eq(cr_optim_step(f.opt), CR_EDOMAIN);
    ck_assert_str_eq(cr_graph_error(f.g)->message,
                     "optimizer step: gradient of 'w' element 0 is nan");
    ck_assert_double_eq(cr_tensor_get(cr_node_value(f.w), 1), 1.0);
    teardown(&f);

    /* A trapped backward proves the gradient finite, but an evaluation after
     * it (here without the trap) may change it: the step must scan again,
     * refuse the infinity and leave w alone. */
    o = cr_optim_defaults(CR_OPTIM_SGD);
    f = setup(QUAD, &o);
    cr_graph_set_flags(f.g, CR_GRAPH_TRAP_NONFINITE);
    ck_assert_int_eq(cr_graph_forward(f.g, f.loss), CR_OK);
    ck_assert_int_eq(cr_graph_backward(f.g, f.loss, 0), CR_OK);
    cr_graph_set_flags(f.g, 0);
    double inf2[2] = {INFINITY, 1.0};
    ck_assert_int_eq(cr_node_set_data(f.w, inf2, 2), CR_OK);
    ck_assert_int_eq(cr_graph_forward(f.g, cr_node_grad_node(f.w)), CR_OK);
    ck_assert_double_eq(cr_tensor_get(cr_node_grad(f.w), 0), INFINITY);
    ck_assert_int_eq(cr_optim_step(f.opt), CR_EDOMAIN);
    ck_assert_str_eq(cr_graph_error(f.g)->message,
                     "optimizer step: gradient of 'w' element 0 is inf");
    ck_assert_double_eq(cr_tensor_get(cr_node_value(f.w), 1), 1.0);
    teardown(&f);

    /* A NULL optimizer: CR_EINVAL, and "nothing" from the getters. */
    ck_assert_int_eq(cr_optim_step(NULL), CR_EINVAL);
    cr_optim_reset(NULL);
    ck_assert_uint_eq(cr_optim_steps(NULL), 0);
    ck_assert(isnan(cr_optim_grad_norm(NULL)));
    ck_assert(isnan(cr_optim_lr(NULL)));
    ck_assert(isnan(cr_optim_lr_at(NULL, 3)));
    ck_assert_ptr_null(cr_optim_get_options(NULL));
}
END_TEST

START_TEST(step_allocates_nothing)
{
    static const cr_optim_kind kinds[] = {CR_OPTIM_SGD, CR_OPTIM_ADAM, CR_OPTIM_ADAMW,
                                          CR_OPTIM_RMSPROP};
    test_alloc_install(0);
    for (size_t k = 0; k < 4; k++) {
        cr_optim_options o = cr_optim_defaults(kinds[k]);
        o.momentum = kinds[k] == CR_OPTIM_ADAM || kinds[k] == CR_OPTIM_ADAMW ? 0 : 0.9;
        o.clip_norm = 0.5;
        o.schedule = CR_LR_COSINE;
        o.cosine_steps = 5;
        fixture f = setup(QUAD, &o);
        ck_assert_int_eq(cr_graph_forward(f.g, f.loss), CR_OK);
        ck_assert_int_eq(cr_graph_backward(f.g, f.loss, 0), CR_OK);
        size_t before = test_alloc.allocations;
        for (int i = 0; i < 20; i++)
            ck_assert_int_eq(cr_optim_step(f.opt), CR_OK);
        ck_assert_uint_eq(test_alloc.allocations, before);
        ck_assert_uint_eq(cr_optim_steps(f.opt), 20);
        teardown(&f);
    }
    ck_assert_int_eq(test_alloc.live, 0);
    test_alloc_uninstall();
}
END_TEST

START_TEST(new_out_of_memory)
{
    /* Failing each allocation of cr_optim_new in turn gives CR_ENOMEM and
     * leaks nothing. */
    cr_optim_options o = cr_optim_defaults(CR_OPTIM_ADAM);
    for (size_t k = 1; k <= 2; k++) {
        test_alloc_install(0);
        fixture f = setup(QUAD, &o);
        cr_optim_free(f.opt);
        test_alloc.fail_at = test_alloc.allocations + k;
        cr_error err;
        ck_assert_ptr_null(cr_optim_new(f.g, &o, &err));
        ck_assert_int_eq(err.status, CR_ENOMEM);
        cr_graph_free(f.g);
        ck_assert_int_eq(test_alloc.live, 0);
        test_alloc_uninstall();
    }
}
END_TEST

Suite *optim_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("updates");
    tcase_add_loop_test(tc, two_steps, 0,
                        (int)(sizeof update_cases / sizeof update_cases[0]));
    tcase_add_loop_test(tc, trapped_steps_match, 0,
                        (int)(sizeof update_cases / sizeof update_cases[0]));
    tcase_add_test(tc, clipping);
    tcase_add_test(tc, schedules);
    suite_add_tcase(s, tc);
    tc = tcase_create("api");
    tcase_add_loop_test(tc, bad_options, 0, (int)(sizeof bad_cases / sizeof bad_cases[0]));
    tcase_add_test(tc, names_and_defaults);
    tcase_add_test(tc, step_errors);
    tcase_add_test(tc, step_allocates_nothing);
    tcase_add_test(tc, new_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}
