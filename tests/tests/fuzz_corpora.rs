//! Every file of every fuzz corpus through the same checks the fuzz targets run, on
//! stable, in `cargo test`.

use std::path::PathBuf;

use codeassist_testkit::fuzzing::{TARGETS, check};

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

#[test]
fn every_corpus_file_passes_its_check() {
    let mut total = 0;
    for target in TARGETS {
        let dir = corpus_dir(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut files = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(target, &data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its check",
                path.display()
            );
            files += 1;
        }
        assert!(files > 0, "the {target} corpus is empty");
        total += files;
    }
    assert!(total >= 50, "only {total} corpus files");
}
