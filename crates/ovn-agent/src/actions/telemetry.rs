//! The actions that report on or limit packets rather than forward
//! them: `log` (ACL logging through pinctrl), `set_meter` (a rate limit),
//! `sample` (IPFIX) and `trigger_event` (an event for the CMS, such as a
//! load balancer without backends).

use ofproto::actions::{Action, Sample};

use super::encode::{controller_op, opcode};
use super::parse::Cx;
use super::{EncodeParams, IdTables, OptValue, Ovnact};
use crate::expr::Constant;
use crate::lex::{Format, Token};

named! {
    /// What an ACL did with a logged packet.
    pub enum Verdict {
        /// Let it through.
        Allow = "allow",
        /// Dropped it.
        Drop = "drop",
        /// Rejected it.
        Reject = "reject",
    }
}

named! {
    /// A logged packet's severity.
    pub enum Severity {
        /// `alert`.
        Alert = "alert",
        /// `warning`.
        Warning = "warning",
        /// `notice`.
        Notice = "notice",
        /// `info`.
        Info = "info",
        /// `debug`.
        Debug = "debug",
    }
}

impl Severity {
    /// Its syslog level, as pinctrl reads it.
    fn level(self) -> u8 {
        match self {
            Severity::Alert => 1,
            Severity::Warning => 4,
            Severity::Notice => 5,
            Severity::Info => 6,
            Severity::Debug => 7,
        }
    }
}

/// `log(…)`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// What the ACL did.
    pub verdict: Verdict,
    /// The ACL's name, if given (under 64 bytes).
    pub name: Option<String>,
    /// How severe.
    pub severity: Severity,
    /// The meter that limits the log's rate, by name.
    pub meter: Option<String>,
}

named! {
    /// The events `trigger_event` sends.
    pub enum Event {
        /// A load balancer's VIP was hit and it has no backend.
        EmptyLbBackends = "empty_lb_backends",
    }
}

impl Cx<'_, '_> {
    /// `log[(verdict=V, name="…", severity=S, meter="…")]`, after its name.
    pub(super) fn log(&mut self) {
        let (mut verdict, mut name, mut severity, mut meter) = (None, None, Severity::Info, None);
        if self.lexer.match_token(&Token::LParen) {
            while !self.lexer.match_token(&Token::RParen) {
                let key = ["verdict", "name", "severity", "meter"].into_iter().find(|k| self.lexer.match_id(k));
                let Some(key) = key else {
                    self.lexer.syntax_error(None);
                    return;
                };
                if !self.lexer.force_match(&Token::Equals) {
                    return;
                }
                match key {
                    "verdict" => match Verdict::ALL.iter().find(|(n, _)| self.lexer.match_id(n)) {
                        Some(&(_, v)) => verdict = Some(v),
                        None => {
                            self.lexer.syntax_error(Some("unknown verdict"));
                            return;
                        }
                    },
                    "severity" => {
                        let Token::Id(s) = &self.lexer.token else {
                            self.lexer.syntax_error(Some("expecting severity"));
                            return;
                        };
                        let Some(s) = Severity::from_name(s) else {
                            self.lexer.syntax_error(Some("unknown severity"));
                            return;
                        };
                        severity = s;
                        self.lexer.get();
                    }
                    _ => {
                        let Token::Str(s) = self.lexer.token.clone() else {
                            self.lexer.syntax_error(Some("expecting string"));
                            return;
                        };
                        if key == "name" {
                            // It goes in the datapath's action: kept short.
                            if s.len() >= 64 {
                                self.lexer.syntax_error(Some("name must be shorter than 64 characters"));
                                return;
                            }
                            name = Some(s);
                        } else {
                            meter = Some(s);
                        }
                        self.lexer.get();
                    }
                }
                self.lexer.match_token(&Token::Comma);
            }
        }
        match verdict {
            Some(verdict) => self.acts.push(Ovnact::Log(Log { verdict, name, severity, meter })),
            None => self.lexer.syntax_error(Some("expecting verdict")),
        }
    }

    /// `set_meter(rate[, burst])`, after its name.
    pub(super) fn set_meter(&mut self) {
        // As OVN, anything but a decimal reads as 0 and is skipped.
        let decimal = |cx: &mut Self| {
            let v = match &cx.lexer.token {
                Token::Integer { value, format: Format::Decimal } => value.low_u64(),
                _ => 0,
            };
            cx.lexer.get();
            v
        };
        self.lexer.force_match(&Token::LParen);
        let rate = decimal(self);
        let burst = if self.lexer.match_token(&Token::Comma) { decimal(self) } else { 0 };
        self.lexer.force_match(&Token::RParen);
        if rate == 0 {
            self.lexer.error("Rate 0 for set_meter is not in valid.");
            return;
        }
        self.acts.push(Ovnact::SetMeter { rate, burst });
    }

