#!/usr/bin/env python3
"""Reference predictions of fastText's lid.176.ftz for tests/tests/langid.rs.

Sentences: Faker (MIT licence, version pinned below) lorem text in 33 locales,
seeded, plus edge cases (empty text, tabs, labels in the text, emoji, mixed
scripts, very long words). Predictions: the official fastText C++ code through
the `fasttext-predict` wheel (k=5, threshold 0). Probabilities are written
with repr(), which round-trips the C++ float exactly.

    pip install faker==40.63.0 fasttext-predict==0.9.2.4
    python3 tests/ref/gen_langid_ref.py host-gpu/models/lid.176.ftz > tests/ref/langid/lid176_ref.tsv
"""
import sys

import faker
import fasttext

assert faker.VERSION == "40.63.0", faker.VERSION
LOCALES = ["ar_AA", "az_AZ", "bn_BD", "cs_CZ", "da_DK", "de_AT", "de_DE", "el_GR", "en_PH",
           "en_US", "es_AR", "es_ES", "es_MX", "fa_IR", "fil_PH", "fr_FR", "he_IL", "hy_AM",
           "it_IT", "ja_JP", "la", "mk_MK", "nl_BE", "nl_NL", "pl_PL", "ru_RU", "th_TH",
           "tl_PH", "uk_UA", "vi_VN", "zh_CN", "zh_TW"]
EDGE = ["", " ", "\t\t", "a", "ok", "__label__en", "__label__fr bonjour", "Hello\tworld\r",
        "🐟🐠🐡 fish", "Tschüß ǅemal ﬁsh ß", "x" * 300, "Καλημέρα κόσμε hello мир 世界",
        "1234567890", "!!! ??? ...", "\x0bvertical\x0cfeed", "Grüße aus Köln, Straße 5"]


def main():
    model = fasttext.load_model(sys.argv[1])
    texts = []
    for loc in LOCALES:
        fk = faker.Faker(loc)
        fk.seed_instance(176)
        texts += [fk.sentence(nb_words=n) for n in (3, 6, 10, 16)]
        texts += [fk.text(max_nb_chars=200).replace("\n", " ") for _ in range(4)]
    texts += EDGE
    for t in texts:
        assert "\n" not in t
        labels, probs = model.predict(t, k=5, threshold=0.0)
        cols = [t.encode("unicode_escape").decode("ascii")]
        cols += [f"{l[len('__label__'):]}:{float(p)!r}" for l, p in zip(labels, probs)]
        print("\t".join(cols))


if __name__ == "__main__":
    main()
