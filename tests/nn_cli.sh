#!/bin/sh
# nn_cli.sh - end-to-end tests of `chainrule train`, `predict` and
# `evaluate`: XOR from CSV to 100% accuracy, predictions, JSON, history
# and SVG files, per-epoch progress lines, deterministic model files, the
# option parser's forms (--opt=value, abbreviations), and the errors that
# must exit with status 2 (missing file, bad CSV field, --arch not matching
# the data, unknown option value, ambiguous abbreviation, corrupt model),
# and a character model trained on a text file (--text) sampled by
# `generate` (same seed, same text; only the vocabulary's bytes).
test_name=cr-nn-cli
. "${top_srcdir:-.}/tests/clitest.sh"

printf 'a,b,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n' >"$tmp/xor.csv"
XOR="--data $tmp/xor.csv --arch 2,8,2 --act tanh --out softmax --batch 4 --lr 0.05"

# training: one plain line per epoch on stderr when it is not a terminal
run 0 "$CR" train $XOR --epochs 300 --model "$tmp/xor.crm" --history "$tmp/h.csv" \
    --plot "$tmp/p.svg"
[ "$(grep -c '^epoch [0-9]*/300: loss' "$tmp/err")" -eq 300 ] || fail "expected 300 epoch lines"
has "$tmp/out" "accuracy 1.0000"
[ "$(wc -l <"$tmp/h.csv")" -eq 301 ] || fail "history should have 301 lines"
has "$tmp/h.csv" "^epoch,loss,accuracy,val_loss,val_accuracy$"
head -c 4 "$tmp/p.svg" | grep -q '<svg' || fail "plot is not an SVG"
tail -n 1 "$tmp/p.svg" | grep -q '</svg>' || fail "plot is not complete"
has "$tmp/p.svg" "<polyline"

# --quiet: nothing on stderr; --json: one object on stdout
run 0 "$CR" train $XOR --epochs 5 --quiet --json
[ ! -s "$tmp/err" ] || fail "--quiet printed: $(cat "$tmp/err")"
has "$tmp/out" '^{"arch": "2-8-2 tanh/softmax xent bias", "epochs": 5, "iterations": 5,'
has "$tmp/out" '"loss": '

# the same seed gives the same model file
run 0 "$CR" train $XOR --epochs 20 --quiet --model "$tmp/a.crm" --seed 4
run 0 "$CR" train $XOR --epochs 20 --quiet --model "$tmp/b.crm" --seed 4
cmp -s "$tmp/a.crm" "$tmp/b.crm" || fail "same seed, different model files"

# grad --model: the loss and each parameter's gradient on the first row
# (0,0: the first layer's weights get none); --dot draws what dot --model
# draws
run 0 "$CR" grad --model "$tmp/xor.crm" --data "$tmp/xor.csv" --dot "$tmp/g.dot"
has "$tmp/out" '^loss  *= '
has "$tmp/out" '^dloss/dL1.W \[2,8\] = \[\[0, 0, 0, 0, 0, 0, 0, 0\],$'
has "$tmp/out" '^dloss/dL3.b \[2\]   = '
run 0 "$CR" dot --model "$tmp/xor.crm" --data "$tmp/xor.csv" -o "$tmp/d.dot"
cmp -s "$tmp/g.dot" "$tmp/d.dot" || fail "grad --dot --model and dot --model differ"

# predict and evaluate
run 0 "$CR" predict --model "$tmp/xor.crm" --data "$tmp/xor.csv"
[ "$(cut -d, -f1 "$tmp/out" | tr '\n' ' ')" = "class 0 1 1 0 " ] ||
    fail "predicted classes: $(cat "$tmp/out")"
run 0 "$CR" predict --model "$tmp/xor.crm" --data "$tmp/xor.csv" --json
has "$tmp/out" '"classes": \[0, 1, 1, 0\]'
run 0 "$CR" evaluate --model "$tmp/xor.crm" --data "$tmp/xor.csv" --json
has "$tmp/out" '^{"rows": 4, "loss": [0-9.e-]*, "accuracy": 1, "confusion": \[\[2, 0\], \[0, 2\]\]}$'

