//! Shoal on a Cortex-M4F without an operating system (QEMU mps2-an386):
//! runs a uint8 MobileNet from flash on a test image and prints the top-5
//! and an FNV-1a hash of the raw output over semihosting, then a log-Bessel
//! check and fastText language identification (PQ embedding bags); exits
//! with status 0 on success.
#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
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
/// The activation arena of the MobileNet (its plan needs 98,304 bytes).
const ARENA_SIZE: usize = 96 * 1024;
static mut ARENA: [u8; ARENA_SIZE] = [0; ARENA_SIZE];

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    hprintln!("panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

/// SysTick wraps (24-bit counter at the processor clock).
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Processor-clock ticks since start: under `qemu -icount shift=0` the
/// virtual clock advances one nanosecond per instruction, so this counts
/// instructions in units of the 25 MHz clock period (40).
fn ticks() -> u64 {
    // SAFETY: read-only access to the SysTick current value register.
    let cur = unsafe { (*cortex_m::peripheral::SYST::PTR).cvr.read() } & 0x00ff_ffff;
    u64::from(WRAPS.load(Ordering::Relaxed)) * (1 << 24) + u64::from(0x00ff_ffff - cur)
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
    if let Some(mut p) = cortex_m::Peripherals::take() {
        p.SYST.set_clock_source(SystClkSource::Core);
        p.SYST.set_reload(0x00ff_ffff);
        p.SYST.clear_current();
        p.SYST.enable_interrupt();
        p.SYST.enable_counter();
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
    let plan = match model.plan() {
        Ok(p) if p.arena_bytes() <= ARENA_SIZE => p,
        Ok(p) => {
            hprintln!("arena of {} bytes too small: the plan needs {}", ARENA_SIZE, p.arena_bytes());
            return false;
        }
        Err(e) => {
            hprintln!("plan: {}", e);
            return false;
        }
    };
    let before = HEAP.used();
    // SAFETY: `run` is called once, so this is the only reference to ARENA.
    let arena = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let t0 = ticks();
    let probs = match model.run_in(&plan, INPUT, arena) {
        Ok(r) => r,
        Err(e) => {
            hprintln!("run: {}", e);
            return false;
        }
    };
    let t1 = ticks();
    hprintln!("heap after parse and plan {} bytes", before);
    hprintln!("heap allocated during inference {} bytes", HEAP.used() - before);
    hprintln!("heap arena plan {} bytes (static arena {})", plan.arena_bytes(), ARENA_SIZE);
    hprintln!("ticks inference {}", t1 - t0);
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
    let t2 = ticks();
    let mut preds = [None; 3];
    for (slot, t) in preds.iter_mut().zip(TEXTS) {
        *slot = lid.predict(t, 1, 0.0).ok().and_then(|p| p.first().copied());
    }
    hprintln!("ticks langid 3 texts {}", ticks() - t2);
    for p in preds {
        match p {
            Some(p) => hprintln!(
                "langid {} {:08x}",
                lid.label(p.label).unwrap_or("?"),
                p.prob.to_bits()
            ),
            None => return false,
        }
    }
    true
}
