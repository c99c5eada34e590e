//! `moxctl import`, `export` and `queue dump`: moxctl reads and writes the files (it runs as the
//! user who has them), the daemon reads and stores the messages; both stream over the control
//! socket.

use std::fs;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use tokio::net::UnixStream;

use super::progress::Progress;
use super::{CtlError, expect_ready};
use crate::protocols::ctl::stream::{Piece, StreamError, StreamReceiver, StreamSender, json};
use crate::protocols::ctl::transfer::{
    ExportPiece, ImportMessage, MAX_MESSAGE, RetrainProgress, flag_names, flags_from_names,
};
use crate::protocols::ctl::{Request, Response, read_frame};
use crate::store::{Flags, export_paths, maildir, mbox};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Mbox,
    Maildir,
}

fn stream_error(e: StreamError) -> CtlError {
    match e {
        StreamError::Peer(message) => CtlError::Server(message),
        e => CtlError::Protocol(e.to_string()),
    }
}

fn file_error(path: &Path) -> impl Fn(std::io::Error) -> CtlError + '_ {
    move |e| CtlError::Local(format!("{}: {e}", path.display()))
}

/// Messages of an mbox file or a Maildir that could not be imported, reported at the end.
#[derive(Default)]
struct Skipped(Vec<String>);

impl Skipped {
    fn summary(self, imported: String) -> Result<String, CtlError> {
        if self.0.is_empty() {
            return Ok(imported);
        }
        let mut out = imported;
        for s in &self.0 {
            out.push_str(&format!("skipped: {s}\n"));
        }
        Err(CtlError::Partial(format!(
            "{out}{} messages were not imported",
            self.0.len()
        )))
    }
}

/// Sends one message of an import.
async fn send_message(
    tx: &mut StreamSender<'_, UnixStream>,
    data: &[u8],
    flags: Flags,
    received: Option<i64>,
) -> Result<(), CtlError> {
    let header = ImportMessage {
        flags: flag_names(flags),
        keywords: Vec::new(),
        received,
        size: data.len() as u64,
    };
    tx.send_json(&header).await.map_err(stream_error)?;
    tx.send_data(data).await.map_err(stream_error)
}

/// `moxctl import FORMAT ACCOUNT MAILBOX PATH`.
pub async fn import(
    stream: &mut UnixStream,
    format: Format,
    account: String,
    mailbox: String,
    path: &Path,
) -> Result<String, CtlError> {
    // Open the source first: a missing file is not the daemon's business.
    let source = Source::open(format, path)?;
    expect_ready(stream, &Request::Import { account, mailbox }).await?;
    let mut tx = StreamSender::new(stream);
    let skipped = match source {
        Source::Mbox { file, size } => import_mbox(&mut tx, file, size).await?,
        Source::Maildir(files) => import_maildir(&mut tx, files).await?,
    };
    tx.finish().await.map_err(stream_error)?;
    match read_frame::<Response>(stream).await {
        Ok(Some(Response::Ok { output })) => skipped.summary(output),
        Ok(Some(Response::Error { message })) => Err(CtlError::Server(message)),
        Ok(None) => Err(CtlError::Protocol(
            "the server closed the connection".into(),
        )),
        Err(e) => Err(CtlError::Protocol(e.to_string())),
    }
}

enum Source {
    Mbox { file: fs::File, size: u64 },
    Maildir(Vec<maildir::MaildirFile>),
}

impl Source {
    fn open(format: Format, path: &Path) -> Result<Source, CtlError> {
        match format {
            Format::Mbox => {
                let file = fs::File::open(path).map_err(file_error(path))?;
                let meta = file.metadata().map_err(file_error(path))?;
                if meta.is_dir() {
                    return Err(CtlError::Local(format!(
                        "{}: a directory, not an mbox file",
                        path.display()
                    )));
                }
                Ok(Source::Mbox {
                    file,
                    size: meta.len(),
                })
            }
            Format::Maildir => maildir::list(path)
                .map(Source::Maildir)
                .map_err(|e| CtlError::Local(e.to_string())),
        }
    }
}

