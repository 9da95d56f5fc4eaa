//! The live chat's HTTP API: users and login, groups, channels and rules, canned responses,
//! leads and tickets; sessions and WebSockets are in `livechat_sessions` and `livechat_ws`.
//!
//! Every route needs a token (`Authorization: Bearer …`). Browsers cannot set headers on a
//! WebSocket, so an upgrade may carry it as a subprotocol instead (`Sec-WebSocket-Protocol:
//! ochat, ochat.token.<token>`, answered `ochat`; what the widget and console do) or, for
//! older clients, as `?token=`. Anywhere else a query token is ignored, so tokens do not end
//! up in proxies' request logs: the admin token, an operator's login
//! token, or a visitor's session token (only for that session). Two routes are public by
//! nature: a visitor starting a chat, and a published channel's ratings.
//!
//! `POST /api/v1/login` answers 401 for a wrong login or password (the same answer and the
//! same work for both), 429 with `Retry-After` while the login or the client address is locked
//! after too many failures, and 503 with `Retry-After` when too many password checks are
//! already in flight (see `accounts::login_guard`).
//!
//! | method | path | who |
//! |---|---|---|
//! | POST | /api/v1/login | anyone with a login and password |
//! | POST | /api/v1/logout | the token's holder |
//! | POST/GET | /api/v1/users | admin |
//! | GET | /api/v1/users/me | operator |
//! | PATCH | /api/v1/users/{id} | the user, admin |
//! | POST | /api/v1/users/{id}/revoke_tokens | admin |
//! | DELETE | /api/v1/users/{id} | admin (an administrator: not themselves nor another administrator) |
//! | POST/GET | /api/v1/livechat/groups, PUT …/{id} | admin (list: staff) |
//! | POST/GET | /api/v1/livechat/channels | admin / staff |
//! | GET/PATCH/DELETE | /api/v1/livechat/channels/{id} | member or admin / admin |
//! | POST | /api/v1/livechat/channels/{id}/join, …/leave | operator (join: listed by the admin, or the channel allows self-join) |
//! | POST | /api/v1/livechat/channels/{id}/rules, PUT/DELETE …/{rule} | admin |
//! | GET | /api/v1/livechat/channels/{id}/ratings | member or admin |
//! | GET | /api/v1/livechat/channels/{id}/satisfaction?days=14 | member or admin |
//! | GET | /api/v1/livechat/satisfaction?days=14 | staff: every channel they may read |
//! | POST/GET | /api/v1/livechat/canned, DELETE …/{id} | staff |
//! | GET | /api/v1/livechat/canned/matches?q=:: | staff |
//! | GET | /api/v1/livechat/leads, /api/v1/livechat/tickets | admin: all; operator: their channels' |
//! | GET | /api/v1/livechat/languages | staff: the languages enabled on the node |
//! | POST | /api/v1/livechat/operator/activity | operator (the console reports input and focus) |
//!
//! "admin" above is the admin token or the token of a user flagged `administrator` (see
//! `livechat_roles`); only the admin token sets that flag.

use std::sync::Arc;

use std::net::SocketAddr;

use axum::Extension;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::ApiError;
use super::error::RetryAfter;
use super::{livechat_chatbots as chatbots, livechat_sessions as sessions, livechat_ws as ws};
use crate::accounts::{Caller, UserInput};
use crate::livechat::canned::{Canned, CannedInput};
use crate::livechat::channels::{Channel, ChannelInput, ChannelListItem};
use crate::livechat::commands::{Kind, Record};
use crate::livechat::groups::{Group, GroupInput};
use crate::livechat::presence::PresenceView;
use crate::livechat::ratings::Rating;
use crate::livechat::rules::Rule;
use crate::livechat::satisfaction::Satisfaction;
use crate::model::UserRecord;
use crate::node::NodeShared;

type Shared = State<Arc<NodeShared>>;

