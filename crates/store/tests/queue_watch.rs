//! The queue watch changes once a new queue entry is durable.

use store::Store;

#[test]
fn enqueue_bumps_the_queue_watch() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut rx = store.subscribe_queue();
    assert!(!rx.has_changed().unwrap());
    let id = store
        .enqueue(
            "a@x.example",
            &["b@y.example".to_owned()],
            b"Subject: x\r\n\r\nx\r\n",
            1,
        )
        .unwrap();
    assert!(rx.has_changed().unwrap());
    rx.mark_unchanged();
    // Updates by the relay itself do not wake it.
    store.update_queue_entry(id, |e| e.held = true).unwrap();
    assert!(!rx.has_changed().unwrap());
}
