//! `moxctl retrain [ACCOUNT]`: rebuilds junk filters from the messages' current `$Junk` and
//! `$NotJunk` flags. Through the account actor, in small batches: sessions and deliveries on the
//! account go on between them (a delivery during a retrain is trained once, by whichever comes
//! first). Progress is streamed to moxctl.

use tokio::io::{AsyncRead, AsyncWrite};

use super::Services;
use super::account::{ResetJunk, TrainJunk};
use super::transfer::{Outcome, answer, open_account, ready, refuse};
use crate::protocols::ctl::stream::StreamSender;
use crate::protocols::ctl::transfer::RetrainProgress;
use crate::store::{AccountStore, MessageId, StoreError};

/// Messages trained per write transaction: small, so other writes wait little.
const BATCH: usize = 25;

/// Every live message of the account.
fn live_ids(store: &AccountStore) -> Result<Vec<MessageId>, StoreError> {
    let reader = store.read()?;
    let mut ids = Vec::new();
    for mailbox in reader.mailboxes()? {
        for m in reader.live(mailbox.id)? {
            ids.push(m?.id);
        }
    }
    Ok(ids)
}

pub async fn retrain<S: AsyncRead + AsyncWrite + Unpin>(
    services: &Services,
    io: &mut S,
    account: Option<String>,
) -> Outcome {
    let accounts: Vec<String> = match account {
        Some(a) if services.config.dynamic().accounts.contains_key(&a) => vec![a],
        Some(a) => return refuse(io, format!("no account {a:?}")).await,
        None => services.config.dynamic().accounts.keys().cloned().collect(),
    };
    if let Outcome::Close = answer(io, ready()).await {
        return Outcome::Close;
    }
    let mut tx = StreamSender::new(io);
    for name in accounts {
        match retrain_one(services, &mut tx, &name).await {
            Ok(()) => {}
            Err(Failed::Stream) => return Outcome::Close,
            Err(Failed::Local(why)) => {
                tracing::error!(account = %name, error = %why, "retrain failed");
                let _ = tx.fail(&format!("{name}: {why}")).await;
                return Outcome::Close;
            }
        }
    }
    match tx.finish().await {
        Ok(()) => Outcome::Continue,
        Err(_) => Outcome::Close,
    }
}

enum Failed {
    Stream,
    Local(String),
}

async fn retrain_one<S: AsyncRead + AsyncWrite + Unpin>(
    services: &Services,
    tx: &mut StreamSender<'_, S>,
    name: &str,
) -> Result<(), Failed> {
    let local = |e: String| Failed::Local(e);
    let handle = open_account(services, name).await.map_err(local)?;
    // Reset first, then list: a message delivered in between is trained by its delivery, and
    // training it again from the list finds it trained already.
    handle
        .addr
        .send(ResetJunk {})
        .await
        .map_err(|e| local(e.to_string()))?
        .map_err(|e| local(e.to_string()))?;
    let store = handle.store.clone();
    let ids = actix_rt::task::spawn_blocking(move || live_ids(&store))
        .await
        .map_err(|e| local(e.to_string()))?
        .map_err(|e| local(e.to_string()))?;
    let total = ids.len() as u64;
    let mut progress = RetrainProgress {
        account: name.to_string(),
        done: 0,
        total,
    };
    tx.send_json(&progress).await.map_err(|_| Failed::Stream)?;
    for chunk in ids.chunks(BATCH) {
        handle
            .addr
            .send(TrainJunk {
                ids: chunk.to_vec(),
            })
            .await
            .map_err(|e| local(e.to_string()))?
            .map_err(|e| local(e.to_string()))?;
        progress.done += chunk.len() as u64;
        tx.send_json(&progress).await.map_err(|_| Failed::Stream)?;
    }
    tracing::info!(account = %name, messages = total, "junk filter retrained");
    Ok(())
}