# each input is read once, so pipes and standard input ('-') work as the
# data and the model (predict used to read its CSV twice: a pipe then
# blocked, or gave nothing)
mkfifo "$tmp/fifo"
cat "$tmp/xor.csv" >"$tmp/fifo" 2>/dev/null &
writer=$!
run 0 timeout 60 "$CR" predict --model "$tmp/xor.crm" --data "$tmp/fifo"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
[ "$(cut -d, -f1 "$tmp/out" | tr '\n' ' ')" = "class 0 1 1 0 " ] ||
    fail "predicted classes from a pipe: $(cat "$tmp/out")"
run 0 sh -c 'cat "$3" | "$1" predict --model "$2" --data - --json' sh "$CR" "$tmp/xor.crm" \
    "$tmp/xor.csv"
has "$tmp/out" '"classes": \[0, 1, 1, 0\]'
run 0 sh -c 'cat "$2" | "$1" evaluate --model - --data "$3" --json' sh "$CR" "$tmp/xor.crm" \
    "$tmp/xor.csv"
has "$tmp/out" '"accuracy": 1, "confusion": \[\[2, 0\], \[0, 2\]\]}$'
run 0 sh -c 'cat "$2" | "$1" train --data - --arch 2,8,2 --out softmax --epochs 2 --quiet \
    --json' sh "$CR" "$tmp/xor.csv"
has "$tmp/out" '"train_rows": 4,'
run 2 "$CR" evaluate --model - --data - </dev/null
has "$tmp/err" "^chainrule evaluate: --model and --data both read standard input ('-'); give one a file$"

# a NaN or infinite output is an error naming its row (exit 1): predict
# printed it ("-nan"), evaluate reported loss -nan (null in JSON) and
# counted the row as class 0
awk 'BEGIN { for (i = 1; i <= 20; i++) printf "%g,%d\n", i / 20, (i > 10) }' >"$tmp/step.csv"
run 0 "$CR" train --data "$tmp/step.csv" --arch 1,2 --out softmax --opt sgd --lr 1 \
    --epochs 100 --batch 4 --quiet --model "$tmp/step.crm"
printf '0.2,0\n1e308,1\n' >"$tmp/huge.csv"
run 1 "$CR" predict --model "$tmp/step.crm" --data "$tmp/huge.csv"
has "$tmp/err" "^chainrule predict: .*huge.csv: .*row 2 gives nan as output 1"
[ -s "$tmp/out" ] && fail "predict printed before the error: $(cat "$tmp/out")"
run 1 "$CR" evaluate --model "$tmp/step.crm" --data "$tmp/huge.csv"
has "$tmp/err" "^chainrule evaluate: .*huge.csv: .*row 2 gives nan as output 1"
run 1 "$CR" evaluate --model "$tmp/step.crm" --data "$tmp/huge.csv" --json
has "$tmp/out" '^{"error": {"message": ".*huge.csv: .*row 2 gives nan as output 1.*", "exit": 1}}$'
awk 'BEGIN { for (i = 1; i <= 20; i++) printf "%g,%g\n", i / 20, i / 5 }' >"$tmp/four.csv"
FOUR="--data $tmp/four.csv --arch 1,1 --out linear --opt sgd --lr 0.5 --epochs 200 --batch 4"
run 0 "$CR" train $FOUR --quiet --model "$tmp/four.crm"
run 1 "$CR" predict --model "$tmp/four.crm" --data "$tmp/huge.csv" --target 2 --json
has "$tmp/out" '^{"error": {"message": ".*huge.csv: .*row 2 gives inf as output 1.*", "exit": 1}}$'
run 1 "$CR" train $FOUR --quiet --test-data "$tmp/huge.csv"
has "$tmp/err" "^chainrule train: .*huge.csv: .*row 2 gives inf as output 1"

# --standardize keeps the statistics in the model: raw features at predict time
printf 'a,b,label\n5000,-300,0\n5000,700,1\n6000,-300,1\n6000,700,0\n' >"$tmp/big.csv"
run 0 "$CR" train --data "$tmp/big.csv" --arch 2,8,2 --act tanh --out softmax --batch 4 \
    --lr 0.05 --epochs 300 --quiet --standardize --model "$tmp/big.crm"
