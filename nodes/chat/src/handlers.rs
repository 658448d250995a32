//! One async function per endpoint: unpacks the request and asks the store.

use bazaar_runtime::Request;
use bazaar_subjects::Empty;
use bazaar_subjects::chat::{
    CatchUp, Conversation, ConversationFlag, ConversationId, Conversations, EditMessage,
    ListConversations, ListMessages, Message, MessageRef, Messages, Missed, PresenceChange, Report,
    ReportConversation, Reports, ResponseTime, SendMessage, ShopRef, StartConversation,
};
use bazaar_subjects::console::{ReportQuery, ResolveReport};

use crate::{ChatError, ChatStore};

type Reply<T> = Result<T, ChatError>;

pub(crate) async fn start(s: &ChatStore, req: Request<StartConversation>) -> Reply<Conversation> {
    s.start(&req).await
}

pub(crate) async fn list(s: &ChatStore, req: Request<ListConversations>) -> Reply<Conversations> {
    s.list(&req.caller, &req.body).await
}

pub(crate) async fn messages(s: &ChatStore, req: Request<ListMessages>) -> Reply<Messages> {
    s.messages(&req.caller, &req.body).await
}

pub(crate) async fn send(s: &ChatStore, req: Request<SendMessage>) -> Reply<Message> {
    s.send(&req).await
}

pub(crate) async fn edit(s: &ChatStore, req: Request<EditMessage>) -> Reply<Message> {
    let b = &req.body;
    s.edit(&req.caller, &b.conversation, b.seq, &b.text).await
}

pub(crate) async fn delete(s: &ChatStore, req: Request<MessageRef>) -> Reply<Message> {
    s.delete(&req.caller, &req.body.conversation, req.body.seq)
        .await
}

pub(crate) async fn read(s: &ChatStore, req: Request<MessageRef>) -> Reply<Conversation> {
    s.read(&req.caller, &req.body.conversation, req.body.seq)
        .await
}

pub(crate) async fn typing(s: &ChatStore, req: Request<ConversationId>) -> Reply<Empty> {
    s.typing(&req.caller, &req.body.conversation).await
}

pub(crate) async fn mute(s: &ChatStore, req: Request<ConversationFlag>) -> Reply<Conversation> {
    s.mute(&req.caller, &req.body).await
}

pub(crate) async fn block(s: &ChatStore, req: Request<ConversationFlag>) -> Reply<Conversation> {
    s.block(&req.caller, &req.body).await
}

pub(crate) async fn report(s: &ChatStore, req: Request<ReportConversation>) -> Reply<Report> {
    s.report(&req.caller, &req.body).await
}

pub(crate) async fn join(s: &ChatStore, req: Request<ConversationId>) -> Reply<Conversation> {
    s.join(&req.caller, &req.body.conversation).await
}

pub(crate) async fn reports(s: &ChatStore, req: Request<ReportQuery>) -> Reply<Reports> {
    s.reports(req.body.status.as_deref() == Some("resolved"))
        .await
}

pub(crate) async fn resolve_report(s: &ChatStore, req: Request<ResolveReport>) -> Reply<Report> {
    s.resolve_report(&req).await
}

pub(crate) async fn catch_up(s: &ChatStore, req: Request<CatchUp>) -> Reply<Missed> {
    s.catch_up(&req.caller, &req.body).await
}

pub(crate) async fn response_time(s: &ChatStore, req: Request<ShopRef>) -> Reply<ResponseTime> {
    s.response_time(&req.body.shop_id).await
}

pub(crate) async fn announce(s: &ChatStore, req: Request<PresenceChange>) -> Reply<Empty> {
    s.announce(&req.caller, req.body.online).await
}