/// The live chat routes, merged into the API router.
pub fn router() -> Router<Arc<NodeShared>> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/users", post(create_user).get(list_users))
        .route("/api/v1/users/me", get(me))
        .route(
            "/api/v1/users/{id}",
            get(show_user).patch(update_user).delete(delete_user),
        )
        .route("/api/v1/users/{id}/revoke_tokens", post(revoke_tokens))
        .route(
            "/api/v1/livechat/groups",
            post(create_group).get(list_groups),
        )
        .route("/api/v1/livechat/groups/{id}", put(update_group))
        .route(
            "/api/v1/livechat/channels",
            post(create_channel).get(list_channels),
        )
        .route(
            "/api/v1/livechat/channels/{id}",
            get(show_channel)
                .patch(update_channel)
                .delete(delete_channel),
        )
        .route("/api/v1/livechat/channels/{id}/join", post(join))
        .route("/api/v1/livechat/channels/{id}/leave", post(leave))
        .route("/api/v1/livechat/channels/{id}/rules", post(add_rule))
        .route(
            "/api/v1/livechat/channels/{id}/rules/{rule}",
            put(update_rule).delete(delete_rule),
        )
        .route(
            "/api/v1/livechat/channels/{id}/ratings",
            get(channel_ratings),
        )
        .route(
            "/api/v1/livechat/channels/{id}/satisfaction",
            get(channel_satisfaction),
        )
        .route("/api/v1/livechat/satisfaction", get(all_satisfaction))
        .route(
            "/api/v1/livechat/canned",
            post(create_canned).get(list_canned),
        )
        .route("/api/v1/livechat/canned/matches", get(canned_matches))
        .route("/api/v1/livechat/canned/{id}", delete(delete_canned))
        .route("/api/v1/livechat/leads", get(leads))
        .route("/api/v1/livechat/tickets", get(tickets))
        .route("/api/v1/livechat/operator/activity", post(activity))
        .route("/api/v1/livechat/languages", get(languages))
        .merge(sessions::router())
        .merge(ws::router())
        .merge(chatbots::router())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct LoginBody {
    login: String,
    password: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "accounts",
    request_body = LoginBody,
    security(()),
    responses((status = 200, description = "The operator's token and record", body = crate::api::openapi_shapes::LoginAnswer), (status = 401, description = "unauthorized: wrong login or password", body = crate::api::openapi_shapes::ErrorBody), (status = 429, description = "too_many_requests: the login or address is locked for a while (Retry-After)", body = crate::api::openapi_shapes::ErrorBody), (status = 503, description = "busy: too many password checks in flight (Retry-After)", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn login(
    State(node): Shared,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(b): Json<LoginBody>,
) -> Response {
    let from = sessions::client_ip(peer.map(|Extension(ConnectInfo(a))| a));
    match node.accounts.login(&b.login, &b.password, from).await {
        Ok((token, user)) => match node.livechat.touch(user.id) {
            Ok(()) => Json(json!({"token": token, "user": user})).into_response(),
            Err(e) => ApiError::from(e).into_response(),
        },
        Err(e) => RetryAfter::from(e).into_response(),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/logout",
    tag = "accounts",
    security(("admin" = []), ("operator" = []), ("visitor" = [])),
    responses((status = 204, description = "The token is revoked"))
)]
async fn logout(State(node): Shared, c: Caller) -> Result<StatusCode, ApiError> {
    node.accounts.logout(&c.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "accounts",
    request_body = UserInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The new user", body = UserRecord), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn create_user(
    State(node): Shared,
    c: Caller,
    Json(b): Json<UserInput>,
) -> Result<(StatusCode, Json<UserRecord>), ApiError> {
    c.may_set_role(b.administrator)?;
    Ok((
        StatusCode::CREATED,
        Json(
            node.accounts
                .create_user(c.administering(&node)?, b)
                .await?,
        ),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "accounts",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Every user", body = Vec<UserRecord>))
)]
async fn list_users(State(node): Shared, c: Caller) -> Result<Json<Vec<UserRecord>>, ApiError> {
    c.administering(&node)?.admin()?;
    Ok(Json(node.accounts.users()?))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/me",
    tag = "accounts",
    security(("operator" = [])),
    responses((status = 200, description = "The token's user", body = UserRecord))
)]
async fn me(State(node): Shared, c: Caller) -> Result<Json<UserRecord>, ApiError> {
    let op = c
        .who
        .operator()
        .ok_or_else(|| ApiError::not_found("the admin token has no user"))?;
    Ok(Json(node.accounts.user(op)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "the user id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The user", body = UserRecord))
)]
async fn show_user(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<UserRecord>, ApiError> {
    c.who.staff()?;
    Ok(Json(node.accounts.user(id)?))
}

#[utoipa::path(
    patch,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "the user id")),
    request_body = UserInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The user, changed", body = UserRecord), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn update_user(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<UserInput>,
) -> Result<Json<UserRecord>, ApiError> {
    c.may_set_role(b.administrator)?;
    let who = c.administering_user(&node, id)?;
    Ok(Json(node.accounts.update_user(who, id, b).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/users/{id}",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "the user id")),
    security(("admin" = []), ("operator" = [])),
    responses(
        (status = 200, description = "The user is deleted: their tokens, presence, places in channels, groups and O'Chat connections, own canned responses and returning-visitor entries; open conversations they were in are left", body = crate::livechat::operator_removal::UserDeleted),
        (status = 403, description = "forbidden: not the admin, or an administrator deleting themselves or another administrator", body = crate::api::openapi_shapes::ErrorBody),
        (status = 404, description = "not_found: no such user", body = crate::api::openapi_shapes::ErrorBody)
    )
)]
async fn delete_user(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<crate::livechat::operator_removal::UserDeleted>, ApiError> {
    if c.who == crate::accounts::Who::Operator(id) {
        return Err(ApiError::forbidden("a user does not delete themselves"));
    }
    let who = c.administering_user(&node, id)?;
    let mut deleted = node.livechat.delete_user(who, id).await?;
    deleted.connections = node.federation.forget_member(id).await?;
    deleted.read_marks = node.messaging.forget_reader(id).await?;
    Ok(Json(deleted))
}

#[utoipa::path(
    post,
    path = "/api/v1/users/{id}/revoke_tokens",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "the user id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "How many tokens were revoked", body = crate::api::openapi_shapes::Revoked))
)]
async fn revoke_tokens(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let who = c.administering_user(&node, id)?;
    let n = node.accounts.revoke_user_tokens(who, id).await?;
    Ok(Json(json!({"revoked": n})))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/groups",
    tag = "accounts",
    request_body = GroupInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The new group", body = Group), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn create_group(
    State(node): Shared,
    c: Caller,
    Json(b): Json<GroupInput>,
) -> Result<(StatusCode, Json<Group>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            node.livechat
                .create_group(c.administering(&node)?, b)
                .await?,
        ),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/groups",
    tag = "accounts",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Every group", body = Vec<Group>))
)]
async fn list_groups(State(node): Shared, c: Caller) -> Result<Json<Vec<Group>>, ApiError> {
    c.who.staff()?;
    Ok(Json(node.livechat.groups()?))
}

