//! fastText supervised models (`.bin` and quantized `.ftz`) read from a byte
//! slice, and their predictions: the same labels and probabilities as the
//! official implementation (tested against `fasttext-predict` on the
//! `lid.176.ftz` language identifier).
//!
//! The input matrix becomes an [`embed::Table`](crate::embed::Table)
//! (product-quantized with row norms for `.ftz`, row-wise f32 for `.bin`),
//! and the text representation is a bag mean over it:
//!
//! 1. the text is split on ASCII whitespace (`' '`, `\t`, `\n`, `\r`, `\v`,
//!    `\f`, `\0`) and the end-of-sentence token `</s>` is appended;
//! 2. a known word contributes its id and its character n-grams, an unknown
//!    word only its n-grams (`minn..=maxn` bytes-as-UTF-8 characters of
//!    `<word>`, hashed by 32-bit FNV-1a over sign-extended bytes into
//!    `bucket` slots, remapped through the pruning index of quantized
//!    models); word n-grams are hashed the same way when `wordNgrams > 1`;
//! 3. the rows are summed in that order and scaled by `1/n`;
//! 4. the labels are scored by the loss: hierarchical softmax (a depth-first
//!    search of the Huffman tree of label counts) or softmax.
//!
//! ```no_run
//! let bytes = std::fs::read("lid.176.ftz").unwrap();
//! let model = shoal_core::fasttext::FastText::from_bytes(&bytes).unwrap();
//! let best = model.predict("Der schnelle braune Fuchs", 1, 0.0).unwrap();
//! assert_eq!(model.label(best[0].label), Some("de"));
//! ```

#![deny(clippy::indexing_slicing)]

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;

use crate::embed::pq::Pq;
use crate::embed::{Body, Codec, EmbedError, Pool, Rows, Table, MAX_DIM};

const MAGIC: i32 = 793_712_314;
const EOS: &[u8] = b"</s>";
const LABEL: &[u8] = b"__label__";
/// Most dictionary entries accepted.
pub const MAX_ENTRIES: usize = 1 << 26;
/// Most hash buckets accepted.
pub const MAX_BUCKETS: usize = 1 << 28;

/// Errors of loading a model and of predicting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FastTextError {
    /// Not a fastText model.
    BadMagic,
    /// A format version other than 11 or 12.
    UnsupportedVersion(i32),
    /// The file ends inside this part.
    Truncated(&'static str),
    /// This field has an impossible value.
    Invalid(&'static str),
    /// A model kind this reader does not run (named).
    Unsupported(&'static str),
    /// Bytes after the output matrix.
    TrailingBytes(usize),
    /// A non-finite weight.
    NonFinite,
    /// An error of the embedding table (lookups).
    Embed(EmbedError),
}

impl core::fmt::Display for FastTextError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FastTextError::BadMagic => write!(f, "fasttext: not a fastText model (bad magic)"),
            FastTextError::UnsupportedVersion(v) => {
                write!(f, "fasttext: unsupported format version {v}")
            }
            FastTextError::Truncated(w) => write!(f, "fasttext: file ends inside the {w}"),
            FastTextError::Invalid(w) => write!(f, "fasttext: invalid {w}"),
            FastTextError::Unsupported(w) => write!(f, "fasttext: unsupported {w}"),
            FastTextError::TrailingBytes(n) => {
                write!(f, "fasttext: {n} unexpected bytes after the model")
            }
            FastTextError::NonFinite => write!(f, "fasttext: non-finite weight"),
            FastTextError::Embed(e) => write!(f, "fasttext: {e}"),
        }
    }
}

impl core::error::Error for FastTextError {}

impl From<EmbedError> for FastTextError {
    fn from(e: EmbedError) -> Self {
        FastTextError::Embed(e)
    }
}

