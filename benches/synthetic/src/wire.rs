//! The three wire protocols the SDK speaks to these services: awsJson1.1, awsQuery (XML
//! answers) and Smithy RPC v2 CBOR, each with its error shape.

use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use minicbor::Encoder;
use minicbor::data::{Tag, Type};

pub(crate) type Reply = Response<Body>;

fn reply(status: StatusCode, content_type: &'static str, request_id: &str, body: impl Into<Body>, extra: &[(&'static str, String)]) -> Reply {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(*name, value);
        }
    }
    response
}

// ---- awsJson1.1 ---------------------------------------------------------------------------

pub(crate) const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.1";

pub(crate) fn json_ok(request_id: &str, body: impl Into<Body>) -> Reply {
    reply(StatusCode::OK, JSON_CONTENT_TYPE, request_id, body, &[])
}

pub(crate) fn json_error(status: StatusCode, request_id: &str, code: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "__type": code, "message": message }).to_string().into_bytes();
    reply(status, JSON_CONTENT_TYPE, request_id, body, &[("x-amzn-errortype", code.to_owned())])
}

// ---- awsQuery -----------------------------------------------------------------------------

/// Escapes text for an XML element or attribute.
pub(crate) fn xml_escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

pub(crate) fn xml_ok(request_id: &str, body: String) -> Reply {
    reply(StatusCode::OK, "text/xml", request_id, body.into_bytes(), &[])
}

/// `<ErrorResponse><Error><Type>Sender</Type><Code>…</Code><Message>…</Message></Error>…`
pub(crate) fn query_error(status: StatusCode, request_id: &str, xmlns: &str, code: &str, message: &str) -> Reply {
    let body = format!(
        "<ErrorResponse xmlns=\"{xmlns}\"><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        xml_escape(code),
        xml_escape(message)
    );
    reply(status, "text/xml", request_id, body.into_bytes(), &[])
}

// ---- Smithy RPC v2 CBOR -------------------------------------------------------------------

pub(crate) fn cbor_ok(request_id: &str, body: Vec<u8>) -> Reply {
    reply(StatusCode::OK, "application/cbor", request_id, body, &[("smithy-protocol", "rpc-v2-cbor".to_owned())])
}

/// A CBOR error: `{"__type": code, "message": …}`, with the awsQuery-compatible code in
/// `x-amzn-query-error` as CloudWatch sends it.
pub(crate) fn cbor_error(status: StatusCode, request_id: &str, code: &str, message: &str) -> Reply {
    let mut e = Cbor::new();
    e.map(2).text("__type").text(code).text("message").text(message);
    reply(
        status,
        "application/cbor",
        request_id,
        e.finish(),
        &[("smithy-protocol", "rpc-v2-cbor".to_owned()), ("x-amzn-query-error", format!("{code};Sender"))],
    )
}

/// A CBOR writer that cannot fail (it writes to a `Vec`).
pub(crate) struct Cbor(Encoder<Vec<u8>>);

impl Cbor {
    pub fn new() -> Self {
        Cbor(Encoder::new(Vec::with_capacity(512)))
    }

    pub fn map(&mut self, len: u64) -> &mut Self {
        let _ = self.0.map(len);
        self
    }

    pub fn array(&mut self, len: u64) -> &mut Self {
        let _ = self.0.array(len);
        self
    }

    pub fn text(&mut self, s: &str) -> &mut Self {
        let _ = self.0.str(s);
        self
    }

    pub fn boolean(&mut self, b: bool) -> &mut Self {
        let _ = self.0.bool(b);
        self
    }

    pub fn int(&mut self, i: i64) -> &mut Self {
        let _ = self.0.i64(i);
        self
    }

    pub fn double(&mut self, f: f64) -> &mut Self {
        let _ = self.0.f64(f);
        self
    }

    /// A timestamp: tag 1 around epoch seconds.
    pub fn timestamp(&mut self, epoch_seconds: f64) -> &mut Self {
        let _ = self.0.tag(Tag::new(1));
        let _ = self.0.f64(epoch_seconds);
        self
    }

    /// Bytes already encoded (a map's members written apart, to count them first).
    pub fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.writer_mut().extend_from_slice(bytes);
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.into_writer()
    }
}

