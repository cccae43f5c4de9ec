//! The native TOML reader: the file's shape, checked by serde (unknown keys are refused), with
//! every value kept [`Spanned`] and untyped ([`Raw`]) so that [`super::validate`] can say what
//! is wrong with it, and on which line, in its own words.
use std::{fmt, marker::PhantomData, ops::Range};

use serde::{
    Deserialize, Deserializer,
    de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer},
};
use toml::Spanned;

use super::{Diagnostic, Loaded, validate::Checker};

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub global: Option<Spanned<TableOnly<RawGlobal>>>,
    pub instance: Option<Spanned<RawTables<RawInstance>>>,
    pub script: Option<Spanned<RawTables<RawScript>>>,
    pub sync_group: Option<Spanned<RawTables<RawSyncGroup>>>,
}

/// `[global]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGlobal {
    pub router_id: Option<Spanned<Raw>>,
    pub control_socket: Option<Spanned<Raw>>,
    pub xdp: Option<Spanned<Raw>>,
    pub metrics_listen: Option<Spanned<Raw>>,
    pub script_user: Option<Spanned<Raw>>,
    pub script_group: Option<Spanned<Raw>>,
    pub enable_script_security: Option<Spanned<Raw>>,
    pub notify_fifo: Option<Spanned<Raw>>,
}

/// The `[[instance]]`, `[[script]]` or `[[sync_group]]` tables; the span of each is its header.
pub(super) struct RawTables<T>(pub Vec<Spanned<T>>);

/// One `[[instance]]`; the span of the whole is its `[[instance]]` header.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawInstance {
    pub name: Option<Spanned<Raw>>,
    pub interface: Option<Spanned<Raw>>,
    pub vrid: Option<Spanned<Raw>>,
    pub priority: Option<Spanned<Raw>>,
    pub version: Option<Spanned<Raw>>,
    pub advert_interval: Option<Spanned<Raw>>,
    pub preempt: Option<Spanned<Raw>>,
    pub preempt_delay: Option<Spanned<Raw>>,
    pub virtual_ips: Option<Spanned<Raw>>,
    pub unicast_peers: Option<Spanned<Raw>>,
    pub unicast_source: Option<Spanned<Raw>>,
    pub auth_pass: Option<Spanned<Raw>>,
    pub checksum: Option<Spanned<Raw>>,
    pub pass_adverts: Option<Spanned<Raw>>,
    pub garp_repeat: Option<Spanned<Raw>>,
    pub garp_interval: Option<Spanned<Raw>>,
    pub garp_delay: Option<Spanned<Raw>>,
    pub garp_refresh: Option<Spanned<Raw>>,
    pub garp_refresh_repeat: Option<Spanned<Raw>>,
    pub excluded_ips: Option<Spanned<Raw>>,
    pub track_scripts: Option<Spanned<Raw>>,
    pub track_interfaces: Option<Spanned<Raw>>,
    pub track_files: Option<Spanned<Raw>>,
    pub notify_master: Option<Spanned<Raw>>,
    pub notify_backup: Option<Spanned<Raw>>,
    pub notify_fault: Option<Spanned<Raw>>,
    pub notify_stop: Option<Spanned<Raw>>,
    pub notify: Option<Spanned<Raw>>,
    pub use_vmac: Option<Spanned<Raw>>,
}

/// One `[[script]]`: a health check instances track.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScript {
    pub name: Option<Spanned<Raw>>,
    pub command: Option<Spanned<Raw>>,
    pub interval: Option<Spanned<Raw>>,
    pub timeout: Option<Spanned<Raw>>,
    pub weight: Option<Spanned<Raw>>,
    pub rise: Option<Spanned<Raw>>,
    pub fall: Option<Spanned<Raw>>,
    pub user: Option<Spanned<Raw>>,
    pub group: Option<Spanned<Raw>>,
}

/// One `[[sync_group]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSyncGroup {
    pub name: Option<Spanned<Raw>>,
    pub members: Option<Spanned<Raw>>,
    pub tracking_weight: Option<Spanned<Raw>>,
    pub notify_master: Option<Spanned<Raw>>,
    pub notify_backup: Option<Spanned<Raw>>,
    pub notify_fault: Option<Spanned<Raw>>,
    pub notify_stop: Option<Spanned<Raw>>,
    pub notify: Option<Spanned<Raw>>,
}

/// The notify keys of an `[[instance]]` or a `[[sync_group]]`, side by side.
pub(super) struct RawNotify<'a> {
    pub master: &'a Option<Spanned<Raw>>,
    pub backup: &'a Option<Spanned<Raw>>,
    pub fault: &'a Option<Spanned<Raw>>,
    pub stop: &'a Option<Spanned<Raw>>,
    pub any: &'a Option<Spanned<Raw>>,
}

macro_rules! raw_notify {
    ($($table:ty),*) => {$(
        impl $table {
            pub fn notifies(&self) -> RawNotify<'_> {
                RawNotify {
                    master: &self.notify_master,
                    backup: &self.notify_backup,
                    fault: &self.notify_fault,
                    stop: &self.notify_stop,
                    any: &self.notify,
                }
            }
        }
    )*};
}

raw_notify!(RawInstance, RawSyncGroup);

/// A TOML value before validation. List entries keep their spans: a bad address in a long
/// multi-line list is reported on its own line.
#[derive(Debug, PartialEq)]
pub(super) enum Raw {
    String(String),
    Integer(i128),
    Float(f64),
    Bool(bool),
    List(Vec<Spanned<Raw>>),
    /// An inline table (`{ address = "192.0.2.1", dev = "eth1" }`): its keys in file order.
    Table(Vec<(String, Spanned<Raw>)>),
    Datetime,
}

