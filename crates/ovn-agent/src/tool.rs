//! What `ferrovs lflow` prints: the compiler's steps on one case a line,
//! in the text `ovstest test-ovn` prints for the same command and line
//! (OVN's `tests/test-ovn.c`), so that the blocks of OVN's `tests/ovn.at`
//! can be piped through ferrovs unchanged.
//!
//! Lines are read as OVS's `ds_get_test_line` reads them: a line starting
//! with `#` is echoed, the rest of a line from a `#` on is dropped, and a
//! blank line prints an empty one.

/// A step of the compiler to run on each line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// `lex`: the tokens.
    Lex,
    /// `parse-expr`: the expression as parsed.
    ParseExpr,
    /// `annotate-expr`: with its prerequisites.
    AnnotateExpr,
    /// `simplify-expr`: simplified.
    SimplifyExpr,
    /// `normalize-expr`: in disjunctive normal form.
    NormalizeExpr,
    /// `expr-to-flows`: the OpenFlow matches.
    ExprToFlows,
    /// `parse-actions`: actions parsed, formatted and encoded.
    ParseActions,
    /// `dump-symtab`: the symbol table (reads nothing).
    DumpSymtab,
}

impl Step {
    /// Every step, with its command name.
    pub const ALL: [(&'static str, Step); 8] = [
        ("lex", Step::Lex),
        ("parse-expr", Step::ParseExpr),
        ("annotate-expr", Step::AnnotateExpr),
        ("simplify-expr", Step::SimplifyExpr),
        ("normalize-expr", Step::NormalizeExpr),
        ("expr-to-flows", Step::ExprToFlows),
        ("parse-actions", Step::ParseActions),
        ("dump-symtab", Step::DumpSymtab),
    ];

    /// The step a command name names.
    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.iter().find(|(n, _)| *n == name).map(|&(_, s)| s)
    }

    /// Its command name.
    pub fn name(self) -> &'static str {
        Step::ALL.iter().find(|(_, s)| *s == self).map_or("", |(n, _)| n)
    }
}

/// A step that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The step is not written yet.
    #[error("`{}' is not written yet", .0.name())]
    NotWritten(Step),
}

/// Runs `step` on each line of `input`; returns what it prints.
pub fn run(step: Step, input: &str) -> Result<String, ToolError> {
    let each: fn(&str) -> String = match step {
        Step::Lex => crate::lex::format_tokens,
        other => return Err(ToolError::NotWritten(other)),
    };
    let mut out = String::new();
    for line in input.lines() {
        if line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let line = line.split('#').next().unwrap_or("");
        if line.trim_matches([' ', '\t', '\n']).is_empty() {
            out.push('\n');
            continue;
        }
        out.push_str(&each(line));
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_as_test_ovn_reads_them() {
        let out = run(Step::Lex, "# a comment\na b # not this\n  \n1.2.3.4/24\n").unwrap();
        assert_eq!(out, "# a comment\na b\n\n1.2.3.0/24\n");
    }

    #[test]
    fn every_step_has_its_name() {
        for (name, step) in Step::ALL {
            assert_eq!(Step::from_name(name), Some(step));
            assert_eq!(step.name(), name);
        }
        assert_eq!(Step::from_name("nope"), None);
    }
}
