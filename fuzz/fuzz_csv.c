/*
 * fuzz_csv.c - libFuzzer target for the CSV loader (cr_csv_load_mem): any
 * input must give a data set or an error with a message, never a crash, a
 * leak or undefined behaviour. The first input byte picks loader options
 * (header mode, delimiter, target choice, one-hot, a small line limit), the
 * rest is the CSV text. Not part of `make check`:
 * built by `make fuzz`, run by fuzz/run.sh (docs/reliability.md).
 */
#include <chainrule.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char delims[4] = {0, ';', '\t', ' '};
    static const char *const names[] = {"y", "2", "x,y"};
    unsigned sel = data[0];
    cr_csv_options o = {
        .header = (cr_csv_header)(sel % 3),
        .delimiter = delims[(sel >> 2) & 3],
        .one_hot = (sel >> 4) & 1,
        .max_line = (sel >> 5) & 1 ? 64 : 0,
    };
    if ((sel >> 6) & 1) {
        o.targets = &names[(sel >> 7) & 1];
        o.num_targets = 1;
    }
    cr_error err;
    cr_dataset *ds = cr_csv_load_mem(data + 1, size - 1, "fuzz.csv", &o, &err);
    if (ds) {
        /* Touch every number: the shapes must describe the memory. */
        const cr_tensor *x = cr_dataset_features(ds), *y = cr_dataset_targets(ds);
        double sum = 0;
        for (size_t i = 0; i < cr_tensor_size(x); i++)
            sum += cr_tensor_get(x, i);
        for (size_t i = 0; y && i < cr_tensor_size(y); i++)
            sum += cr_tensor_get(y, i);
        if (cr_dataset_rows(ds) * cr_dataset_cols(ds) != cr_tensor_size(x) || sum != sum)
            abort(); /* NaN values must have been refused */
        cr_dataset_free(ds);
    } else if (err.message[0] == '\0' || err.status == CR_OK) {
        abort(); /* every failure explains itself */
    }
    return 0;
}
