//! Gate both writers with torn. Small budgets, so this takes seconds.

use torn::api::Gate;

fn quick(gate: Gate) -> Gate {
    gate.format("yaml")
        .template("hermes")
        .target(".hermes/config.yaml")
        .flag("min-windows", 30)
        .budget("20s")
        .flag("control", "500ms")
}

#[test]
fn safe_writer_passes() {
    quick(torn::gate!(rotator::safe_update)).run().check();
}

#[test]
#[should_panic(expected = "truncates the target in place")]
fn unsafe_writer_fails_with_the_verdict() {
    quick(torn::gate!(rotator::unsafe_update)).run().check();
}

#[test]
fn unsafe_writer_verdict() {
    let v = quick(torn::gate!(rotator::unsafe_update)).run();
    assert_eq!(v.status, "anomalies-found", "{}", v.message());
    assert_eq!(v.exit_code, Some(1));
    assert!(v.lines[0].starts_with("fail: "), "{}", v.message());
    assert!(v.report_dir.as_ref().is_some_and(|d| d.join("report.json").is_file()));
}
