//! The built-in OVN agent: chassis and encap registration, port binding, and
//! the translation of Southbound logical flows into ofproto flow tables.
//!
//! Written so far: the logical-flow compiler — the language's [`lex`]er,
//! its symbol table ([`symtab`]), expressions ([`expr`]: parsed,
//! annotated, simplified, normalized, converted to OpenFlow matches),
//! [`actions`] (parsed, printed, encoded), and [`compile`], which turns one
//! `Logical_Flow` row on one datapath into the flow mods `ovn-controller`
//! 23.03 installs, reading the [`southbound`] rows as a chassis sees them.
//! The agent that keeps a bridge's tables in step with the database is
//! not written yet.

#![forbid(unsafe_code)]

/// A fieldless enum whose variants have names in the language: the enum,
/// `ALL` (each name with its variant), `name()` and `from_name()`.
macro_rules! named {
    ($(#[$m:meta])* pub enum $E:ident { $($(#[$vm:meta])* $V:ident = $n:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $E { $($(#[$vm])* $V,)* }

        impl $E {
            /// Every variant, with its name.
            pub const ALL: &'static [(&'static str, $E)] = &[$(($n, $E::$V),)*];

            /// Its name.
            pub fn name(self) -> &'static str {
                match self { $($E::$V => $n,)* }
            }

            /// The variant named `name`.
            pub fn from_name(name: &str) -> Option<$E> {
                Self::ALL.iter().find(|(n, _)| *n == name).map(|&(_, v)| v)
            }
        }
    };
}

pub mod actions;
pub mod compile;
pub mod expr;
pub mod lex;
pub mod local;
pub mod southbound;
pub mod symtab;
pub mod tool;
pub mod workload;
