//! Progress on stderr for work that takes more than a second, only on a terminal.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A progress bar that stays invisible for the first second and never draws when stderr
/// is not a terminal (pipes, CI, `--json` consumers) or when the user said no.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    pub fn new(total_bytes: Option<u64>, enabled: bool) -> Progress {
        let bar = match total_bytes {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden())
                .with_style(
                    ProgressStyle::with_template(
                        "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{msg:>12} {spinner} {elapsed}")
                    .expect("valid template"),
            ),
        };
        if enabled && std::io::stderr().is_terminal() {
            // Reveal the bar only if the work is still going after a second, whichever phase
            // it is in.
            let delayed = bar.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_secs(1));
                if !delayed.is_finished() {
                    delayed.set_draw_target(ProgressDrawTarget::stderr());
                    delayed.enable_steady_tick(Duration::from_millis(200));
                }
            });
        }
        Progress { bar }
    }

    pub fn set_position(&mut self, bytes: u64) {
        self.bar.set_position(bytes);
    }

    /// Names the phase under way ("reading", "dominators", ...).
    pub fn phase(&mut self, name: &'static str) {
        self.bar.set_message(name);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Counts the bytes read through it, so progress is in file bytes even for gzip input.
pub struct CountingReader<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R) -> (Self, std::sync::Arc<std::sync::atomic::AtomicU64>) {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        (
            CountingReader {
                inner,
                count: count.clone(),
            },
            count,
        )
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}
