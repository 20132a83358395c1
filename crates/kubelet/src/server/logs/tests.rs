use super::*;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-01-01 12:00:00 UTC);

fn format(opts: LogOptions, lines: &[&str]) -> (String, Flow) {
    let mut f = Formatter::new(opts);
    let mut out = Vec::new();
    let mut flow = Flow::More;
    for l in lines {
        flow = f.push(l.as_bytes(), &mut out);
        if flow == Flow::Done {
            break;
        }
    }
    (String::from_utf8(out).unwrap(), flow)
}

const LOG: &[&str] = &[
    "2026-01-01T11:00:00.1Z stdout F one\n",
    "2026-01-01T11:30:00.123456789Z stderr P tw\n",
    "2026-01-01T11:30:00.2Z stderr F o\n",
    "2026-01-01T11:59:59Z stdout F three with  spaces\n",
];

#[test]
fn entries_parse() {
    let e = parse_entry(b"2016-10-06T00:17:09.669794202Z stdout P log content 1\n").unwrap();
    assert_eq!(e.stream, "stdout");
    assert!(e.partial);
    assert_eq!(e.content, b"log content 1");
    assert_eq!(e.time_text, "2016-10-06T00:17:09.669794202Z");
    assert_eq!(e.time.nanosecond(), 669_794_202);
    let empty = parse_entry(b"2016-10-06T00:17:10.113242941Z stderr F \n").unwrap();
    assert_eq!(empty.content, b"");
    assert!(parse_entry(b"garbage").is_err());
    assert!(parse_entry(b"2016-10-06T00:17:10Z stdin F x").is_err());
}

#[test]
fn partial_entries_join_into_one_line() {
    let (out, flow) = format(LogOptions::default(), LOG);
    assert_eq!(out, "one\ntwo\nthree with  spaces\n");
    assert_eq!(flow, Flow::More);
}

#[test]
fn timestamps_prefix_each_line_once() {
    let opts = LogOptions {
        timestamps: true,
        ..Default::default()
    };
    let (out, _) = format(opts, LOG);
    assert_eq!(
        out,
        "2026-01-01T11:00:00.1Z one\n2026-01-01T11:30:00.123456789Z two\n2026-01-01T11:59:59Z three with  spaces\n"
    );
}

#[test]
fn since_drops_older_entries() {
    let opts = LogOptions::from_query("sinceSeconds=1800", NOW).unwrap();
    assert_eq!(format(opts, LOG).0, "two\nthree with  spaces\n");
    let opts = LogOptions::from_query("sinceTime=2026-01-01T11%3A45%3A00Z", NOW).unwrap();
    assert_eq!(format(opts, LOG).0, "three with  spaces\n");
}

#[test]
fn limit_bytes_cuts_and_stops() {
    let opts = LogOptions::from_query("limitBytes=6", NOW).unwrap();
    assert_eq!(format(opts, LOG), ("one\ntw".to_string(), Flow::Done));
}

#[test]
fn query_parses_and_validates_as_upstream() {
    let opts =
        LogOptions::from_query("follow=true&previous=1&timestamps=true&tailLines=10", NOW).unwrap();
    assert!(opts.follow && opts.previous && opts.timestamps);
    assert_eq!(opts.tail_lines, Some(10));
    assert!(LogOptions::from_query("tailLines=-1", NOW).is_err());
    assert!(LogOptions::from_query("limitBytes=0", NOW).is_err());
    assert!(LogOptions::from_query("sinceSeconds=0", NOW).is_err());
    assert_eq!(
        LogOptions::from_query("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z", NOW),
        Err("at most one of `sinceTime` or `sinceSeconds` may be specified".into())
    );
    assert!(LogOptions::from_query("sinceTime=yesterday", NOW).is_err());
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%20b+c%3A%zz"), "a b c:%zz");
}

#[test]
fn only_final_entries_end_lines() {
    assert!(ends_line(LOG[0].as_bytes()));
    assert!(!ends_line(LOG[1].as_bytes()));
}