/// A member of a CBOR request map that the server reads.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Member {
    Text(String),
    Int(i64),
    /// An array of text strings (`AlarmTypes`).
    Texts(Vec<String>),
    /// A timestamp (tag 1 around epoch seconds, an integer or a float): `StartDate`, `EndDate`.
    Time(f64),
    /// Any other type: skipped.
    Other,
}

impl Member {
    pub fn text(&self) -> Option<&str> {
        if let Member::Text(t) = self { Some(t) } else { None }
    }

    pub fn int(&self) -> Option<i64> {
        if let Member::Int(i) = self { Some(*i) } else { None }
    }

    pub fn texts(&self) -> Option<&[String]> {
        if let Member::Texts(t) = self { Some(t) } else { None }
    }

    pub fn time(&self) -> Option<f64> {
        if let Member::Time(t) = self { Some(*t) } else { None }
    }
}

/// A number: an integer or a float of any width.
fn number(d: &mut minicbor::Decoder<'_>) -> Option<f64> {
    match d.datatype().ok()? {
        Type::F16 | Type::F32 | Type::F64 => d.f64().ok(),
        Type::U8 | Type::U16 | Type::U32 | Type::U64 | Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => i64::try_from(d.int().ok()?).ok().map(|i| i as f64),
        _ => None,
    }
}

/// The `wanted` members of a CBOR request map (definite or indefinite), text and integers read,
/// others skipped. `None` when the body is not a CBOR map.
pub(crate) fn cbor_members<'b>(body: &'b [u8], wanted: &[&str]) -> Option<Vec<(&'b str, Member)>> {
    let mut d = minicbor::Decoder::new(body);
    if body.is_empty() {
        return Some(Vec::new());
    }
    let len = d.map().ok()?;
    let mut found = Vec::new();
    let mut seen = 0u64;
    loop {
        match len {
            Some(n) if seen >= n => break,
            None if d.datatype().ok()? == Type::Break => break,
            _ => {}
        }
        seen += 1;
        let key = d.str().ok()?;
        if !wanted.contains(&key) {
            d.skip().ok()?;
            continue;
        }
        let member = match d.datatype().ok()? {
            Type::String | Type::StringIndef => {
                let mut value = String::new();
                for chunk in d.str_iter().ok()? {
                    value.push_str(chunk.ok()?);
                }
                Member::Text(value)
            }
            Type::U8 | Type::U16 | Type::U32 | Type::U64 | Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => {
                Member::Int(i64::try_from(d.int().ok()?).ok()?)
            }
            Type::Array | Type::ArrayIndef => {
                // Text strings, definite or indefinite; an array of anything else is skipped.
                let at = d.position();
                let texts: Result<Vec<String>, _> = d.array_iter::<&str>().ok()?.map(|t| t.map(str::to_owned)).collect();
                match texts {
                    Ok(texts) => Member::Texts(texts),
                    Err(_) => {
                        d.set_position(at);
                        d.skip().ok()?;
                        Member::Other
                    }
                }
            }
            Type::Tag => {
                let at = d.position();
                let tag = d.tag().ok()?;
                match number(&mut d).filter(|_| tag.as_u64() == 1) {
                    Some(seconds) => Member::Time(seconds),
                    None => {
                        d.set_position(at);
                        d.skip().ok()?;
                        Member::Other
                    }
                }
            }
            _ => {
                d.skip().ok()?;
                Member::Other
            }
        };
        found.push((key, member));
    }
    Some(found)
}

/// How deep a request's maps and arrays may nest for [`cbor_json`].
const MAX_DEPTH: usize = 16;

/// A whole CBOR request body as JSON, for requests whose members nest (GetMetricData's
/// `MetricDataQueries`): maps with text keys and arrays (definite or indefinite), text,
/// integers, floats (a non-finite one is `null`), booleans and null; a timestamp (tag 1) is its
/// epoch seconds, any other tag its content; byte strings are `null`. An empty body is an empty
/// map. `None` when the body is not that, has bytes after its value, or nests deeper than
/// [`MAX_DEPTH`].
pub(crate) fn cbor_json(body: &[u8]) -> Option<serde_json::Value> {
    if body.is_empty() {
        return Some(serde_json::Value::Object(Default::default()));
    }
    let mut d = minicbor::Decoder::new(body);
    let value = json_value(&mut d, 0)?;
    (d.position() == body.len()).then_some(value)
}

