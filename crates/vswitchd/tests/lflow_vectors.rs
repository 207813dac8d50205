//! OVN's own parser tests through `ferrovs lflow`: every case of the
//! vectors in `crates/ovn-agent/vectors/` (a copy of `shared/ovn/vectors`,
//! three quarters of each block of OVN 23.03.1's `tests/ovn.at`) and of
//! `vectors/upstream-rest/` (the other quarter, from `tests/ovn.at`
//! itself) is piped through the command as upstream pipes it through
//! `ovstest test-ovn`, and its output compared. Each file prints
//! `N passed, M failed`; a file whose step is written must have no
//! failure.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How a file's cases are laid out (`vectors/README.md`).
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// `INPUT => EXPECTED` or `INPUT`, a case a line.
    Line,
    /// An input line, then its expected lines indented by 4 spaces.
    Block {
        /// Compare the output sorted (upstream pipes it through `sort`).
        sorted: bool,
    },
    /// `SYMBOL = EXPANSION` lines of `dump-symtab`, filtered.
    Symtab(fn(&str) -> bool),
    /// An input line, then `formats as`, `encodes as`, … lines.
    Actions,
}

/// The vector files: name, layout and step.
const FILES: &[(&str, Layout, &str)] = &[
    ("lexer", Layout::Line, "lex"),
    ("expr", Layout::Line, "parse-expr"),
    ("annotate", Layout::Line, "annotate-expr"),
    ("simplify", Layout::Block { sorted: false }, "simplify-expr"),
    ("expr-to-flows", Layout::Block { sorted: true }, "expr-to-flows"),
    ("conjunction", Layout::Block { sorted: true }, "expr-to-flows"),
    ("registers", Layout::Symtab(|l| l.contains("reg")), "dump-symtab"),
    ("conntrack-fields", Layout::Symtab(|l| l.starts_with("ct")), "dump-symtab"),
    ("actions", Layout::Actions, "parse-actions"),
];

/// The steps whose files must pass whole: all of them.
const WRITTEN: &[&str] =
    &["lex", "parse-expr", "annotate-expr", "simplify-expr", "normalize-expr", "expr-to-flows", "dump-symtab", "parse-actions"];

struct Case {
    input: String,
    expected: Vec<String>,
}

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ovn-agent/vectors")
}

/// The cases of a file, comments and blank lines left out.
fn cases(text: &str, layout: Layout) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match layout {
            Layout::Line => {
                let input = line.split(" =>").next().unwrap_or("").to_owned();
                let expected = line.rsplit(" => ").next().unwrap_or(line).to_owned();
                out.push(Case { input, expected: vec![expected] });
            }
            Layout::Symtab(_) => out.push(Case { input: String::new(), expected: vec![line.to_owned()] }),
            Layout::Block { .. } | Layout::Actions => match line.strip_prefix("    ") {
                Some(result) => {
                    let result = if result == "\"\"" { "" } else { result };
                    out.last_mut().expect("a result line follows an input").expected.push(result.to_owned());
                }
                None => out.push(Case { input: line.to_owned(), expected: Vec::new() }),
            },
        }
    }
    out
}

/// The cases of the file at `path` (none if it is missing).
fn cases_of(path: &Path, layout: Layout) -> Vec<Case> {
    std::fs::read_to_string(path).map(|t| cases(&t, layout)).unwrap_or_default()
}

