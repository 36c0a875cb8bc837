//! The one-pass reader against `serde_json`: both must read every line alike.

use super::*;
use quickcheck::{Arbitrary, Gen};

/// Both readers agree on everything a line is read into.
fn same(line: &str) -> Result<bool, String> {
    let Some(flat) = read(line) else {
        return Ok(false);
    };
    let fast = flat.into_preparsed();
    let slow = Preparsed::of_any(line);
    let show = |p: &Preparsed| format!("{:?} {:?} {:?}", p.envelope, p.head, p.fields);
    if show(&fast) == show(&slow) && fast.fields == slow.fields && fast.head == slow.head {
        Ok(true)
    } else {
        Err(format!(
            "{line}\n  flat: {}\n  serde: {}",
            show(&fast),
            show(&slow)
        ))
    }
}

#[test]
fn reads_the_common_replies() {
    for line in [
        r#"{"src":"n1","dest":"c4","body":{"in_reply_to":7,"messages":[1,2,3,9],"msg_id":2,"type":"read_ok"}}"#,
        r#"{"src":"n1","dest":"c4","body":{"in_reply_to":7,"messages":[],"type":"read_ok"}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":[3,1,2],"in_reply_to":7,"type":"read_ok"}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":-12,"in_reply_to":7,"type":"read_ok"}}"#,
        r#"{"src":"n1","dest":"c4","body":{"type":"broadcast_ok","in_reply_to":0}}"#,
        r#"{"id":3,"src":"n1","dest":"n2","body":{"type":"x","ok":true,"no":false,"z":null}}"#,
        " { \"src\" : \"n1\" ,\n\"dest\":\"c4\",\t\"body\" : { \"v\" : [ 1 , 2 ] } } ",
        r#"{"src":"n1","dest":"c4","body":{},"id":null}"#,
        r#"{"src":"n1","dest":"c4","body":{"type":"é → ✓"}}"#,
        // Between nodes, anything without escapes.
        r#"{"src":"n1","dest":"n2","body":{"type":"gossip","inc":12345678901234567890123,"runs":[[7,3,[[42]]]],"have":{"vv":{"7":3},"cloud":[]},"f":-1.5e-3,"g":[true,null,"x"],"msg_id":4}}"#,
        r#"{"src":"n1","dest":"n2","body":{"a":{},"b":[],"c":0.0,"d":-0,"e":1E+2,"a":1}}"#,
    ] {
        assert_eq!(same(line), Ok(true), "{line}");
    }
}

