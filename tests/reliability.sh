#!/bin/sh
# reliability.sh - end-to-end reliability tests of the command
# (docs/reliability.md): training that diverges stops at the first
# non-finite value with the trap's report (node, op, element, inputs),
# exits 1 and leaves --model holding the last good epoch, byte for byte
# the model a run stopped at that epoch writes, which loads and predicts;
# --no-trap-nonfinite turns the trap off; no temporary file is left behind;
# a model file that diverged before its first epoch is left as it was; no
# output overwrites an input or another output, and every output's place is
# checked before any work; a program file over 64 MiB and nesting over 1000
# levels are clear errors.
test_name=cr-rel
. "${top_srcdir:-.}/tests/clitest.sh"

# y = 3a - 2b + 1 on 40 rows; plain SGD with learning rate 2 diverges:
# the loss grows every epoch until it overflows in epoch 37.
awk 'BEGIN { print "a,b,y"; for (i = 0; i < 40; i++) {
    a = (i % 7) - 3; b = (i % 5) - 2; printf "%d,%d,%d\n", a, b, 3 * a - 2 * b + 1 } }' \
    >"$tmp/lin.csv"
LIN="--data $tmp/lin.csv --arch 2,4,1 --act tanh --opt sgd --batch 8 --quiet"

run 1 "$CR" train $LIN --lr 2 --epochs 40 --model "$tmp/m.crm"
has "$tmp/err" "^chainrule train: training failed: epoch 37, step 183: loss (op mse) produced inf at element 0; inputs: s2 = "
has "$tmp/err" "m.crm keeps the model of epoch 36$"
# the file is the model of epoch 36, exactly
run 0 "$CR" train $LIN --lr 2 --epochs 36 --model "$tmp/m36.crm"
cmp -s "$tmp/m.crm" "$tmp/m36.crm" || fail "the model file is not the one of epoch 36"
run 0 "$CR" predict --model "$tmp/m.crm" --data "$tmp/lin.csv"
[ "$(ls "$tmp" | grep -c tmp-)" -eq 0 ] || fail "temporary files left: $(ls "$tmp")"

# diverging before the first epoch ends leaves an existing file as it was
cp "$tmp/m36.crm" "$tmp/keep.crm"
run 1 "$CR" train --data "$tmp/lin.csv" --arch 2,4,1 --act linear --opt sgd --batch 1 \
    --quiet --lr 10 --epochs 3 --model "$tmp/keep.crm"
has "$tmp/err" "training failed: epoch 1, step 6: loss (op mse) produced inf at element 0; "
has "$tmp/err" "keep.crm was left as it was$"
cmp -s "$tmp/keep.crm" "$tmp/m36.crm" || fail "keep.crm changed"

# ... and says so only when there was a file: a new one is not written
run 1 "$CR" train --data "$tmp/lin.csv" --arch 2,4,1 --act linear --opt sgd --batch 1 \
    --quiet --lr 10 --epochs 3 --model "$tmp/new.crm"
has "$tmp/err" "new.crm was not written (no epoch finished)$"
grep -q "left as it was" "$tmp/err" && fail "new.crm did not exist, yet was 'left as it was'"
[ -e "$tmp/new.crm" ] && fail "new.crm was written"

# the trap can be turned off: the optimizer's own check of the gradients
# then stops training one step later, with less detail
run 1 "$CR" train $LIN --lr 2 --epochs 40 --model "$tmp/off.crm" --no-trap-nonfinite
has "$tmp/err" "training failed: epoch 37, step 184: optimizer step: gradient of 'W1' element 0 is -nan"
cmp -s "$tmp/off.crm" "$tmp/m36.crm" || fail "off.crm is not the last finite epoch (36)"

# the evaluating subcommands trap on request only
run 1 "$CR" grad --trap-nonfinite --at x=0 'y = sqrt(x); z = y*2'
has "$tmp/err" "(op div) produced inf at element 0; inputs: "
run 0 "$CR" chain --at x=0 'z = sqrt(x)*2'

