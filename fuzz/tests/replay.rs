//! Replays every checked-in fuzz input without libFuzzer: each file of
//! `corpus/<target>/` and `regressions/<target>/` goes through the check of
//! its target, exactly as the fuzz target would run it.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rockhold_fuzz::{corpus_dir, inputs_of, regressions_dir, TARGETS};

#[test]
fn every_corpus_and_regression_input_passes_its_check() {
    let mut failures = Vec::new();
    let mut count = 0;
    for target in TARGETS {
        for dir in [corpus_dir(target.name), regressions_dir(target.name)] {
            let files =
                inputs_of(&dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
            for file in files {
                let data = std::fs::read(&file)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
                count += 1;
                // The panic message itself is printed by the panic hook.
                if catch_unwind(AssertUnwindSafe(|| (target.check)(&data))).is_err() {
                    failures.push(format!("{}: {}", target.name, file.display()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} input(s) fail their check:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{count} fuzz input(s) replayed");
}

#[test]
fn every_target_has_a_seed_corpus_and_a_regressions_folder() {
    for target in TARGETS {
        let seeds = inputs_of(&corpus_dir(target.name)).unwrap_or_default();
        assert!(!seeds.is_empty(), "corpus/{}/ has no seed", target.name);
        assert!(
            regressions_dir(target.name).is_dir(),
            "regressions/{}/ is missing",
            target.name
        );
    }
}

/// The names of the entries of `dir` that satisfy `keep`, mapped by `name`.
fn names_in(dir: &Path, name: impl Fn(&Path) -> Option<String>) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter_map(|path| name(&path))
        .collect()
}

#[test]
fn targets_corpora_and_fuzz_target_files_match() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let known: BTreeSet<String> = TARGETS.iter().map(|t| t.name.to_string()).collect();
    let sources = names_in(&root.join("fuzz_targets"), |p| {
        (p.extension()? == "rs").then(|| p.file_stem()?.to_str().map(String::from))?
    });
    assert_eq!(
        sources, known,
        "fuzz_targets/*.rs vs rockhold_fuzz::TARGETS"
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    for name in &known {
        assert!(
            manifest.contains(&format!(
                "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
            )),
            "Cargo.toml has no [[bin]] for {name}"
        );
    }
    for folder in ["corpus", "regressions"] {
        let dirs = names_in(&root.join(folder), |p| {
            p.is_dir()
                .then(|| p.file_name()?.to_str().map(String::from))?
        });
        assert_eq!(
            dirs, known,
            "folders of {folder}/ vs rockhold_fuzz::TARGETS"
        );
    }
}

/// Whether a seed of `target` is a valid encoding, as every seed is meant to
/// be: a format change that invalidates the seeds shows up here.
fn seed_is_valid(target: &str, data: &[u8]) -> bool {
    use rockhold_format::{
        decode_holders, decode_tuple, frame_raw, AnyKey, ClassDef, IndexShape, MetaValue,
        NameEntry, ObjectRecord, OrderedKey, Record, RecordKind, TaskRecord, ValueRef,
        FRAME_VERSION,
    };
    fn framed(data: &[u8]) -> bool {
        let Some(&kind) = data.get(1) else {
            return false;
        };
        match RecordKind::try_from(kind) {
            Ok(RecordKind::Meta) => MetaValue::decode(data).is_ok(),
            Ok(RecordKind::Name) => NameEntry::decode(data).is_ok(),
            Ok(RecordKind::Class) => ClassDef::decode(data).is_ok(),
            Ok(RecordKind::Object) => ObjectRecord::decode(data).is_ok(),
            Ok(RecordKind::Task) => TaskRecord::decode(data).is_ok(),
            Err(_) => false,
        }
    }
    match target {
        "key_decode" => AnyKey::decode(data).is_ok(),
        "value_order" => {
            let Some((&split, rest)) = data.split_first() else {
                return false;
            };
            let Some((a, b)) = rest.split_at_checked(usize::from(split)) else {
                return false;
            };
            // Each half is one value or a tuple of values.
            let tuple = |bytes: &[u8]| decode_tuple(bytes).is_ok_and(|t| !t.is_empty());
            tuple(a) && tuple(b)
        }
        "record_frame" => framed(data),
        "record_body" => data
            .split_first()
            .is_some_and(|(&kind, body)| framed(&frame_raw(FRAME_VERSION, kind, body))),
        "task_record" => framed(&frame_raw(FRAME_VERSION, RecordKind::Task as u8, data)),
        "class_def" => framed(&frame_raw(FRAME_VERSION, RecordKind::Class as u8, data)),
        "record_view" => framed(&frame_raw(FRAME_VERSION, RecordKind::Object as u8, data)),
        "stored_value" => ValueRef::decode(data).is_ok(),
        // An IR key of its shape, an IH key, or holders.
        "index_key" => data.split_first().is_some_and(|(&shape, rest)| {
            let shape = IndexShape {
                parts: usize::from(shape & 3) + 1,
                unique: shape & 4 != 0,
            };
            let key = |prefix: &[u8]| [prefix, rest].concat();
            OrderedKey::decode_as(&key(b"IR"), shape).is_ok()
                || AnyKey::decode(&key(b"IH")).is_ok()
                || decode_holders(rest).is_ok()
        }),
        // A program in canonical form, as gen_corpus encodes it: a change
        // of the decoder that gives these bytes another meaning fails here.
        "engine_model" => {
            let program = rockhold_fuzz::engine_model::Program::decode(data);
            !program.ops.is_empty() && program.encode() == data
        }
        other => panic!("no seed validity rule for target {other}"),
    }
}

#[test]
fn every_seed_is_a_valid_encoding() {
    for target in TARGETS {
        for file in inputs_of(&corpus_dir(target.name)).expect("corpus folder") {
            let data = std::fs::read(&file).expect("seed file");
            assert!(
                seed_is_valid(target.name, &data),
                "{} is not a valid encoding any more: regenerate it",
                file.display()
            );
        }
    }
}
