//! The examples under `examples/` still run and still tell the story their docs page shows.
//!
//! Each example is compiled into this test as a module, so its logic (and every assertion in
//! it) runs here, in-process and in milliseconds, without building or spawning the binary.

#[path = "../examples/conflict.rs"]
#[allow(dead_code)] // the example's `main` is not called here
mod conflict;

/// `cargo run --example conflict` prints every step of the walkthrough.
#[test]
fn conflict_example_tells_the_story() {
    let out = conflict::story().expect("no counter overflows");
    for line in [
        "   paris  writes \"Roadmap: Q3\"     {paris: 2}",
        "   sydney writes \"Roadmap (draft)\" {paris: 1, sydney: 1}",
        "   \"Roadmap: Q3\" vs \"Roadmap (draft)\": Concurrent",
        "   \"Roadmap (draft)\" {paris: 1, sydney: 1}\n   \"Roadmap: Q3\" {paris: 2}",
        "   both replicas read \"Roadmap (draft)\": (1007, sydney) > (1005, paris)",
        "   lost, and nobody is told: \"Roadmap: Q3\"",
        "   paris writes \"Roadmap: Q3 (draft)\" {paris: 3, sydney: 1}",
        "the link is cut",
        "paris reads [\"Roadmap: Q3\"], sydney reads [\"Roadmap (draft)\"]",
        "the link heals",
        "both read [\"Roadmap (draft)\", \"Roadmap: Q3\"]: Concurrent siblings",
        "both read [\"Roadmap: Q3 (draft)\"]",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

/// The output shown in `docs/conflict-detection.md` is the example's output, exactly.
#[test]
fn the_guide_shows_the_example_output() {
    let page = include_str!("../docs/conflict-detection.md");
    let marker = "<!-- output of `cargo run --example conflict` -->\n```text\n";
    let start = page
        .find(marker)
        .expect("the guide marks the example's output")
        + marker.len();
    let len = page[start..].find("```").expect("the output block ends");
    let shown = &page[start..start + len];
    let printed = conflict::story().expect("no counter overflows");
    assert!(
        shown == printed,
        "docs/conflict-detection.md shows an outdated output of the example; replace the \
         block after the marker with the output of `cargo run --example conflict`:\n{printed}"
    );
}