# an output never overwrites an input or another output: refused before
# any work, whatever the spelling of the path (a symbolic link included)
cp "$tmp/lin.csv" "$tmp/lin.orig"
run 2 "$CR" train $LIN --epochs 2 --history "$tmp/lin.csv"
has "$tmp/err" "^chainrule train: --history: '.*lin.csv' is the file --data reads; an output must not overwrite an input$"
run 2 "$CR" train $LIN --epochs 2 --model "$tmp/../${tmp##*/}/lin.csv"
has "$tmp/err" "^chainrule train: --model: .* is the file --data reads"
ln -s lin.csv "$tmp/link.csv"
run 2 "$CR" train $LIN --epochs 2 --plot "$tmp/link.csv"
has "$tmp/err" "^chainrule train: --plot: .* is the file --data reads"
grep -q epoch "$tmp/err" && fail "training started before the outputs were checked"
cmp -s "$tmp/lin.csv" "$tmp/lin.orig" || fail "lin.csv was overwritten"
run 2 "$CR" train $LIN --epochs 2 --model "$tmp/x" --history "$tmp/x" --plot "$tmp/x"
has "$tmp/err" "^chainrule train: --history: '.*/x' is also written by --model$"
[ -e "$tmp/x" ] && fail "x was written"
printf 'y = x^2\n' >"$tmp/self.cr"
cp "$tmp/self.cr" "$tmp/self.orig"
run 2 "$CR" dot --at x=1 -f "$tmp/self.cr" -o "$tmp/self.cr"
has "$tmp/err" "^chainrule dot: -o: '.*self.cr' is the file -f reads; an output must not"
cmp -s "$tmp/self.cr" "$tmp/self.orig" || fail "self.cr was overwritten"
run 2 "$CR" grad --at x=1 --dot "$tmp/g.svg" --render "$tmp/g.svg" 'y = x'
has "$tmp/err" "^chainrule grad: --render: '.*g.svg' is also written by --dot$"

# every output is checked before the work starts: a missing directory or
# a directory in the way is reported before the first epoch, and nothing
# (not even the model of that epoch) is written
run 2 "$CR" train $LIN --epochs 2 --model "$tmp/nh.crm" --history "$tmp/none/h.csv"
has "$tmp/err" "^chainrule train: --history: cannot write '.*/none/h.csv': .*/none: No such file or directory$"
[ -e "$tmp/nh.crm" ] && fail "the model was written before --history was found unwritable"
mkdir "$tmp/plot.svg"
run 2 "$CR" train $LIN --epochs 2 --model "$tmp/nh.crm" --plot "$tmp/plot.svg"
has "$tmp/err" "^chainrule train: --plot: '.*plot.svg' is a directory, not a file$"
[ -e "$tmp/nh.crm" ] && fail "the model was written before --plot was found unwritable"
run 2 "$CR" train $LIN --epochs 2 --model "$tmp/lin.csv/m.crm"
has "$tmp/err" "^chainrule train: --model: cannot write '.*lin.csv/m.crm': .*lin.csv: Not a directory$"

# an address-space limit (ulimit -v) never hangs a command: it ends with its
# result or an out-of-memory error (OpenBLAS's workers, started at load,
# used to retry a failing allocation forever and the command waited for
# them). Below ~50 MB the dynamic loader itself cannot map the libraries
# (exit 127, before chainrule runs). Skipped under AddressSanitizer and
# ThreadSanitizer, which reserve terabytes of address space.
real="$top_builddir/.libs/chainrule"
[ -f "$real" ] || real="$top_builddir/chainrule"
sanitized=${CR_SANITIZED:-}
ldd "$real" 2>/dev/null | grep -q 'libasan\|libtsan\|libubsan' && sanitized=1
if [ -z "$sanitized" ] && command -v timeout >/dev/null; then
    for kb in 60000 100000 150000 300000; do
        (ulimit -v $kb && exec timeout 60 "$CR" eval 'y = 1' >"$tmp/out" 2>"$tmp/err")
        st=$?
        # 127: the dynamic loader could not map the libraries (before main)
        case $st in
        0) has "$tmp/out" "^y = 1$" ;;
        2) has "$tmp/err" "out of memory" ;;
        127) has "$tmp/err" "error while loading shared libraries" ;;
        124) fail "eval under ulimit -v $kb hung (killed after 60 s)" ;;
        *) fail "eval under ulimit -v $kb: exit $st: $(cat "$tmp/err")" ;;
        esac
        (ulimit -v $kb && exec timeout 120 "$CR" train $LIN --epochs 2 --lr 0.1 \
            >"$tmp/out" 2>"$tmp/err")
        st=$?
        case $st in
        0 | 2) ;;
        127) has "$tmp/err" "error while loading shared libraries" ;;
        124) fail "train under ulimit -v $kb hung (killed after 120 s)" ;;
        *) fail "train under ulimit -v $kb: exit $st: $(cat "$tmp/err")" ;;
        esac
    done
fi

# limits: a program file over 64 MiB and deep nesting are clear errors
head -c 70000000 /dev/zero | tr '\0' ' ' >"$tmp/big.txt"
run 2 "$CR" eval -f "$tmp/big.txt"
has "$tmp/err" "big.txt' is too large (over 67108864 bytes)"
rm -f "$tmp/big.txt"
deep=$(awk 'BEGIN { for (i = 0; i < 5000; i++) printf "("; printf "x" }')
run 2 "$CR" eval --at x=1 "y = $deep"
has "$tmp/err" "nesting too deep (more than 1000 levels of parentheses)"

clitest_end
