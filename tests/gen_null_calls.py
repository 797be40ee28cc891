#!/usr/bin/python3
"""gen_null_calls.py - writes tests/null_calls.c, the test of the NULL policy
(include/chainrule/common.h) over every public function.

Reads every CR_API declaration of include/chainrule.h and
include/chainrule/*.h, so a function added to a header is tested without
anyone listing it. The generated program calls each function twice with
NULL for every pointer, once with 0 for every number and once with 1 (an
index or count in range of anything real), each call in a child process of
its own (fork, with an alarm). A call fails when the child dies (a crash,
an abort, a sanitizer report, the alarm) or, for a function that takes a
pointer other than its optional cr_error, when it returns something other
than what the policy says "nothing" is: CR_EINVAL from a cr_status, NULL
from a pointer, NaN from a double, and from an integer or enum 0 or the
value NOTHING below gives (unless EXEMPT below says why). It prints one
line per failed call and "null_calls: N functions, N calls, N failed".

Usage: gen_null_calls.py INCLUDE_DIR > null_calls.c
"""
import glob
import os
import re
import sys

# Functions for which NULL pointers are valid input, with the reason. They
# must still not crash.
EXEMPT = {
    "cr_set_allocator": "NULL restores the C library's allocator (documented)",
}

# The same when the numbers are 0 (with 1 they are checked).
EXEMPT_ZERO = {
    "cr_shape_count": "rank 0 needs no shape, and count may be NULL (documented)",
    "cr_data_shuffle": "n = 0 needs no indices (documented)",
    "cr_tensor_new": "rank 0 needs no shape: a new scalar (documented)",
    "cr_shape_format": "rank 0 needs no shape: \"[]\", 2 bytes (documented)",
}

# Integer and enum results whose "nothing" is not 0, because 0 is a valid
# answer (an index, a rank, a length, a class, a kind).
NOTHING = {
    "cr_tensor_rank": "-1",
    "cr_node_index": "(size_t)-1",
    "cr_node_kind_of": "CR_NODE_NONE",
    "cr_node_label": "-1",
    "cr_chain_format": "-1",
    "cr_chain_local_text": "-1",
    "cr_mlp_spec_format": "-1",
    "cr_shape_format": "-1",
    "cr_mlp_output_class": "CR_MLP_NO_CLASS",
    "cr_vocab_id": "-1",
    "cr_layer_spec_format": "-1",
    "cr_model_layer_shape": "-1",
}


def declarations(include_dir):
    files = [os.path.join(include_dir, "chainrule.h")]
    files += sorted(glob.glob(os.path.join(include_dir, "chainrule", "*.h")))
    for path in files:
        text = open(path).read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        text = re.sub(r"#[^\n]*", " ", text)
        for m in re.finditer(r"\bCR_API\b([^;{]*?)\(([^;]*?)\)\s*;", text, flags=re.S):
            head, params = " ".join(m.group(1).split()), " ".join(m.group(2).split())
            name = re.search(r"(\w+)\s*$", head).group(1)
            ret = head[: -len(name)].strip()
            yield os.path.basename(path), ret, name, split_params(params)


def split_params(params):
    """Top-level comma split (function-pointer parameters hold commas)."""
    if params in ("", "void"):
        return []
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    out.append(cur.strip())
    return out


def is_error_param(param):
    """The optional cr_error * every fallible call takes."""
    return re.match(r"(const\s+)?cr_error\s*\*", param) is not None


def argument(param, number):
    """NULL, or the number as the parameter's type, to pass for a
    parameter, as C text."""
    if param == "...":
        return None
    if "(" in param or "*" in param or "[" in param:
        return "NULL"
    typ = re.sub(r"\b(const|volatile)\b", "", param).split()
    typ = " ".join(typ[:-1]) if len(typ) > 1 else typ[0]
    return f"({typ}){number}"


# Exit codes of a child whose call broke the policy (1 is what the
# sanitizers exit with).
WHY = {
    10: "returned a status other than CR_EINVAL",
    11: "returned CR_OK (want CR_EINVAL)",
    12: "returned a pointer (want NULL)",
    13: "returned a number (want NaN)",
    14: "returned another number than its nothing",
}


