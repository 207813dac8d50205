//! OpenFlow errors: the one place their types and codes are named and
//! numbered.
//!
//! Every error ferrovs sends is an [`OfError`], a type with its code as
//! OpenFlow 1.3 (1.4 for bundles) numbers them, or one of Nicira's
//! extension errors; [`crate::wire::error`] writes it in the numbering of
//! the connection's version (OpenFlow 1.0's differs, as OVS maps it).

/// [`OfError::ty`] of Nicira's extension errors (OpenFlow 1.2+'s
/// EXPERIMENTER error type).
pub const NX_ERROR: u16 = 0xffff;

/// Declares [`OfError`] and one enum of codes per error type, from one
/// table: `TYPE_NUMBER Variant "NAME" { Code = number, … }`.
macro_rules! errors {
    ($($ty:literal $variant:ident $name:literal { $($code:ident = $n:literal),* $(,)? })*) => {
        /// An OpenFlow error: its type, and the code within it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum OfError {
            $(
                #[doc = concat!($name, ".")]
                $variant($variant),
            )*
        }

        impl OfError {
            /// The error type, as OpenFlow 1.3 numbers it.
            pub const fn ty(self) -> u16 {
                match self {
                    $(OfError::$variant(_) => $ty,)*
                }
            }

            /// The code within the type.
            pub const fn code(self) -> u16 {
                match self {
                    $(OfError::$variant(c) => c as u16,)*
                }
            }
        }

        $(
            #[doc = concat!($name, " codes.")]
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            #[repr(u16)]
            #[allow(missing_docs)] // Each code is the specification's name, in Rust's case.
            pub enum $variant {
                $($code = $n,)*
            }
        )*
    };
}

errors! {
    0 HelloFailed "HELLO_FAILED" {
        Incompatible = 0, Eperm = 1,
    }
    1 BadRequest "BAD_REQUEST" {
        BadVersion = 0, BadType = 1, BadMultipart = 2, BadExperimenter = 3, BadExpType = 4, Eperm =
        5, BadLen = 6, BufferEmpty = 7, BufferUnknown = 8, BadTableId = 9, IsSlave = 10, BadPort =
        11, BadPacket = 12, MultipartBufferOverflow = 13,
    }
    2 BadAction "BAD_ACTION" {
        BadType = 0, BadLen = 1, BadExperimenter = 2, BadExpType = 3, BadOutPort = 4, BadArgument =
        5, Eperm = 6, TooMany = 7, BadQueue = 8, BadOutGroup = 9, MatchInconsistent = 10,
        UnsupportedOrder = 11, BadTag = 12, BadSetType = 13, BadSetLen = 14, BadSetArgument = 15,
    }
    3 BadInstruction "BAD_INSTRUCTION" {
        UnknownInst = 0, UnsupInst = 1, BadTableId = 2, UnsupMetadata = 3, UnsupMetadataMask = 4,
        BadExperimenter = 5, BadExpType = 6, BadLen = 7, Eperm = 8,
    }
    4 BadMatch "BAD_MATCH" {
        BadType = 0, BadLen = 1, BadTag = 2, BadDlAddrMask = 3, BadNwAddrMask = 4, BadWildcards = 5,
        BadField = 6, BadValue = 7, BadMask = 8, BadPrereq = 9, DupField = 10, Eperm = 11,
    }
    5 FlowModFailed "FLOW_MOD_FAILED" {
        Unknown = 0, TableFull = 1, BadTableId = 2, Overlap = 3, Eperm = 4, BadTimeout = 5,
        BadCommand = 6, BadFlags = 7,
    }
    6 GroupModFailed "GROUP_MOD_FAILED" {
        GroupExists = 0, InvalidGroup = 1, WeightUnsupported = 2, OutOfGroups = 3, OutOfBuckets = 4,
        ChainingUnsupported = 5, WatchUnsupported = 6, Loop = 7, UnknownGroup = 8, ChainedGroup = 9,
        BadType = 10, BadCommand = 11, BadBucket = 12, BadWatch = 13, Eperm = 14,
    }
    7 PortModFailed "PORT_MOD_FAILED" {
        BadPort = 0, BadHwAddr = 1, BadConfig = 2, BadAdvertise = 3, Eperm = 4,
    }
    11 RoleRequestFailed "ROLE_REQUEST_FAILED" {
        Stale = 0, Unsup = 1, BadRole = 2,
    }
    12 MeterModFailed "METER_MOD_FAILED" {
        Unknown = 0, MeterExists = 1, InvalidMeter = 2, UnknownMeter = 3, BadCommand = 4, BadFlags =
        5, BadRate = 6, BadBurst = 7, BadBand = 8, BadBandValue = 9, OutOfMeters = 10, OutOfBands =
        11,
    }
    13 TableFeaturesFailed "TABLE_FEATURES_FAILED" {
        BadTable = 0, BadMetadata = 1, BadType = 2, BadLen = 3, BadArgument = 4, Eperm = 5,
    }
    17 BundleFailed "BUNDLE_FAILED" {
        Unknown = 0, Eperm = 1, BadId = 2, BundleExist = 3, BundleClosed = 4, OutOfBundles = 5,
        BadType = 6, BadFlags = 7, MsgBadLen = 8, MsgBadXid = 9, MsgUnsup = 10, MsgConflict = 11,
        MsgTooMany = 12, MsgFailed = 13, Timeout = 14, BundleInProgress = 15,
    }
    0xffff Nicira "A Nicira extension error (EXPERIMENTER with Nicira's id; a vendor error over 1.0)" {
        TlvBadCommand = 16, TlvBadOptLen = 17, TlvBadFieldIdx = 18, TlvTableFull = 19,
        TlvAlreadyMapped = 20, TlvDupEntry = 21, InvalidTlvField = 37, InvalidTlvDel = 38,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_codes_are_the_specification_s() {
        let pair = |e: OfError| (e.ty(), e.code());
        assert_eq!(pair(OfError::BadRequest(BadRequest::BadLen)), (1, 6));
        assert_eq!(pair(OfError::BadMatch(BadMatch::DupField)), (4, 10));
        assert_eq!(pair(OfError::BundleFailed(BundleFailed::MsgFailed)), (17, 13));
        assert_eq!(pair(OfError::Nicira(Nicira::InvalidTlvDel)), (NX_ERROR, 38));
    }
}
