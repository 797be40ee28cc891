#include "testutil.h"
Suite *alloc_suite(void) { return suite_create("alloc"); }
