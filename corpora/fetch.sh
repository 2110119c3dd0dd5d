#!/usr/bin/env bash
# Downloads Multi30k (task 1, German-English, raw) and tinyshakespeare into corpora/downloaded/.
# Their licences allow research and teaching use; do not commit the files.
set -euo pipefail
cd "$(dirname "$0")"
out=downloaded
mkdir -p "$out/multi30k" "$out/tinyshakespeare"
base=https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw
for split in train val test_2016_flickr test_2017_flickr test_2018_flickr test_2017_mscoco; do
    for lang in de en; do
        case $split in
            test_2016_flickr) name=test2016 ;;
            test_2017_flickr) name=test2017 ;;
            test_2018_flickr) name=test2018 ;;
            test_2017_mscoco) name=mscoco2017 ;;
            *) name=$split ;;
        esac
        echo "fetching $split.$lang"
        curl -fsSL "$base/$split.$lang.gz" | gunzip > "$out/multi30k/$name.$lang"
    done
done
curl -fsSL https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt \
    > "$out/tinyshakespeare/input.txt"
wc -l "$out"/multi30k/*
echo "done: SEQ2SEQ_CORPORA=$(pwd)/$out"
