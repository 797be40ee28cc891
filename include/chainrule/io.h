/*
 * chainrule/io.h - model files: an MLP's architecture, parameters and
 * input standardisation (a layered model's: chainrule/model.h) in a versioned,
 * little-endian binary format with a CRC-32 checksum (documented in docs/model-format.md).
 *
 * Saving is atomic: the file is written to a temporary file in the same
 * directory, flushed and fsync'ed, then renamed over the destination, so
 * an interrupted save leaves the previous file intact (cr_io_write_atomic
 * says what happens with links, devices and other special files). Loading refuses a
 * file that is truncated, corrupted (checksum), not a model file (magic),
 * of another format version, inconsistent, or (when an architecture is
 * expected) of another architecture, with a message naming the file and
 * the problem.
 */
#ifndef CHAINRULE_IO_H
#define CHAINRULE_IO_H

#include "chainrule/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format version of MLP files (cr_mlp_save), and of layered models
 * (cr_model_save, chainrule/model.h); this build reads both. */
#define CR_MODEL_VERSION 1
#define CR_MODEL_VERSION_LAYERS 2

/* Saves m (borrowed) to path atomically (see above). Returns CR_OK, or with
 * err set: CR_EINVAL (NULL argument), CR_EIO (the directory is missing or
 * not writable, a write or fsync failed: "PATH: No space left on device"),
 * CR_EDOMAIN (a parameter is NaN or infinite: such a file would not load),
 * CR_ENOMEM. On error path is unchanged and no temporary file is left. */
CR_API cr_status cr_mlp_save(const cr_mlp *m, const char *path, cr_error *err);

/* Writes size bytes of data (borrowed) to path. This is the public form of
 * the one writer every file chainrule writes goes through (models, DOT,
 * pictures, training history; docs/reliability.md, "Files"); use it for
 * any output file that must never be seen half written. What it does
 * depends on what path names, following symbolic links (a link's target is
 * written, the link kept):
 * - a regular file, or nothing: atomically. A new temporary file
 *   TARGET.tmp-XXXXXX next to the target, locked while written, flushed
 *   and fsync'ed, renamed over the target, the directory fsync'ed. An
 *   existing file keeps its mode (and owner where allowed); a new one gets
 *   0666 & ~umask. A killed process leaves at most a stale
 *   TARGET.tmp-XXXXXX, never read, which the next save to the target
 *   removes.
 * - a character device or a FIFO: written straight through (no temporary
 *   file; a FIFO waits for its reader).
 * - a directory, a socket, a block device, or a regular file with more than
 *   one hard link (a rename would split the links): refused, CR_EIO.
 * Returns CR_OK, or with err set: CR_EINVAL (NULL argument), CR_ENOTFOUND
 * (the directory does not exist), CR_EIO (refused as above, or a write,
 * fsync or rename failed: "PATH: writing: No space left on device"),
 * CR_ENOMEM. On error a regular file at path is unchanged and no temporary
 * file is left. */
CR_API cr_status cr_io_write_atomic(const char *path, const void *data, size_t size,
                                    cr_error *err);

/* Loads a model file into a new MLP (free with cr_mlp_free). If expect is
 * not NULL, the file's architecture (widths, activations, loss, biases)
 * must equal expect's (its initialisation fields are ignored). Returns
 * NULL with err set: CR_ENOTFOUND / CR_EIO (cannot open or read),
 * CR_EFORMAT (bad magic, truncated, checksum mismatch, trailing bytes, an
 * invalid architecture, a non-finite parameter), CR_ENOTSUP (another
 * format version), CR_ESHAPE (not the expected architecture), CR_ENOMEM. */
CR_API cr_mlp *cr_mlp_load(const char *path, const cr_mlp_spec *expect, cr_error *err);

/* cr_mlp_load from size bytes in memory (borrowed); name is used in
 * messages (NULL: "<memory>"). */
CR_API cr_mlp *cr_mlp_load_mem(const void *data, size_t size, const char *name,
                               const cr_mlp_spec *expect, cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
