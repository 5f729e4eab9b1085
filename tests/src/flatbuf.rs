//! A small FlatBuffers writer for building TFLite models in tests and fuzz
//! seeds (the core only reads them).
//!
//! Objects are laid out front to back: every table is preceded by its
//! vtable and followed by the objects it refers to, so every `uoffset` points
//! forward as the format requires. Vector elements are aligned to their own
//! size (8 for `[long]`), tables to 4.

/// A value stored inline in a table slot, or a reference to an object.
#[derive(Clone, Debug)]
pub enum Val {
    /// `byte`/`ubyte`/`bool`/enum.
    U8(u8),
    /// `int`/`uint`.
    I32(i32),
    /// `float`.
    F32(f32),
    /// An object stored after the table.
    Obj(Obj),
}

/// An object reachable through an offset.
#[derive(Clone, Debug)]
pub enum Obj {
    /// A table: (field id, value) pairs.
    Table(Vec<(u16, Val)>),
    /// `[int]`.
    I32s(Vec<i32>),
    /// `[float]`.
    F32s(Vec<f32>),
    /// `[long]`.
    I64s(Vec<i64>),
    /// `[ubyte]`.
    Bytes(Vec<u8>),
    /// A vector of tables.
    Tables(Vec<Obj>),
    /// `string`.
    Str(String),
}

fn align(buf: &mut Vec<u8>, to: usize) {
    while !buf.len().is_multiple_of(to) {
        buf.push(0);
    }
}

fn patch(buf: &mut [u8], slot: usize, target: usize) {
    let off = u32::try_from(target - slot).expect("object beyond 4 GiB");
    buf[slot..slot + 4].copy_from_slice(&off.to_le_bytes());
}

/// Aligns so that the element data after a 4-byte length starts on `elem`.
fn vector_start(buf: &mut Vec<u8>, elem: usize, n: usize) -> usize {
    align(buf, 4);
    while !(buf.len() + 4).is_multiple_of(elem.max(4)) {
        buf.push(0);
    }
    let at = buf.len();
    buf.extend_from_slice(&u32::try_from(n).expect("vector length").to_le_bytes());
    at
}

fn write(buf: &mut Vec<u8>, obj: &Obj) -> usize {
    match obj {
        Obj::Table(fields) => write_table(buf, fields),
        Obj::I32s(v) => {
            let at = vector_start(buf, 4, v.len());
            v.iter()
                .for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
            at
        }
        Obj::F32s(v) => {
            let at = vector_start(buf, 4, v.len());
            v.iter()
                .for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
            at
        }
        Obj::I64s(v) => {
            let at = vector_start(buf, 8, v.len());
            v.iter()
                .for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
            at
        }
        Obj::Bytes(v) => {
            let at = vector_start(buf, 16, v.len());
            buf.extend_from_slice(v);
            at
        }
        Obj::Str(s) => {
            let at = vector_start(buf, 4, s.len());
            buf.extend_from_slice(s.as_bytes());
            buf.push(0);
            at
        }
        Obj::Tables(items) => {
            let at = vector_start(buf, 4, items.len());
            let slots: Vec<usize> = items
                .iter()
                .map(|_| {
                    buf.extend_from_slice(&[0; 4]);
                    buf.len() - 4
                })
                .collect();
            for (slot, item) in slots.into_iter().zip(items) {
                let target = write(buf, item);
                patch(buf, slot, target);
            }
            at
        }
    }
}