def call_body(name, ret, params, number):
    """The C statements of one call and of its check."""
    args = [argument(p, number) for p in params]
    call = f"{name}({', '.join(a for a in args if a is not None)})"
    needs_pointer = any(a == "NULL" and not is_error_param(p) for p, a in zip(params, args))
    exempt = name in EXEMPT or (number == 0 and name in EXEMPT_ZERO)
    if ret == "void":
        return [f"    {call};", "    return 0;"]
    if not needs_pointer or exempt:
        return [f"    (void){call};", "    return 0;"]
    if ret == "cr_status":
        return [f"    cr_status st = {call};",
                "    return st == CR_EINVAL ? 0 : st == CR_OK ? 11 : 10;"]
    if ret.endswith("*"):
        return [f"    return {call} == NULL ? 0 : 12;"]
    if ret == "double":
        return [f"    return isnan({call}) ? 0 : 13;"]
    if re.fullmatch(r"(unsigned|int|size_t|cr_\w+)", ret):
        return [f"    return {call} == {NOTHING.get(name, '0')} ? 0 : 14;"]
    sys.exit(f"gen_null_calls.py: {name} returns {ret}: say what its NULL result is")


def main():
    decls = list(declarations(sys.argv[1]))
    if len(decls) < 100:
        sys.exit(f"gen_null_calls.py: found only {len(decls)} declarations; header format changed?")
    out = ['/* null_calls.c - generated by tests/gen_null_calls.py from the public headers:',
           ' * every public function called with NULL pointers and numbers 0, then 1 (the',
           ' * NULL policy of include/chainrule/common.h). Do not edit. */',
           "#include <chainrule.h>", "#include <math.h>", "#include <signal.h>",
           "#include <stdio.h>", "#include <stdlib.h>", "#include <string.h>",
           "#include <sys/wait.h>", "#include <unistd.h>", ""]
    table = []
    for i, (header, ret, name, params) in enumerate(decls):
        for number in (0, 1):
            out.append(f"static int call_{i}_{number}(void)")
            out += ["{"] + call_body(name, ret, params, number) + ["}"]
            table.append(f'    {{"{name}", "{header}", {number}, call_{i}_{number}, '
                         f'"{NOTHING.get(name, "0")}"}},')
    out += ["", "static const struct {", "    const char *name, *header;", "    int number;",
            "    int (*call)(void);", "    const char *nothing;", "} calls[] = {"]
    out += table
    whys = "\n".join(f'    [{code}] = "{text}",' for code, text in WHY.items())
    out += ["};", "", "static const char *const why_text[] = {", whys, "};", "",
            f"enum {{ FUNCTIONS = {len(decls)} }};", "", """int main(void)
{
    size_t failed = 0, n_calls = sizeof calls / sizeof calls[0];
    for (size_t i = 0; i < n_calls; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 99;
        }
        if (pid == 0) {
            alarm(10);
            int r = calls[i].call();
            _exit(r); /* no exit handlers: a leak check is not this test's job */
        }
        int status = 0;
        while (waitpid(pid, &status, 0) < 0)
            ;
        const char *why = NULL;
        char buf[128];
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (WIFSIGNALED(status)) {
            snprintf(buf, sizeof buf, "died of signal %d (%s)", WTERMSIG(status),
                     strsignal(WTERMSIG(status)));
            why = buf;
        } else if (code > 0 && code < (int)(sizeof why_text / sizeof why_text[0]) &&
                   why_text[code]) {
            why = why_text[code];
            if (code == 14) {
                snprintf(buf, sizeof buf, "%s (want %s)", why, calls[i].nothing);
                why = buf;
            }
        } else if (code != 0) {
            snprintf(buf, sizeof buf, "child exited with %d (a sanitizer report?)", code);
            why = buf;
        }
        if (why) {
            printf("FAIL %s (%s), numbers %d: %s\\n", calls[i].name, calls[i].header,
                   calls[i].number, why);
            failed++;
        }
    }
    printf("null_calls: %d functions, %zu calls, %zu failed\\n", FUNCTIONS, n_calls, failed);
    return failed ? 1 : 0;
}"""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
