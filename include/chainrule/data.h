/*
 * chainrule/data.h - data sets for training: a features matrix and a
 * targets matrix, loaded from CSV or from IDX files (the MNIST format,
 * plain or gzip'd), plus the helpers a training loop needs: shuffling,
 * copying a batch of rows, a train/validation split and per-column feature
 * standardisation; sequences for recurrent networks: a text read as bytes
 * with its vocabulary, cut into windows for next-character prediction, and
 * numeric sequences from CSV.
 *
 * Ownership: a cr_dataset is made by cr_dataset_new, cr_csv_load*,
 * cr_idx_load or cr_dataset_split and belongs to the caller, who frees it
 * with cr_dataset_free; it owns its two tensors. A cr_standardizer is made
 * by cr_standardizer_fit or cr_standardizer_new and freed with
 * cr_standardizer_free. Tensors from cr_idx_read* belong to the caller
 * (cr_tensor_free). A cr_text (cr_text_load*) and a cr_vocab
 * (cr_vocab_new) belong to the caller (cr_text_free, cr_vocab_free).
 *
 * Errors: every call takes an optional cr_error (may be NULL). Errors about
 * a file's content start with "NAME:ROW:COLUMN: " (1-based, as a text
 * editor counts them; the row is the line number in the file, header and
 * blank lines included) or "NAME: " and set err->where to NAME and
 * err->line/err->column to the row and column.
 */
#ifndef CHAINRULE_DATA_H
#define CHAINRULE_DATA_H

#include "chainrule/common.h"
#include "chainrule/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data sets ---- */

typedef struct cr_dataset cr_dataset;

/* New data set from features [rows, cols] and targets [rows, k] (targets may
 * be NULL: a data set to predict on). Steals both tensors: they belong to
 * the data set from now on, and are freed on failure too. Both must have
 * rank 2 and the same number of rows, else CR_ESHAPE; CR_EINVAL if features
 * is NULL or targets is the same tensor as features (which is freed once);
 * CR_ENOMEM. num_classes is recorded as given (0: not a
 * classification set). Returns a new data set (caller frees) or NULL. */
CR_API cr_dataset *cr_dataset_new(cr_tensor *features, cr_tensor *targets,
                                  size_t num_classes, cr_error *err);

/* Frees the data set and its tensors. NULL is accepted. */
CR_API void cr_dataset_free(cr_dataset *ds);

/* Number of rows, of feature columns, and of target columns (0 without
 * targets). 0 for a NULL ds. */
CR_API size_t cr_dataset_rows(const cr_dataset *ds);
CR_API size_t cr_dataset_cols(const cr_dataset *ds);
CR_API size_t cr_dataset_target_cols(const cr_dataset *ds);

/* Number of classes K when the targets are class labels (one-hot [rows, K],
 * raw labels 0..K-1 in [rows, 1], or a label per step from
 * cr_text_windows), 0 otherwise (and for a NULL ds). */
CR_API size_t cr_dataset_num_classes(const cr_dataset *ds);

/* The features [rows, cols] and targets [rows, k] (NULL without targets).
 * Borrowed: valid while ds lives; values may be changed in place (e.g. by
 * cr_standardizer_apply), never freed or reshaped. NULL for a NULL ds. */
CR_API cr_tensor *cr_dataset_features(cr_dataset *ds);
CR_API cr_tensor *cr_dataset_targets(cr_dataset *ds);

/* ---- CSV ---- */

typedef enum cr_csv_header {
    CR_CSV_HEADER_AUTO = 0, /* the first line is a header if one of its fields
                               is not a number */
    CR_CSV_HEADER_YES = 1,
    CR_CSV_HEADER_NO = 2
} cr_csv_header;

/* Default limit on the input of one load, in bytes (256 MiB): the most
 * bytes the CSV and IDX loaders read from one file or buffer, counted after
 * decompression (the options' max_input). A load can take up to about 8
 * times its input in memory (a CSV of one-digit fields, or IDX bytes,
 * become 8-byte doubles), so the default keeps a gzip'd file of a few
 * hundred kilobytes from taking more than about 2 GiB; docs/data.md. */
