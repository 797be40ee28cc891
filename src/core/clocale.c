/*
 * clocale.c - chainrule's text formats read and write numbers the C way,
 * with '.' before the decimals, whatever LC_NUMERIC the host program set
 * with setlocale: the public functions that parse or print numbers (the
 * expression parser, the CSV reader, DOT, chains, gradient checks) run
 * with the calling thread switched to the C locale (uselocale, POSIX
 * 2008) and switch back before they return. Other threads are unaffected.
 */
#include "core/internal.h"

#include <pthread.h>

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

/* Made once and kept for the life of the process. */
static void c_locale_make(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

locale_t cr_c_locale_enter(void)
{
    pthread_once(&c_locale_once, c_locale_make);
    /* Without the C locale object (out of memory) the thread's own locale
     * stays: numbers then follow it, as they did before. */
    return c_locale ? uselocale(c_locale) : (locale_t)0;
}

void cr_c_locale_leave(locale_t previous)
{
    if (previous)
        uselocale(previous);
}