run 0 "$CR" evaluate --model "$tmp/big.crm" --data "$tmp/big.csv" --json
has "$tmp/out" '"accuracy": 1,'

# the article's third program: --max-iter alone is the only limit; --debug
printf '0.1,0.4,4.1,0.2\n' >"$tmp/one.csv"
run 0 "$CR" train --data "$tmp/one.csv" --arch 3,7,5,4,1 --act sigmoid --out sigmoid \
    --loss sq_error --init xavier --opt sgd --lr 0.7 --max-iter 500 --batch 1 --debug --json
has "$tmp/out" '"epochs": 500, "iterations": 500, '
[ "$(grep -c '^  gradient norms: W1 .* W4 ' "$tmp/err")" -eq 500 ] || fail "expected 500 debug lines"
has "$tmp/err" '^dloss/dW1 = dloss/da4 \* da4/ds4 \* ds4/da3 '
has "$tmp/err" '^  da4/ds4 = a4\*(1-a4) = '

# errors: a message and exit status 2
run 2 "$CR" train --data "$tmp/missing.csv" --arch 2,2
has "$tmp/err" "missing.csv: No such file or directory"
printf 'a,b,label\n0,0,0\n0,x,1\n' >"$tmp/bad.csv"
run 2 "$CR" train --data "$tmp/bad.csv" --arch 2,2 --out softmax
has "$tmp/err" "bad.csv:3:2: 'x' is not a number"
run 2 "$CR" train --data "$tmp/xor.csv" --arch 3,2
has "$tmp/err" "xor.csv has 2 feature columns, the model takes 3"
run 2 "$CR" train $XOR --act swish
has "$tmp/err" "unknown activation 'swish'"
run 2 "$CR" train $XOR --opt nadam
has "$tmp/err" "^chainrule train: --opt: "
run 2 "$CR" train $XOR --epochs many
has "$tmp/err" "epochs: 'many' is not a whole number"
run 2 "$CR" train $XOR --max-iter 0
has "$tmp/err" "^chainrule train: --max-iter: '0' is not a whole number >= 1$"
run 2 "$CR" train $XOR --frobnicate
has "$tmp/err" "unknown option '--frobnicate'"
run 2 "$CR" train $XOR --loss bce
has "$tmp/err" "the bce loss needs a sigmoid output, not softmax"
run 2 "$CR" train $XOR --epochs 1 --json --data "$tmp/missing.csv"
has "$tmp/out" '^{"error": {"message": '

# the option parser (getopt_long): --opt=value, unambiguous abbreviations,
# an ambiguous one and a missing value
run 0 "$CR" train $XOR --epo=2 --qui --js --mod "$tmp/abbr.crm"
has "$tmp/out" '"epochs": 2, "iterations": 2,'
run 0 "$CR" predict --mod="$tmp/abbr.crm" --da "$tmp/xor.csv"
has "$tmp/out" '^class,y1,y2$'
run 2 "$CR" train $XOR --ta=label
has "$tmp/err" "^chainrule train: option '--ta' is ambiguous: --target or --target-loss$"
run 2 "$CR" train $XOR --epochs
has "$tmp/err" "^chainrule train: option '--epochs' needs a value$"
run 2 "$CR" evaluate --model "$tmp/abbr.crm" --data "$tmp/xor.csv" --json=1
has "$tmp/err" "^chainrule evaluate: option '--json' takes no value$"
run 2 "$CR" predict --model "$tmp/abbr.crm" --data "$tmp/xor.csv" --idx-labels x
has "$tmp/err" "^chainrule predict: unknown option '--idx-labels' (see 'chainrule help predict')$"

# IDX files: XOR as 1x2 byte images (trained from the bytes, scaled as each
# batch is loaded); labels that do not match the images are reported
printf '\000\000\010\003\000\000\000\004\000\000\000\001\000\000\000\002\000\000\000\377\377\000\377\377' \
    >"$tmp/xor-img.idx"
