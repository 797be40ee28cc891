#include "testutil.h"
Suite *ops_suite(void) { return suite_create("ops"); }
