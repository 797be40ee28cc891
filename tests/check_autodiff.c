#include "testutil.h"
Suite *autodiff_suite(void) { return suite_create("autodiff"); }
