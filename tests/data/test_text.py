"""Tokenizers (WordPiece / byte-level BPE / characters), SST-2 and translation pairs."""
import os
import re
import sys
import unicodedata

import numpy as np
import pytest

import ganglion
from ganglion.data.download import find_data_root
from ganglion.data.text import (ENG_PREFIXES, SST2, CharTokenizer, Tokenizer,
                                TranslationPairs, normalize_string)
from ganglion.utils.data import DataLoader

pytest.importorskip("tokenizers")

CORPUS = ["the cat sat on the mat.", "the dog sat on the log.", "a cat and a dog!",
          "where is the cat?", "the dogs and the cats ran away."] * 4
SST_ROOT = find_data_root("sst2")
FRA = find_data_root("eng-fra")
needs_sst = pytest.mark.skipif(SST_ROOT is None, reason="shared SST-2 data not present")
needs_fra = pytest.mark.skipif(FRA is None, reason="shared eng-fra data not present")


@pytest.fixture(scope="module")
def wp():
    return Tokenizer.train_wordpiece(CORPUS, vocab_size=120, min_frequency=1)


# -- Tokenizer ----------------------------------------------------------------------------
def test_missing_tokenizers_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # makes `import tokenizers` fail
    with pytest.raises(ImportError, match=r"ganglion\[text\]"):
        Tokenizer.train_wordpiece(CORPUS, vocab_size=50)


def test_wordpiece_specials_and_round_trip(wp):
    assert [wp.token_to_id(t) for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]] == \
        [0, 1, 2, 3, 4]
    assert (wp.pad_id, wp.unk_id, wp.cls_id, wp.sep_id, wp.mask_id) == (0, 1, 2, 3, 4)
    for text in set(CORPUS):
        ids = wp.encode(text)
        assert ids[0] == wp.cls_id and ids[-1] == wp.sep_id and wp.unk_id not in ids
        assert wp.decode(ids) == text
    assert wp.decode(wp.encode("The CAT sat.")) == "the cat sat."  # lowercase=True
    assert len(wp) == wp.vocab_size == len(wp.get_vocab())


def _naive_pad(rows, width, pad, left=False):
    out = []
    for r in rows:
        fill = [pad] * (width - len(r))
        out.append(fill + r if left else r + fill)
    return out


def test_encode_batch_padding_and_mask(wp):
    texts = ["the cat", "the dogs and the cats ran away.", "a"]
    rows = [wp.encode(t) for t in texts]
    width = max(map(len, rows))
    batch = wp.encode_batch(texts)
    assert set(batch) == {"input_ids", "attention_mask"}
    assert isinstance(batch["input_ids"], ganglion.Tensor)
    assert batch["input_ids"].dtype == ganglion.int64 == batch["attention_mask"].dtype
    assert batch["input_ids"].tolist() == _naive_pad(rows, width, wp.pad_id)
    assert batch["attention_mask"].tolist() == _naive_pad([[1] * len(r) for r in rows],
                                                          width, 0)
    as_np = wp.encode_batch(texts, return_tensors="np")
    assert as_np["input_ids"].dtype == np.int64
    np.testing.assert_array_equal(as_np["input_ids"], batch["input_ids"].numpy())
    assert wp.encode_batch(texts, padding=False, return_tensors=None)["input_ids"] == rows
    wp.padding_side = "left"
    try:
        left = wp.encode_batch(texts, return_tensors=None)
    finally:
        wp.padding_side = "right"
    assert left["input_ids"] == _naive_pad(rows, width, wp.pad_id, left=True)
    assert wp(texts, return_tensors=None) == wp.encode_batch(texts, return_tensors=None)


def test_encode_batch_max_length_and_truncation(wp):
    texts = ["the cat", "the dogs and the cats ran away."]
    rows = [wp.encode(t) for t in texts]
    fixed = wp.encode_batch(texts, padding="max_length", max_length=20, return_tensors="np")
    assert fixed["input_ids"].shape == (2, 20)
    assert fixed["attention_mask"].sum(1).tolist() == [len(r) for r in rows]
    cut = wp.encode_batch(texts, max_length=5, return_tensors=None)["input_ids"]
    # special tokens survive truncation: [CLS] + 3 tokens + [SEP]
    assert cut[1] == rows[1][:4] + [wp.sep_id]
    assert cut[0] == rows[0] + [wp.pad_id]
    multiple = wp.encode_batch(texts, pad_to_multiple_of=8, return_tensors="np")
    assert multiple["input_ids"].shape[1] % 8 == 0
    untruncated = wp.encode_batch(texts, truncation=False, max_length=5, return_tensors=None)
    assert untruncated["input_ids"][1] == rows[1]