async fn import_mbox(
    tx: &mut StreamSender<'_, UnixStream>,
    file: fs::File,
    size: u64,
) -> Result<Skipped, CtlError> {
    let mut progress = Progress::new("importing", size, true);
    let mut skipped = Skipped::default();
    // A line longer than the largest message makes its message oversized: nothing is cut.
    let mut lines = mbox::LineReader::new(BufReader::new(file), MAX_MESSAGE as usize + 2);
    let mut splitter = mbox::Splitter::new(MAX_MESSAGE as usize);
    let mut line = Vec::new();
    loop {
        let read = lines
            .next_line(&mut line)
            .map_err(|e| CtlError::Local(format!("reading the mbox: {e}")))?;
        let entry = match read {
            Some(cut) => {
                progress.advance(line.len() as u64 + cut, 0);
                splitter.push_line(&line, cut)
            }
            None => splitter.finish(),
        };
        if let Some(entry) = entry {
            if entry.oversized {
                skipped.0.push(format!(
                    "message at line {}: {} bytes, over the limit of {MAX_MESSAGE}",
                    entry.line, entry.size
                ));
            } else if entry.from_line.is_none() {
                skipped.0.push(format!(
                    "text at line {} before the first \"From \" line (is this an mbox file?)",
                    entry.line
                ));
            } else {
                send_message(tx, &entry.data, entry.flags(), entry.received()).await?;
                progress.advance(0, 1);
            }
        }
        if read.is_none() {
            break;
        }
    }
    progress.finish();
    Ok(skipped)
}

async fn import_maildir(
    tx: &mut StreamSender<'_, UnixStream>,
    files: Vec<maildir::MaildirFile>,
) -> Result<Skipped, CtlError> {
    let mut progress = Progress::new("importing", files.len() as u64, false);
    let mut skipped = Skipped::default();
    for file in files {
        let size = fs::metadata(&file.path)
            .map_err(file_error(&file.path))?
            .len();
        if size > MAX_MESSAGE {
            skipped.0.push(format!(
                "{}: {size} bytes, over the limit of {MAX_MESSAGE}",
                file.path.display()
            ));
        } else {
            let data = fs::read(&file.path).map_err(file_error(&file.path))?;
            send_message(tx, &maildir::to_crlf(&data), file.flags, file.received).await?;
        }
        progress.advance(1, 1);
    }
    progress.finish();
    Ok(skipped)
}

/// Where exported messages go.
enum Sink {
    Mbox(BufWriter<fs::File>, PathBuf),
    Maildir(PathBuf),
}

impl Sink {
    fn open(format: Format, dest: &Path, mailbox: &str) -> Result<Sink, CtlError> {
        match format {
            Format::Mbox => {
                let path = export_paths::mbox_file(dest, mailbox);
                if let Some(parent) = path.parent() {
                    fs::create_dir_all(parent).map_err(file_error(parent))?;
                }
                let file = fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                    .map_err(file_error(&path))?;
                Ok(Sink::Mbox(BufWriter::new(file), path))
            }
            Format::Maildir => {
                let dir = export_paths::maildir_dir(dest, mailbox);
                maildir::create(&dir).map_err(file_error(&dir))?;
                Ok(Sink::Maildir(dir))
            }
        }
    }

    fn write(&mut self, id: u64, data: &[u8], received: i64, flags: Flags) -> Result<(), CtlError> {
        match self {
            Sink::Mbox(out, path) => {
                mbox::write_message(out, data, received, flags).map_err(file_error(path))
            }
            Sink::Maildir(dir) => maildir::write_message(dir, id, data, received, flags)
                .map(|_| ())
                .map_err(file_error(dir)),
        }
    }

    fn close(self) -> Result<(), CtlError> {
        match self {
            Sink::Mbox(mut out, path) => {
                out.flush().map_err(file_error(&path))?;
                let file = out
                    .into_inner()
                    .map_err(|e| CtlError::Local(format!("{}: {}", path.display(), e.error())))?;
                file.sync_all().map_err(file_error(&path))
            }
            Sink::Maildir(_) => Ok(()),
        }
    }
}

