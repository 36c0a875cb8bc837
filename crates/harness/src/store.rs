//! The store: `store/<workload>/<timestamp>/` with `results.json`, `test.json`,
//! `history.jsonl`, `history.txt`, `node-logs/`, the SVG plots and `report.html`, plus the
//! `store/latest`, `store/current` and `store/<workload>/latest` symlinks (`docs/maelstrom.md`, "The store").

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::engine::RunRecord;
use crate::plots::Plots;
use crate::report;

/// Errors writing the store, with the path involved.
#[derive(Debug)]
pub struct StoreError {
    /// The file or directory.
    pub path: PathBuf,
    /// What failed.
    pub source: io::Error,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot write {}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for StoreError {}

fn ctx<T>(path: &Path, r: io::Result<T>) -> Result<T, StoreError> {
    r.map_err(|source| StoreError {
        path: path.to_owned(),
        source,
    })
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// ISO 8601 basic format in UTC with milliseconds, e.g. `20240101T120000.000Z`.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (y, mo, da) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}{mo:02}{da:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Create a fresh run directory `root/<workload>/<timestamp>` (with a suffix if taken).
pub fn create_run_dir(root: &Path, workload: &str, at: SystemTime) -> Result<PathBuf, StoreError> {
    let base = root.join(workload);
    ctx(&base, fs::create_dir_all(&base))?;
    let stamp = timestamp(at);
    for k in 0..1000 {
        let name = if k == 0 {
            stamp.clone()
        } else {
            format!("{stamp}-{k}")
        };
        let dir = base.join(name);
        match fs::create_dir(&dir) {
            Ok(()) => {
                ctx(&dir, fs::create_dir_all(dir.join("node-logs")))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(StoreError {
                    path: dir,
                    source: e,
                });
            }
        }
    }
    Err(StoreError {
        path: base,
        source: io::Error::other("too many runs with the same timestamp"),
    })
}

fn write(path: &Path, contents: &str) -> Result<(), StoreError> {
    ctx(path, fs::write(path, contents))
}

fn relink(link: &Path, target: &Path) -> Result<(), StoreError> {
    let _ = fs::remove_file(link);
    ctx(link, std::os::unix::fs::symlink(target, link))
}

/// Write everything about a finished run into `dir`.
pub fn write_run(
    dir: &Path,
    record: &RunRecord,
    results: &Value,
    test: &Value,
) -> Result<(), StoreError> {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_else(|_| "{}".into()) + "\n";
    write(&dir.join("results.json"), &pretty(results))?;
    write(&dir.join("test.json"), &pretty(test))?;
    let hpath = dir.join("history.jsonl");
    let file = ctx(&hpath, fs::File::create(&hpath))?;
    let mut w = BufWriter::new(file);
    for op in record.history.ops() {
        let line = serde_json::to_string(op).unwrap_or_default();
        ctx(&hpath, writeln!(w, "{line}"))?;
    }
    ctx(&hpath, w.flush())?;
    let tpath = dir.join("history.txt");
    let mut txt = String::new();
    for op in record.history.ops() {
        let process = match op.process {
            crate::history::Process::Worker(p) => p.to_string(),
            crate::history::Process::Nemesis(_) => ":nemesis".into(),
        };
        let error = op
            .error
            .as_ref()
            .map(|e| format!("\t{e}"))
            .unwrap_or_default();
        txt.push_str(&format!(
            "{process}\t{}\t:{}\t{}{error}\n",
            op.kind.keyword(),
            op.f,
            op.value
        ));
    }
    write(&tpath, &txt)?;
    let plots = Plots::new(record);
    write(&dir.join("latency-raw.svg"), &plots.latency_raw)?;
    write(&dir.join("latency-quantiles.svg"), &plots.latency_quantiles)?;
    write(&dir.join("rate.svg"), &plots.rate)?;
    write(&dir.join("messages.svg"), &plots.messages)?;
    write(
        &dir.join("report.html"),
        &report::render(record, results, test, &plots),
    )?;
    Ok(())
}

/// Point `store/latest`, `store/current` and `store/<workload>/latest` at `dir`.
pub fn link_latest(root: &Path, workload: &str, dir: &Path) -> Result<(), StoreError> {
    let name = dir.file_name().map(PathBuf::from).unwrap_or_default();
    let rel = Path::new(workload).join(&name);
    relink(&root.join("latest"), &rel)?;
    relink(&root.join("current"), &rel)?;
    relink(&root.join(workload).join("latest"), &name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_iso_basic_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_704_110_400_123);
        assert_eq!(timestamp(t), "20240101T120000.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "20000229T000000.000Z");
    }
}