impl Raw {
    /// The value as quoted in messages: `"text"`, `42`, `true`, `a list`, ...
    pub fn describe(&self) -> String {
        match self {
            Raw::String(s) => format!("{s:?}"),
            Raw::Integer(n) => n.to_string(),
            Raw::Float(x) => x.to_string(),
            Raw::Bool(b) => b.to_string(),
            Raw::List(_) => "a list".to_owned(),
            Raw::Table(_) => "a table".to_owned(),
            Raw::Datetime => "a date-time".to_owned(),
        }
    }
}

/// Reads and validates the text of a native configuration file.
pub(super) fn parse(text: &str, file: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut checker = Checker::new(file, text);
    let raw: RawFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            let span = err.span().unwrap_or(0..0);
            let message = reword(err.message(), text, &span);
            checker.error(&span, message);
            return Err(checker.into_errors());
        }
    };
    checker.file(&raw)
}

/// toml's (and serde's) messages, in this module's words where it matters.
fn reword(message: &str, text: &str, span: &Range<usize>) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some(end) = rest.rfind("`, expected")
    {
        let (key, expected) = rest.split_at(end);
        // serde lists the fields the table has: that says which table it is.
        let table = if expected.contains("`vrid`") {
            " in [[instance]]"
        } else if expected.contains("`router_id`") {
            " in [global]"
        } else if expected.contains("`command`") {
            " in [[script]]"
        } else if expected.contains("`members`") {
            " in [[sync_group]]"
        } else {
            " at the top level"
        };
        return format!("unknown key {key:?}{table}");
    }
    if message == "duplicate key" {
        let key = text
            .get(span.clone())
            .unwrap_or("")
            .trim_matches(['"', '\'']);
        if !key.is_empty() {
            return format!("duplicate key {key:?}");
        }
    }
    message.lines().collect::<Vec<_>>().join("; ")
}

impl<'de, T: Deserialize<'de> + TableName> Deserialize<'de> for RawTables<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TablesVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + TableName> Visitor<'de> for TablesVisitor<T> {
            type Value = RawTables<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING_LIST)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawTables<T>, A::Error> {
                let mut tables = Vec::new();
                while let Some(table) = seq.next_element::<Spanned<TableOnly<T>>>()? {
                    let span = table.span();
                    tables.push(Spanned::new(span, table.into_inner().0));
                }
                Ok(RawTables(tables))
            }

            fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<RawTables<T>, A::Error> {
                Err(de::Error::custom(T::SINGLE_BRACKETS))
            }
        }

        deserializer.deserialize_seq(TablesVisitor(PhantomData))
    }
}

/// A struct that must be written as a table (serde's derive would take a list of its fields).
pub(super) struct TableOnly<T>(pub T);

/// What a [`TableOnly`] table is called in messages.
pub(super) trait TableName {
    /// As in "expected {EXPECTING}".
    const EXPECTING: &'static str;
    /// The message for a list where the table belongs.
    const NOT_A_LIST: &'static str;
    /// As in "expected {EXPECTING_LIST}", for tables written `[[...]]`.
    const EXPECTING_LIST: &'static str = "";
    /// The message for a `[...]` table where `[[...]]` tables belong.
    const SINGLE_BRACKETS: &'static str = "";
}

impl TableName for RawGlobal {
    const EXPECTING: &'static str = "a [global] table";
    const NOT_A_LIST: &'static str = "[global] is a single table: write [global], not [[global]]";
}

impl TableName for RawInstance {
    const EXPECTING: &'static str = "an [[instance]] table";
    const NOT_A_LIST: &'static str = "an [[instance]] is a table, not a list";
    const EXPECTING_LIST: &'static str = "[[instance]] tables";
    const SINGLE_BRACKETS: &'static str =
        "instances are written [[instance]], with double brackets";
}

impl TableName for RawScript {
    const EXPECTING: &'static str = "a [[script]] table";
    const NOT_A_LIST: &'static str = "a [[script]] is a table, not a list";
    const EXPECTING_LIST: &'static str = "[[script]] tables";
    const SINGLE_BRACKETS: &'static str = "scripts are written [[script]], with double brackets";
}

impl TableName for RawSyncGroup {
    const EXPECTING: &'static str = "a [[sync_group]] table";
    const NOT_A_LIST: &'static str = "a [[sync_group]] is a table, not a list";
    const EXPECTING_LIST: &'static str = "[[sync_group]] tables";
    const SINGLE_BRACKETS: &'static str =
        "sync groups are written [[sync_group]], with double brackets";
}

impl<'de, T: Deserialize<'de> + TableName> Deserialize<'de> for TableOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TableVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + TableName> Visitor<'de> for TableVisitor<T> {
            type Value = TableOnly<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TableOnly<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(TableOnly)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, _seq: A) -> Result<TableOnly<T>, A::Error> {
                Err(de::Error::custom(T::NOT_A_LIST))
            }
        }

        deserializer.deserialize_map(TableVisitor(PhantomData))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

/// toml hands a date-time to `deserialize_any` as a map with this one key.
const DATETIME_KEY: &str = "$__toml_private_datetime";

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Integer(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Integer(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Integer(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Raw, E> {
        Ok(Raw::Integer(i128::try_from(v).unwrap_or(i128::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == DATETIME_KEY {
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(Raw::Datetime);
            }
            let value: Spanned<Raw> = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Table(entries))
    }
}