/// Creates the export destination: a new directory, or an existing empty one.
fn create_dest(dest: &Path) -> Result<(), CtlError> {
    match fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(CtlError::Local(format!(
                    "{}: exists and is not empty",
                    dest.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(dest).map_err(file_error(dest))
        }
        Err(e) => Err(file_error(dest)(e)),
    }
}

/// `moxctl export FORMAT ACCOUNT DEST [--mailbox NAME]`.
pub async fn export(
    stream: &mut UnixStream,
    format: Format,
    account: String,
    mailbox: Option<String>,
    dest: &Path,
) -> Result<String, CtlError> {
    create_dest(dest)?;
    expect_ready(stream, &Request::Export { account, mailbox }).await?;
    let mut rx = StreamReceiver::new(stream);
    let mut progress = Progress::new("exporting", 0, true);
    let mut sink: Option<Sink> = None;
    let (mut mailboxes, mut messages) = (0u64, 0u64);
    let result = loop {
        let piece = match rx.next().await.map_err(stream_error)? {
            Piece::End => break Ok(()),
            Piece::Data(_) => break Err("data without a message".to_string()),
            Piece::Json(body) => json::<ExportPiece>(&body).map_err(stream_error)?,
        };
        match piece {
            ExportPiece::Summary { bytes, .. } => progress.set_total(bytes),
            ExportPiece::Mailbox { name } => {
                if let Some(done) = sink.take() {
                    done.close()?;
                }
                sink = Some(Sink::open(format, dest, &name)?);
                mailboxes += 1;
            }
            ExportPiece::Message {
                id,
                flags,
                received,
                size,
                ..
            } => {
                let Some(out) = sink.as_mut() else {
                    break Err("a message before its mailbox".into());
                };
                let data = match receive_data(&mut rx, size).await? {
                    Some(data) => data,
                    None => break Err("message data of the wrong size".into()),
                };
                out.write(id, &data, received, flags_from_names(&flags).0)?;
                messages += 1;
                progress.advance(size, 1);
            }
        }
    };
    if let Err(why) = result {
        rx.fail(&why).await;
        return Err(CtlError::Protocol(why));
    }
    if let Some(done) = sink.take() {
        done.close()?;
    }
    progress.finish();
    Ok(format!(
        "{messages} messages in {mailboxes} mailboxes exported to {}\n",
        dest.display()
    ))
}

/// Exactly `size` bytes of data pieces; None when the pieces do not add up.
async fn receive_data(
    rx: &mut StreamReceiver<'_, UnixStream>,
    size: u64,
) -> Result<Option<Vec<u8>>, CtlError> {
    if size > MAX_MESSAGE {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(size as usize);
    while (data.len() as u64) < size {
        match rx.next().await.map_err(stream_error)? {
            Piece::Data(chunk) if (data.len() + chunk.len()) as u64 <= size => {
                data.extend_from_slice(&chunk)
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(data))
}

/// `moxctl queue dump ID`: the message as it will be sent, to standard output.
pub async fn queue_dump(stream: &mut UnixStream, id: u64) -> Result<String, CtlError> {
    expect_ready(stream, &Request::QueueDump { id }).await?;
    let mut rx = StreamReceiver::new(stream);
    let mut out = std::io::stdout().lock();
    loop {
        match rx.next().await.map_err(stream_error)? {
            Piece::Data(chunk) => out
                .write_all(&chunk)
                .map_err(|e| CtlError::Local(format!("writing the message: {e}")))?,
            Piece::End => break,
            Piece::Json(_) => {
                rx.fail("a JSON piece in a message dump").await;
                return Err(CtlError::Protocol(
                    "unexpected JSON in a message dump".into(),
                ));
            }
        }
    }
    out.flush()
        .map_err(|e| CtlError::Local(format!("writing the message: {e}")))?;
    Ok(String::new())
}

/// `moxctl retrain [ACCOUNT]`: one progress bar per account, then a line per account.
pub async fn retrain(stream: &mut UnixStream, account: Option<String>) -> Result<String, CtlError> {
    expect_ready(stream, &Request::Retrain { account }).await?;
    let mut rx = StreamReceiver::new(stream);
    let mut done: Vec<RetrainProgress> = Vec::new();
    let mut bar: Option<Progress> = None;
    loop {
        match rx.next().await.map_err(stream_error)? {
            Piece::End => break,
            Piece::Data(_) => {
                rx.fail("data in a retrain").await;
                return Err(CtlError::Protocol("unexpected data in a retrain".into()));
            }
            Piece::Json(body) => {
                let p: RetrainProgress = json(&body).map_err(stream_error)?;
                let new_account = done.last().is_none_or(|last| last.account != p.account);
                if new_account {
                    if let Some(mut b) = bar.take() {
                        b.finish();
                    }
                    bar = Some(Progress::new("retraining", p.total, false));
                    done.push(p.clone());
                }
                if let (Some(b), Some(last)) = (bar.as_mut(), done.last_mut()) {
                    b.advance(
                        p.done - last.done.min(p.done),
                        p.done - last.done.min(p.done),
                    );
                    *last = p;
                }
            }
        }
    }
    if let Some(mut b) = bar.take() {
        b.finish();
    }
    Ok(done
        .iter()
        .map(|p| {
            format!(
                "{}: junk filter retrained from {} messages\n",
                p.account, p.total
            )
        })
        .collect())
}