fn ferrovs(step: &str, input: &str) -> Result<String, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrovs"))
        .args(["lflow", step])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ferrovs: {e}"))?;
    child.stdin.take().expect("piped").write_all(input.as_bytes()).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The outputs of the cases, in order (one process for the file, as
/// upstream, except where upstream runs one per case).
fn outputs(cases: &[Case], layout: Layout, step: &str) -> Result<Vec<Vec<String>>, String> {
    match layout {
        Layout::Line => {
            let input: String = cases.iter().map(|c| format!("{}\n", c.input)).collect();
            let out = ferrovs(step, &input)?;
            Ok(out.lines().map(|l| vec![l.to_owned()]).collect())
        }
        Layout::Block { sorted } => cases
            .iter()
            .map(|c| {
                let out = ferrovs(step, &format!("{}\n", c.input))?;
                let mut lines: Vec<String> = out.lines().map(String::from).collect();
                if sorted {
                    lines.sort();
                }
                Ok(lines)
            })
            .collect(),
        Layout::Symtab(filter) => {
            let out = ferrovs(step, "")?;
            let lines: Vec<String> = out.lines().filter(|l| filter(l)).map(String::from).collect();
            Ok(cases.iter().map(|c| if lines.contains(&c.expected[0]) { c.expected.clone() } else { Vec::new() }).collect())
        }
        Layout::Actions => action_outputs(&cases.iter().collect::<Vec<_>>(), step),
    }
}

/// The results of action cases run through one process, in order: each
/// input is echoed, its results follow indented.
fn action_outputs(cases: &[&Case], step: &str) -> Result<Results, String> {
    let input: String = cases.iter().map(|c| format!("{}\n", c.input)).collect();
    let out = ferrovs(step, &input)?;
    let mut results: Vec<Vec<String>> = Vec::new();
    for line in out.lines() {
        match line.strip_prefix("    ") {
            Some(r) => results.last_mut().ok_or("a result before any input")?.push(r.to_owned()),
            None => results.push(Vec::new()),
        }
    }
    Ok(results)
}

/// The action cases of both files run in upstream's order — the rest's
/// are the block's cases 3 mod 4 — through one process, as upstream's
/// one `test-ovn` run, so that the ids of groups and meters come out as
/// there; the results given back per file.
fn interleaved_action_outputs(shared: &[Case], rest: &[Case]) -> Result<[Results; 2], String> {
    let mut order = Vec::new();
    let (mut s, mut r) = (0, 0);
    while s < shared.len() || r < rest.len() {
        let from_rest = (order.len() % 4 == 3 && r < rest.len()) || s == shared.len();
        order.push(from_rest);
        if from_rest {
            r += 1;
        } else {
            s += 1;
        }
    }
    let (mut si, mut ri) = (shared.iter(), rest.iter());
    let cases: Vec<&Case> = order.iter().filter_map(|&from_rest| if from_rest { ri.next() } else { si.next() }).collect();
    let results = action_outputs(&cases, "parse-actions")?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for (from_rest, result) in order.into_iter().zip(results) {
        if from_rest {
            theirs.push(result);
        } else {
            ours.push(result);
        }
    }
    Ok([ours, theirs])
}

/// Each case's result lines.
type Results = Vec<Vec<String>>;

#[test]
fn ovn_parser_vectors_pass_through_ferrovs_lflow() {
    let mut report = String::new();
    let mut failures = BTreeMap::new();
    for &(name, layout, step) in FILES {
        for (dir, what) in [("", "shared"), ("upstream-rest/", "rest")] {
            let path = vectors().join(format!("{dir}{name}.txt"));
            let Ok(text) = std::fs::read_to_string(&path) else {
                assert!(!dir.is_empty(), "{} is missing", path.display());
                continue;
            };
            let mut cases = cases(&text, layout);
            if matches!(layout, Layout::Block { sorted: true }) {
                for c in &mut cases {
                    c.expected.sort();
                }
            }
            let outputs = if matches!(layout, Layout::Actions) {
                // Both files at once, in upstream's order.
                let rest_path = vectors().join(format!("upstream-rest/{name}.txt"));
                let rest = cases_of(&rest_path, layout);
                let shared = cases_of(&vectors().join(format!("{name}.txt")), layout);
                interleaved_action_outputs(&shared, &rest).map(|[ours, theirs]| if dir.is_empty() { ours } else { theirs })
            } else {
                outputs(&cases, layout, step)
            };
            let outputs = match outputs {
                Ok(o) => o,
                Err(e) => {
                    report.push_str(&format!("{name} ({what}): 0 passed, {} failed: {e}\n", cases.len()));
                    if WRITTEN.contains(&step) {
                        failures.insert(format!("{name} ({what})"), vec![e]);
                    }
                    continue;
                }
            };
            let mut failed = Vec::new();
            for (i, case) in cases.iter().enumerate() {
                let got = outputs.get(i).cloned().unwrap_or_default();
                if got != case.expected {
                    failed.push(format!("{:?}: expected {:?}, got {:?}", case.input, case.expected, got));
                }
            }
            if let Layout::Symtab(filter) = layout {
                // Upstream compares the whole filtered set: no line more.
                if what == "rest" || !vectors().join(format!("upstream-rest/{name}.txt")).exists() {
                    let all: Vec<String> = ferrovs(step, "").unwrap_or_default().lines().filter(|l| filter(l)).map(String::from).collect();
                    let known: Vec<String> = [vectors().join(format!("{name}.txt")), vectors().join(format!("upstream-rest/{name}.txt"))]
                        .iter()
                        .filter_map(|p| std::fs::read_to_string(p).ok())
                        .flat_map(|t| {
                            t.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).map(String::from).collect::<Vec<_>>()
                        })
                        .collect();
                    failed.extend(all.iter().filter(|l| !known.contains(l)).map(|l| format!("an extra line {l:?}")));
                }
            }
            report.push_str(&format!("{name} ({what}): {} passed, {} failed\n", cases.len() - failed.len().min(cases.len()), failed.len()));
            if WRITTEN.contains(&step) && !failed.is_empty() {
                failures.insert(format!("{name} ({what})"), failed);
            }
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "{report}\n{failures:#?}");
}

#[test]
fn the_copied_vectors_are_those_of_shared() {
    // The copy must not drift from the project's reference set, where it
    // is on this machine.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ovn/vectors");
    if !shared.exists() {
        println!("no {}: nothing to compare", shared.display());
        return;
    }
    for &(name, _, _) in FILES {
        let ours = std::fs::read_to_string(vectors().join(format!("{name}.txt"))).unwrap();
        let theirs = std::fs::read_to_string(shared.join(format!("{name}.txt"))).unwrap();
        assert!(ours == theirs, "{name}.txt differs from {}", shared.display());
    }
}