printf '\000\000\010\001\000\000\000\004\000\001\001\000' >"$tmp/xor-lab.idx"
printf '\000\000\010\001\000\000\000\003\000\001\001' >"$tmp/xor-lab3.idx"
IDX="--idx-images $tmp/xor-img.idx --arch 2,8,2 --act tanh --batch 4 --lr 0.05 --opt sgd"
run 0 "$CR" train $IDX --idx-labels "$tmp/xor-lab.idx" --epochs 3000 --quiet \
    --model "$tmp/idx.crm"
has "$tmp/out" "train       4 rows, loss [0-9.e-]*, accuracy 1.0000"
run 0 sh -c 'cat "$3" | "$1" evaluate --model "$2" --idx-images - --idx-labels "$4" --json' \
    sh "$CR" "$tmp/idx.crm" "$tmp/xor-img.idx" "$tmp/xor-lab.idx"
has "$tmp/out" '"accuracy": 1,'
mkfifo "$tmp/img-fifo"
cat "$tmp/xor-img.idx" >"$tmp/img-fifo" 2>/dev/null &
writer=$!
run 0 timeout 60 "$CR" train $IDX --idx-labels "$tmp/xor-lab.idx" --epochs 2 --quiet \
    --idx-images "$tmp/img-fifo"
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
run 0 "$CR" train $IDX --idx-labels "$tmp/xor-lab.idx" --epochs 3000 --quiet --standardize
has "$tmp/out" "accuracy 1.0000"
run 2 "$CR" train $IDX --idx-labels "$tmp/xor-lab3.idx" --epochs 1
has "$tmp/err" "3 labels for 4 images"

# a corrupt or truncated model is refused
cp "$tmp/xor.crm" "$tmp/bad.crm"
printf 'X' | dd of="$tmp/bad.crm" bs=1 seek=60 conv=notrunc 2>/dev/null
run 2 "$CR" evaluate --model "$tmp/bad.crm" --data "$tmp/xor.csv"
has "$tmp/err" "checksum mismatch"
head -c 50 "$tmp/xor.crm" >"$tmp/short.crm"
run 2 "$CR" predict --model "$tmp/short.crm" --data "$tmp/xor.csv"
has "$tmp/err" "short.crm: truncated: 50 bytes, the header announces"
run 2 "$CR" evaluate --model "$tmp/xor.crm" --data "$tmp/missing.csv"
run 2 "$CR" predict --data "$tmp/xor.csv"
has "$tmp/err" "model is required"

# a first line of numbers with one typo is read as a header, and said so;
# --no-header makes it data (then the typo is the error), --header is silent
printf '0.5,1x,1\n0,1,1\n1,0,1\n' >"$tmp/typo.csv"
run 0 "$CR" predict --model "$tmp/xor.crm" --data "$tmp/typo.csv"
has "$tmp/err" "^chainrule: warning: .*typo.csv: line 1 was read as a header because field 2 ('1x') is not a number, though 2 of its 3 fields are; give --no-header if it is data"
[ "$(wc -l <"$tmp/out")" -eq 3 ] || fail "the typo line was not taken as the header"
run 2 "$CR" predict --model "$tmp/xor.crm" --data "$tmp/typo.csv" --no-header
has "$tmp/err" "typo.csv:1:2: '1x' is not a number"
run 0 "$CR" predict --model "$tmp/xor.crm" --data "$tmp/typo.csv" --header
[ -s "$tmp/err" ] && fail "--header still warned: $(cat "$tmp/err")"
# --max-input bounds what a data file may hold (after decompression)
run 2 "$CR" evaluate --model "$tmp/xor.crm" --data "$tmp/xor.csv" --max-input 10
has "$tmp/err" "xor.csv: more than 10 bytes of input"
run 0 "$CR" evaluate --model "$tmp/xor.crm" --data "$tmp/xor.csv" --max-input=100000
run 2 "$CR" train --data "$tmp/xor.csv" --arch 2,2,1 --epochs 1 --max-input 0
has "$tmp/err" "max-input: '0' is not a whole number >= 1"

