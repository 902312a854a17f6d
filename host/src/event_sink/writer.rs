//! The writer thread: drains the event channel into daily NDJSON files or stdout.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::thread::JoinHandle;

use prometheus::{IntCounter, IntCounterVec};
use tokio::sync::mpsc;

use super::{Event, EventSender, EventTarget, Message};

/// The running writer; [`EventWriter::finish`] flushes it and waits for it.
pub struct EventWriter {
    tx: mpsc::Sender<Message>,
    thread: JoinHandle<()>,
}

impl EventWriter {
    /// Starts a writer for `target` with room for `capacity` queued events. `written`
    /// counts events written, `dropped` those lost (by reason).
    pub fn start(
        target: EventTarget,
        capacity: usize,
        written: IntCounter,
        dropped: IntCounterVec,
    ) -> io::Result<(EventSender, Self)> {
        if let EventTarget::Directory(dir) = &target {
            std::fs::create_dir_all(dir)?;
        }
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let sender = EventSender {
            tx: tx.clone(),
            dropped: dropped.clone(),
        };
        let mut output = Output {
            target,
            file: None,
            written,
            dropped,
        };
        let thread = std::thread::Builder::new()
            .name("wasml-events".into())
            .spawn(move || output.run(rx))?;
        Ok((sender, Self { tx, thread }))
    }

    /// Writes every event queued so far, then stops the writer. Events sent afterwards
    /// are counted as dropped (`closed`).
    pub async fn finish(self) {
        if self.tx.send(Message::Finish).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
        }
    }
}

struct Output {
    target: EventTarget,
    /// The open daily file and its day.
    file: Option<(String, BufWriter<File>)>,
    written: IntCounter,
    dropped: IntCounterVec,
}

impl Output {
    fn run(&mut self, mut rx: mpsc::Receiver<Message>) {
        let mut finishing = false;
        while let Some(first) = rx.blocking_recv() {
            // Write this burst (what else is queued), then flush once.
            let mut next = Some(first);
            while let Some(message) = next {
                match message {
                    Message::Event(event) => self.write(&event),
                    Message::Finish if !finishing => {
                        // Refuse new events; what was queued before still gets written.
                        finishing = true;
                        rx.close();
                    }
                    Message::Finish => {}
                }
                next = rx.try_recv().ok();
            }
            self.flush();
            if finishing && rx.is_empty() {
                return;
            }
        }
    }

    fn write(&mut self, event: &Event) {
        match self.write_event(event) {
            Ok(()) => self.written.inc(),
            Err(error) => {
                self.dropped.with_label_values(&["write_failed"]).inc();
                tracing::warn!(%error, "could not write an event");
            }
        }
    }

    fn write_event(&mut self, event: &Event) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
        line.push(b'\n');
        let dir = match &self.target {
            EventTarget::Stdout => return io::stdout().lock().write_all(&line),
            EventTarget::Directory(dir) => dir.clone(),
        };
        let day = event.day();
        if self.file.as_ref().is_none_or(|(open, _)| *open != day) {
            self.flush();
            let path: PathBuf = dir.join(format!("ml-pipeline-{day}.ndjson"));
            let file = OpenOptions::new().create(true).append(true).open(path)?;
            self.file = Some((day, BufWriter::new(file)));
        }
        let (_, file) = self.file.as_mut().expect("opened above");
        file.write_all(&line)
    }

    fn flush(&mut self) {
        let result = match &mut self.file {
            Some((_, file)) => file.flush(),
            None => io::stdout().flush(),
        };
        if let Err(error) = result {
            tracing::warn!(%error, "could not flush events");
        }
    }
}