#define CR_DATA_MAX_INPUT ((size_t)1 << 28)

/* How the CSV loader read the first non-blank line, for a caller that
 * wants to say it: with CR_CSV_HEADER_AUTO a data row whose field has a typo
 * ("1.5,2x,3") is taken for a header, which is_header, detected and
 * numbers > 0 together reveal. */
typedef struct cr_csv_header_info {
    int is_header;      /* 1: the line was read as column names, not data */
    int detected;       /* 1: decided by CR_CSV_HEADER_AUTO; 0: the options said */
    size_t line;        /* its line number in the file; 0: no line was read */
    size_t fields;      /* how many fields it has */
    size_t numbers;     /* how many of them are numbers */
    size_t text_column; /* the first non-empty field that is not a number
                           (1-based; what makes AUTO choose a header), or 0 */
    char text[64];      /* that field, cut to 63 bytes */
} cr_csv_header_info;

/* Options of the CSV loader. A zeroed struct is valid and means: header
 * auto, ',' delimiter, the last column is the one target, numeric targets,
 * all rows, lines up to CR_CSV_MAX_LINE bytes, at most CR_DATA_MAX_INPUT
 * bytes of input. */
typedef struct cr_csv_options {
    cr_csv_header header;
    char delimiter; /* 0 means ','; not '"', CR or LF */
    /* Target columns, each a header name or a 1-based column index written
     * in decimal ("3"); a name that matches a header field wins over an
     * index. NULL/0: the last column. Features are the other columns, in
     * file order; targets keep the order given here. */
    const char *const *targets;
    size_t num_targets;
    int no_targets;     /* 1: every column is a feature, no targets */
    int one_hot;        /* 1: the (single) target column holds class
                           labels 0..K-1, made into one-hot rows
                           (K at most 65536) */
    size_t num_classes; /* K for one_hot; 0: max label + 1 */
    size_t max_rows;    /* 0: all rows; else the first max_rows */
    size_t max_line;    /* 0: CR_CSV_MAX_LINE */
    size_t max_input;   /* the most bytes read from the file (after
                           decompression); 0: CR_DATA_MAX_INPUT; SIZE_MAX:
                           no limit */
    /* Not NULL: filled with how the first line was read (zeroed if none
     * was). */
    cr_csv_header_info *header_info;
} cr_csv_options;

/* Default limit on the length of one line, in bytes (1 MiB). */
#define CR_CSV_MAX_LINE ((size_t)1 << 20)

/* Loads a CSV file into a new data set (caller frees). The file is read as
 * a stream, line by line (gzip'd files are decompressed on the way); only
 * the numbers are kept. Fields may be quoted with '"' ("" inside quotes is
 * a quote) and are trimmed of blanks; CRLF line ends, blank lines and a
 * UTF-8 byte order mark are accepted. Numbers are read the C way ('.'
 * before the decimals) whatever locale the program set. opts may be NULL
 * (defaults).
 * Returns NULL with err set on: CR_ENOTFOUND / CR_EIO (the file cannot be
 * opened or read: "PATH: No such file or directory"), CR_EFORMAT ("empty
 * file", "no data rows", a field that is not a number "data.csv:7:3: 'abc'
 * is not a number", an empty field, a ragged row "data.csv:4: 3 fields,
 * expected 4", an unterminated quote, a label that is not an integer in
 * 0..K-1), CR_EDOMAIN (a NaN or infinite value, with its row and column),
 * CR_ERANGE (a line longer than max_line), CR_ENOTFOUND (a target name or
 * index that does not exist; CR_ERANGE "data.csv.gz: more than N bytes of
 * input once decompressed (the max_input limit)"), CR_EINVAL (bad options),
 * CR_ENOMEM. */