fn write_table(buf: &mut Vec<u8>, fields: &[(u16, Val)]) -> usize {
    // Inline layout after the 4-byte soffset: 4-byte slots, then bytes.
    let mut order: Vec<&(u16, Val)> = fields.iter().collect();
    order.sort_by_key(|(_, v)| matches!(v, Val::U8(_)));
    let mut layout = Vec::with_capacity(order.len());
    let mut size = 4usize;
    for (id, v) in &order {
        layout.push((*id, size, v));
        size += if matches!(v, Val::U8(_)) { 1 } else { 4 };
    }
    let slots = fields
        .iter()
        .map(|(id, _)| *id as usize + 1)
        .max()
        .unwrap_or(0);
    let mut vt = vec![0u16; 2 + slots];
    vt[0] = u16::try_from(4 + 2 * slots).expect("vtable size");
    vt[1] = u16::try_from(size).expect("table size");
    for &(id, at, _) in &layout {
        vt[2 + id as usize] = at as u16;
    }
    align(buf, 2);
    let vt_at = buf.len();
    vt.iter()
        .for_each(|x| buf.extend_from_slice(&x.to_le_bytes()));
    align(buf, 4);
    let pos = buf.len();
    buf.extend_from_slice(&i32::try_from(pos - vt_at).expect("vtable").to_le_bytes());
    let mut children = Vec::new();
    for &(_, at, v) in &layout {
        debug_assert_eq!(buf.len(), pos + at);
        match v {
            Val::U8(x) => buf.push(*x),
            Val::I32(x) => buf.extend_from_slice(&x.to_le_bytes()),
            Val::F32(x) => buf.extend_from_slice(&x.to_le_bytes()),
            Val::Obj(o) => {
                children.push((pos + at, o));
                buf.extend_from_slice(&[0; 4]);
            }
        }
    }
    for (slot, o) in children {
        let target = write(buf, o);
        patch(buf, slot, target);
    }
    pos
}

/// Serialises `root` with the 4-byte file identifier `ident`.
pub fn finish(root: &Obj, ident: &[u8; 4]) -> Vec<u8> {
    let mut buf = vec![0u8; 8];
    buf[4..8].copy_from_slice(ident);
    let at = write(&mut buf, root);
    patch(&mut buf, 0, at);
    align(&mut buf, 4);
    buf
}

/// Builders for TFLite (schema v3) models.
pub mod tflite {
    use super::{Obj, Val};

    /// A quantized tensor: shape, TFLite type code, buffer index, scale, zero point.
    pub fn tensor(shape: &[i32], ty: u8, buffer: i32, scale: f32, zero: i64) -> Obj {
        Obj::Table(vec![
            (0, Val::Obj(Obj::I32s(shape.to_vec()))),
            (1, Val::U8(ty)),
            (2, Val::I32(buffer)),
            (
                4,
                Val::Obj(Obj::Table(vec![
                    (2, Val::Obj(Obj::F32s(vec![scale]))),
                    (3, Val::Obj(Obj::I64s(vec![zero]))),
                ])),
            ),
        ])
    }

    /// An operator: opcode index, inputs, outputs, options (union type, fields).
    pub fn op(code: i32, ins: &[i32], outs: &[i32], options: Option<(u8, Vec<(u16, Val)>)>) -> Obj {
        let mut f = vec![
            (0, Val::I32(code)),
            (1, Val::Obj(Obj::I32s(ins.to_vec()))),
            (2, Val::Obj(Obj::I32s(outs.to_vec()))),
        ];
        if let Some((ty, fields)) = options {
            f.push((3, Val::U8(ty)));
            f.push((4, Val::Obj(Obj::Table(fields))));
        }
        Obj::Table(f)
    }