def test_empty_batches_and_single_sequences(wp):
    char = CharTokenizer("abc")
    for tok in (wp, char):
        for padding in (True, False):
            out = tok.encode_batch([], padding=padding, return_tensors="np")
            assert out["input_ids"].shape == (0, 0) and out["input_ids"].dtype == np.int64
        ids = tok.encode("a", return_tensors="ganglion")
        assert ids.dtype == ganglion.int64 and ids.tolist() == tok.encode("a")
        assert tok.decode(ids) == "a" and tok.decode(np.array(tok.encode("a"))) == "a"
        with pytest.raises(ValueError, match="decode_batch"):
            tok.decode(np.zeros((2, 3), np.int64))
        assert tok.decode_batch([tok.encode("a"), tok.encode("c")]) == ["a", "c"]


def test_encode_batch_errors(wp):
    with pytest.raises(ValueError, match="encode_batch.*padding=True"):
        wp.encode_batch(["the cat", "a"], padding=False)
    with pytest.raises(ValueError, match="max_length"):
        wp.encode_batch(["the cat"], padding="max_length")
    with pytest.raises(ValueError, match="padding must be"):
        wp.encode_batch(["the cat"], padding="yes")
    with pytest.raises(ValueError, match="return_tensors"):
        wp.encode_batch(["the cat"], return_tensors="pt")
    with pytest.raises(TypeError, match="list of texts"):
        wp.encode_batch("the cat")
    with pytest.raises(ValueError, match="2 texts but 1"):
        wp.encode_batch(["a", "b"], ["c"])


def test_sentence_pairs_have_token_type_ids(wp):
    a, b = wp.encode("the cat", add_special_tokens=False), wp.encode("a dog",
                                                                      add_special_tokens=False)
    out = wp.encode_batch(["the cat"], ["a dog"], return_tensors=None)
    assert out["input_ids"][0] == [wp.cls_id, *a, wp.sep_id, *b, wp.sep_id]
    assert out["token_type_ids"][0] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    tuples = wp.encode_batch([("the cat", "a dog")], return_tensors=None)
    assert tuples == out
    assert wp.encode("the cat", "a dog") == out["input_ids"][0]


def test_save_load_identical_encodings(wp, tmp_path):
    texts = ["the cat sat on the log!", "where is a dog?", "unseen words xyz"]
    path = wp.save(tmp_path)
    assert os.path.basename(path) == "tokenizer.json"
    for loaded in (Tokenizer.load(path), Tokenizer.load(tmp_path)):
        assert loaded.get_vocab() == wp.get_vocab() and loaded.pad_id == wp.pad_id
        for kw in ({}, {"padding": "max_length", "max_length": 9}, {"max_length": 4}):
            got = loaded.encode_batch(texts, return_tensors="np", **kw)
            want = wp.encode_batch(texts, return_tensors="np", **kw)
            np.testing.assert_array_equal(got["input_ids"], want["input_ids"])
            np.testing.assert_array_equal(got["attention_mask"], want["attention_mask"])
        assert loaded.decode_batch(got["input_ids"]) == wp.decode_batch(want["input_ids"])


def test_load_hugging_face_style_file(wp, tmp_path):
    """A tokenizer.json written with fixed padding/truncation (like sentence-transformers'
    all-MiniLM-L6-v2) loads with model_max_length from it, and per-call padding wins."""
    tk = pytest.importorskip("tokenizers")
    raw = tk.Tokenizer.from_str(wp.backend.to_str())
    raw.enable_padding(pad_id=0, pad_token="[PAD]", length=16)
    raw.enable_truncation(16)
    raw.save(str(tmp_path / "tokenizer.json"))
    loaded = Tokenizer.load(tmp_path)
    assert loaded.model_max_length == 16 and loaded.pad_token == "[PAD]"
    ids = loaded.encode_batch(["the cat", "a"], return_tensors="np")["input_ids"]
    assert ids.shape == (2, 4)  # longest in batch, not the file's fixed 16
    long = loaded.encode_batch([" ".join(["cat"] * 40)], return_tensors="np")["input_ids"]
    assert long.shape == (1, 16) and long[0, -1] == wp.sep_id
    raw.no_padding()
    want = [e.ids for e in raw.encode_batch(["the cat sat", " ".join(["dog"] * 30)])]
    assert loaded.encode_batch(["the cat sat", " ".join(["dog"] * 30)], padding=False,
                               return_tensors=None)["input_ids"] == want
    (tmp_path / "sub").mkdir()
    wp.save(tmp_path / "sub")
    (tmp_path / "sub" / "tokenizer_config.json").write_text('{"model_max_length": 32}')
    assert Tokenizer.load(tmp_path / "sub").model_max_length == 32


