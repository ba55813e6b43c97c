//! The hardware targets as a user meets them: `evoquant list
//! mixed_precision` shows every target with its device, energy basis and
//! sources; part-name aliases validate; a misspelt part is exit 2.

use crate::harness::{TempDir, evoquant};
use evoquant::hw::{BUILTIN_NAMES, builtin};

#[test]
fn list_shows_every_target_with_its_sources() {
    let out = evoquant().args(["list", "mixed_precision"]).run();
    out.success();
    for name in BUILTIN_NAMES {
        let t = builtin(name).unwrap();
        out.stdout_has(&format!("  {name}"))
            .stdout_has(&t.device)
            .stdout_has(&t.sources);
    }
    out.stdout_has("rated power × modelled time")
        .stdout_has("per-op table")
        .stdout_has("(also `nvidia_t4`)");
}

#[test]
fn part_names_validate_and_misspelt_ones_exit_2() {
    let tmp = TempDir::new("targets-alias");
    let ok = tmp.write(
        "t4.toml",
        "[study]\nname = \"x\"\nkind = \"mixed_precision\"\n[params]\nmodel = \"inventory\"\n[sweep]\nhardware_target = [\"nvidia_t4\", \"nvidia_l4\", \"cortex_x4_i8mm\"]\n",
    );
    evoquant()
        .arg("validate")
        .arg(&ok)
        .run()
        .success()
        .no_panic();
    let bad = tmp.write(
        "bad.toml",
        "[study]\nname = \"x\"\nkind = \"mixed_precision\"\n[params]\nhardware_target = \"nvidia_l5\"\n",
    );
    evoquant()
        .arg("validate")
        .arg(&bad)
        .run()
        .code(2)
        .stderr_has("did you mean `nvidia_l4`")
        .no_panic();
}