    /// A whole model: builtin codes, tensors, graph inputs/outputs, operators, buffers.
    pub fn model(
        codes: &[i32],
        tensors: Vec<Obj>,
        inputs: &[i32],
        outputs: &[i32],
        ops: Vec<Obj>,
        buffers: Vec<Vec<u8>>,
    ) -> Vec<u8> {
        let codes = codes
            .iter()
            .map(|&c| {
                Obj::Table(vec![
                    (0, Val::U8(u8::try_from(c.min(127)).unwrap_or(127))),
                    (2, Val::I32(1)),
                    (3, Val::I32(c)),
                ])
            })
            .collect();
        let subgraph = Obj::Table(vec![
            (0, Val::Obj(Obj::Tables(tensors))),
            (1, Val::Obj(Obj::I32s(inputs.to_vec()))),
            (2, Val::Obj(Obj::I32s(outputs.to_vec()))),
            (3, Val::Obj(Obj::Tables(ops))),
            (4, Val::Obj(Obj::Str("main".into()))),
        ]);
        let buffers = buffers
            .into_iter()
            .map(|b| {
                if b.is_empty() {
                    Obj::Table(vec![])
                } else {
                    Obj::Table(vec![(0, Val::Obj(Obj::Bytes(b)))])
                }
            })
            .collect();
        let root = Obj::Table(vec![
            (0, Val::I32(3)),
            (1, Val::Obj(Obj::Tables(codes))),
            (2, Val::Obj(Obj::Tables(vec![subgraph]))),
            (3, Val::Obj(Obj::Str("shoal test model".into()))),
            (4, Val::Obj(Obj::Tables(buffers))),
        ]);
        super::finish(&root, b"TFL3")
    }

    /// A 1x8x8x3 uint8 network using every operator the engine runs:
    /// CONV_2D (stride 2, SAME, ReLU6) → DEPTHWISE_CONV_2D (ReLU) → ADD of
    /// the two → AVERAGE_POOL_2D (4x4 VALID) → RESHAPE → SOFTMAX over 4
    /// classes. Weights come from a fixed integer hash; `add_code` replaces
    /// the ADD's builtin code (to build models with an unsupported operator).
    pub fn tiny(add_code: i32) -> Vec<u8> {
        let h = |i: usize, salt: u32| {
            let x = (i as u32 + 1).wrapping_mul(0x9E37_79B1) ^ salt.wrapping_mul(0x85EB_CA6B);
            x.wrapping_mul(0xC2B2_AE35) >> 24
        };
        let conv_w: Vec<u8> = (0..4 * 3 * 3 * 3).map(|i| h(i, 1) as u8).collect();
        let conv_b: Vec<u8> = [-900i32, 1200, 40, -35]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let dw_w: Vec<u8> = (0..3 * 3 * 4).map(|i| h(i, 2) as u8).collect();
        let dw_b: Vec<u8> = [300i32, -200, 0, 77]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let tensors = vec![
            tensor(&[1, 8, 8, 3], 3, 0, 0.007_812_5, 128), // 0 input
            tensor(&[4, 3, 3, 3], 3, 1, 0.011, 120),       // 1 conv filter
            tensor(&[4], 2, 2, 0.007_812_5 * 0.011, 0),    // 2 conv bias
            tensor(&[1, 4, 4, 4], 3, 0, 0.023_529_4, 0),   // 3 conv out
            tensor(&[1, 3, 3, 4], 3, 3, 0.02, 131),        // 4 dw filter
            tensor(&[4], 2, 4, 0.023_529_4 * 0.02, 0),     // 5 dw bias
            tensor(&[1, 4, 4, 4], 3, 0, 0.031, 3),         // 6 dw out
            tensor(&[1, 4, 4, 4], 3, 0, 0.047, 10),        // 7 add out
            tensor(&[1, 1, 1, 4], 3, 0, 0.047, 10),        // 8 pool out
            tensor(&[1, 4], 3, 0, 0.047, 10),              // 9 reshape out
            tensor(&[1, 4], 3, 0, 1.0 / 256.0, 0),         // 10 softmax out
        ];
        let ops = vec![
            op(
                0,
                &[0, 1, 2],
                &[3],
                Some((
                    1,
                    vec![
                        (0, Val::U8(0)),
                        (1, Val::I32(2)),
                        (2, Val::I32(2)),
                        (3, Val::U8(3)),
                    ],
                )),
            ),
            op(
                1,
                &[3, 4, 5],
                &[6],
                Some((
                    2,
                    vec![
                        (0, Val::U8(0)),
                        (1, Val::I32(1)),
                        (2, Val::I32(1)),
                        (3, Val::I32(1)),
                        (4, Val::U8(1)),
                    ],
                )),
            ),
            op(2, &[3, 6], &[7], Some((11, vec![(0, Val::U8(0))]))),
            op(
                3,
                &[7],
                &[8],
                Some((
                    5,
                    vec![
                        (0, Val::U8(1)),
                        (1, Val::I32(1)),
                        (2, Val::I32(1)),
                        (3, Val::I32(4)),
                        (4, Val::I32(4)),
                    ],
                )),
            ),
            op(
                4,
                &[8],
                &[9],
                Some((17, vec![(0, Val::Obj(Obj::I32s(vec![1, 4])))])),
            ),
            op(5, &[9], &[10], Some((9, vec![(0, Val::F32(1.0))]))),
        ];
        model(
            &[3, 4, add_code, 1, 22, 25],
            tensors,
            &[0],
            &[10],
            ops,
            vec![vec![], conv_w, conv_b, dw_w, dw_b],
        )
    }