/// One prediction: a label index and its probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Label index (see [`FastText::label`]).
    pub label: usize,
    /// Probability, `exp` of the log-score fastText ranks by.
    pub prob: f32,
    /// The log-score (`ln(p + 1e-5)` summed along the tree for hierarchical softmax).
    pub log_prob: f32,
}

/// The training objective, which decides how labels are scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Loss {
    /// Hierarchical softmax over a Huffman tree of label counts.
    HierarchicalSoftmax,
    /// Plain softmax.
    Softmax,
}

/// 32-bit FNV-1a over bytes sign-extended to 32 bits (fastText's `hash`).
pub fn hash(s: &[u8]) -> u32 {
    s.iter().fold(2_166_136_261u32, |h, &b| {
        (h ^ (b as i8 as i32 as u32)).wrapping_mul(16_777_619)
    })
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FastTextError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(FastTextError::Truncated(what))?;
        let s = self
            .b
            .get(self.at..end)
            .ok_or(FastTextError::Truncated(what))?;
        self.at = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FastTextError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, what)?);
        Ok(a)
    }
    fn i32(&mut self, what: &'static str) -> Result<i32, FastTextError> {
        Ok(i32::from_le_bytes(self.arr(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, FastTextError> {
        Ok(i64::from_le_bytes(self.arr(what)?))
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, FastTextError> {
        Ok(self.arr::<1>(what)?[0])
    }
    fn remaining(&self) -> usize {
        self.b.len() - self.at
    }
    /// A non-negative count whose `each`-byte items must fit in the rest of the file.
    fn count(&mut self, v: i64, each: usize, what: &'static str) -> Result<usize, FastTextError> {
        let n = usize::try_from(v).map_err(|_| FastTextError::Invalid(what))?;
        if n.checked_mul(each).is_none_or(|t| t > self.remaining()) {
            return Err(FastTextError::Truncated(what));
        }
        Ok(n)
    }
    fn floats(&mut self, n: usize, what: &'static str) -> Result<Vec<f32>, FastTextError> {
        let s = self.take(
            n.checked_mul(4).ok_or(FastTextError::Truncated(what))?,
            what,
        )?;
        let v: Vec<f32> = s
            .chunks_exact(4)
            .map(crate::embed::scalar::f32_le)
            .collect();
        if v.iter().any(|x| !x.is_finite()) {
            return Err(FastTextError::NonFinite);
        }
        Ok(v)
    }
}

#[derive(Clone, Copy, Debug)]
struct Node {
    left: i32,
    right: i32,
}

/// A loaded supervised fastText model, borrowing its weights from the file bytes.
pub struct FastText<'a> {
    dim: usize,
    minn: usize,
    maxn: usize,
    bucket: u32,
    word_ngrams: usize,
    loss: Loss,
    /// The dictionary's bytes (entries as stored in the file).
    dict: Cow<'a, [u8]>,
    /// (start, length, is_label) of each entry's word in `dict`: words
    /// first, then labels.
    entries: Vec<(u32, u32, bool)>,
    nwords: usize,
    nlabels: usize,
    /// Open-addressing index of `entries` by hash: `id + 1`, 0 when empty.
    slots: Vec<u32>,
    /// `None`: not pruned; `Some(map)`: sorted (bucket, row) pairs.
    prune: Option<Vec<(i32, i32)>>,
    input: Table<'a>,
    output: Table<'a>,
    tree: Vec<Node>,
}

impl core::fmt::Debug for FastText<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FastText")
            .field("dim", &self.dim)
            .field("words", &self.nwords)
            .field("labels", &self.nlabels)
            .field("loss", &self.loss)
            .field("input", &self.input.method())
            .finish_non_exhaustive()
    }
}

fn matrix<'a>(r: &mut Reader<'a>, what: &'static str) -> Result<Table<'a>, FastTextError> {
    let quant = r.u8(what)? != 0;
    if !quant {
        let m = r.i64(what)?;
        let n = r.i64(what)?;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n > 0 && n <= MAX_DIM)
            .ok_or(FastTextError::Invalid(what))?;
        let m = r.count(m, 4 * n, what)?;
        if m == 0 {
            return Err(FastTextError::Invalid(what));
        }
        let data = r.take(4 * m * n, what)?;
        if data
            .chunks_exact(4)
            .any(|c| !crate::embed::scalar::f32_le(c).is_finite())
        {
            return Err(FastTextError::NonFinite);
        }
        return Ok(Table::from_body(
            m,
            n,
            Body::Rows(Rows {
                rows: m,
                dim: n,
                codec: Codec::F32,
                data: Cow::Borrowed(data),
            }),
        ));
    }
    let qnorm = r.u8(what)? != 0;
    let m = r.i64(what)?;
    let n = r.i64(what)?;
    let codesize = r.i32(what)?;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| n > 0 && n <= MAX_DIM)
        .ok_or(FastTextError::Invalid(what))?;
    let codes = r.count(i64::from(codesize), 1, what)?;
    let codes = r.take(codes, what)?;
    let (dim, nsub, dsub, last) = (r.i32(what)?, r.i32(what)?, r.i32(what)?, r.i32(what)?);
    let ok = |v: i32| usize::try_from(v).map_err(|_| FastTextError::Invalid(what));
    let (pdim, nsub, dsub, last) = (ok(dim)?, ok(nsub)?, ok(dsub)?, ok(last)?);
    if pdim != n || !Pq::check_shape(n, nsub, dsub, 8) || (nsub - 1) * dsub + last != n {
        return Err(FastTextError::Invalid(what));
    }
    let m = r.count(m, 1, what)?;
    if m == 0 || codes.len() != m * nsub {
        return Err(FastTextError::Invalid(what));
    }
    let centroids = r.floats(n * 256, what)?;
    let norms = if qnorm {
        let nc = r.take(m, what)?;
        let head = [r.i32(what)?, r.i32(what)?, r.i32(what)?, r.i32(what)?];
        if head != [1, 1, 1, 1] {
            return Err(FastTextError::Invalid(what));
        }
        Some((r.floats(256, what)?, Cow::Borrowed(nc)))
    } else {
        None
    };
    Ok(Table::from_body(
        m,
        n,
        Body::Pq(Pq {
            nsub,
            dsub,
            bits: 8,
            centroids,
            codes: Cow::Borrowed(codes),
            norms,
        }),
    ))
}

