/*
 * fuzz_model.c - libFuzzer target for model files (cr_mlp_load_mem): any
 * input must give a model or an error with a message, never a crash, a
 * leak or undefined behaviour; a model that loads must predict a row and
 * save again. The first byte is a switch: when odd, the last 4 bytes of
 * the rest are replaced by its CRC-32, so that mutations get past the
 * checksum to the architecture and parameter checks. Not part of `make check`:
 * built by `make fuzz`, run by fuzz/run.sh (docs/reliability.md).
 */
#include <chainrule.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const int fix_crc = data[0] & 1;
    size--;
    uint8_t *file = malloc(size ? size : 1);
    if (!file)
        return 0;
    memcpy(file, data + 1, size);
    if (fix_crc && size >= 4) {
        uint32_t crc = (uint32_t)crc32(0L, file, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            file[size - 4 + i] = (uint8_t)(crc >> (8 * i));
    }
    cr_error err;
    cr_mlp *m = cr_mlp_load_mem(file, size, "fuzz.crm", NULL, &err);
    free(file);
    if (!m) {
        if (err.message[0] == '\0' || err.status == CR_OK)
            abort();
        return 0;
    }
    const cr_mlp_spec *s = cr_mlp_get_spec(m);
    double *x = calloc(s->n_inputs, sizeof *x), *y = calloc(s->n_outputs, sizeof *y);
    /* A model that loads predicts, or says that its output is not finite
     * (finite weights such as 1e308 overflow): never another error. */
    if (x && y) {
        const cr_status st = cr_mlp_predict(m, x, 1, y, &err);
        if (st != CR_OK && !(st == CR_EDOMAIN &&
                             strstr(err.message, "predict: row 1 gives") == err.message))
            abort();
    }
    char path[] = "/tmp/fuzz-model-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
        close(fd);
        if (cr_mlp_save(m, path, &err) != CR_OK)
            abort();
        cr_mlp *back = cr_mlp_load(path, s, &err);
        if (!back)
            abort(); /* what was saved must load, with the same architecture */
        cr_mlp_free(back);
        unlink(path);
    }
    free(x);
    free(y);
    cr_mlp_free(m);
    return 0;
}