    /// A 1x6x6x3 uint8 network for the other operators: PAD (1 row above
    /// and below, 1 and 2 columns left and right) → CONV_2D (3x3, stride 2,
    /// VALID, ReLU) → MEAN over height and width (keep dims, new scale) →
    /// RESHAPE → FULLY_CONNECTED (4 → 5, ReLU6) → SOFTMAX.
    pub fn tiny2() -> Vec<u8> {
        let h = |i: usize, salt: u32| {
            let x = (i as u32 + 7).wrapping_mul(0x9E37_79B1) ^ salt.wrapping_mul(0x85EB_CA6B);
            (x.wrapping_mul(0xC2B2_AE35) >> 24) as u8
        };
        let le = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let tensors = vec![
            tensor(&[1, 6, 6, 3], 3, 0, 0.007_812_5, 128), // 0 input
            tensor(&[4, 2], 2, 1, 0.0, 0),                 // 1 paddings
            tensor(&[1, 8, 9, 3], 3, 0, 0.007_812_5, 128), // 2 padded
            tensor(&[4, 3, 3, 3], 3, 2, 0.012, 131),       // 3 conv filter
            tensor(&[4], 2, 3, 0.007_812_5 * 0.012, 0),    // 4 conv bias
            tensor(&[1, 3, 4, 4], 3, 0, 0.02, 5),          // 5 conv out
            tensor(&[2], 2, 4, 0.0, 0),                    // 6 mean axes
            tensor(&[1, 1, 1, 4], 3, 0, 0.013, 9),         // 7 mean out
            tensor(&[1, 4], 3, 0, 0.013, 9),               // 8 reshape out
            tensor(&[5, 4], 3, 5, 0.03, 127),              // 9 fc weights
            tensor(&[5], 2, 6, 0.013 * 0.03, 0),           // 10 fc bias
            tensor(&[1, 5], 3, 0, 0.05, 100),              // 11 fc out
            tensor(&[1, 5], 3, 0, 1.0 / 256.0, 0),         // 12 softmax out
        ];
        let ops = vec![
            op(0, &[0, 1], &[2], Some((22, vec![]))),
            op(
                1,
                &[2, 3, 4],
                &[5],
                Some((
                    1,
                    vec![
                        (0, Val::U8(1)),
                        (1, Val::I32(2)),
                        (2, Val::I32(2)),
                        (3, Val::U8(1)),
                    ],
                )),
            ),
            op(2, &[5, 6], &[7], Some((27, vec![(0, Val::U8(1))]))),
            op(
                3,
                &[7],
                &[8],
                Some((17, vec![(0, Val::Obj(Obj::I32s(vec![1, 4])))])),
            ),
            op(4, &[8, 9, 10], &[11], Some((8, vec![(0, Val::U8(3))]))),
            op(5, &[11], &[12], Some((9, vec![(0, Val::F32(1.0))]))),
        ];
        model(
            &[34, 3, 40, 22, 9, 25],
            tensors,
            &[0],
            &[12],
            ops,
            vec![
                vec![],
                le(&[0, 0, 1, 1, 1, 2, 0, 0]),
                (0..4 * 27).map(|i| h(i, 3)).collect(),
                le(&[500, -700, 90, 0]),
                le(&[1, 2]),
                (0..20).map(|i| h(i, 4)).collect(),
                le(&[-300, 250, 0, 1000, -40]),
            ],
        )
    }