#[utoipa::path(
    put,
    path = "/api/v1/livechat/groups/{id}",
    tag = "accounts",
    params(("id" = Uuid, Path, description = "the group id")),
    request_body = GroupInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The group, changed", body = Group), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn update_group(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<GroupInput>,
) -> Result<Json<Group>, ApiError> {
    Ok(Json(
        node.livechat
            .update_group(c.administering(&node)?, id, b)
            .await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/channels",
    tag = "livechat",
    request_body = ChannelInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The new channel", body = Channel), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn create_channel(
    State(node): Shared,
    c: Caller,
    Json(b): Json<ChannelInput>,
) -> Result<(StatusCode, Json<Channel>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            node.livechat
                .create_channel(c.administering(&node)?, b)
                .await?,
        ),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels",
    tag = "livechat",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The channels this token sees", body = Vec<ChannelListItem>))
)]
async fn list_channels(
    State(node): Shared,
    c: Caller,
) -> Result<Json<Vec<ChannelListItem>>, ApiError> {
    Ok(Json(node.livechat.channel_list(c.who)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels/{id}",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The channel", body = Channel))
)]
async fn show_channel(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Channel>, ApiError> {
    Ok(Json(
        node.livechat.channel_for(c.administering(&node)?, id)?,
    ))
}

#[utoipa::path(
    patch,
    path = "/api/v1/livechat/channels/{id}",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    request_body = ChannelInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The channel, changed", body = Channel), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn update_channel(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<ChannelInput>,
) -> Result<Json<Channel>, ApiError> {
    Ok(Json(
        node.livechat
            .update_channel(c.administering(&node)?, id, b)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/livechat/channels/{id}",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 204, description = "Deleted"), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn delete_channel(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    node.livechat
        .delete_channel(c.administering(&node)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/channels/{id}/join",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("operator" = [])),
    responses((status = 200, description = "The channel, joined", body = Channel))
)]
async fn join(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Channel>, ApiError> {
    Ok(Json(node.livechat.set_joined(c.who, id, true).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/channels/{id}/leave",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("operator" = [])),
    responses((status = 200, description = "The channel left", body = crate::api::openapi_shapes::Left))
)]
async fn leave(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Value>, ApiError> {
    node.livechat.set_joined(c.who, id, false).await?;
    Ok(Json(json!({"left": id})))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/channels/{id}/rules",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    request_body = Rule,
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The new rule", body = Rule))
)]
async fn add_rule(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Json(b): Json<Rule>,
) -> Result<(StatusCode, Json<Rule>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(
            node.livechat
                .add_rule(c.administering(&node)?, id, b)
                .await?,
        ),
    ))
}

#[utoipa::path(
    put,
    path = "/api/v1/livechat/channels/{id}/rules/{rule}",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id"), ("rule" = Uuid, Path, description = "the rule id")),
    request_body = Rule,
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The rule, changed", body = Rule))
)]
async fn update_rule(
    State(node): Shared,
    c: Caller,
    Path((id, rule)): Path<(Uuid, Uuid)>,
    Json(b): Json<Rule>,
) -> Result<Json<Rule>, ApiError> {
    Ok(Json(
        node.livechat
            .update_rule(c.administering(&node)?, id, rule, b)
            .await?,
    ))
}