def test_train_from_files(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS), encoding="utf-8")
    from_file = Tokenizer.train_wordpiece(path, vocab_size=120, min_frequency=1)
    from_list = Tokenizer.train_wordpiece([str(path)], vocab_size=120, min_frequency=1)
    # the trainer breaks ties between equally frequent pieces in hash order: compare the
    # vocabularies as sets
    assert set(from_file.get_vocab()) == set(from_list.get_vocab())
    assert set(from_file.get_vocab()) == set(Tokenizer.train_wordpiece(
        CORPUS, vocab_size=120, min_frequency=1).get_vocab())
    assert from_file.decode(from_file.encode("the cat sat.")) == "the cat sat."
    with pytest.raises(FileNotFoundError, match="list of texts"):
        Tokenizer.train_wordpiece(str(tmp_path / "missing.txt"), vocab_size=50)
    with pytest.raises(FileNotFoundError, match="only paths or only texts"):
        Tokenizer.train_wordpiece([str(path), "the cat"], vocab_size=50)
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        Tokenizer.train_wordpiece(CORPUS, special_tokens=["[PAD]"])


def test_byte_level_bpe_round_trips_exactly():
    tok = Tokenizer.train_bpe(CORPUS + ["Ça alors ! Où est-il ? 3,14 €"], vocab_size=300,
                              min_frequency=1)
    assert tok.pad_id == 0 and tok.unk_id is not None
    for text in ["The Cat sat.", "naïve café 😀\n\ttabs  and  spaces", "Ça alors !", ""]:
        ids = tok.encode(text, add_special_tokens=False)
        assert tok.decode(ids) == text
    ids = tok.encode("the cat")
    assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id  # <s> ... </s>
    batch = tok.encode_batch(["the cat", "the dogs ran away"], return_tensors="np")
    assert tok.decode_batch(batch["input_ids"]) == ["the cat", "the dogs ran away"]


@needs_sst
def test_tokenizers_on_sst2_train_sentences():
    train = SST2(SST_ROOT, split="train").sentences
    dev = SST2(SST_ROOT, split="dev").sentences
    tok = Tokenizer.train_wordpiece(train, vocab_size=6000, min_frequency=2)
    ascii_dev = [s for s in dev if s.isascii()]
    for text in ascii_dev[:200]:
        pieces, words = tok.tokenize(text), []
        for p in pieces:  # join '##' continuations back into words
            if p.startswith("##"):
                words[-1] += p[2:]
            else:
                words.append(p)
        # BERT splits on whitespace and on every punctuation character
        assert words == re.findall(r"\w+|[^\w\s]", text)
    batch = tok.encode_batch(dev, max_length=32, return_tensors="np")
    assert batch["input_ids"].shape == (872, 32)
    assert (batch["input_ids"][batch["attention_mask"] == 0] == tok.pad_id).all()
    bpe = Tokenizer.train_bpe(train[:20000], vocab_size=2000)
    assert bpe.decode_batch([bpe.encode(s) for s in dev]) == dev


# -- CharTokenizer -------------------------------------------------------------------------
def test_char_tokenizer_matches_a_python_vocabulary(tmp_path):
    text = "First Citizen:\nBefore we proceed any further, hear me speak. — Ça!"
    tok = CharTokenizer(text)
    chars = sorted(set(text))
    stoi = {c: i + 2 for i, c in enumerate(chars)}
    assert tok.vocab_size == len(chars) + 2 and (tok.pad_id, tok.unk_id) == (0, 1)
    assert tok.encode(text) == [stoi[c] for c in text]
    assert tok.decode(tok.encode(text)) == text
    arr = tok.encode(text, return_tensors="np")
    assert arr.dtype == np.int64 and arr.tolist() == tok.encode(text)
    assert tok.encode("Fx") == [stoi["F"], tok.unk_id]  # "x" is unseen
    texts = ["First", "me", "", "speak."]
    batch = tok.encode_batch(texts, return_tensors=None)
    rows = [[stoi[c] for c in t] for t in texts]
    assert batch["input_ids"] == _naive_pad(rows, 6, 0)
    assert batch["attention_mask"] == _naive_pad([[1] * len(r) for r in rows], 6, 0)
    cut = tok.encode_batch(texts, max_length=3, padding="max_length", return_tensors="np")
    assert cut["input_ids"].tolist() == _naive_pad([r[:3] for r in rows], 3, 0)
    assert tok.decode_batch(batch["input_ids"]) == texts
    assert tok.decode([0, stoi["m"], 1], skip_special_tokens=False) == "<pad>m<unk>"
    loaded = CharTokenizer.load(tok.save(tmp_path))
    assert loaded.encode(text) == tok.encode(text) and loaded.get_vocab() == tok.get_vocab()