    /// A writer-built model (4 x 4 x 3 uint8) for HARD_SWISH and
    /// CONCATENATION: HARD_SWISH and a 1 x 1 CONV_2D of the input,
    /// concatenated along channels (same quantization: a copy), that result
    /// concatenated with itself along height (requantized when `scaled`,
    /// else a copy), HARD_SWISH again, and DEQUANTIZE to float32.
    pub fn tiny3(scaled: bool) -> Vec<u8> {
        let le = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let (s6, z6) = if scaled { (0.045, 70) } else { (0.03, 40) };
        let tensors = vec![
            tensor(&[1, 4, 4, 3], 3, 0, 0.05, 120), // 0 input
            tensor(&[1, 4, 4, 3], 3, 0, 0.03, 40),  // 1 hard swish
            tensor(&[2, 1, 1, 3], 3, 1, 0.01, 128), // 2 conv filter
            tensor(&[2], 2, 2, 0.05 * 0.01, 0),     // 3 conv bias
            tensor(&[1, 4, 4, 2], 3, 0, 0.03, 40),  // 4 conv out
            tensor(&[1, 4, 4, 5], 3, 0, 0.03, 40),  // 5 concat channels
            tensor(&[1, 8, 4, 5], 3, 0, s6, z6),    // 6 concat height
            tensor(&[1, 8, 4, 5], 3, 0, 0.02, 10),  // 7 hard swish
            tensor(&[1, 8, 4, 5], 0, 0, 0.0, 0),    // 8 dequantized (float32)
        ];
        let ops = vec![
            op(0, &[0], &[1], None),
            op(
                1,
                &[0, 2, 3],
                &[4],
                Some((
                    1,
                    vec![
                        (0, Val::U8(1)),
                        (1, Val::I32(1)),
                        (2, Val::I32(1)),
                        (3, Val::U8(0)),
                    ],
                )),
            ),
            op(2, &[1, 4], &[5], Some((10, vec![(0, Val::I32(3))]))),
            op(2, &[5, 5], &[6], Some((10, vec![(0, Val::I32(-3))]))),
            op(0, &[6], &[7], None),
            op(3, &[7], &[8], None),
        ];
        model(
            &[117, 3, 2, 6],
            tensors,
            &[0],
            &[8],
            ops,
            vec![vec![], vec![200, 40, 128, 10, 255, 90], le(&[1500, -2200])],
        )
    }

