//! `record` as a user meets it: tiling never changes a number, invalid
//! values get a clear error, the same command gives the same bytes, and an
//! interrupted run leaves no trace under the output name.

use std::time::Duration;

use assert_cmd::Command;
use memtrace_trainer::run::{RunConfig, Trainer};
use memtrace_trainer::task::{RngKind, Shape};
use memtrace_trainer::train::Variant;

fn config(variant: Variant, batch: usize, tiles: Option<usize>) -> RunConfig {
    RunConfig {
        shape: Shape { n_bits: 20, k: 3, hidden: 100, n_train: 200, n_test: 50 },
        lr: 0.1,
        wd: 0.01,
        seed: 7,
        rng: RngKind::Python,
        variant,
        batch,
        tiles,
        shuffle: batch > 1,
    }
}

#[test]
fn tiling_never_changes_a_number() {
    for variant in [Variant::Standard, Variant::Fused, Variant::Perlayer] {
        for batch in [1, 8] {
            let mut plain = Trainer::new(config(variant, batch, None));
            plain.train(5, 1.1, |_| {});
            for tiles in [1, 7, 25, 100, 1000] {
                let mut tiled = Trainer::new(config(variant, batch, Some(tiles)));
                tiled.train(5, 1.1, |_| {});
                assert_eq!(tiled.params(), plain.params(), "{} batch {batch} tiles {tiles}", variant.name());
                assert_eq!(tiled.history, plain.history);
            }
        }
    }
}

#[test]
fn every_variant_and_combination_trains() {
    for variant in ["standard", "fused", "perlayer"] {
        for extra in ["", "--batch 4", "--tiles 30", "--batch 4 --tiles 30", "--batch 3 --shuffle --rng numpy"] {
            let args = format!("--variant {variant} --hidden 60 --n-train 40 --n-test 20 --epochs 2 --json {extra}");
            let out = Command::cargo_bin("record").unwrap().args(args.split_whitespace()).output().unwrap();
            assert!(out.status.success(), "{args}: {}", String::from_utf8_lossy(&out.stderr));
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["epochs"], 2, "{args}");
            for key in ["solved_epoch", "train_accs", "test_accs", "train_losses", "test_losses", "wall_s"] {
                assert!(v.get(key).is_some(), "{args}: no {key}");
            }
        }
    }
}