fn json_value(d: &mut minicbor::Decoder<'_>, depth: usize) -> Option<serde_json::Value> {
    use serde_json::Value;
    if depth > MAX_DEPTH {
        return None;
    }
    // The end of an indefinite map or array: one byte.
    let end = |d: &mut minicbor::Decoder<'_>| -> Option<bool> {
        if d.datatype().ok()? == Type::Break {
            d.set_position(d.position() + 1);
            return Some(true);
        }
        Some(false)
    };
    Some(match d.datatype().ok()? {
        Type::Map | Type::MapIndef => {
            let len = d.map().ok()?;
            let mut map = serde_json::Map::new();
            let mut seen = 0u64;
            loop {
                match len {
                    Some(n) if seen >= n => break,
                    None if end(d)? => break,
                    _ => {}
                }
                seen += 1;
                let mut key = String::new();
                for chunk in d.str_iter().ok()? {
                    key.push_str(chunk.ok()?);
                }
                let value = json_value(d, depth + 1)?;
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Type::Array | Type::ArrayIndef => {
            let len = d.array().ok()?;
            let mut items = Vec::new();
            let mut seen = 0u64;
            loop {
                match len {
                    Some(n) if seen >= n => break,
                    None if end(d)? => break,
                    _ => {}
                }
                seen += 1;
                items.push(json_value(d, depth + 1)?);
            }
            Value::Array(items)
        }
        Type::String | Type::StringIndef => {
            let mut text = String::new();
            for chunk in d.str_iter().ok()? {
                text.push_str(chunk.ok()?);
            }
            Value::String(text)
        }
        Type::Bool => Value::Bool(d.bool().ok()?),
        Type::Null | Type::Undefined => {
            d.skip().ok()?;
            Value::Null
        }
        Type::F16 | Type::F32 | Type::F64 => serde_json::Number::from_f64(d.f64().ok()?).map_or(Value::Null, Value::Number),
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => Value::from(u64::try_from(d.int().ok()?).ok()?),
        Type::I8 | Type::I16 | Type::I32 | Type::I64 | Type::Int => Value::from(i64::try_from(d.int().ok()?).ok()?),
        Type::Tag => {
            let tag = d.tag().ok()?;
            if tag.as_u64() == 1 {
                serde_json::Number::from_f64(number(d)?).map_or(Value::Null, Value::Number)
            } else {
                json_value(d, depth + 1)?
            }
        }
        Type::Bytes | Type::BytesIndef | Type::Simple => {
            d.skip().ok()?;
            Value::Null
        }
        Type::Break | Type::Unknown(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_requests_are_read_definite_or_indefinite() {
        // {_ "MetricName": "A", "Namespace": "N", "Dimensions": [_ ], "Period": 60 }
        let mut e = Encoder::new(Vec::new());
        e.begin_map().unwrap();
        e.str("MetricName").unwrap().str("A").unwrap();
        e.str("Dimensions").unwrap().begin_array().unwrap().end().unwrap();
        e.str("Namespace").unwrap().str("N").unwrap();
        e.str("Period").unwrap().i32(60).unwrap();
        e.end().unwrap();
        let body = e.into_writer();
        let found = cbor_members(&body, &["MetricName", "Namespace"]).unwrap();
        assert_eq!(found, vec![("MetricName", Member::Text("A".into())), ("Namespace", Member::Text("N".into()))]);

        let mut c = Cbor::new();
        c.map(1).text("Namespace").text("X");
        assert_eq!(cbor_members(&c.finish(), &["Namespace"]).unwrap(), vec![("Namespace", Member::Text("X".into()))]);
        assert!(cbor_members(b"\x01", &["Namespace"]).is_none());

        let mut e = Encoder::new(Vec::new());
        e.map(3).unwrap();
        e.str("AlarmName").unwrap().str("a").unwrap();
        e.str("MaxRecords").unwrap().i32(100).unwrap();
        e.str("AlarmTypes").unwrap().array(1).unwrap().str("MetricAlarm").unwrap();
        let body = e.into_writer();
        let found = cbor_members(&body, &["AlarmName", "MaxRecords", "AlarmTypes"]).unwrap();
        assert_eq!(found, vec![("AlarmName", Member::Text("a".into())), ("MaxRecords", Member::Int(100)), ("AlarmTypes", Member::Texts(vec!["MetricAlarm".into()]))]);

        // {_ "AlarmTypes": [_ "MetricAlarm", "CompositeAlarm"], "Other": [1], "MaxRecords": 5 }
        let mut e = Encoder::new(Vec::new());
        e.begin_map().unwrap();
        e.str("AlarmTypes").unwrap().begin_array().unwrap().str("MetricAlarm").unwrap().str("CompositeAlarm").unwrap().end().unwrap();
        e.str("Other").unwrap().array(1).unwrap().u8(1).unwrap();
        e.str("MaxRecords").unwrap().u8(5).unwrap();
        e.end().unwrap();
        let body = e.into_writer();
        let found = cbor_members(&body, &["AlarmTypes", "Other", "MaxRecords"]).unwrap();
        assert_eq!(
            found,
            vec![("AlarmTypes", Member::Texts(vec!["MetricAlarm".into(), "CompositeAlarm".into()])), ("Other", Member::Other), ("MaxRecords", Member::Int(5))]
        );
    }

    #[test]
    fn nested_cbor_requests_are_read_as_json_with_timestamps_as_seconds() {
        // {_ "MetricDataQueries": [_ {"Id": "q0", "MetricStat": {"Period": 300, "Stat": "Sum"}, "ReturnData": true}],
        //    "StartTime": 1(1.7e9), "EndTime": 1(1700003600), "Ratio": 0.5, "Missing": null, "Neg": -2 }
        let mut e = Encoder::new(Vec::new());
        e.begin_map().unwrap();
        e.str("MetricDataQueries").unwrap().begin_array().unwrap();
        e.map(3).unwrap().str("Id").unwrap().str("q0").unwrap();
        e.str("MetricStat").unwrap().map(2).unwrap().str("Period").unwrap().u16(300).unwrap().str("Stat").unwrap().str("Sum").unwrap();
        e.str("ReturnData").unwrap().bool(true).unwrap();
        e.end().unwrap();
        e.str("StartTime").unwrap().tag(Tag::new(1)).unwrap().f64(1.7e9).unwrap();
        e.str("EndTime").unwrap().tag(Tag::new(1)).unwrap().u32(1_700_003_600).unwrap();
        e.str("Ratio").unwrap().f32(0.5).unwrap();
        e.str("Missing").unwrap().null().unwrap();
        e.str("Neg").unwrap().i8(-2).unwrap();
        e.end().unwrap();
        let body = e.into_writer();
        let value = cbor_json(&body).expect("a CBOR map");
        assert_eq!(
            value,
            serde_json::json!({
                "MetricDataQueries": [{ "Id": "q0", "MetricStat": { "Period": 300, "Stat": "Sum" }, "ReturnData": true }],
                "StartTime": 1.7e9, "EndTime": 1_700_003_600.0, "Ratio": 0.5, "Missing": null, "Neg": -2
            })
        );
        assert_eq!(cbor_json(b"").unwrap(), serde_json::json!({}));
        // Bytes after the value, a cut-off body, nesting deeper than the limit: refused.
        assert!(cbor_json(&[body.as_slice(), b"\x01"].concat()).is_none());
        assert!(cbor_json(&body[..body.len() - 3]).is_none());
        let mut deep = vec![0x81u8; MAX_DEPTH + 1];
        deep.push(0x01);
        assert!(cbor_json(&deep).is_none());
        let mut shallow = vec![0x81u8; MAX_DEPTH];
        shallow.push(0x01);
        assert!(cbor_json(&shallow).is_some());
        // The members read one by one: a timestamp, or anything else under another tag.
        let mut e = Encoder::new(Vec::new());
        e.map(3).unwrap();
        e.str("StartDate").unwrap().tag(Tag::new(1)).unwrap().f64(1.5).unwrap();
        e.str("EndDate").unwrap().tag(Tag::new(1)).unwrap().u8(7).unwrap();
        e.str("Other").unwrap().tag(Tag::new(0)).unwrap().str("2026-12-03T00:00:00Z").unwrap();
        let body = e.into_writer();
        let found = cbor_members(&body, &["StartDate", "EndDate", "Other"]).unwrap();
        assert_eq!(found, vec![("StartDate", Member::Time(1.5)), ("EndDate", Member::Time(7.0)), ("Other", Member::Other)]);
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert!(matches!(xml_escape("plain"), std::borrow::Cow::Borrowed(_)));
    }
}
