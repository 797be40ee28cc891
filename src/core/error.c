/*
 * error.c - status texts (cr_strerror), the cr_error detail struct, the
 * empty text of a snprintf-like call with nothing to write, and the
 * library version string.
 */
#include "core/internal.h"

#include <stdio.h>
#include <string.h>

const char *cr_strerror(cr_status status)
{
    switch (status) {
    case CR_OK:
        return "success";
    case CR_ENOMEM:
        return "out of memory";
    case CR_EINVAL:
        return "invalid argument";
    case CR_ESHAPE:
        return "shape mismatch";
    case CR_ENAME:
        return "bad or duplicate name";
    case CR_ENOTFOUND:
        return "not found";
    case CR_ERANGE:
        return "size out of range";
    case CR_EDOMAIN:
        return "non-finite value or value out of domain";
    case CR_EIO:
        return "input/output error";
    case CR_EFORMAT:
        return "malformed data";
    case CR_ESTATE:
        return "operation not valid in this state";
    case CR_ENOTSUP:
        return "not supported by this build";
    case CR_ESYNTAX:
        return "syntax error";
    case CR_ECHECK:
        return "verification failed";
    }
    return "unknown status";
}

void cr_error_clear(cr_error *err)
{
    if (!err)
        return;
    err->status = CR_OK;
    err->line = 0;
    err->column = 0;
    err->where[0] = '\0';
    err->message[0] = '\0';
}

cr_status cr_error_setv(cr_error *err, cr_status status, const char *where, const char *fmt,
                        va_list ap)
{
    if (!err)
        return status;
    err->status = status;
    err->line = 0;
    err->column = 0;
    snprintf(err->where, sizeof err->where, "%s", where ? where : "");
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    return status;
}

cr_status cr_error_set(cr_error *err, cr_status status, const char *where, const char *fmt,
                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    cr_error_setv(err, status, where, fmt, ap);
    va_end(ap);
    return status;
}

int cr_text_none(char *buf, size_t size)
{
    if (buf && size > 0)
        buf[0] = '\0';
    return -1;
}

const char *cr_version(void) { return PACKAGE_VERSION; }