# --layers: errors in a SPEC name the layer and the column; options that
# belong to --arch are refused with it
L="--data $tmp/xor.csv --epochs 1 --quiet"
run 2 "$CR" train $L --layers 'dense:8 tanh dense:2,x softmax'
has "$tmp/err" "^chainrule train: --layers: layer 3 'dense:2,x' at column 22: unexpected 'x' (dense takes: units, init=..., clip=..., nobias)$"
run 2 "$CR" train $L --layers 'dense:8 tahn dense:2'
has "$tmp/err" "^chainrule train: --layers: layer 2 'tahn' at column 9: unknown layer 'tahn' (layers: dense conv1d"
run 2 "$CR" train $L --layers 'conv2d:4,3y3 flatten dense:2'
has "$tmp/err" "layer 1 'conv2d:4,3y3' at column 10: kernel '3y3' is not N or HxW (3 or 3x3)"
run 2 "$CR" train $L --layers 'dense'
has "$tmp/err" "layer 1 'dense' at column 6: dense needs its units, e.g. dense:128"
run 2 "$CR" train $L --layers 'dense:8 tanh conv2d:3,3 dense:2 softmax'
has "$tmp/err" "^chainrule train: --layers: 'conv2d:3,3' at column 14: layer 3 (conv2d) on input \\[8\\]: "
run 2 "$CR" train $L --layers 'conv2d:3,3 flatten dense:2 softmax'
has "$tmp/err" "layer 1 (conv2d) on input \\[2\\]: .*(the input shape \\[2\\] came from the data: give --shape)$"
run 2 "$CR" train $L --layers 'dense:4 relu dense:3'
has "$tmp/err" "xor.csv has 1 target columns, the model has 3 outputs"
run 2 "$CR" train $L --layers 'dense:2' --shape 1,3
has "$tmp/err" "xor.csv has 2 feature columns, the model takes 3"
run 2 "$CR" train $L --layers 'dense:2 softmax' --arch 2,2
has "$tmp/err" "^chainrule train: give --arch or --layers, not both$"
run 2 "$CR" train $L --layers 'dense:2 softmax' --act tanh
has "$tmp/err" "^chainrule train: --act goes with --arch; with --layers, write it into the layers"
run 2 "$CR" train $L --arch 2,2 --shape 2
has "$tmp/err" "^chainrule train: --shape goes with --layers, not --arch$"
run 2 "$CR" train $L --layers 'dense:2 softmax' --shape 1,0
has "$tmp/err" "^chainrule train: --shape '1,0': expected 1 to 3 sizes like 1,28,28"
run 2 "$CR" train $L
has "$tmp/err" "^chainrule train: --arch or --layers is required"

# --layers trains a small CNN: 4x4 images of a vertical (class 0) or a
# horizontal (class 1) bright bar, as CSV rows with --shape, and as IDX
# bytes whose shape [1,4,4] comes from the data
awk 'BEGIN { srand(1); for (i = 0; i < 64; i++) { c = i % 2; p = int(rand() * 4); s = ""
    for (r = 0; r < 4; r++) for (k = 0; k < 4; k++) {
        v = ((c == 0 && k == p) || (c == 1 && r == p)) ? 0.8 + rand() * 0.2 : rand() * 0.3
        s = s sprintf("%.3f,", v) }
    print s c } }' >"$tmp/bars.csv"
BARS="--data $tmp/bars.csv --no-header --shape 1,4,4 --epochs 30 --batch 16 --lr 0.01"
run 0 "$CR" train $BARS --layers 'conv2d:4,3x3,pad=1 relu maxpool:2 flatten dense:2 softmax' \
    --history "$tmp/cnn.csv" --plot "$tmp/cnn.svg"
[ "$(grep -c '^epoch [0-9]*/30: loss' "$tmp/err")" -eq 30 ] || fail "expected 30 epoch lines"
has "$tmp/out" "^model       conv2d:4,3x3,stride=1x1,pad=1x1 relu maxpool2d:2x2,stride=0x0,pad=0x0 flatten dense:2 softmax (74 weights)$"
has "$tmp/out" "^train       64 rows, loss [0-9.e-]*, accuracy 1.0000$"
[ "$(wc -l <"$tmp/cnn.csv")" -eq 31 ] || fail "history should have 31 lines"
has "$tmp/cnn.svg" "<polyline"
run 0 "$CR" train $BARS --layers 'conv2d:4,3x3,pad=1 relu maxpool:2 flatten dense:2' --epochs 2 \
    --loss xent --quiet --json --debug --test-data "$tmp/bars.csv"
