use crate::{plateau, stdout};

#[test]
fn demo_runs_end_to_end_and_names_the_leaking_map() {
    let out = plateau(&["demo"]);
    assert!(out.status.success(), "{}", crate::stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Top retainers"), "{text}");
    assert!(text.contains("sessions > cache (Map)"), "{text}");
    // The diff comes first: sessions.cache, 300 entries after warm-up, +400 per round.
    assert!(text.contains("LEAK  2 suspects"), "{text}");
    assert!(
        text.contains("entries: 300 -> 700 -> 1,100 -> 1,500"),
        "growth across snapshots: {text}"
    );
    assert!(text.find("LEAK  2").unwrap() < text.find("Top retainers").unwrap());
    // Then Java: the static token map, matched by path across dumps, and its decoys stable.
    let java = &text[text.find("Step 3").expect("a Java step")..];
    assert!(
        java.contains("(GC roots) > class TokenStore > static TOKENS (java.util.HashMap)"),
        "{java}"
    );
    assert!(java.contains("LEAK  1 suspect"), "{java}");
    assert!(
        java.contains("static SESSIONS (TokenStore$1)  46.1 KiB: constant: 256 entries"),
        "{java}"
    );
    // Then the whole loop on live services: the leak named, the fix plateaus, compare says so.
    let live = &text[text.find("Step 4").expect("a live step")..];
    assert!(
        live.contains("LEAK  unbounded-cache in the snapshots"),
        "{live}"
    );
    assert!(live.contains("sessions > cache (Map)"), "{live}");
    assert!(
        live.contains("NO-LEAK  memory came back to its baseline"),
        "{live}"
    );
    assert!(live.contains("FIXED  the fix holds"), "{live}");
    // Detection comes first: the recorded leak is a leak, the bounded cache a plateau.
    assert!(
        text.contains("node-leaky.series\nLEAK  post-GC live heap grows"),
        "{text}"
    );
    assert!(
        text.contains("node-fixed.series\nPLATEAU  post-GC live heap holds"),
        "{text}"
    );
}
