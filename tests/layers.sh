#!/bin/sh
# layers.sh - checks that src/ keeps its layers (docs/design.md, "Layers"):
# a file includes private headers of its own layer and of the layers below
# it only, and the command line (src/cli) the public API only.
set -u
top=${top_srcdir:-.}
allowed() {
    case $1 in
    core) echo "core" ;;
    ops) echo "core ops" ;;
    lang) echo "core ops lang" ;;
    io) echo "core io" ;;
    explain) echo "core io explain" ;;
    nn) echo "core io nn" ;;
    cli) echo "" ;;
    *) echo "UNKNOWN" ;;
    esac
}
status=0
checked=0
for dir in "$top"/src/*/; do
    layer=$(basename "$dir")
    ok=$(allowed "$layer")
    if [ "$ok" = UNKNOWN ]; then
        echo "src/$layer: a folder that docs/design.md does not list as a layer"
        status=1
        continue
    fi
    for f in "$dir"*.c "$dir"*.h; do
        [ -f "$f" ] || continue
        checked=$((checked + 1))
        # private includes are "layer/file.h"; same-folder "file.h" only in cli
        for inc in $(sed -n 's/^#include "\([a-z_]*\)\/[^"]*".*/\1/p' "$f" | sort -u); do
            [ "$inc" = chainrule ] && continue
            case " $ok " in
            *" $inc "*) ;;
            *) echo "src/$layer/$(basename "$f") includes a private header of $inc/"; status=1 ;;
            esac
        done
    done
done
[ $status -eq 0 ] && echo "layers kept in $checked files"
exit $status
