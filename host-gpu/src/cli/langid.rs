//! `shoal langid [--model FILE] [--top K] [--json] [TEXT...]`: language
//! identification with fastText's lid.176 (built in) or another supervised
//! fastText model. Without TEXT, one prediction per line of stdin.

use std::io::BufRead;

use shoal_core::fasttext::FastText;

use super::args::Args;
use super::{json_str, read_capped, usage, Fail};

fn report(m: &FastText, text: &str, top: usize, json: bool) -> Result<(), Fail> {
    let preds = m
        .predict(text, top, 0.0)
        .map_err(|e| Fail(1, e.to_string()))?;
    let label = |i: usize| m.label(i).unwrap_or("?");
    if json {
        let items: Vec<String> = preds
            .iter()
            .map(|p| {
                format!(
                    "{{\"label\":{},\"prob\":{}}}",
                    json_str(label(p.label)),
                    p.prob
                )
            })
            .collect();
        println!(
            "{{\"text\":{},\"predictions\":[{}]}}",
            json_str(text),
            items.join(",")
        );
    } else {
        let items: Vec<String> = preds
            .iter()
            .map(|p| format!("{} {:.4}", label(p.label), p.prob))
            .collect();
        println!("{}", items.join("  "));
    }
    Ok(())
}

/// Runs the subcommand.
pub fn run(flags: &[&str]) -> Result<(), Fail> {
    let a = Args::parse(flags, &["--model", "--top"], &["--json"])?;
    let top = a.get("--top", 1usize)?;
    let owned;
    let bytes: &[u8] = match a.value("--model") {
        Some(p) => {
            owned = read_capped(p)?;
            &owned
        }
        None => shoal_host_gpu::LID176,
    };
    let m = FastText::from_bytes(bytes).map_err(|e| usage(e.to_string()))?;
    if a.positional.is_empty() {
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| Fail(1, format!("stdin: {e}")))?;
            report(&m, &line, top, a.has("--json"))?;
        }
        Ok(())
    } else {
        report(&m, &a.positional.join(" "), top, a.has("--json"))
    }
}
