//! The controllers' roles on a bridge (OpenFlow 1.2+'s ROLE_REQUEST):
//! equal, master or slave, with the master election's generation id.

use std::collections::HashMap;

use crate::error::RoleRequestFailed;
use crate::wire::OfError;

/// A connection's role (OpenFlow 1.2+'s numbering).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Full access, as every connection starts (OVS's "other").
    #[default]
    Equal,
    /// Full access; at most one connection at a time.
    Master,
    /// No changes, no asynchronous messages but port status.
    Slave,
}

impl Role {
    /// The name `Controller.role` uses.
    pub fn name(self) -> &'static str {
        match self {
            Role::Equal => "other",
            Role::Master => "master",
            Role::Slave => "slave",
        }
    }
}

/// The roles of a bridge's connections, and the master election id.
#[derive(Clone, Debug, Default)]
pub struct Roles {
    roles: HashMap<u64, Role>,
    generation: Option<u64>,
    next: u64,
}

impl Roles {
    /// A new connection's id (its role starts as equal).
    pub fn connect(&mut self) -> u64 {
        self.next += 1;
        self.roles.insert(self.next, Role::Equal);
        self.next
    }

    /// A connection is gone.
    pub fn disconnect(&mut self, conn: u64) {
        self.roles.remove(&conn);
    }

    /// A connection's role.
    pub fn role(&self, conn: u64) -> Role {
        self.roles.get(&conn).copied().unwrap_or_default()
    }

    /// The master election id so far.
    pub fn generation(&self) -> Option<u64> {
        self.generation
    }

    /// A role request: master or slave with a generation id that is not
    /// stale (compared as OpenFlow says, modulo 2^64), or equal; a new
    /// master makes the old one a slave.
    pub fn request(&mut self, conn: u64, role: Role, generation: u64) -> Result<(), OfError> {
        if role != Role::Equal {
            if let Some(g) = self.generation {
                if (generation.wrapping_sub(g) as i64) < 0 {
                    return Err(OfError::RoleRequestFailed(RoleRequestFailed::Stale));
                }
            }
            self.generation = Some(generation);
        }
        if role == Role::Master {
            for r in self.roles.values_mut().filter(|r| **r == Role::Master) {
                *r = Role::Slave;
            }
        }
        self.roles.insert(conn, role);
        Ok(())
    }
}
