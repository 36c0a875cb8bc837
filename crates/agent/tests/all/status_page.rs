//! The status page renders in a real browser and lists the members and the names.
//!
//! Needs Chromium (`chromium`, `chromium-browser` or `google-chrome` on the PATH; `.ci/run`
//! installs Debian's `chromium` when missing). Without one the test prints why and passes.

use crate::common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{call, eventually, key, start};
use serde_json::json;

fn find_browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The DOM Chromium holds once the page's scripts ran (`--dump-dom`).
fn dump_dom(browser: &PathBuf, url: &str) -> String {
    let profile =
        std::env::temp_dir().join(format!("gossip-agent-chromium-{}", std::process::id()));
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    // A browser that hangs must not hang the test run: give it a minute.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            _ => {
                let _ = child.kill();
                panic!("chromium did not finish within a minute");
            }
        }
    }
    let output = child.wait_with_output().expect("chromium output");
    let _ = std::fs::remove_dir_all(&profile);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_renders_members_names_and_changes_in_chromium() {
    let Some(browser) = find_browser() else {
        println!("skipped: no chromium on the PATH (install Debian's `chromium` to run this test)");
        return;
    };
    let security = key();
    let first = start(security.clone(), vec![]).await;
    let second = start(security, vec![first.node().local_addr()]).await;
    let a = first.http_addr();
    let b_id = second.node().id().to_string();
    eventually(
        a,
        "/v1/members",
        "the second agent is a member",
        |_, body| {
            body["members"].as_array().is_some_and(|m| {
                m.iter()
                    .any(|m| m["id"] == json!(b_id) && m["state"] == "alive")
            })
        },
    )
    .await;
    call(
        a,
        "POST",
        "/v1/sets/page-%3Ctest%3E",
        Some(json!({"add": ["<b>not bold</b>"]})),
    )
    .await;
    call(
        a,
        "POST",
        "/v1/counters/hits",
        Some(json!({"increment": 3})),
    )
    .await;

    let url = format!("http://{a}/");
    let dom = tokio::task::spawn_blocking(move || dump_dom(&browser, &url))
        .await
        .expect("browser thread");
    assert!(dom.contains("<table"), "no members table in:\n{dom}");
    for id in [first.node().id().to_string(), b_id] {
        assert!(dom.contains(&id), "member {id} not listed in:\n{dom}");
    }
    // Names and values are escaped, not interpreted.
    assert!(
        dom.contains("page-&lt;test&gt;"),
        "set name not listed in:\n{dom}"
    );
    assert!(
        !dom.contains("<b>not bold</b>"),
        "a value was rendered as HTML:\n{dom}"
    );
    assert!(dom.contains("hits"), "counter name not listed in:\n{dom}");
    assert!(dom.contains("id=\"changes\""), "no change list in:\n{dom}");
    second.shutdown().await.expect("shutdown");
    first.shutdown().await.expect("shutdown");
}