CR_API cr_dataset *cr_csv_load(const char *path, const cr_csv_options *opts, cr_error *err);

/* The same from size bytes in memory; name is used in messages (NULL:
 * "<memory>"). */
CR_API cr_dataset *cr_csv_load_mem(const void *data, size_t size, const char *name,
                                   const cr_csv_options *opts, cr_error *err);

/* ---- IDX (MNIST format) ---- */

/* Options of the IDX readers. A zeroed struct is valid: all items, no
 * scaling, raw labels, K inferred, at most CR_DATA_MAX_INPUT bytes of
 * input. */
typedef struct cr_idx_options {
    size_t max_rows;    /* 0: all items; else the first max_rows */
    int scale;          /* 1: divide unsigned-byte values by 255 (to [0,1]) */
    int one_hot;        /* 1: a 1-D file's labels become one-hot rows; with
                           one_hot or num_classes, labels must be integers
                           in 0..K-1 (K <= 65536) */
    size_t num_classes; /* K for one_hot; 0: max label + 1 */
    size_t max_input;   /* the most bytes read from a file (after
                           decompression); 0: CR_DATA_MAX_INPUT; SIZE_MAX:
                           no limit */
} cr_idx_options;

/* Reads an IDX file, plain or gzip'd (detected from its content), into a
 * new tensor (caller frees): a file of N items of shape d1 x ... x dk
 * becomes [N, d1*...*dk]; a 1-D file (labels) becomes [N, 1], or [N, K]
 * one-hot with opts->one_hot (labels must be integers in 0..K-1). Every
 * element type of the format is read (u8, i8, i16, i32, f32, f64,
 * big-endian); opts->scale applies to u8 files of 2 or more dimensions
 * only (never to labels). opts may be NULL.
 * The header is validated before anything is allocated: zero bytes, a
 * known type code, 1 to 4 dimensions, none zero, their product
 * (overflow-checked) against what is left of the file (of a gzip'd file:
 * 1032 times that, the most deflate can expand), and against
 * opts->max_input. Returns NULL with err set: CR_ENOTFOUND / CR_EIO
 * (cannot open or read), CR_EFORMAT ("PATH: bad magic 0x..", "unknown
 * element type 0x..", "truncated: N bytes of data expected, M found", "the
 * header promises N bytes of data, more than the M gzip'd bytes left can
 * hold (deflate expands at most 1032 times)", "K bytes after the data", a
 * label out of range), CR_EDOMAIN (NaN or infinite float), CR_ERANGE
 * (sizes overflow; "the header promises N bytes of data, past the input
 * limit of L bytes (max_input)"; "more than L bytes of input once
 * decompressed (the max_input limit)"), CR_ENOMEM. */
CR_API cr_tensor *cr_idx_read(const char *path, const cr_idx_options *opts, cr_error *err);

/* The same from size bytes in memory (plain or gzip'd); name is used in
 * messages (NULL: "<memory>"). */
CR_API cr_tensor *cr_idx_read_mem(const void *data, size_t size, const char *name,
                                  const cr_idx_options *opts, cr_error *err);

/* An unsigned-byte IDX file kept as bytes: items rows of item_size values
 * (data holds items * item_size bytes, row-major). Eight times smaller
 * than the same values as doubles; cr_mlp_train_bytes trains on it. */
typedef struct cr_idx_bytes {
    size_t items;
    size_t item_size;
    unsigned char *data;
} cr_idx_bytes;

/* Reads an IDX file (plain or .gz) of unsigned bytes (element type 0x08),
 * its first opts->max_rows items (all when 0), into *out without
 * converting them; free with cr_idx_bytes_free. opts may be NULL; only its
 * max_rows and max_input apply. The header is validated as by
 * cr_idx_read. Returns CR_OK, or with err set and *out zeroed: the errors
 * of cr_idx_read, CR_EFORMAT for another element type ("element type
 * 0x0d: only unsigned bytes (0x08) can be kept as bytes"), CR_EINVAL for
 * a NULL path or out. */
