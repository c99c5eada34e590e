//! A mailbox actor: one per mailbox with sessions watching it. It receives the changes of each
//! commit from the account actor (in commit order), keeps the mailbox's published state (uidnext,
//! highest modseq, counts) and pushes the changes to every watching session.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;

use crate::store::{Change, Mailbox, MailboxId};

/// Changes of one mailbox from one commit, pushed to a session.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct MailboxChanged(pub Arc<Vec<Change>>);

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Watch {
    pub session: u64,
    pub recipient: Recipient<MailboxChanged>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Unwatch {
    pub session: u64,
}

#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Publish(pub Arc<Vec<Change>>);

/// The mailbox as of the last commit that changed it, if any since the actor started.
#[derive(Message)]
#[rtype(result = "Option<Mailbox>")]
pub struct PublishedState;

pub struct MailboxActor {
    id: MailboxId,
    watchers: HashMap<u64, Recipient<MailboxChanged>>,
    state: Option<Mailbox>,
}

impl MailboxActor {
    pub fn new(id: MailboxId) -> MailboxActor {
        MailboxActor {
            id,
            watchers: HashMap::new(),
            state: None,
        }
    }
}

impl Actor for MailboxActor {
    type Context = Context<Self>;
}

impl Handler<Watch> for MailboxActor {
    type Result = ();

    fn handle(&mut self, msg: Watch, _: &mut Context<Self>) {
        self.watchers.insert(msg.session, msg.recipient);
    }
}

impl Handler<Unwatch> for MailboxActor {
    type Result = ();

    fn handle(&mut self, msg: Unwatch, _: &mut Context<Self>) {
        self.watchers.remove(&msg.session);
    }
}

impl Handler<Publish> for MailboxActor {
    type Result = ();

    fn handle(&mut self, Publish(changes): Publish, _: &mut Context<Self>) {
        for change in changes.iter() {
            if let Change::Mailbox(m) = change
                && m.id == self.id
            {
                self.state = Some(m.clone());
            }
        }
        let id = self.id;
        self.watchers.retain(|session, recipient| {
            if !recipient.connected() {
                tracing::debug!(mailbox = id.0, session, "dropping watcher that went away");
                return false;
            }
            // do_send ignores the mailbox capacity: a busy session must not miss a change.
            recipient.do_send(MailboxChanged(changes.clone()));
            true
        });
    }
}

impl Handler<PublishedState> for MailboxActor {
    type Result = MessageResult<PublishedState>;

    fn handle(&mut self, _: PublishedState, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.clone())
    }
}