has "$tmp/out" '^{"layers": "conv2d:4,3x3,stride=1x1,pad=1x1 relu maxpool2d:2x2,stride=0x0,pad=0x0 flatten dense:2", "epochs": 2, "iterations": 8,'
has "$tmp/out" '"test": {"rows": 64, "loss": '
has "$tmp/err" '^  gradient norms: L1 [0-9.e+-]* L5 [0-9.e+-]*$'
has "$tmp/err" '^dloss/dL1.W = dloss/dL5 \* dL5/dL4 '
# per-epoch lines carry the test figures when test data is given
run 0 "$CR" train $BARS --layers 'flatten dense:2' --loss xent --epochs 2 --test-data "$tmp/bars.csv"
has "$tmp/err" "^epoch 2/2: loss [0-9.e-]*, accuracy [0-9.]*, test_loss [0-9.e-]*, test_accuracy [0-9.]* ("
awk -F, '{ for (i = 1; i <= 16; i++) printf "\\%03o", int($i * 255) }' "$tmp/bars.csv" >"$tmp/px"
{ printf '\000\000\010\003\000\000\000\100\000\000\000\004\000\000\000\004'; printf "$(cat "$tmp/px")"; } \
    >"$tmp/bars-img.idx"
{ printf '\000\000\010\001\000\000\000\100'; printf "$(awk -F, '{ printf "\\%03o", $17 }' "$tmp/bars.csv")"; } \
    >"$tmp/bars-lab.idx"
[ "$(wc -c <"$tmp/bars-img.idx")" -eq 1040 ] || fail "bars-img.idx is not 16 + 64 * 16 bytes"
run 0 "$CR" train --idx-images "$tmp/bars-img.idx" --idx-labels "$tmp/bars-lab.idx" --batch 16 \
    --epochs 30 --lr 0.01 --quiet --layers 'conv2d:4,3x3,pad=1 relu maxpool:2 flatten dense:2'
has "$tmp/out" "^train       64 rows, loss [0-9.e-]*, accuracy 1.0000$"

# a layer model's file (format version 2): checkpointed, deterministic,
# read by predict and evaluate; a damaged one is refused
SPEC='conv2d:4,3x3,pad=1 relu maxpool:2 flatten dense:2 softmax'
run 0 "$CR" train $BARS --layers "$SPEC" --quiet --model "$tmp/cnn.crm"
has "$tmp/out" "^saved       $tmp/cnn.crm$"
run 0 "$CR" train $BARS --layers "$SPEC" --quiet --model "$tmp/cnn2.crm"
cmp -s "$tmp/cnn.crm" "$tmp/cnn2.crm" || fail "same seed, different layer model files"
run 0 "$CR" predict --model "$tmp/cnn.crm" --data "$tmp/bars.csv" --no-header
has "$tmp/out" '^class,y1,y2$'
[ "$(tail -n +2 "$tmp/out" | cut -d, -f1 | tr -d '\n')" = "$(cut -d, -f17 "$tmp/bars.csv" | tr -d '\n')" ] ||
    fail "predicted classes differ from the labels: $(cat "$tmp/out")"
run 0 "$CR" evaluate --model "$tmp/cnn.crm" --data "$tmp/bars.csv" --no-header --json
has "$tmp/out" '^{"rows": 64, "loss": [0-9.e-]*, "accuracy": 1, "confusion": \[\[32, 0\], \[0, 32\]\]}$'
run 0 "$CR" evaluate --model "$tmp/cnn.crm" --idx-images "$tmp/bars-img.idx" \
    --idx-labels "$tmp/bars-lab.idx" --json
has "$tmp/out" '"rows": 64, '
run 2 sh -c 'cat "$2" | "$1" evaluate --model - --data "$3" --no-header' sh "$CR" \
    "$tmp/cnn.crm" "$tmp/bars.csv"