/// Count of the nodes not built yet in fastText's tree construction.
const TREE_SENTINEL: i64 = 1_000_000_000_000_000;

/// fastText's Huffman tree over the label counts (`2·n − 1` nodes, leaves
/// first; counts below [`TREE_SENTINEL`], so every node's children come
/// before it).
fn build_tree(counts: &[i64]) -> Vec<Node> {
    let n = counts.len();
    let total = (2 * n).saturating_sub(1);
    let mut tree = vec![
        Node {
            left: -1,
            right: -1
        };
        total
    ];
    let mut count: Vec<i64> = counts
        .iter()
        .copied()
        .chain(core::iter::repeat(TREE_SENTINEL))
        .take(total)
        .collect();
    let at = |c: &[i64], i: usize| c.get(i).copied().unwrap_or(TREE_SENTINEL);
    let mut leaf = n as isize - 1;
    let mut node = n;
    for i in n..total {
        let mut mini = [0usize; 2];
        for m in &mut mini {
            if leaf >= 0 && at(&count, leaf as usize) < at(&count, node) {
                *m = leaf as usize;
                leaf -= 1;
            } else {
                *m = node;
                node += 1;
            }
        }
        if let Some(t) = tree.get_mut(i) {
            *t = Node {
                left: mini[0] as i32,
                right: mini[1] as i32,
            };
        }
        let sum = at(&count, mini[0]).saturating_add(at(&count, mini[1]));
        if let Some(c) = count.get_mut(i) {
            *c = sum;
        }
    }
    tree
}

