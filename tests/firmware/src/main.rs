//! Shoal on a Cortex-M4F without an operating system (QEMU mps2-an386):
//! runs a uint8 MobileNet from flash on a test image and prints the top-5
//! and an FNV-1a hash of the raw output over semihosting, then a log-Bessel
//! check and fastText language identification (PQ embedding bags); exits
//! with status 0 on success.
#![no_std]
#![no_main]

extern crate alloc;

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use embedded_alloc::LlffHeap as Heap;

#[global_allocator]
static HEAP: Heap = Heap::empty();

#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);

static MODEL: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/model.tflite")));
static INPUT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/input.u8"));
/// fastText's lid.176 (a 50,000 x 16 product-quantized embedding table).
static LID176: &[u8] = include_bytes!("../../../host-gpu/models/lid.176.ftz");
/// Texts whose languages the firmware reports (the host prints the same).
const TEXTS: [&str; 3] = [
    "Der Fang wird morgen früh im Hafen gewogen",
    "the nets are full of mackerel",
    "la merluza está prohibida este mes",
];

const HEAP_SIZE: usize = 2 * 1024 * 1024;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[entry]
fn main() -> ! {
    {
        use core::mem::MaybeUninit;
        static mut HEAP_MEM: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once, before any allocation, on memory only the heap uses.
        unsafe { HEAP.init(core::ptr::addr_of_mut!(HEAP_MEM) as usize, HEAP_SIZE) }
    }
    let ok = run();
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

fn run() -> bool {
    let model = match shoal_core::tflite::Model::parse(&MODEL.0) {
        Ok(m) => m,
        Err(e) => {
            hprintln!("model: {}", e);
            return false;
        }
    };
    let out = match model.run_u8(INPUT) {
        Ok(r) => r,
        Err(e) => {
            hprintln!("run: {}", e);
            return false;
        }
    };
    let Ok(probs) = out.output(&model, 0) else {
        return false;
    };
    // With every activation still held: the peak of this (unoptimised) runner.
    hprintln!("heap in use after inference {} bytes", HEAP.used());
    hprintln!("output bytes {} fnv1a {:016x}", probs.len(), fnv1a(probs));
    let mut order: alloc::vec::Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[b].cmp(&probs[a]).then(a.cmp(&b)));
    for &i in order.iter().take(5) {
        hprintln!("top {} {}", i, probs[i]);
    }
    let li = shoal_core::bessel::log_bessel_i(5000.0, 1000.0);
    let lk = shoal_core::bessel::log_bessel_k(0.5, 2.0);
    hprintln!("log_bessel_i(5000, 1000) {:016x}", li.to_bits());
    hprintln!("log_bessel_k(0.5, 2) {:016x}", lk.to_bits());
    // Embedding bag lookups on the MCU: language identification.
    let lid = match shoal_core::fasttext::FastText::from_bytes(LID176) {
        Ok(m) => m,
        Err(e) => {
            hprintln!("lid.176: {}", e);
            return false;
        }
    };
    for t in TEXTS {
        match lid.predict(t, 1, 0.0) {
            Ok(p) if !p.is_empty() => hprintln!(
                "langid {} {:08x}",
                lid.label(p[0].label).unwrap_or("?"),
                p[0].prob.to_bits()
            ),
            _ => return false,
        }
    }
    true
}
