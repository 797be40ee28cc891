/*
 * xor.c - an MLP learns XOR: 2 inputs, 4 tanh hidden units, one sigmoid
 * output trained with binary cross-entropy and Adam until the loss falls
 * under 0.01. Prints the predictions, the accuracy and the confusion
 * matrix; exits with status 1 unless all four cases are right.
 */
#include <chainrule.h>

#include <stdio.h>

int main(void)
{
    const double x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const double y[4] = {0, 1, 1, 0};
    cr_mlp_spec spec;
    cr_mlp_spec_init(&spec, 2, 1);
    spec.n_hidden = 1;
    spec.hidden[0] = 4;
    spec.hidden_act = CR_ACT_TANH;
    spec.out_act = CR_ACT_SIGMOID;
    spec.loss = CR_LOSS_BCE;
    spec.seed = 3;
    cr_error err;
    cr_mlp *m = cr_mlp_new(&spec, &err);
    if (!m) {
        fprintf(stderr, "xor: %s\n", err.message);
        return 1;
    }
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = 2000;
    o.batch = 4;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    o.optim.lr = 0.05;
    o.target_loss = 0.01;
    cr_train_stats st;
    double p[4];
    cr_eval_result r;
    if (cr_mlp_train(m, x, y, 4, &o, &st, &err) != CR_OK ||
        cr_mlp_predict(m, x, 4, p, &err) != CR_OK ||
        cr_mlp_evaluate(m, x, y, 4, &r, &err) != CR_OK) {
        fprintf(stderr, "xor: %s\n", err.message);
        cr_mlp_free(m);
        return 1;
    }
    printf("stopped after %zu epochs (%s), loss %.4f\n", st.epochs,
           cr_train_stop_name(st.stop), st.train_loss);
    for (int i = 0; i < 4; i++)
        printf("%g xor %g = %g: predicted %.3f\n", x[2 * i], x[2 * i + 1], y[i], p[i]);
    printf("accuracy %.0f%%\n", 100.0 * r.accuracy);
    printf("confusion (rows: true 0/1, columns: predicted 0/1): [%zu %zu] [%zu %zu]\n",
           r.confusion[0], r.confusion[1], r.confusion[2], r.confusion[3]);
    const int ok = r.accuracy == 1.0;
    cr_eval_result_free(&r);
    cr_train_stats_free(&st);
    cr_mlp_free(m);
    return ok ? 0 : 1;
}