CR_API cr_status cr_idx_read_bytes(const char *path, const cr_idx_options *opts,
                                   cr_idx_bytes *out, cr_error *err);

/* Frees the bytes of b and zeroes it. NULL is accepted. */
CR_API void cr_idx_bytes_free(cr_idx_bytes *b);

/* Loads an images file and a labels file (IDX, plain or .gz) into a new
 * data set (caller frees): features [N, h*w] (scaled as opts->scale says)
 * and targets from the labels ([N, K] one-hot or [N, 1] raw, as
 * opts->one_hot says); num_classes is K. opts->max_rows applies to both.
 * Errors as cr_idx_read, plus CR_ESHAPE if the two files' item counts
 * differ or the labels file is not 1-D. */
CR_API cr_dataset *cr_idx_load(const char *images_path, const char *labels_path,
                               const cr_idx_options *opts, cr_error *err);

/* ---- batching ---- */

/* Shuffles indices[0..n) in place with a gsl_rng (mt19937) seeded with
 * seed: the same seed gives the same order on every machine. Fill indices
 * with 0..n-1 first to get a random permutation. CR_EINVAL if indices is
 * NULL and n > 0; CR_ENOMEM. */
CR_API cr_status cr_data_shuffle(size_t *indices, size_t n, unsigned long seed,
                                 cr_error *err);

/* Copies rows rows[0..n) of src (read as a matrix: dimension 0 is the rows,
 * the others one row) into the first n rows of dst, which must have the
 * same row size and at least n rows; dst's other rows are left unchanged.
 * Allocates nothing. CR_ESHAPE (row sizes differ, or dst too small),
 * CR_ERANGE (an index past src's rows, with its position), CR_EINVAL
 * (NULL argument, or src and dst the same tensor). */
CR_API cr_status cr_data_gather(const cr_tensor *src, const size_t *rows, size_t n,
                                cr_tensor *dst, cr_error *err);

/* cr_data_gather for a data set's features into x and targets into y (y
 * may be NULL to copy the features only; it is ignored when ds has no
 * targets). Allocates nothing. Errors as cr_data_gather's, with err set
 * (NULL arguments give CR_EINVAL). */
CR_API cr_status cr_dataset_batch(const cr_dataset *ds, const size_t *rows, size_t n,
                                  cr_tensor *x, cr_tensor *y, cr_error *err);

/* Splits ds into two new data sets (caller frees both): rows are shuffled
 * as cr_data_shuffle with seed does, the first round(val_fraction * rows)
 * of them go to *val (in shuffled order) and the rest to *train. ds is
 * unchanged; num_classes is kept. val_fraction must be in (0, 1) and leave
 * at least one row on each side (CR_EINVAL otherwise); CR_ENOMEM. On error
 * *train and *val are NULL. */
CR_API cr_status cr_dataset_split(const cr_dataset *ds, double val_fraction,
                                  unsigned long seed, cr_dataset **train, cr_dataset **val,
                                  cr_error *err);

/* ---- feature standardisation ---- */

typedef struct cr_standardizer cr_standardizer;

/* Computes per-column mean and standard deviation (population: divided by
 * the row count) of x [rows, cols] into a new standardizer (caller frees).
 * A column with a standard deviation of 0 (constant) gets 1, so
 * standardising maps it to 0. CR_EINVAL (x NULL or not rank 2), CR_ENOMEM. */
CR_API cr_standardizer *cr_standardizer_fit(const cr_tensor *x, cr_error *err);

/* New standardizer from stored values (both arrays of cols numbers are
 * copied), e.g. read back from a model file. Every mean must be finite and
 * every std finite and > 0 (CR_EDOMAIN with the column); CR_EINVAL if cols
 * is 0 or an array NULL; CR_ENOMEM. Caller frees. */
CR_API cr_standardizer *cr_standardizer_new(size_t cols, const double *mean,
                                            const double *std, cr_error *err);

