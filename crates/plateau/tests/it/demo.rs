use crate::{plateau, stdout};

#[test]
fn demo_runs_end_to_end_and_names_the_leaking_map() {
    let out = plateau(&["demo"]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Top retainers"), "{text}");
    assert!(text.contains("sessions > cache (Map)"), "{text}");
    // sessions.cache, followed by object id: 300 entries after warm-up, +400 per round.
    assert!(
        text.contains("300 (") && text.contains("-> 1,500 ("),
        "growth across snapshots: {text}"
    );
}