#[test]
fn leaves_everything_else_to_serde() {
    for line in [
        r#"{"src":"n1","dest":"c4","body":{"type":"a\"b"}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":1.5}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":1e3}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":-0}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":[1,-0]}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":01}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":1234567890123456789}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":{"a":1}}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":[1,"x"]}}"#,
        r#"{"src":"n1","dest":"c4","body":{"value":[1,]}}"#,
        r#"{"src":"n1","dest":"c4","body":{"a":1,"a":2}}"#,
        r#"{"src":"n1","dest":"c4","body":[1]}"#,
        r#"{"src":"n1","dest":"c4","body":{},"extra":1}"#,
        r#"{"src":"n1","src":"n2","dest":"c4","body":{}}"#,
        r#"{"src":"n1","dest":"c4"}"#,
        r#"{"src":"n1","dest":"c4","body":{}} x"#,
        r#"{"src":"n1","dest":"c4","body":{},"id":-0}"#,
        r#"{"src":"n1","dest":"c4","body":{},"id":"7"}"#,
        "{\"src\":\"n\u{1}\",\"dest\":\"c4\",\"body\":{}}",
        r#"{"src":"n1","dest":"c4","body":{"type":tru}}"#,
        r#"{"src":"n1","dest":"c4","body":{"#,
        "",
        // Between nodes: only a reserved key must be plain; the rest must be valid JSON.
        r#"{"src":"n1","dest":"n2","body":{"type":"gossip","msg_id":1.5}}"#,
        r#"{"src":"n1","dest":"n2","body":{"type":"gossip","type":"x"}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":["a\n"]}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":1.}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":1e}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":.5}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":[1 2]}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":{"a" 1}}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":{"a":1,}}}"#,
        r#"{"src":"n1","dest":"n2","body":{"x":-}}"#,
        // A client's reply read before its `dest` is known must be plain throughout.
        r#"{"src":"n1","body":{"x":[[1]]},"dest":"c4"}"#,
    ] {
        assert_eq!(same(line), Ok(false), "{line}");
    }
    // Deeper than this reader goes (it recurses), and just within.
    let nested = |n: usize| {
        format!(
            r#"{{"src":"n1","dest":"n2","body":{{"x":{}{}}}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    assert_eq!(same(&nested(200)), Ok(false));
    assert_eq!(same(&nested(MAX_DEPTH)), Ok(true));
}

/// A line built from pieces that are mostly of the flat shape, with some that are not.
#[derive(Debug, Clone)]
struct Line(String);

impl Arbitrary for Line {
    fn arbitrary(g: &mut Gen) -> Line {
        fn pick<'a>(g: &mut Gen, xs: &[&'a str]) -> &'a str {
            g.choose(xs).copied().unwrap_or("")
        }
        fn space(g: &mut Gen) -> &'static str {
            pick(g, &["", "", "", " ", "\n", "\t ", "\r"])
        }
        fn integer(g: &mut Gen) -> String {
            match u8::arbitrary(g) % 8 {
                0 => pick(g, &["-0", "01", "1.0", "2e3", "-", "9223372036854775807"]).into(),
                1 => (i64::arbitrary(g) / 1000).to_string(),
                2 => "1".repeat(usize::arbitrary(g) % 21 + 1),
                _ => (u16::arbitrary(g) % 50).to_string(),
            }
        }
        fn value(g: &mut Gen) -> String {
            match u8::arbitrary(g) % 10 {
                0 => pick(g, &["true", "false", "null", "nul", "{}", r#"{"a":[1]}"#]).into(),
                // Nested, floats, big numbers, and near misses.
                9 => pick(
                    g,
                    &[
                        r#"[[1,2],[3,[4]]]"#,
                        r#"{"vv":{"7":3},"cloud":[]}"#,
                        "-1.5e-3",
                        "0.25",
                        "1E+2",
                        "123456789012345678901234",
                        r#"[1,"x",null,true]"#,
                        "[1 2]",
                        r#"{"a" 1}"#,
                        r#"{"a":1,}"#,
                        "1.",
                        "1e",
                        ".5",
                        "[[[[]]]]",
                        r#"["a\u0041"]"#,
                    ],
                )
                .into(),
                1 => pick(g, &[r#""read_ok""#, r#""a\"b""#, r#""""#, r#""é""#]).into(),
                2 | 3 => integer(g),
                // A run of consecutive integers (what sorted sets mostly are), across a
                // power of ten or zero, with now and then a jump, a gap or a near miss.
                4 | 5 => {
                    let starts = [
                        -3i64,
                        0,
                        7,
                        95,
                        996,
                        99_996,
                        99_999_996,
                        999_999_999_999_999_996,
                    ];
                    let mut next = g.choose(&starts).copied().unwrap_or(0);
                    let n = usize::arbitrary(g) % 12;
                    let mut items = Vec::new();
                    for _ in 0..n {
                        let item = match u8::arbitrary(g) % 16 {
                            0 => format!("0{next}"),
                            1 => format!("{next}.0"),
                            2 => format!(" {next}"),
                            3 => {
                                next += 5;
                                next.to_string()
                            }
                            _ => next.to_string(),
                        };
                        items.push(item);
                        next = next.saturating_add(1);
                    }
                    format!("[{}]", items.join(","))
                }
                _ => {
                    let n = usize::arbitrary(g) % 6;
                    let items: Vec<String> = (0..n)
                        .map(|_| format!("{}{}{}", space(g), integer(g), space(g)))
                        .collect();
                    format!("[{}]", items.join(","))
                }
            }
        }
        let body_keys = ["type", "value", "messages", "in_reply_to", "msg_id", "x"];
        let n = usize::arbitrary(g) % 5;
        let body: Vec<String> = (0..n)
            .map(|_| {
                let key = pick(g, &body_keys);
                format!("{}\"{key}\"{}:{}{}", space(g), space(g), space(g), value(g))
            })
            .collect();
        let body = format!("{{{}}}", body.join(","));
        let dest = pick(g, &["c4", "n2", "c", "c01", "seq-kv"]);
        let mut fields = vec![
            format!("\"src\":{}\"n1\"", space(g)),
            format!("\"dest\":\"{dest}\""),
            format!("\"body\":{}{body}", space(g)),
        ];
        match u8::arbitrary(g) % 6 {
            0 => fields.push(format!("\"id\":{}", integer(g))),
            1 => fields.push("\"id\":null".into()),
            2 => fields.push(pick(g, &[r#""extra":1"#, r#""src":"n3""#]).into()),
            3 => {
                fields.pop();
            }
            _ => {}
        }
        if bool::arbitrary(g) {
            fields.reverse();
        }
        let mut line = format!("{}{{{}}}{}", space(g), fields.join(","), space(g));
        if u8::arbitrary(g) % 10 == 0 {
            // Cut short, or trailing text.
            let at = usize::arbitrary(g) % (line.len() + 1);
            line = match line.get(..at) {
                Some(head) if bool::arbitrary(g) => head.to_owned(),
                _ => format!("{line}}}"),
            };
        }
        Line(line)
    }
}

#[test]
fn a_successor_counts_in_decimal() {
    for start in [-1, 0, 8, 98, 99, 1234, 99_999, 9_999_990, 99_999_990] {
        let mut s = Successor::after(start).expect("in range");
        for k in 1..=12 {
            assert_eq!(s.value, start + k);
            assert_eq!(s.text(), (start + k).to_string().as_bytes());
            if !s.advance() {
                assert_eq!(
                    s.value, MAX_WORD,
                    "stops only at the largest 8-digit integer"
                );
                break;
            }
        }
    }
    assert!(Successor::after(-2).is_none());
    assert!(Successor::after(MAX_WORD).is_none());
}

#[test]
fn agrees_with_serde_wherever_it_reads() {
    let mut g = Gen::new(20);
    let mut read_some = 0;
    for _ in 0..20_000 {
        let Line(line) = Line::arbitrary(&mut g);
        match same(&line) {
            Ok(read) => read_some += usize::from(read),
            Err(why) => panic!("the readers disagree on {why}"),
        }
    }
    // The generator leans to the flat shape: many lines must be read here.
    assert!(read_some > 2_000, "only {read_some} lines read");
}
