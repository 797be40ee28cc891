#!/bin/sh
# tests/browser.sh - the step-through page (chainrule explain --html) in a
# real browser: headless Chromium loads the seed neuron's page at several
# #step=N and the test reads the panel from the DOM the script left
# (--dump-dom): the values and chain text of that step; a screenshot is
# checked not to be blank (tests/png_colours.py); the console must show no
# script error, and a copy of the page with a deliberately broken script
# must show one (so the check can fail); Next, Previous and the arrow keys
# move between steps and keep #step=N in the address; a page with hostile names
# (tests/html_hostile) keeps its two scripts and shows the names as text;
# a saved model's page (explain --model) shows its layers' steps.
# The page is the default one, the statements view (one node per statement
# or input, collapsed edges). With CR_EXPLAIN_PNG=FILE the screenshot (step
# 7) is kept in FILE (make explain-page-png: docs/explain_page.png).
# Exit 77 (skipped) when chromium is not installed or chainrule was built
# without Graphviz. Chromium is slow to start: seven launches in all.
srcdir=$(cd "${top_srcdir:-.}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
chromium=${CHROMIUM:-chromium}
if ! command -v "$chromium" > /dev/null 2>&1; then
    echo "browser.sh: $chromium is not installed (apt-get install chromium): skipped"
    exit 77
fi
test_name=chainrule-browser
. "$srcdir/tests/clitest.sh"
# Graphviz's renderer (pango, fontconfig, glib) is not ours: the sanitizer
# builds suppress its reports, as tests/cli.sh does for its renders.
LSAN_OPTIONS="suppressions=$srcdir/tests/render-lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
TSAN_OPTIONS="suppressions=$srcdir/tests/render-tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
export LSAN_OPTIONS TSAN_OPTIONS
cd "$tmp" || exit 99

seed='s = x1*w1 + x2*w2 + b; predicted = sigmoid(s); E = 0.5*(d - predicted)^2'
at='x1=0.1,x2=0.3,d=0.03,w1=0.5,w2=0.2,b=1.83'
if ! "$CR" explain --html seed.html --wrt w1 --at "$at" "$seed" 2> explain.err; then
    if grep -q "without Graphviz" explain.err; then
        echo "browser.sh: chainrule was built without Graphviz: skipped"
        exit 77
    fi
    cat explain.err
    exit 1
fi

# check WHAT CONDITION: fails WHAT unless the shell CONDITION holds
check() { eval "$2" || fail "$1"; }

# browse NAME URL [FLAGS...]: the DOM after the scripts ran in NAME.dom,
# the browser's log (console messages included) in NAME.log
browse() {
    name=$1
    url=$2
    shift 2
    "$chromium" --headless --no-sandbox --disable-gpu --no-first-run \
        --user-data-dir="$tmp/profile" --hide-scrollbars --window-size=1400,450 \
        --enable-logging=stderr --v=0 "$@" --dump-dom "$url" > "$name.dom" 2> "$name.log"
}

# The panel's text at the step (one line: the script writes it that way).
panel() {
    grep -o "<div id=\"$2\">.*" "$1.dom" | sed 's|</div>.*||'
}

# Script errors in a browser log.
script_errors() {
    grep -E 'CONSOLE.*(Uncaught|Error)|ERROR:CONSOLE' "$1.log"
}

page="file://$tmp/seed.html"
# The buttons, the keys and the fragment: a copy of the page whose extra
# script, run after the page's own, goes from step 1 to 3 with Next twice,
# to 2 with the left arrow key, 3 with the right one, 2 with Previous, and
# shows the fragment in the title.
sed 's|</body>|<script>\
document.getElementById("next").click(); document.getElementById("next").click();\
document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowLeft"}));\
document.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowRight"}));\
document.getElementById("prev").click();\
document.title = location.hash;\
</script>\n</body>|' seed.html > clicks.html
browse forward "file://$tmp/clicks.html#step=1"
check "Next, Next, left, right, Previous from step 1: step 2, #step=2 in the address" \
    'grep -q "<title>#step=2</title>" forward.dom'
check "step 2 is the forward step of the statement predicted" \
    'panel forward step | grep -q "<p>Forward 2 of 3: predicted</p><p>from s = 1.94</p><p>predicted = 0.874352143</p>"'
check "step 2: the position and no chain yet" \
    'grep -q "id=\"pos\">step 2 of 12<" forward.dom &&
     panel forward chains | grep -q "no gradient is complete yet"'
check "step 2: the one statement after predicted (E) is faded" \
    '[ "$(grep -o "class=\"node todo\"" forward.dom | wc -l)" = 1 ]'
check "step 2: no script error" '! script_errors forward'

browse backward "$page#step=7" --screenshot="$tmp/shot.png"
check "step 7: upstream, local derivative and product of the edge s -> predicted" \
    'panel backward step | grep -q "<p>Backward 3 of 8: the edge s → predicted</p><p>upstream ∂E/∂predicted = 0.844352143</p><p>local ∂predicted/∂s = predicted\*(1-predicted) = 0.109860473</p><p>product 0.844352143 × 0.109860473 = 0.092760926</p>"'
check "step 7: the chain of s is complete, the one of w1 not yet" \
    'panel backward chains | grep -q "<p>∂E/∂s = ∂E/∂predicted · ∂predicted/∂s = 0.844352143 × 0.109860473 = 0.092760926</p>" &&
     ! panel backward chains | grep -q "∂E/∂w1"'
check "step 7: no script error" '! script_errors backward'

browse last "$page#step=9"
check "step 9: the edge w1 -> s composed through x1*w1, w1's gradient and its chain" \
    'panel last step | grep -q "<p>local ∂s/∂w1 = x1 = 0.1</p><p>(composed through the unnamed steps between them)</p>" &&
     panel last step | grep -q "<p>∂E/∂w1 = 0.009276093</p>" &&
     panel last chains | grep -q "<p>∂E/∂w1 = ∂E/∂predicted · ∂predicted/∂s · ∂s/∂w1 = 0.844352143 × 0.109860473 × 0.1 = 0.009276093</p>"'
check "step 9: no script error" '! script_errors last'
if [ -f shot.png ]; then
    read -r colours inked <<PNG
$(python3 "$srcdir/tests/png_colours.py" shot.png)
PNG
    check "the screenshot is not blank (${colours:-?} colours, ${inked:-?}% not white)" \
        '[ "${colours:-0}" -ge 50 ] && [ "${inked%.*}" -ge 3 ]'
    # make explain-page-png keeps it as the README's picture
    if [ -n "${CR_EXPLAIN_PNG:-}" ]; then cp shot.png "$CR_EXPLAIN_PNG"; fi
else
    check "a screenshot was taken" false
fi

# The console check must be able to fail: the same page with a call of
# an undefined function in its script.
sed 's/var steps = data.steps, cur = 0;/&\n  no_such_function();/' seed.html > broken.html
browse broken "file://$tmp/broken.html#step=3"
check "a broken script is caught in the console" \
    'grep -q no_such_function broken.html && script_errors broken | grep -q no_such_function'

"$top_builddir/tests/html_hostile" hostile.html
browse hostile "file://$tmp/hostile.html#step=4"
check "hostile names: only the page's two scripts" \
    '[ "$(grep -o "<script" hostile.dom | wc -l)" = 2 ] && ! grep -q "<img" hostile.dom'
check "hostile names: shown as text" \
    'panel hostile step | grep -q "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" &&
     panel hostile step | grep -q "(quote\"d '"'"'x'"'"' &amp; ∂é→ü)" &&
     grep -q "<h1>&lt;b&gt;title&lt;/b&gt; &amp; \"more\"</h1>" hostile.dom'
check "hostile names: no script error" '! script_errors hostile'

# A saved model's page (explain --model), layer by layer: the MLP of
# tests/data/mlp_v1.crm (3-4-2, tanh, softmax) on the row drawn with seed
# 1. Step 2 is layer 2's forward step, step 13 the backward edge from
# L1.W into layer 1's box, which completes L1.W's gradient and chain.
"$CR" explain --html model.html --model "$srcdir/tests/data/mlp_v1.crm" 2> model.err ||
    fail "explain --model: $(cat model.err)"
# has NAME PANEL TEXT...: the panel at NAME's step holds every TEXT
has() {
    has_name=$1
    has_panel=$2
    shift 2
    for has_text in "$@"; do
        panel "$has_name" "$has_panel" | grep -q -F "$has_text" || return 1
    done
}
browse model2 "file://$tmp/model.html#step=2"
check "model page, step 2: layer 2 forward, its output summarised" \
    'has model2 step "<p>Forward 2 of 4: layer 2, L2</p>" \
        "<p>L2 = [1,4] (min -0.793180899, mean -0.301292881, max 0.688884244)</p>"'
browse model13 "file://$tmp/model.html#step=13"
check "model page, step 13: the edge L1.W -> L1, the gradient norm and the chain in layer terms" \
    'has model13 step "<p>Backward 8 of 9: the edge L1.W → L1</p>" \
        "<p>|∂loss/∂L1.W| = 0.241963788, complete</p>" &&
     has model13 chains "<p>∂loss/∂L1.W = ∂loss/∂L3 · ∂L3/∂L2 · ∂L2/∂L1 · ∂L1/∂L1.W = "'
check "model page: no script error" '! script_errors model2 && ! script_errors model13'

clitest_end