#[utoipa::path(
    delete,
    path = "/api/v1/livechat/channels/{id}/rules/{rule}",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id"), ("rule" = Uuid, Path, description = "the rule id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 204, description = "Deleted"))
)]
async fn delete_rule(
    State(node): Shared,
    c: Caller,
    Path((id, rule)): Path<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    node.livechat
        .delete_rule(c.administering(&node)?, id, rule)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels/{id}/ratings",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the live chat channel id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The channel's ratings", body = Vec<Rating>))
)]
async fn channel_ratings(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<Rating>>, ApiError> {
    Ok(Json(
        node.livechat.channel_ratings(c.administering(&node)?, id)?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/canned",
    tag = "livechat",
    request_body = CannedInput,
    security(("admin" = []), ("operator" = [])),
    responses((status = 201, description = "The new canned response", body = Canned), (status = 409, description = "conflict: the object is not in a state that allows this", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn create_canned(
    State(node): Shared,
    c: Caller,
    Json(b): Json<CannedInput>,
) -> Result<(StatusCode, Json<Canned>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(node.livechat.create_canned(c.who, b).await?),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/canned",
    tag = "livechat",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The canned responses this token sees", body = Vec<Canned>))
)]
async fn list_canned(State(node): Shared, c: Caller) -> Result<Json<Vec<Canned>>, ApiError> {
    Ok(Json(node.livechat.canned_for(c.administering(&node)?)?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct MatchQuery {
    #[serde(default)]
    q: String,
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/canned/matches",
    tag = "livechat",
    params(MatchQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Canned responses whose shortcut starts with `q`", body = Vec<Canned>))
)]
async fn canned_matches(
    State(node): Shared,
    c: Caller,
    Query(q): Query<MatchQuery>,
) -> Result<Json<Vec<Canned>>, ApiError> {
    Ok(Json(node.livechat.canned_matches(c.who, &q.q)?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/livechat/canned/{id}",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "the canned response id")),
    security(("admin" = []), ("operator" = [])),
    responses((status = 204, description = "Deleted"))
)]
async fn delete_canned(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    node.livechat
        .delete_canned(c.administering(&node)?, id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/leads",
    tag = "livechat",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Leads (admin: all; operator: their channels')", body = Vec<Record>))
)]
async fn leads(State(node): Shared, c: Caller) -> Result<Json<Vec<Record>>, ApiError> {
    Ok(Json(
        node.livechat.records(c.administering(&node)?, Kind::Lead)?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/tickets",
    tag = "livechat",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Tickets (admin: all; operator: their channels')", body = Vec<Record>))
)]
async fn tickets(State(node): Shared, c: Caller) -> Result<Json<Vec<Record>>, ApiError> {
    Ok(Json(
        node.livechat
            .records(c.administering(&node)?, Kind::Ticket)?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/livechat/operator/activity",
    tag = "livechat",
    security(("operator" = [])),
    responses((status = 200, description = "The operator is active: available for new visitors for 30 minutes", body = crate::livechat::presence::PresenceView), (status = 403, description = "forbidden: only an operator reports activity", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn activity(State(node): Shared, c: Caller) -> Result<Json<PresenceView>, ApiError> {
    Ok(Json(node.livechat.operator_activity(c.who)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/languages",
    tag = "livechat",
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The languages enabled on this node", body = crate::api::openapi_shapes::LanguageList), (status = 403, description = "forbidden: staff only", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn languages(State(node): Shared, c: Caller) -> Result<Json<Value>, ApiError> {
    c.who.staff()?;
    Ok(Json(json!({"languages": node.livechat.languages()})))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct WindowQuery {
    /// The window in days, 1 to 3650 (default 14).
    days: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/channels/{id}/satisfaction",
    tag = "livechat",
    params(("id" = Uuid, Path, description = "The channel"), WindowQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "The channel's share of happy ratings over the window", body = Satisfaction), (status = 403, description = "forbidden: not a member of the channel", body = crate::api::openapi_shapes::ErrorBody))
)]
async fn channel_satisfaction(
    State(node): Shared,
    c: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<WindowQuery>,
) -> Result<Json<Satisfaction>, ApiError> {
    Ok(Json(node.livechat.satisfaction(
        c.administering(&node)?,
        id,
        q.days.as_deref(),
    )?))
}

#[utoipa::path(
    get,
    path = "/api/v1/livechat/satisfaction",
    tag = "livechat",
    params(WindowQuery),
    security(("admin" = []), ("operator" = [])),
    responses((status = 200, description = "Each channel the caller may read, with its satisfaction", body = Vec<Satisfaction>))
)]
async fn all_satisfaction(
    State(node): Shared,
    c: Caller,
    Query(q): Query<WindowQuery>,
) -> Result<Json<Vec<Satisfaction>>, ApiError> {
    Ok(Json(node.livechat.satisfaction_all(
        c.administering(&node)?,
        q.days.as_deref(),
    )?))
}