/* Frees s. NULL is accepted. */
CR_API void cr_standardizer_free(cr_standardizer *s);

/* Number of columns, and the borrowed arrays of cols means and standard
 * deviations (valid while s lives), for storing them. 0 and NULL for a
 * NULL s. */
CR_API size_t cr_standardizer_cols(const cr_standardizer *s);
CR_API const double *cr_standardizer_mean(const cr_standardizer *s);
CR_API const double *cr_standardizer_std(const cr_standardizer *s);

/* Replaces each element of x [rows, cols] by (x - mean) / std of its column,
 * in place. Allocates nothing. CR_ESHAPE if x is not rank 2 with s's column
 * count; CR_EINVAL if an argument is NULL. */
CR_API cr_status cr_standardizer_apply(const cr_standardizer *s, cr_tensor *x,
                                       cr_error *err);

/* ---- sequences: text for next-character prediction ----
 * A text is read as bytes (any encoding; a UTF-8 character of several
 * bytes is several symbols). Its vocabulary is the set of distinct bytes
 * it holds, in increasing byte order; symbol ids are positions in that
 * list (0..V-1), and a model file keeps the list (cr_vocab_symbols) so
 * that generation maps ids back to the same bytes. */

/* The most symbols a vocabulary has: one per byte value. */
#define CR_VOCAB_MAX 256

typedef struct cr_vocab cr_vocab;

/* New vocabulary of the n distinct bytes symbols[0..n) (copied, kept in
 * the order given: id i is symbols[i]), e.g. read back from a model file.
 * CR_EINVAL if symbols is NULL, n is 0 or over CR_VOCAB_MAX, or a byte is
 * repeated (naming it); CR_ENOMEM. Caller frees with cr_vocab_free. */
CR_API cr_vocab *cr_vocab_new(const unsigned char *symbols, size_t n, cr_error *err);

/* Frees v. NULL is accepted. */
CR_API void cr_vocab_free(cr_vocab *v);

/* Number of symbols V (0 for a NULL v), and the V bytes in id order
 * (borrowed, valid while v lives; NULL for a NULL v). */
CR_API size_t cr_vocab_size(const cr_vocab *v);
CR_API const unsigned char *cr_vocab_symbols(const cr_vocab *v);

/* The id of byte c, or -1 if c is not in the vocabulary (or v is NULL). */
CR_API int cr_vocab_id(const cr_vocab *v, unsigned char c);

/* Writes the ids of the n bytes of text into ids[0..n) (as doubles, the
 * way a graph's input holds them). Allocates nothing. CR_ENOTFOUND for a
 * byte that is not in the vocabulary ("byte 0x7e ('~') at offset 12 is
 * not in the vocabulary", nothing promised about ids); CR_EINVAL for a
 * NULL argument (text and ids may be NULL when n is 0). */
CR_API cr_status cr_vocab_encode(const cr_vocab *v, const void *text, size_t n, double *ids,
                                 cr_error *err);

/* Options of the text reader. A zeroed struct is valid: at most
 * CR_DATA_MAX_INPUT bytes. */
typedef struct cr_text_options {
    size_t max_input; /* the most bytes read (after decompression); 0:
                         CR_DATA_MAX_INPUT; SIZE_MAX: no limit */
} cr_text_options;

typedef struct cr_text cr_text;

/* Reads a text file (plain or gzip'd, detected from its content) into a new
 * cr_text (caller frees with cr_text_free) holding its bytes and their
 * vocabulary. opts may be NULL. Returns NULL with err set: CR_ENOTFOUND /
 * CR_EIO (cannot open or read), CR_EFORMAT ("PATH: empty file", "PATH:3:7:
 * a NUL byte: not a text file"), CR_ERANGE (past max_input), CR_ENOMEM. */
CR_API cr_text *cr_text_load(const char *path, const cr_text_options *opts, cr_error *err);