def test_char_tokenizer_errors(tmp_path):
    bare = CharTokenizer("abc", special_tokens=())
    assert bare.encode("cab") == [2, 0, 1] and bare.pad_id is None
    with pytest.raises(ValueError, match=r"\['z'\].*<unk>"):
        bare.encode("az")
    with pytest.raises(ValueError, match="pad token"):
        bare.encode_batch(["ab", "a"])
    assert bare.encode_batch(["ab", "ba"], return_tensors="np")["input_ids"].shape == (2, 2)
    with pytest.raises(ValueError, match="also characters"):
        CharTokenizer("a<b", special_tokens=("<",))
    with pytest.raises(ValueError, match="out of range"):
        bare.decode([5])
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="Tokenizer.load"):
        CharTokenizer.load(tmp_path / "x.json")


# -- SST-2 ---------------------------------------------------------------------------------
@needs_sst
def test_sst2_counts_and_balance():
    train, dev, test = (SST2(SST_ROOT, split=s) for s in ("train", "dev", "test"))
    assert (len(train), len(dev), len(test)) == (67349, 872, 1821)
    assert np.bincount(train.targets.numpy()).tolist() == [29780, 37569]
    assert np.bincount(dev.targets.numpy()).tolist() == [428, 444]
    assert (test.targets.numpy() == -1).all() and not test.labeled
    assert test.indices.tolist() == list(range(1821))
    assert dev[0] == ("it 's a charming and often affecting journey .", 1)
    assert SST2(split="dev").path == dev.path  # root=None finds the shared copy
    sentences, labels = next(iter(DataLoader(dev, batch_size=4)))
    assert list(sentences) == dev.sentences[:4] and labels.tolist() == dev.targets[:4].tolist()


def test_sst2_validates_files(tmp_path):
    def write(name, body):
        (tmp_path / name).write_text(body, encoding="utf-8")

    write("train.tsv", "sentence\tlabel\ngood \t1\nbad \t0\n")
    ds = SST2(tmp_path, transform=str.upper, target_transform=lambda y: 1 - y)
    assert ds[0] == ("GOOD", 0) and len(ds) == 2
    write("train.tsv", "sentence\tlabel\ngood\t1\nbad\t2\n")
    with pytest.raises(ValueError, match=r"train.tsv line 3: expected label 0 or 1, got '2'"):
        SST2(tmp_path)
    write("train.tsv", "sentence\tlabel\ngood\t1\nno tab here\n")
    with pytest.raises(ValueError, match=r"train.tsv line 3: expected 2 tab-separated"):
        SST2(tmp_path)
    write("dev.tsv", "text\tlabel\ngood\t1\n")
    with pytest.raises(ValueError, match=r"dev.tsv line 1: expected the header"):
        SST2(tmp_path, split="dev")
    write("test.tsv", "index\tsentence\n0\tfine\nx\tbad\n")
    with pytest.raises(ValueError, match=r"test.tsv line 3: expected an integer index"):
        SST2(tmp_path, split="test")
    with pytest.raises(ValueError, match="split must be"):
        SST2(tmp_path, split="validation")
    with pytest.raises(FileNotFoundError, match="no dev.tsv"):
        SST2(tmp_path / "nowhere", split="dev")


# -- translation pairs ---------------------------------------------------------------------
def _tutorial_normalize(s):
    """The PyTorch seq2seq tutorial's functions, string by string (keeping '.')."""
    s = "".join(c for c in unicodedata.normalize("NFD", s.lower().strip())
                if unicodedata.category(c) != "Mn")
    s = re.sub(r"([.!?])", r" \1", s)
    s = re.sub(r"[^a-zA-Z.!?]+", r" ", s)
    return s.strip()