has "$tmp/err" "<stdin>: a layer model is read from a regular file only"
cp "$tmp/cnn.crm" "$tmp/cnn-bad.crm"
printf 'X' | dd of="$tmp/cnn-bad.crm" bs=1 seek=100 conv=notrunc 2>/dev/null
run 2 "$CR" predict --model "$tmp/cnn-bad.crm" --data "$tmp/bars.csv" --no-header
has "$tmp/err" "cnn-bad.crm: checksum mismatch"
run 2 "$CR" evaluate --model "$tmp/cnn.crm" --data "$tmp/xor.csv"
has "$tmp/err" "xor.csv has 2 feature columns, the model takes 16"

# a character model trained on a text file (--text): the vocabulary (11
# bytes) goes into the model file, and generate samples only those bytes,
# the same text for the same seed
: >"$tmp/cat.txt"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do printf 'the cat sat on the mat. ' >>"$tmp/cat.txt"; done
TEXT="--text $tmp/cat.txt --seq 8 --batch 4 --epochs 2"
run 0 "$CR" train $TEXT --layers 'embed:4 lstm:8,seq dense:V' --val-split 0.25 \
    --model "$tmp/cat.crm" --history "$tmp/cat.csv"
has "$tmp/out" "^model       embed:4,vocab=11 lstm:8,seq dense:11 (591 weights)$"
has "$tmp/out" "^train       26 rows, loss [0-9.e-]*, accuracy [0-9.]*$"
has "$tmp/out" "^validation  9 rows, loss [0-9.e-]*, accuracy [0-9.]*$"
[ "$(grep -c '^epoch [12]/2: loss .*, val_loss ' "$tmp/err")" -eq 2 ] ||
    fail "expected 2 epoch lines with val_loss: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/cat.csv")" -eq 3 ] || fail "text history should have 3 lines"
run 0 "$CR" generate --model "$tmp/cat.crm" --length 60 --seed 5 --prime 'the '
cp "$tmp/out" "$tmp/gen1.txt"
run 0 "$CR" generate --model "$tmp/cat.crm" --length 60 --seed 5 --prime 'the '
cmp -s "$tmp/out" "$tmp/gen1.txt" || fail "same seed, different text: $(cat "$tmp/out")"
[ "$(wc -c <"$tmp/out")" -eq 65 ] || fail "expected 'the ', 60 bytes and a newline"
[ -z "$(head -c 64 "$tmp/out" | tr -d 'the casonm.')" ] ||
    fail "generated bytes outside the vocabulary: $(cat "$tmp/out")"
# one prediction per window (the last state): windows start at every byte
run 0 "$CR" train $TEXT --layers 'embed:4 lstm:8 dense:V' --quiet --model "$tmp/cat1.crm"
has "$tmp/out" "^train       280 rows, "
run 0 "$CR" generate --model "$tmp/cat1.crm" --length 20 --seed 1
[ -z "$(head -c 20 "$tmp/out" | tr -d 'the casonm.')" ] ||
    fail "generated bytes outside the vocabulary: $(cat "$tmp/out")"
# --carry-state: the state carried from window to window (35 windows,
# the last 9 for validation, 24 of the 26 others in 6 steps of 4 rows)
run 0 "$CR" train $TEXT --layers 'embed:4 gru:8,seq dense:V' --carry-state \
    --val-split 0.25 --model "$tmp/carry.crm"
has "$tmp/err" '^epoch 1/2: loss .*, val_loss .* 6 steps)$'
has "$tmp/err" '^epoch 2/2: loss .*, val_loss .* 12 steps)$'
has "$tmp/out" "^validation  9 rows, loss [0-9.e-]*, accuracy [0-9.]*$"
run 2 "$CR" train $TEXT --layers 'embed:4 gru:8 dense:V' --carry-state
has "$tmp/err" "^chainrule train: --carry-state needs a model that predicts every position"
run 2 "$CR" train --data "$tmp/xor.csv" --arch 2,2 --carry-state
has "$tmp/err" "^chainrule train: --carry-state goes with --text$"
run 1 "$CR" train $TEXT --layers 'embed:4 gru:8,seq dense:V' --carry-state --batch 64
has "$tmp/err" "carry_state: 35 training rows, fewer than a batch of 64$"
# evaluate --text: the loss per byte over the text's windows, the same
# figure as training's for the same windows (35 following each other;
# 280 starting at every byte for a model that predicts the next byte)
run 0 "$CR" train $TEXT --layers 'embed:4 gru:8,seq dense:V' --carry-state --quiet \
    --model "$tmp/carry0.crm"
