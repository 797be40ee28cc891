/*
 * fuzz_idx.c - libFuzzer target for the IDX reader (cr_idx_read_mem), plain
 * or gzip'd: any input must give a tensor or an error with a message,
 * never a crash, a leak or undefined behaviour. The first input byte picks
 * options (scale, one-hot, a row limit, a class count); the rest is the
 * file. Not part of `make check`:
 * built by `make fuzz`, run by fuzz/run.sh (docs/reliability.md).
 */
#include <chainrule.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    cr_idx_options o = {
        .scale = sel & 1,
        .one_hot = (sel >> 1) & 1,
        .max_rows = (sel >> 2) & 3,
        .num_classes = (sel >> 4) & 1 ? 10 : 0,
    };
    cr_error err;
    cr_tensor *t = cr_idx_read_mem(data + 1, size - 1, "fuzz.idx", &o, &err);
    if (t) {
        double sum = 0;
        for (size_t i = 0; i < cr_tensor_size(t); i++)
            sum += cr_tensor_get(t, i);
        if (cr_tensor_rank(t) != 2 || sum != sum)
            abort(); /* always a matrix; NaN must have been refused */
        cr_tensor_free(t);
    } else if (err.message[0] == '\0' || err.status == CR_OK) {
        abort();
    }
    return 0;
}