/// `e^x` in f32 as glibc's `expf` gives it: evaluated in double and
/// rounded once (the `libm` crate's `expf` differs in the last bit at times).
fn expf(x: f32) -> f32 {
    libm::exp(f64::from(x)) as f32
}

/// fastText's `std_log`: `ln(x + 1e-5)` in double, rounded to f32.
fn std_log(x: f32) -> f32 {
    libm::log(f64::from(x) + 1e-5) as f32
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c | 0)
}

impl<'a> FastText<'a> {
    /// Parses a `.bin` or `.ftz` supervised model.
    ///
    /// # Errors
    /// [`FastTextError`] naming the part of the file that is wrong.
    pub fn from_bytes(b: &'a [u8]) -> Result<Self, FastTextError> {
        let mut r = Reader { b, at: 0 };
        if r.i32("header")? != MAGIC {
            return Err(FastTextError::BadMagic);
        }
        let version = r.i32("header")?;
        if version != 11 && version != 12 {
            return Err(FastTextError::UnsupportedVersion(version));
        }
        let mut args = [0i32; 12];
        for a in &mut args {
            *a = r.i32("arguments")?;
        }
        let _t = r.take(8, "arguments")?;
        let [dim, _ws, _epoch, _min_count, _neg, word_ngrams, loss, model, bucket, minn, maxn, _lr] =
            args;
        if model != 3 {
            return Err(FastTextError::Unsupported(
                "model (only supervised models predict)",
            ));
        }
        let loss = match loss {
            1 => Loss::HierarchicalSoftmax,
            3 => Loss::Softmax,
            _ => {
                return Err(FastTextError::Unsupported(
                    "loss (hs and softmax are supported)",
                ))
            }
        };
        let nonneg = |v: i32, w| usize::try_from(v).map_err(|_| FastTextError::Invalid(w));
        let dim = nonneg(dim, "dimension")?;
        let (minn, mut maxn) = (nonneg(minn, "minn")?, nonneg(maxn, "maxn")?);
        if version == 11 {
            maxn = 0;
        }
        let word_ngrams = nonneg(word_ngrams, "wordNgrams")?;
        let bucket = u32::try_from(bucket)
            .ok()
            .filter(|&b| (b as usize) <= MAX_BUCKETS)
            .ok_or(FastTextError::Invalid("bucket"))?;

        let size = r.i32("dictionary")?;
        let nwords = nonneg(r.i32("dictionary")?, "word count")?;
        let nlabels = nonneg(r.i32("dictionary")?, "label count")?;
        let _ntokens = r.i64("dictionary")?;
        let prune_size = r.i64("dictionary")?;
        // Each entry takes at least 10 bytes: cap the count before allocating.
        let size = r.count(i64::from(size), 10, "dictionary")?;
        if size > MAX_ENTRIES || nwords.checked_add(nlabels) != Some(size) || nlabels == 0 {
            return Err(FastTextError::Invalid("dictionary sizes"));
        }
        let mut entries = Vec::with_capacity(size);
        let mut counts = Vec::with_capacity(nlabels);
        let dict_start = r.at;
        let offset = |at: usize| {
            u32::try_from(at - dict_start).map_err(|_| FastTextError::Invalid("dictionary size"))
        };
        for i in 0..size {
            let rest = r.b.get(r.at..).unwrap_or(&[]);
            let len = rest
                .iter()
                .position(|&c| c == 0)
                .ok_or(FastTextError::Truncated("dictionary"))?;
            let start = offset(r.at)?;
            r.take(len + 1, "dictionary")?;
            let count = r.i64("dictionary")?;
            let kind = r.u8("dictionary")?;
            if kind > 1 || (kind == 1) != (i >= nwords) {
                return Err(FastTextError::Invalid("dictionary entry type"));
            }
            if kind == 1 {
                // The tree construction uses 1e15 as "no node yet": a label
                // count at or above it would make a node its own child
                // (found by fuzzing: a model whose prediction never ended).
                if !(0..TREE_SENTINEL).contains(&count) {
                    return Err(FastTextError::Invalid("label count"));
                }
                counts.push(count);
            }
            let len = u32::try_from(len).map_err(|_| FastTextError::Invalid("dictionary size"))?;
            entries.push((start, len, kind == 1));
        }
        let dict = r.b.get(dict_start..r.at).unwrap_or(&[]);
        let prune = if prune_size < 0 {
            None
        } else {
            let n = r.count(prune_size, 8, "pruning index")?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let (k, row) = (r.i32("pruning index")?, r.i32("pruning index")?);
                if k < 0 || row < 0 {
                    return Err(FastTextError::Invalid("pruning index"));
                }
                v.push((k, row));
            }
            v.sort_unstable();
            Some(v)
        };
        let input = matrix(&mut r, "input matrix")?;
        let output = matrix(&mut r, "output matrix")?;
        if r.remaining() != 0 {
            return Err(FastTextError::TrailingBytes(r.remaining()));
        }
        // Every id a text can produce must be a row of the input matrix.
        let extra = match &prune {
            None => bucket as usize,
            Some(p) => p
                .iter()
                .map(|&(_, row)| row as usize + 1)
                .max()
                .unwrap_or(0),
        };
        if input.dim() != dim || output.dim() != dim || input.rows() < nwords + extra {
            return Err(FastTextError::Invalid("matrix shapes"));
        }
        if output.rows() != nlabels {
            return Err(FastTextError::Invalid("output matrix rows"));
        }
        let cap = (2 * size).next_power_of_two().max(2);
        let mut slots = vec![0u32; cap];
        for (id, &(start, len, _)) in entries.iter().enumerate() {
            let w = dict
                .get(start as usize..(start + len) as usize)
                .unwrap_or(&[]);
            let mut s = hash(w) as usize & (cap - 1);
            // `cap` exceeds the entry count: a free slot always exists.
            while let Some(slot) = slots.get_mut(s) {
                if *slot == 0 {
                    *slot = id as u32 + 1;
                    break;
                }
                s = (s + 1) & (cap - 1);
            }
        }
        let tree = match loss {
            Loss::HierarchicalSoftmax => build_tree(&counts),
            Loss::Softmax => Vec::new(),
        };
        // Children before parents: the search below always terminates.
        let ordered = tree
            .iter()
            .enumerate()
            .skip(nlabels)
            .all(|(i, n)| (0..i as i32).contains(&n.left) && (0..i as i32).contains(&n.right));
        if !ordered {
            return Err(FastTextError::Invalid("label tree"));
        }
        Ok(FastText {
            dim,
            minn,
            maxn,
            bucket,
            word_ngrams,
            loss,
            dict: Cow::Borrowed(dict),
            entries,
            nwords,
            nlabels,
            slots,
            prune,
            input,
            output,
            tree,
        })
    }

    /// The bytes of entry `id`'s word.
    fn word(&self, id: usize) -> Option<&[u8]> {
        let &(start, len, _) = self.entries.get(id)?;
        self.dict.get(start as usize..start as usize + len as usize)
    }

    /// A copy that owns its bytes (the dictionary, codes and weights), for
    /// callers that cannot keep the file's bytes alive (about the size of
    /// the model).
    pub fn into_owned(self) -> FastText<'static> {
        FastText {
            dim: self.dim,
            minn: self.minn,
            maxn: self.maxn,
            bucket: self.bucket,
            word_ngrams: self.word_ngrams,
            loss: self.loss,
            dict: Cow::Owned(self.dict.into_owned()),
            entries: self.entries,
            nwords: self.nwords,
            nlabels: self.nlabels,
            slots: self.slots,
            prune: self.prune,
            input: self.input.into_owned(),
            output: self.output.into_owned(),
            tree: self.tree,
        }
    }

    /// Dimension of the text vectors.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of labels.
    pub fn labels(&self) -> usize {
        self.nlabels
    }

    /// Label `i` without the `__label__` prefix (`None` when not UTF-8 or out of range).
    pub fn label(&self, i: usize) -> Option<&str> {
        let w = self.word(self.nwords.checked_add(i)?)?;
        let w = w.strip_prefix(LABEL).unwrap_or(w);
        core::str::from_utf8(w).ok()
    }

    /// The loss the model was trained with.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The input matrix as an embedding table.
    pub fn input(&self) -> &Table<'a> {
        &self.input
    }

    fn find(&self, w: &[u8], h: u32) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut s = h as usize & mask;
        loop {
            let id = *self.slots.get(s)? as usize;
            let word = self.word(id.checked_sub(1)?)?;
            if word == w {
                return Some(id - 1);
            }
            s = (s + 1) & mask;
        }
    }

    fn push_hash(&self, ids: &mut Vec<u64>, h: u32) {
        let row = match &self.prune {
            None => h as i64,
            Some(p) => match p.binary_search_by_key(&(h as i32), |&(k, _)| k) {
                Ok(i) => match p.get(i) {
                    Some(&(_, row)) => i64::from(row),
                    None => return,
                },
                Err(_) => return,
            },
        };
        ids.push(self.nwords as u64 + row as u64);
    }

    /// Character n-grams of `<word>`, as input rows.
    fn subwords(&self, word: &[u8], ids: &mut Vec<u64>) {
        if self.maxn == 0 || self.bucket == 0 {
            return;
        }
        let mut w = Vec::with_capacity(word.len() + 2);
        w.push(b'<');
        w.extend_from_slice(word);
        w.push(b'>');
        let cont = |c: Option<&u8>| c.is_some_and(|&c| c & 0xc0 == 0x80);
        for i in 0..w.len() {
            if cont(w.get(i)) {
                continue;
            }
            let mut j = i;
            let mut n = 1;
            while j < w.len() && n <= self.maxn {
                j += 1;
                while j < w.len() && cont(w.get(j)) {
                    j += 1;
                }
                if n >= self.minn && !(n == 1 && (i == 0 || j == w.len())) {
                    if let Some(gram) = w.get(i..j) {
                        self.push_hash(ids, hash(gram) % self.bucket);
                    }
                }
                n += 1;
            }
        }
    }

    /// The input rows of a text, in fastText's order.
    pub fn input_ids(&self, text: &str) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut hashes: Vec<i32> = Vec::new();
        let tokens = text
            .as_bytes()
            .split(|&c| is_space(c))
            .filter(|t| !t.is_empty())
            .chain(core::iter::once(EOS));
        for tok in tokens {
            let h = hash(tok);
            let id = self.find(tok, h);
            let is_label = match id {
                Some(i) => self.entries.get(i).is_some_and(|e| e.2),
                None => tok.starts_with(LABEL),
            };
            if is_label {
                continue;
            }
            match id {
                Some(i) => {
                    ids.push(i as u64);
                    if tok != EOS {
                        self.subwords(tok, &mut ids);
                    }
                }
                None if tok != EOS => self.subwords(tok, &mut ids),
                None => {}
            }
            hashes.push(h as i32);
        }
        if self.word_ngrams > 1 && self.bucket > 0 {
            for (i, &hi) in hashes.iter().enumerate() {
                let mut h = hi as i64 as u64;
                for &hj in hashes.iter().skip(i + 1).take(self.word_ngrams - 1) {
                    h = h.wrapping_mul(116_049_371).wrapping_add(hj as i64 as u64);
                    self.push_hash(&mut ids, (h % u64::from(self.bucket)) as u32);
                }
            }
        }
        ids
    }

    /// The text's vector (the mean of its input rows) into `out` (length
    /// [`FastText::dim`]); zeros for a text with no known rows.
    ///
    /// # Errors
    /// [`FastTextError::Embed`] for an `out` of the wrong length.
    pub fn text_vector(&self, text: &str, out: &mut [f32]) -> Result<(), FastTextError> {
        let ids = self.input_ids(text);
        self.input.bag(&ids, &[0], None, Pool::Mean, out)?;
        Ok(())
    }

    /// The `k` most probable labels with probability at least `threshold`,
    /// most probable first.
    ///
    /// # Errors
    /// [`FastTextError::Embed`] only if the model's tables are inconsistent
    /// (not after a successful load).
    pub fn predict(
        &self,
        text: &str,
        k: usize,
        threshold: f32,
    ) -> Result<Vec<Prediction>, FastTextError> {
        let ids = self.input_ids(text);
        if ids.is_empty() || k == 0 {
            return Ok(Vec::new());
        }
        let mut hidden = vec![0.0f32; self.dim];
        self.input.bag(&ids, &[0], None, Pool::Mean, &mut hidden)?;
        let mut best: Vec<(f32, usize)> = Vec::new();
        match self.loss {
            Loss::HierarchicalSoftmax => {
                let root = 2 * self.nlabels - 2;
                self.dfs(k, std_log(threshold), root, 0.0, &hidden, &mut best)?;
            }
            Loss::Softmax => {
                let mut out = vec![0.0f32; self.nlabels];
                for (i, o) in out.iter_mut().enumerate() {
                    *o = self.output.dot(i as u64, &hidden)?;
                }
                let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut z = 0.0f32;
                for o in &mut out {
                    *o = expf(*o - max);
                    z += *o;
                }
                for (i, o) in out.iter().enumerate() {
                    let p = o / z;
                    if p >= threshold {
                        best.push((std_log(p), i));
                    }
                }
            }
        }
        // Highest score first; equal scores by label index.
        best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        best.truncate(k);
        Ok(best
            .into_iter()
            .map(|(s, label)| Prediction {
                label,
                prob: expf(s),
                log_prob: s,
            })
            .collect())
    }

    /// Depth-first search of the label tree keeping the `k` best leaves
    /// (fastText's pruning: a branch stops when its score is below the
    /// threshold or below the `k`-th best so far).
    fn dfs(
        &self,
        k: usize,
        log_threshold: f32,
        node: usize,
        score: f32,
        hidden: &[f32],
        best: &mut Vec<(f32, usize)>,
    ) -> Result<(), FastTextError> {
        if score < log_threshold {
            return Ok(());
        }
        let worst = |b: &Vec<(f32, usize)>| b.iter().map(|p| p.0).fold(f32::INFINITY, f32::min);
        if best.len() == k && score < worst(best) {
            return Ok(());
        }
        let Some(n) = self.tree.get(node).copied() else {
            return Err(FastTextError::Invalid("label tree"));
        };
        if n.left < 0 && n.right < 0 {
            best.push((score, node));
            if best.len() > k {
                // Drop the lowest score (the first such, like a binary heap's pop).
                let lowest = best
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0))
                    .map(|(i, _)| i);
                if let Some(i) = lowest {
                    best.swap_remove(i);
                }
            }
            return Ok(());
        }
        let f = self.output.dot((node - self.nlabels) as u64, hidden)?;
        // `1. / (1 + exp(-f))` with a float `exp` and a float sum, a double quotient.
        let f = (1.0 / f64::from(1.0f32 + expf(-f))) as f32;
        self.dfs(
            k,
            log_threshold,
            n.left as usize,
            score + std_log((1.0 - f64::from(f)) as f32),
            hidden,
            best,
        )?;
        self.dfs(
            k,
            log_threshold,
            n.right as usize,
            score + std_log(f),
            hidden,
            best,
        )
    }
}