#[test]
fn invalid_values_get_one_clear_line() {
    for (args, says) in [
        ("--k 21", "--k must be from 1 to --n-bits"),
        ("--k 0", "--k must be from 1"),
        ("--hidden 0", "--hidden must be at least 1"),
        ("--batch 0", "--batch must be at least 1"),
        ("--tiles 0", "--tiles must be at least 1"),
        ("--steps 0", "--steps must be at least 1"),
        ("--until-acc 1.5", "--until-acc must be an accuracy"),
        ("--start 500", "--start 500 is past the training set"),
        ("--lr nan", "--lr and --wd must be finite"),
    ] {
        let out = Command::cargo_bin("record").unwrap().args(args.split_whitespace()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args}: {err}");
        assert!(err.starts_with("record: ") && err.contains(says), "{args}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args}: {err}");
    }
    // Sizes no machine holds are refused up front with the flags to lower,
    // not aborted in the allocator: 10^12 samples of 20 bits, 10^10 weights.
    #[cfg(target_os = "linux")]
    for args in ["--n-train 50000000000 --epochs 1", "--hidden 100000 --n-bits 100000 --epochs 1"] {
        let out = Command::cargo_bin("record").unwrap().args(args.split_whitespace()).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args}: {err}");
        assert!(
            err.starts_with("record: this run needs about ") && err.contains("GiB of memory; lower --n-train"),
            "{args}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{args}: {err}");
    }
    // Batches larger than the training set hold one training set's temporaries,
    // and say so: every batch is the whole set (as in the reference's slicing).
    let out =
        Command::cargo_bin("record").unwrap().args(["--batch", "100000000000", "--epochs", "1"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--batch 100000000000 is larger than the training set (--n-train"), "{err}");
    // Tiles larger than hidden are fine: one tile.
    Command::cargo_bin("record").unwrap().args(["--hidden", "50", "--tiles", "80", "--epochs", "1"]).assert().success();
    // Mutually exclusive flags are usage errors.
    let out = Command::cargo_bin("record").unwrap().args(["--start", "1", "--first-active"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_same_configuration_gives_the_same_bytes() {
    // Whatever the output name, the directory, the order and spelling of the
    // flags, and the path the binary is called by (issue 16, item 14).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin("record");
    let first = dir.path().join("a.zst");
    Command::new(&bin)
        .current_dir(dir.path())
        .args(["--hidden", "200", "--batch", "4", "--steps", "3", "--tiles", "50", "-o", "a.zst"])
        .assert()
        .success();
    let roundabout = bin.parent().unwrap().join("..").join(bin.parent().unwrap().file_name().unwrap()).join("record");
    Command::new(roundabout)
        .current_dir(dir.path().join("elsewhere"))
        .args(["--tiles=50", "--steps", "3", "--batch=4", "--hidden", "200", "--output"])
        .arg(dir.path().join("b.zst"))
        .assert()
        .success();
    let (a, b) = (std::fs::read(first).unwrap(), std::fs::read(dir.path().join("b.zst")).unwrap());
    assert!(a.len() > 100);
    assert_eq!(a, b);
    let reader = memtrace::TraceReader::open(dir.path().join("a.zst")).unwrap();
    assert_eq!(reader.header().metadata("command"), Some("record --batch 4 --tiles 50 --hidden 200 --steps 3"));
}

#[cfg(unix)]
#[test]
fn ctrl_c_leaves_no_trace_under_the_output_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.zst");
    let bin = assert_cmd::cargo::cargo_bin("record");
    let mut child = std::process::Command::new(bin)
        .args(["--hidden", "1000", "--lr", "0", "--epochs", "10000", "-o"])
        .arg(&path)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let killed = std::process::Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "the run finished before it was interrupted; make it longer");
    assert!(!path.exists(), "a partial trace was left under the output name");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

/// Ctrl-C, SIGTERM and SIGHUP stop `record` within about a second, in an
/// untraced warmup and in a traced run, even when one epoch takes many
/// seconds (the stop was checked once per epoch: 21 s on a large one), and
/// leave nothing behind, not even the hidden `.partial` file.
#[cfg(unix)]
#[test]
fn signals_stop_record_within_a_step_and_leave_nothing() {
    // One epoch of 300,000 samples at hidden 10,000 takes several seconds.
    let big = ["--hidden", "10000", "--n-train", "300000", "--lr", "0"];
    for signal in ["INT", "TERM", "HUP"] {
        for phase in [&["--warmup-epochs", "50", "--steps", "1"][..], &["--epochs", "50"]] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.zst");
            let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("record"))
                .args(big)
                .args(phase)
                .arg("-o")
                .arg(&path)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // Past data generation and into the first epoch.
            std::thread::sleep(Duration::from_millis(700));
            assert!(child.try_wait().unwrap().is_none(), "{signal} {phase:?}: ended before the signal");
            let sent = std::process::Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()
                .unwrap();
            assert!(sent.success());
            let signalled = std::time::Instant::now();
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                assert!(
                    signalled.elapsed() < Duration::from_secs(3),
                    "{signal} {phase:?}: still running 3 s after the signal"
                );
                std::thread::sleep(Duration::from_millis(20));
            };
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            assert_eq!(status.code(), Some(130), "{signal} {phase:?}: {err}");
            assert!(err.contains("interrupted; no trace was written"), "{signal} {phase:?}: {err}");
            let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert!(left.is_empty(), "{signal} {phase:?}: files left behind: {left:?}");
        }
    }
}

#[test]
fn record_writes_a_raw_trace_to_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.trace");
    let args = ["--hidden", "50", "--steps", "3", "--tiles", "16"];
    let out = Command::cargo_bin("record").unwrap().args(args).args(["-o", "-"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("standard output: "));
    Command::cargo_bin("record").unwrap().args(args).arg("-o").arg(&file).assert().success();
    let events = |r: memtrace::TraceReader| {
        let mut all = Vec::new();
        let header = r.header().clone();
        r.for_each_batch(|b| all.extend_from_slice(b)).unwrap();
        (header, all)
    };
    let (piped_header, piped) = events(memtrace::TraceReader::from_bytes(out.stdout).unwrap());
    let (file_header, written) = events(memtrace::TraceReader::open(&file).unwrap());
    assert!(!written.is_empty());
    assert_eq!(piped, written);
    assert_eq!(piped_header.buffers, file_header.buffers);
    // The trace and a JSON report cannot share standard output.
    let out = Command::cargo_bin("record").unwrap().args(["-o", "-", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--json with -o -"));
}

/// A traced window whose samples all have margin >= 1 holds no backward
/// pass, and `record` says so; `--first-active` starts where one trains.
#[test]
fn a_window_without_an_update_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = assert_cmd::Command::cargo_bin("record")
            .unwrap()
            .args(["--hidden", "1000", "-o"])
            .arg(dir.path().join("t.zst"))
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        std::fs::remove_file(dir.path().join("t.zst")).unwrap();
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let forward = run(&[]);
    assert!(
        forward.contains("18 events")
            && forward.contains("no sample in the window has margin < 1: forward passes only"),
        "{forward}"
    );
    let active = run(&["--first-active"]);
    assert!(active.contains("window starts at sample 1") && !active.contains("forward passes only"), "{active}");
}

#[test]
fn a_batch_larger_than_the_training_set_traces_each_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let (big, whole) = (dir.path().join("big.trace"), dir.path().join("whole.trace"));
    let args = ["--n-train", "10", "--n-test", "10", "--hidden", "20", "--n-bits", "8", "--k", "2"];
    Command::cargo_bin("record").unwrap().args(args).args(["--batch", "64", "-o"]).arg(&big).assert().success();
    Command::cargo_bin("record").unwrap().args(args).args(["--batch", "10", "-o"]).arg(&whole).assert().success();
    let events = |p: &std::path::Path| {
        let mut all = Vec::new();
        memtrace::TraceReader::open(p).unwrap().for_each_batch(|b| all.extend_from_slice(b)).unwrap();
        all
    };
    assert_eq!(events(&big), events(&whole));
}

#[test]
fn diverging_losses_print_in_scientific_notation() {
    let out = Command::cargo_bin("record")
        .unwrap()
        .args(["--lr", "-1", "--epochs", "3", "--hidden", "50", "--n-train", "100", "--n-test", "50"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in text.lines() {
        assert!(line.len() <= 80, "a table line as wide as its number: {line}");
    }
    assert!(text.lines().nth(3).is_some_and(|l| l.contains('e')), "{text}");
}

#[test]
fn names_of_other_compressions_warn_and_zst_is_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("t.gz");
    let out = Command::cargo_bin("record").unwrap().args(["--hidden", "20", "-o"]).arg(&gz).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("t.gz: only names ending in .zst are compressed"), "{err}");
    assert_eq!(&std::fs::read(&gz).unwrap()[..8], b"MEMTRACE");
    let upper = dir.path().join("t.ZST");
    let out = Command::cargo_bin("record").unwrap().args(["--hidden", "20", "-o"]).arg(&upper).output().unwrap();
    assert!(out.status.success() && !String::from_utf8_lossy(&out.stderr).contains("warning"));
    assert_eq!(&std::fs::read(&upper).unwrap()[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
}

#[test]
fn an_existing_output_needs_force_and_a_device_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.trace");
    std::fs::write(&out, b"precious").unwrap();
    let run = Command::cargo_bin("record").unwrap().args(["--hidden", "20", "-o"]).arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("t.trace: already exists; pass --force to replace it"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    Command::cargo_bin("record").unwrap().args(["--hidden", "20", "--force", "-o"]).arg(&out).assert().success();
    assert_eq!(&std::fs::read(&out).unwrap()[..8], b"MEMTRACE");
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        Command::cargo_bin("record").unwrap().args(["--hidden", "20", "-o", "/dev/null"]).assert().success();
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    }
}
