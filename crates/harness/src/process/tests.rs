//! The process host's stdout reader on its own: line limits and the queue bound.
use super::*;
use std::sync::atomic::AtomicUsize;

/// An endless stdout: `pattern` over and over, counting the bytes handed out.
struct Endless {
    pattern: &'static [u8],
    at: usize,
    produced: Arc<AtomicUsize>,
}

impl Read for Endless {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        for b in out.iter_mut() {
            *b = self.pattern[self.at % self.pattern.len()];
            self.at += 1;
        }
        self.produced.fetch_add(out.len(), Ordering::SeqCst);
        Ok(out.len())
    }
}

fn endless(pattern: &'static [u8]) -> (Endless, Arc<AtomicUsize>) {
    let produced = Arc::new(AtomicUsize::new(0));
    let r = Endless {
        pattern,
        at: 0,
        produced: produced.clone(),
    };
    (r, produced)
}

#[test]
fn a_line_that_never_ends_stops_the_reader_at_the_limit() {
    let (r, produced) = endless(b"x");
    let (tx, rx) = mpsc::channel();
    read_loop(3, 7, r, &tx, &Arc::new(Queue::default()));
    assert!(matches!(rx.try_recv(), Ok(Msg::TooLong(3, 7, _))));
    assert!(rx.try_recv().is_err());
    let read = produced.load(Ordering::SeqCst);
    assert!(
        read <= MAX_LINE_BYTES + 1 + READ_BUFFER,
        "read {read} bytes"
    );
}

#[test]
fn a_line_of_the_longest_length_gets_through_whole() {
    let mut out = vec![b'y'; MAX_LINE_BYTES];
    out.extend_from_slice(b"\nshort\n");
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        read_loop(0, 0, out.as_slice(), &tx, &Arc::new(Queue::default()));
    });
    let mut lines = Vec::new();
    while let Ok(Msg::Lines {
        lines: l,
        bytes,
        queue,
        ..
    }) = rx.recv()
    {
        lines.extend(l);
        queue.release(bytes);
    }
    assert!(reader.join().is_ok());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].len(), MAX_LINE_BYTES);
    assert_eq!(lines[1], "short");
}

/// However slowly the main loop takes lines, the reader is never further ahead than the
/// queue's bound, a batch being assembled and its read buffer.
#[test]
fn a_flood_of_lines_is_held_back_by_the_queue_bound() {
    let (r, produced) = endless(b"noise\n");
    let (tx, rx) = mpsc::channel();
    let queue = Arc::new(Queue::default());
    let q = queue.clone();
    let reader = thread::spawn(move || read_loop(0, 0, r, &tx, &q));
    let ahead_at_most = MAX_QUEUED_BYTES + BATCH_BYTES + READ_BUFFER;
    let (mut taken, mut batches) = (0, 0);
    while taken < 16 * MAX_QUEUED_BYTES {
        let Ok(Msg::Lines {
            lines,
            bytes,
            queue,
            ..
        }) = rx.recv()
        else {
            panic!("the reader stopped");
        };
        let ahead = produced.load(Ordering::SeqCst) - taken;
        assert!(ahead <= ahead_at_most, "{ahead} bytes read ahead");
        taken += lines.iter().map(|l| l.len() + 1).sum::<usize>();
        queue.release(bytes);
        batches += 1;
    }
    assert!(batches > 16);
    // Closing the queue frees a reader waiting for room.
    queue.close();
    drop(rx);
    assert!(reader.join().is_ok());
}
