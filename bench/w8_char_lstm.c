/*
 * w8_char_lstm.c - benchmark W8 and the README's character model: an LSTM
 * learns the bytes of a text file (/usr/share/common-licenses/GPL-3 by
 * default) with the model builder: embed:32, lstm:UNITS (every step),
 * dense:V, softmax cross-entropy per position on windows of 64 bytes that
 * follow each other (cr_text_windows). The last tenth of the windows is
 * held out (text the model never sees); Adam, lr 0.003, batch 32,
 * shuffled windows, seed 1, float64. Prints one JSON line: training
 * windows/s over all epochs, the validation loss per character (nats and
 * bits), and a 300-byte sample at temperature 0.8, seed 1, primed with
 * "The " (cr_model_generate); bench/peers/w8_char_lstm.py trains the same
 * shapes with torch.nn.LSTM for the samples/s side by side.
 *
 * Usage: w8_char_lstm [TEXT [EPOCHS [UNITS]]]   (threads from CR_NUM_THREADS)
 */
#include <chainrule.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SEQ 64

static int fail(const char *what, const cr_error *err)
{
    fprintf(stderr, "w8_char_lstm: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/usr/share/common-licenses/GPL-3";
    const size_t epochs = argc > 2 ? strtoul(argv[2], NULL, 10) : 20;
    const size_t units = argc > 3 ? strtoul(argv[3], NULL, 10) : 128;
    cr_error err;
    cr_text *text = cr_text_load(path, NULL, &err);
    if (!text)
        return fail("text", &err);
    cr_dataset *ds = cr_text_windows(text, SEQ, 0, &err);
    if (!ds)
        return fail("windows", &err);
    const cr_vocab *v = cr_text_vocab(text);
    const size_t V = cr_vocab_size(v), rows = cr_dataset_rows(ds);
    const size_t n_val = rows / 10, n_train = rows - n_val;
    cr_layer_spec l[3];
    cr_layer_spec_init(&l[0], CR_LAYER_EMBED);
    l[0].vocab = V;
    l[0].units = 32;
    cr_layer_spec_init(&l[1], CR_LAYER_LSTM);
    l[1].units = units;
    l[1].sequences = 1;
    cr_layer_spec_init(&l[2], CR_LAYER_DENSE);
    l[2].units = V;
    cr_model_options mo;
    cr_model_options_init(&mo);
    mo.loss = CR_LOSS_XENT_INDEX;
    mo.batch = 32;
    mo.seed = 1;
    const size_t steps = SEQ;
    cr_model *m = cr_model_new(l, 3, 1, &steps, &mo, &err);
    if (!m || cr_model_set_vocab(m, cr_vocab_symbols(v), V, &err) != CR_OK)
        return fail("model", &err);
    cr_train_options o;
    cr_train_options_init(&o);
    o.epochs = epochs;
    o.batch = 32;
    o.optim = cr_optim_defaults(CR_OPTIM_ADAM);
    o.optim.lr = 0.003;
    o.optim.clip_norm = 5.0;
    const double *x = cr_tensor_data(cr_dataset_features(ds));
    const double *y = cr_tensor_data(cr_dataset_targets(ds));
    cr_train_stats st;
    if (cr_model_train(m, x, y, n_train, &o, &st, &err) != CR_OK)
        return fail("train", &err);
    cr_eval_result r;
    if (cr_model_evaluate(m, x + n_train * SEQ, y + n_train * SEQ, n_val, &r, &err) !=
        CR_OK)
        return fail("evaluate", &err);
    unsigned char sample[300];
    cr_generate_options g = {
        .prime = "The ", .prime_len = 4, .temperature = 0.8, .seed = 1};
    if (cr_model_generate(m, sizeof sample, &g, sample, &err) != CR_OK)
        return fail("generate", &err);
    printf("{\"bench\": \"W8\", \"side\": \"chainrule\", \"threads\": %d, \"units\": %zu, "
           "\"epochs\": %zu, \"train_windows\": %zu, \"seconds\": %.3f, "
           "\"per_second\": %.1f, \"train_loss\": %.4f, \"val_loss\": %.4f, "
           "\"val_bits_per_char\": %.4f, \"sample\": \"",
           cr_num_threads(), units, epochs, n_train, st.seconds,
           (double)(n_train * epochs) / st.seconds, st.train_loss, r.loss,
           r.loss / log(2.0));
    for (size_t k = 0; k < sizeof sample; k++) {
        if (sample[k] == '"' || sample[k] == '\\')
            printf("\\%c", sample[k]);
        else if (sample[k] == '\n')
            printf("\\n");
        else if (sample[k] < 0x20)
            printf("\\u%04x", sample[k]);
        else
            putchar(sample[k]);
    }
    printf("\"}\n");
    cr_eval_result_free(&r);
    cr_train_stats_free(&st);
    cr_model_free(m);
    cr_dataset_free(ds);
    cr_text_free(text);
    return 0;
}
