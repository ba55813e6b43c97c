//! Every user mistake in a manifest: exit 2, a message naming file,
//! line:column and key, nothing written, no panic.

use crate::harness::{evoquant, run_rejected};

/// (case, manifest text, substrings the error must contain)
const STUDY_INDEPENDENT: &[(&str, &str, &[&str])] = &[
    (
        "toml syntax",
        "[study]\nname = \n",
        &["bad.toml:2:8", "invalid TOML"],
    ),
    (
        "unknown table",
        "[study]\nname = \"x\"\nkind = \"bit_allocation\"\n[sead]\nbase = 1\n",
        &["bad.toml:4:2", "unknown key `sead`", "did you mean `seeds`"],
    ),
    ("missing study", "[seeds]\nbase = 1\n", &["missing [study]"]),
    (
        "unknown kind",
        "[study]\nname = \"x\"\nkind = \"chaos_int5\"\n",
        &[
            "bad.toml:3:8",
            "study.kind",
            "unknown study kind `chaos_int5`",
            "known kinds:",
        ],
    ),
    (
        "zero replicates",
        "[study]\nname = \"x\"\nkind = \"bit_allocation\"\n[seeds]\nreplicates = 0\n",
        &["bad.toml:5:14", "seeds.replicates", "at least 1"],
    ),
    (
        "misspelled seeds key",
        "[study]\nname = \"x\"\nkind = \"bit_allocation\"\n[seeds]\nreplicate = 2\n",
        &["bad.toml:5:1", "did you mean `replicates`"],
    ),
    (
        "misspelled choice",
        "[study]\nname = \"x\"\nkind = \"mixed_precision\"\n[params]\nhardware_target = \"arm_neonn\"\n",
        &[
            "bad.toml:5:19",
            "params.hardware_target",
            "did you mean `arm_neon`",
        ],
    ),
    (
        "bad folder name",
        "[study]\nname = \"../up\"\nkind = \"bit_allocation\"\n",
        &["bad.toml:2:8", "study.name", "folder name"],
    ),
];

#[test]
fn study_independent_mistakes_exit_2_with_location() {
    for (case, text, needles) in STUDY_INDEPENDENT {
        let result = run_rejected(case, text);
        for n in *needles {
            assert!(
                result.stderr.contains(n),
                "case {case}: stderr lacks {n:?}:\n{}",
                result.stderr
            );
        }
    }
}

#[test]
fn missing_manifest_and_bad_flags_exit_2() {
    evoquant()
        .args(["run", "no/such/manifest.toml"])
        .run()
        .code(2)
        .stderr_has("no/such/manifest.toml")
        .no_panic();
    evoquant()
        .args(["run", "--jobs", "0", "experiments"])
        .run()
        .code(2)
        .stderr_has("--jobs");
    evoquant().args(["frobnicate"]).run().code(2);
}