    /// `sample(probability=P, collector_set=C, obs_domain=D,
    /// obs_point=N|$cookie)`, after its name.
    pub(super) fn sample(&mut self) {
        let (mut probability, mut collector_set, mut obs_domain, mut obs_point) = (0, 0, 0, Some(0));
        let decimal = |t: &Token| match t {
            Token::Integer { value, format: Format::Decimal } => Some(value.low_u64()),
            _ => None,
        };
        if self.lexer.match_token(&Token::LParen) {
            while !self.lexer.match_token(&Token::RParen) {
                let key = ["probability", "obs_point", "obs_domain", "collector_set"].into_iter().find(|k| self.lexer.match_id(k));
                let Some(key) = key else {
                    self.lexer.syntax_error(Some("unknown argument"));
                    return;
                };
                if !self.lexer.force_match(&Token::Equals) {
                    return;
                }
                let value = decimal(&self.lexer.token);
                match key {
                    // Not a decimal: nothing read, and the next round
                    // finds no argument there, as in OVN.
                    "probability" if value.is_some() => match self.uint16("probability") {
                        Some(p) => probability = p,
                        None => return,
                    },
                    "probability" => {}
                    "obs_point" => {
                        if matches!(&self.lexer.token, Token::Macro(m) if m == "cookie") {
                            obs_point = None;
                        } else if let Some(v) = value {
                            obs_point = Some(v as u32);
                        } else {
                            self.lexer.syntax_error(Some("malformed sample observation_point_id"));
                            return;
                        }
                        self.lexer.get();
                    }
                    "obs_domain" => {
                        if let Some(v) = value {
                            let Ok(v) = u8::try_from(v as u32) else {
                                self.lexer.syntax_error(Some("obs_domain must be 8-bit long"));
                                return;
                            };
                            obs_domain = v;
                        }
                        self.lexer.get();
                    }
                    _ => {
                        if let Some(v) = value {
                            collector_set = v as u32;
                        }
                        self.lexer.get();
                    }
                }
                self.lexer.match_token(&Token::Comma);
            }
        }
        if probability == 0 {
            self.lexer.error("probability must be greater than zero");
            return;
        }
        self.acts.push(Ovnact::Sample { probability, collector_set, obs_domain, obs_point });
    }

    /// `trigger_event(event = "E", name = value, …)`, after its name.
    pub(super) fn trigger_event(&mut self) {
        self.lexer.force_match(&Token::LParen);
        if !self.lexer.match_id("event") {
            self.lexer.syntax_error(Some("Expecting 'event' option"));
            return;
        }
        if !self.lexer.force_match(&Token::Equals) {
            return;
        }
        let event = match &self.lexer.token {
            Token::Str(s) if s.len() < 64 => Event::from_name(s),
            _ => {
                self.lexer.syntax_error(Some("Expecting string"));
                return;
            }
        };
        let Some(event) = event else {
            // OVN prints the number it did not find: -1.
            self.lexer.syntax_error(Some("Unknown event '-1'"));
            return;
        };
        self.lexer.get();
        self.lexer.match_token(&Token::Comma);
        let Some(opts) = self.gen_opts(self.pp.event_opts, event.name()) else { return };
        if let Err(e) = validate_empty_lb_backends(&opts) {
            self.lexer.error(e);
            return;
        }
        self.acts.push(Ovnact::TriggerEvent { event, opts });
    }
}

/// The one string of an option, or the error OVN gives.
pub(super) fn single_string(o: &OptValue) -> Result<&str, String> {
    match o.value.values.as_slice() {
        [Constant::Str(s)] => Ok(s),
        _ => Err(format!("Invalid value for \"{}\" option", o.opt.name)),
    }
}