/* The same from size bytes in memory (copied); name is used in messages
 * (NULL: "<memory>"). */
CR_API cr_text *cr_text_load_mem(const void *data, size_t size, const char *name,
                                 const cr_text_options *opts, cr_error *err);

/* Frees t. NULL is accepted. */
CR_API void cr_text_free(cr_text *t);

/* The text's length in bytes and its bytes (borrowed, valid while t
 * lives), and its vocabulary (borrowed, owned by t). 0 / NULL for a NULL
 * t. */
CR_API size_t cr_text_length(const cr_text *t);
CR_API const unsigned char *cr_text_bytes(const cr_text *t);
CR_API const cr_vocab *cr_text_vocab(const cr_text *t);

/* Cuts the text into windows for next-symbol prediction, as a new data set
 * (caller frees): row i holds the ids of the seq bytes starting at offset
 * i * stride as features [rows, seq], and the ids of the seq bytes one
 * further on as targets [rows, seq] (each step's next symbol);
 * num_classes is the vocabulary's size. stride 0 means seq: windows that
 * follow each other, so that row i + 1 continues row i (what truncated
 * backpropagation through time carries its state across). rows is
 * (length - seq - 1) / stride + 1. CR_EFORMAT when the text is shorter than
 * seq + 1 bytes ("NAME: 10 bytes: a window of 64 and its next byte need
 * 65"); CR_EINVAL (t NULL, seq 0); CR_ENOMEM. */
CR_API cr_dataset *cr_text_windows(const cr_text *t, size_t seq, size_t stride,
                                   cr_error *err);

/* cr_text_windows with the ids of the vocabulary v (NULL: the text's own),
 * e.g. a trained model's (cr_model_vocab), and with every_step 0 one
 * target per window, [rows, 1]: the byte after it. CR_ENOTFOUND, after
 * the text's name, for a byte of the text that is not in v; otherwise as
 * cr_text_windows. */
CR_API cr_dataset *cr_text_windows_vocab(const cr_text *t, const cr_vocab *v, size_t seq,
                                         size_t stride, int every_step, cr_error *err);

/* ---- sequences: numbers from CSV ---- */

/* Options of the numeric sequence reader. A zeroed struct is valid: one
 * sequence per row, header auto, ',' delimiter, CR_DATA_MAX_INPUT. */
typedef struct cr_sequence_options {
    /* 0: each row is one sequence x_1..x_L (L >= 2, every row as long): the
     * features are x_1..x_{L-1} and the target is x_L. Else the file has
     * one value per row, a series v_1..v_n, cut into windows of this many
     * values, each followed by its target (the value after it, or with
     * every_step the window shifted by one). */
    size_t window;
    size_t stride;  /* windows start every stride values; 0: 1 */
    int every_step; /* 1: targets [rows, window], each step's next value;
                       0: targets [rows, 1], the value after the window */
    cr_csv_header header;
    char delimiter;   /* as cr_csv_options' */
    size_t max_input; /* as cr_csv_options' */
} cr_sequence_options;

/* Loads numeric sequences from a CSV file into a new data set (caller
 * frees): features [rows, steps], one value per step, and targets as
 * cr_sequence_options says. opts may be NULL. NULL with err set: the CSV
 * loader's errors, and CR_EFORMAT for a file with several columns given a
 * window ("NAME: 3 columns: a series cut into windows has one value per
 * row"), a sequence of one value ("NAME: rows of 1 value: a sequence needs
 * at least 2"), or a series too short for one window ("NAME: 5 values: a
 * window of 8 and its target need 9"); CR_EINVAL (bad options). */
CR_API cr_dataset *cr_sequence_load(const char *path, const cr_sequence_options *opts,
                                    cr_error *err);

/* The same from size bytes in memory; name is used in messages (NULL:
 * "<memory>"). */
CR_API cr_dataset *cr_sequence_load_mem(const void *data, size_t size, const char *name,
                                        const cr_sequence_options *opts, cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