PAIRS_FILE = ("Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM)\n"
              "I'm OK.\tÇa va.\n"
              "He is 27 years old.\tIl a vingt-sept ans.\n"
              "\n"
              "She's a teacher, isn't she?\tElle est enseignante, n’est-ce pas\u202f?\n"
              "You are very smart.\tVous êtes très intelligent.\n")


def test_translation_pairs_parse_and_normalize(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text(PAIRS_FILE, encoding="utf-8")
    ds = TranslationPairs(path)
    lines = [ln.split("\t") for ln in PAIRS_FILE.splitlines() if ln]
    assert ds.pairs == [(_tutorial_normalize(a), _tutorial_normalize(b)) for a, b, *_ in lines]
    assert ds[4] == ("you are very smart .", "vous etes tres intelligent .")
    assert TranslationPairs(path, reverse=True)[0] == ("va !", "go .")
    short = TranslationPairs(path, max_words=4)
    assert all(len(s.split()) <= 4 and len(t.split()) <= 4 for s, t in short.pairs)
    assert len(short) == 2
    assert [s for s, _ in TranslationPairs(path, prefixes=ENG_PREFIXES).pairs] == \
        ["i m ok .", "he is years old .", "she s a teacher isn t she ?", "you are very smart ."]
    raw = TranslationPairs(path, normalize=False, lowercase=False)
    assert raw[1] == ("I'm OK.", "Ça va.")
    accents = TranslationPairs(path, strip_accents=False)
    assert accents[1] == ("i m ok .", "ça va .")
    assert normalize_string("Où\u202fest-il\u00a0?") == "ou est il ?"


def test_translation_pairs_errors(tmp_path):
    path = tmp_path / "fra.txt"
    path.write_text("Go.\tVa !\nno tab on this line\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"fra.txt line 2: expected 'English<TAB>French'"):
        TranslationPairs(path)
    with pytest.raises(FileNotFoundError):
        TranslationPairs(tmp_path / "missing.txt")


def test_translation_split_is_deterministic(tmp_path):
    path = tmp_path / "fra.txt"
    lines = [f"sentence {chr(97 + i % 26)} {i // 26}.\tphrase {i}." for i in range(103)]
    path.write_text("\n".join(lines), encoding="utf-8")
    ds = TranslationPairs(path)
    parts = ds.split((0.8, 0.1, 0.1), seed=3)
    again = ds.split((0.8, 0.1, 0.1), seed=3)
    other = ds.split((0.8, 0.1, 0.1), seed=4)
    assert [len(p) for p in parts] == [83, 10, 10]
    assert [p.indices for p in parts] == [p.indices for p in again]
    assert parts[0].indices != other[0].indices
    assert sorted(i for p in parts for i in p.indices) == list(range(103))
    assert parts[1][0] == ds[parts[1].indices[0]]
    assert [len(p) for p in ds.split([50, 53], seed=0)] == [50, 53]
    with pytest.raises(ValueError, match="sum to 1"):
        ds.split((0.5, 0.2))


def test_translation_split_groups_sources(tmp_path):
    path = tmp_path / "fra.txt"
    # 17 distinct sources, spelled with letters: normalization drops digits
    lines = [f"sentence {chr(97 + i % 17)}.\ttraduction {i}." for i in range(90)]
    path.write_text("\n".join(lines), encoding="utf-8")
    ds = TranslationPairs(path)
    parts = ds.split((0.6, 0.2, 0.2), seed=0, group_by_source=True)
    sources = [{ds.pairs[i][0] for i in p.indices} for p in parts]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])
    assert sum(len(p) for p in parts) == 90 and all(len(p) > 0 for p in parts)


@needs_fra
def test_translation_pairs_real_file():
    path = os.path.join(FRA, "fra.txt")
    ds = TranslationPairs(path, max_words=9, prefixes=ENG_PREFIXES, reverse=True)
    with open(path, encoding="utf-8") as f:
        raw = [ln.split("\t")[:2] for ln in f.read().splitlines()]
    assert len(raw) == 142787
    want = []
    for en, fr in raw[:20000]:  # the tutorial's filter, string by string, on a prefix
        en, fr = _tutorial_normalize(en), _tutorial_normalize(fr)
        if len(en.split(" ")) < 10 and len(fr.split(" ")) < 10 and en.startswith(ENG_PREFIXES):
            want.append((fr, en))
    assert ds.pairs[:len(want)] == want
    assert len(ds) > len(want)
