//! A small, seedable pseudo-random generator (xoshiro256**, seeded through
//! SplitMix64) with the distributions the samplers need. Not cryptographic.
//!
//! ```
//! use shoal_core::rng::Rng;
//! let mut rng = Rng::new(42);
//! let u = rng.next_f64();
//! assert!((0.0..1.0).contains(&u));
//! let g = rng.gamma(3.5);
//! assert!(g > 0.0);
//! ```

/// xoshiro256** state.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    /// A generator whose whole stream is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut st = seed;
        let s = [
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
            splitmix64(&mut st),
        ];
        Rng { s }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    pub fn next_f64_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal (Marsaglia's polar method; the second value is dropped
    /// so the generator state stays the only state).
    pub fn normal(&mut self) -> f64 {
        loop {
            let a = 2.0 * self.next_f64() - 1.0;
            let b = 2.0 * self.next_f64() - 1.0;
            let s = a * a + b * b;
            if s > 0.0 && s < 1.0 {
                return a * libm::sqrt(-2.0 * libm::log(s) / s);
            }
        }
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang (2000); shapes below 1 use the
    /// boost `Gamma(a) = Gamma(a + 1) · U^(1/a)`. Returns NaN for a shape that
    /// is not positive and finite.
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if !(shape > 0.0 && shape < f64::INFINITY) {
            return f64::NAN;
        }
        if shape < 1.0 {
            let g = self.gamma(shape + 1.0);
            return g * libm::exp(libm::log(self.next_f64_open0()) / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / libm::sqrt(9.0 * d);
        loop {
            let z = self.normal();
            let t = 1.0 + c * z;
            if t <= 0.0 {
                continue;
            }
            let v = t * t * t;
            let u = self.next_f64_open0();
            if libm::log(u) < 0.5 * z * z + d - d * v + d * libm::log(v) {
                return d * v;
            }
        }
    }

    /// Beta(a, b) from two gamma variates.
    pub fn beta(&mut self, a: f64, b: f64) -> f64 {
        let x = self.gamma(a);
        let y = self.gamma(b);
        x / (x + y)
    }
}
