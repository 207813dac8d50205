//! OpenFlow 1.4+ bundles: opened, filled with flow and group mods, and
//! committed all or none, in order.

#![allow(clippy::wildcard_imports)]

use super::*;

use crate::error::{BadRequest, BundleFailed};

/// An open bundle: the changes added so far, each with the message it
/// came in (for the error if the commit fails on it). Every commit is
/// atomic and ordered, whatever the flags ask.
#[derive(Debug, Default)]
pub(super) struct Bundle {
    pub(super) closed: bool,
    pub(super) changes: Vec<(Change, Vec<u8>)>,
}

impl Session {
    /// BUNDLE_CONTROL: open, close, commit (all or nothing) or discard.
    pub(super) fn bundle_control(&mut self, version: u8, xid: u32, msg: &[u8], tables: &mut Tables) -> Result<Vec<Vec<u8>>, OfError> {
        let id = u32_at(msg, 8)?;
        let ty = u16_at(msg, 12)?;
        let flags = u16_at(msg, 14)?;
        let reply = |ty: u16| {
            let mut body = id.to_be_bytes().to_vec();
            body.extend_from_slice(&ty.to_be_bytes());
            body.extend_from_slice(&flags.to_be_bytes());
            message(version, ty::BUNDLE_CONTROL, xid, &body)
        };
        match ty {
            0 => {
                if self.bundles.contains_key(&id) {
                    return Err(OfError::BundleFailed(BundleFailed::BundleExist));
                }
                self.bundles.insert(id, Bundle::default());
                Ok(vec![reply(1)])
            }
            2 => {
                let b = self.bundles.get_mut(&id).ok_or(OfError::BundleFailed(BundleFailed::BadId))?;
                if b.closed {
                    return Err(OfError::BundleFailed(BundleFailed::BundleClosed));
                }
                b.closed = true;
                Ok(vec![reply(3)])
            }
            4 => {
                let b = self.bundles.remove(&id).ok_or(OfError::BundleFailed(BundleFailed::BadId))?;
                let changes: Vec<Change> = b.changes.iter().map(|(c, _)| c.clone()).collect();
                match tables.apply_all(&changes, Instant::now()) {
                    Ok(_) => Ok(vec![reply(5)]),
                    Err((i, e)) => {
                        // The failing message's own error, then the commit's.
                        let failed = &b.changes[i].1;
                        let inner_xid = Header::parse(failed).map_or(xid, |h| h.xid);
                        Ok(vec![
                            wire::error(version, inner_xid, e, failed),
                            wire::error(version, xid, OfError::BundleFailed(BundleFailed::MsgFailed), msg),
                        ])
                    }
                }
            }
            6 => {
                self.bundles.remove(&id).ok_or(OfError::BundleFailed(BundleFailed::BadId))?;
                Ok(vec![reply(7)])
            }
            _ => Err(OfError::BundleFailed(BundleFailed::BadType)),
        }
    }

    /// BUNDLE_ADD_MESSAGE: decodes the message now (its errors answer the
    /// add) and keeps it for the commit.
    pub(super) fn bundle_add(
        &mut self,
        version: u8,
        xid: u32,
        msg: &[u8],
        tlv: &crate::flowmatch::TlvMap,
    ) -> Result<Vec<Vec<u8>>, OfError> {
        let id = u32_at(msg, 8)?;
        let inner = msg.get(16..).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
        let h = Header::parse(inner).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
        let inner = inner.get(..usize::from(h.length)).ok_or(OfError::BadRequest(BadRequest::BadLen))?;
        let b = self.bundles.get_mut(&id).ok_or(OfError::BundleFailed(BundleFailed::BadId))?;
        if b.closed {
            return Err(OfError::BundleFailed(BundleFailed::BundleClosed));
        }
        if h.xid != xid {
            return Err(OfError::BundleFailed(BundleFailed::MsgBadXid));
        }
        if h.version != version {
            return Err(OfError::BadRequest(BadRequest::BadVersion));
        }
        let change = match h.ty {
            ty::FLOW_MOD => Change::Flow(Box::new(flowmod::decode_flow_mod(inner, version, false, tlv)?)),
            ty::GROUP_MOD => Change::Group(group::decode_group_mod(&inner[HEADER_LEN..], version, false)?),
            _ => return Err(OfError::BundleFailed(BundleFailed::MsgUnsup)),
        };
        b.changes.push((change, inner.to_vec()));
        Ok(Vec::new())
    }
}