    /// A writer-built float32 model (5 x 5 x 3): PAD, CONV_2D (ReLU6),
    /// DEPTHWISE_CONV_2D (ReLU), ADD, HARD_SWISH, CONCATENATION,
    /// AVERAGE_POOL_2D, MEAN, RESHAPE, FULLY_CONNECTED, SOFTMAX, and a
    /// QUANTIZE of the probabilities to uint8.
    pub fn tiny4() -> Vec<u8> {
        let h = |i: usize, salt: u32| {
            let x = (i as u32 + 3).wrapping_mul(0x9E37_79B1) ^ salt.wrapping_mul(0x85EB_CA6B);
            ((x.wrapping_mul(0xC2B2_AE35) >> 16) as f32 / 65536.0 - 0.5) * 0.8
        };
        let fl = |n: usize, salt: u32| -> Vec<u8> {
            (0..n).flat_map(|i| h(i, salt).to_le_bytes()).collect()
        };
        let le = |v: &[i32]| -> Vec<u8> { v.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let f = |shape: &[i32], buffer: i32| tensor(shape, 0, buffer, 0.0, 0);
        let tensors = vec![
            f(&[1, 5, 5, 3], 0),                   // 0 input
            tensor(&[4, 2], 2, 1, 0.0, 0),         // 1 paddings
            f(&[1, 6, 6, 3], 0),                   // 2 padded
            f(&[4, 3, 3, 3], 2),                   // 3 conv filter
            f(&[4], 3),                            // 4 conv bias
            f(&[1, 6, 6, 4], 0),                   // 5 conv out
            f(&[1, 3, 3, 4], 4),                   // 6 dw filter
            f(&[4], 5),                            // 7 dw bias
            f(&[1, 6, 6, 4], 0),                   // 8 dw out
            f(&[1, 6, 6, 4], 0),                   // 9 add
            f(&[1, 6, 6, 4], 0),                   // 10 hard swish
            f(&[1, 6, 6, 8], 0),                   // 11 concatenation
            f(&[1, 3, 3, 8], 0),                   // 12 average pool
            tensor(&[2], 2, 6, 0.0, 0),            // 13 mean axes
            f(&[1, 1, 1, 8], 0),                   // 14 mean
            f(&[1, 8], 0),                         // 15 reshape
            f(&[5, 8], 7),                         // 16 fc weights
            f(&[5], 8),                            // 17 fc bias
            f(&[1, 5], 0),                         // 18 fc out
            f(&[1, 5], 0),                         // 19 softmax
            tensor(&[1, 5], 3, 0, 1.0 / 256.0, 0), // 20 quantized
        ];
        let conv_opts = |ty: u8, act: u8, dw: bool| {
            let mut v = vec![(0, Val::U8(0)), (1, Val::I32(1)), (2, Val::I32(1))];
            if dw {
                v.push((3, Val::I32(1)));
                v.push((4, Val::U8(act)));
            } else {
                v.push((3, Val::U8(act)));
            }
            Some((ty, v))
        };
        let ops = vec![
            op(0, &[0, 1], &[2], Some((22, vec![]))),
            op(1, &[2, 3, 4], &[5], conv_opts(1, 3, false)),
            op(2, &[5, 6, 7], &[8], conv_opts(2, 1, true)),
            op(3, &[5, 8], &[9], Some((11, vec![(0, Val::U8(0))]))),
            op(4, &[9], &[10], None),
            op(5, &[10, 5], &[11], Some((10, vec![(0, Val::I32(3))]))),
            op(
                6,
                &[11],
                &[12],
                Some((
                    5,
                    vec![
                        (0, Val::U8(1)),
                        (1, Val::I32(2)),
                        (2, Val::I32(2)),
                        (3, Val::I32(2)),
                        (4, Val::I32(2)),
                    ],
                )),
            ),
            op(7, &[12, 13], &[14], Some((27, vec![(0, Val::U8(1))]))),
            op(
                8,
                &[14],
                &[15],
                Some((17, vec![(0, Val::Obj(Obj::I32s(vec![1, 8])))])),
            ),
            op(9, &[15, 16, 17], &[18], Some((8, vec![(0, Val::U8(0))]))),
            op(10, &[18], &[19], Some((9, vec![(0, Val::F32(1.0))]))),
            op(11, &[19], &[20], None),
        ];
        model(
            &[34, 3, 4, 0, 117, 2, 1, 40, 22, 9, 25, 114],
            tensors,
            &[0],
            &[20],
            ops,
            vec![
                vec![],
                le(&[0, 0, 1, 0, 0, 1, 0, 0]),
                fl(4 * 27, 1),
                fl(4, 2),
                fl(36, 3),
                fl(4, 4),
                le(&[1, 2]),
                fl(40, 5),
                fl(5, 6),
            ],
        )
    }
}