loss=$(sed -n 's/^train       35 rows, loss \([0-9.e-]*\),.*/\1/p' "$tmp/out")
[ -n "$loss" ] || fail "no training loss: $(cat "$tmp/out")"
run 0 "$CR" evaluate --model "$tmp/carry0.crm" --text "$tmp/cat.txt"
has "$tmp/out" "^rows      35$"
has "$tmp/out" "^loss      $loss$"
run 0 "$CR" evaluate --model "$tmp/cat1.crm" --text "$tmp/cat.txt" --json
has "$tmp/out" '^{"rows": 280, "loss": '
# predict --text: one row per window starting at every byte, the last one
# after the text; for a model that predicts one byte, the rows before it
# are evaluate's windows, so the share predicted right is its accuracy
run 0 "$CR" predict --model "$tmp/cat1.crm" --text "$tmp/cat.txt"
[ "$(wc -l <"$tmp/out")" -eq 282 ] || fail "expected a header and 281 rows"
has "$tmp/out" '^288,,"[a-z. ]",[01]\.[0-9]*$'
acc=$(awk -F, 'NR > 1 && $2 != "" { n++; if ($2 == $3) k++ } END { printf "%.4f", k / n }' \
    "$tmp/out")
run 0 "$CR" evaluate --model "$tmp/cat1.crm" --text "$tmp/cat.txt"
has "$tmp/out" "^accuracy  $acc$"
run 0 "$CR" predict --model "$tmp/cat.crm" --text "$tmp/cat.txt" --json
has "$tmp/out" '^{"windows": 281, "predictions": \[{"offset": 8, "next": "s", "predicted": '
printf 'the cat sat on the zoo.' >"$tmp/hat.txt"
run 2 "$CR" evaluate --model "$tmp/cat.crm" --text "$tmp/hat.txt"
has "$tmp/err" "^chainrule evaluate: --text: $tmp/hat.txt: byte 0x7a ('z') at offset 19 is not in the vocabulary$"
run 2 "$CR" evaluate --model "$tmp/xor.crm" --text "$tmp/cat.txt"
has "$tmp/err" "^chainrule evaluate: --text: the model has no vocabulary: it was not trained on text$"
run 2 "$CR" evaluate --model "$tmp/cat.crm" --text "$tmp/cat.txt" --data "$tmp/xor.csv"
has "$tmp/err" "^chainrule evaluate: --text reads a character model's text: give no other data$"
# bad text inputs
: >"$tmp/empty.txt"
run 2 "$CR" train --text "$tmp/empty.txt" --layers 'embed:4 lstm:8,seq dense:V'
has "$tmp/err" "^chainrule train: --text: $tmp/empty.txt: empty file$"
run 2 "$CR" train $TEXT --seq 400 --layers 'embed:4 lstm:8,seq dense:V'
has "$tmp/err" "cat.txt: 288 bytes: a window of 400 and its next byte need 401$"
run 2 "$CR" train $TEXT
has "$tmp/err" "^chainrule train: --text needs --layers, e.g. --layers 'embed:32 lstm:128,seq"
run 2 "$CR" train $TEXT --layers 'embed:4 lstm:8,seq dense:7'
has "$tmp/err" "the model gives 7 classes per position, the text has 11 symbols: end with dense:V$"
run 2 "$CR" train $TEXT --layers 'embed:4 lstm:8,seq dense:V' --data "$tmp/xor.csv"
has "$tmp/err" "^chainrule train: --text trains a character model: --data does not go with it$"
run 2 "$CR" train --data "$tmp/xor.csv" --arch 2,2 --seq 8
has "$tmp/err" "^chainrule train: --seq goes with --text$"
run 2 "$CR" generate --model "$tmp/xor.crm"
has "$tmp/err" "^chainrule generate: the model has no vocabulary: it was not trained on text$"

clitest_end