/// `empty_lb_backends`'s options: a VIP, a protocol, a load balancer's
/// UUID.
fn validate_empty_lb_backends(opts: &[OptValue]) -> Result<(), String> {
    for o in opts {
        let s = single_string(o)?;
        match o.opt.code {
            1 if super::lb::parse_endpoint(s).is_none() => return Err(format!("Invalid load balancer VIP '{s}'")),
            2 if !matches!(s, "tcp" | "udp" | "sctp") => {
                return Err(format!("Load balancer protocol '{s}' is not 'tcp', 'udp', or 'sctp'"));
            }
            3 if !is_uuid(s) => return Err(format!("Load balancer '{s}' is not a UUID")),
            _ => {}
        }
    }
    Ok(())
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    s.len() == 36 && s.char_indices().all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// A UUID as OVS prints it.
pub(super) fn uuid_text(u: u128) -> String {
    let h = format!("{u:032x}");
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

/// The text of the actions this module reads.
pub(super) fn format(a: &Ovnact) -> String {
    match a {
        Ovnact::SetMeter { rate, burst: 0 } => format!("set_meter({});", *rate as i64),
        Ovnact::SetMeter { rate, burst } => format!("set_meter({}, {});", *rate as i64, *burst as i64),
        Ovnact::Log(l) => {
            let mut s = "log(".to_owned();
            if let Some(n) = &l.name {
                s.push_str(&format!("name=\"{n}\", "));
            }
            s.push_str(&format!("verdict={}, severity={}", l.verdict.name(), l.severity.name()));
            if let Some(m) = &l.meter {
                s.push_str(&format!(", meter=\"{m}\""));
            }
            s + ");"
        }
        Ovnact::Sample { probability, collector_set, obs_domain, obs_point } => {
            let point = obs_point.map_or("$cookie".to_owned(), |p| p.to_string());
            format!("sample(probability={probability},collector_set={collector_set},obs_domain={obs_domain},obs_point={point});")
        }
        Ovnact::TriggerEvent { event, opts } => {
            let opts: String = opts.iter().map(|o| format!(", {} = {}", o.opt.name, o.value.format())).collect();
            format!("trigger_event(event = \"{}\"{opts});", event.name())
        }
        _ => String::new(),
    }
}

/// Encodes the actions this module reads.
pub(super) fn encode(a: &Ovnact, ep: &EncodeParams<'_>, ids: &mut IdTables, out: &mut Vec<Action>) {
    match a {
        Ovnact::SetMeter { rate, burst } => {
            // The meter is named by its own description ("__string:").
            let uuid = uuid_text(ep.lflow_uuid);
            let name = if *burst != 0 {
                format!("__string: uuid {uuid} kbps burst stats bands=type=drop rate={} burst_size={}", *rate as i64, *burst as i64)
            } else {
                format!("__string: uuid {uuid} kbps stats bands=type=drop rate={}", *rate as i64)
            };
            out.extend(ids.meters.assign(&name, ep.lflow_uuid).map(Action::Meter));
        }
        Ovnact::Log(l) => {
            let mut meter = 0;
            if let Some(m) = &l.meter {
                // No id left: the flow does not log (the table counts it).
                let Some(id) = ids.meters.assign(m, ep.lflow_uuid) else { return };
                meter = id;
            }
            let mut payload = vec![l.verdict as u8, l.severity.level()];
            payload.extend_from_slice(l.name.as_deref().unwrap_or("").as_bytes());
            let mut action = controller_op(opcode::LOG, false, &payload);
            if let Action::Controller { meter: m, .. } = &mut action {
                *m = if ep.meters { meter } else { 0 };
            }
            out.push(action);
        }
        Ovnact::Sample { probability, collector_set, obs_domain, obs_point } => {
            if !ep.collector_ids.contains(collector_set) {
                return;
            }
            out.push(Action::Sample(Sample {
                probability: *probability,
                collector_set_id: *collector_set,
                obs_domain_id: (u32::from(*obs_domain) << 24) | (ep.dp_key & 0xff_ffff),
                // `$cookie`: the flow's cookie, its UUID's first 32 bits.
                obs_point_id: obs_point.unwrap_or((ep.lflow_uuid >> 96) as u32),
                sampling_port: 0xffff,
                direction: 0,
            }));
        }
        Ovnact::TriggerEvent { event, opts } => {
            let mut payload = (*event as u32).to_be_bytes().to_vec();
            for o in opts {
                let s = single_string(o).unwrap_or("");
                payload.extend_from_slice(&o.opt.code.to_be_bytes());
                payload.extend_from_slice(&(s.len() as u16).to_be_bytes());
                payload.extend_from_slice(s.as_bytes());
            }
            out.push(controller_op(opcode::EVENT, false, &payload));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_read_and_print_as_ovs() {
        assert_eq!(uuid_text(0xaaaaaaaa_bbbbbbbb_cccccccc_dddddddd), "aaaaaaaa-bbbb-bbbb-cccc-ccccdddddddd");
        assert!(is_uuid("aaaaaaaa-bbbb-bbbb-cccc-ccccdddddddd"));
        assert!(is_uuid("AAAAAAAA-bbbb-bbbb-cccc-ccccdddddddd"));
        assert!(!is_uuid("aaaaaaaa-bbbb-bbbb-cccc-ccccddddddd"));
        assert!(!is_uuid("aaaaaaaa-bbbb-bbbbxcccc-ccccdddddddd"));
        assert!(!is_uuid("gaaaaaaa-bbbb-bbbb-cccc-ccccdddddddd"));
    }
}
