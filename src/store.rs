//! The event store: postgres-es or sqlite-es behind one repository type, so the rest of the
//! service has a single `CqrsFramework` per aggregate whatever the database.

use cqrs_es::persist::{
    PersistedEventRepository, PersistedEventStore, PersistenceError, ReplayStream, SerializedEvent,
    SerializedSnapshot,
};
use cqrs_es::{Aggregate, CqrsFramework};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlite_es::SqliteEventRepository;
use tollgate_projections::{Backend, Db};

pub enum EventRepo {
    Postgres(PostgresEventRepository),
    Sqlite(SqliteEventRepository),
}

impl EventRepo {
    pub fn new(db: &Db) -> Self {
        match &db.backend {
            Backend::Postgres(pool) => Self::Postgres(PostgresEventRepository::new(pool.clone())),
            Backend::Sqlite(pool) => Self::Sqlite(SqliteEventRepository::new(pool.clone())),
        }
    }
}

/// Forwards a call to whichever repository is configured.
macro_rules! delegate {
    ($self:ident, $repo:ident => $call:expr) => {
        match $self {
            EventRepo::Postgres($repo) => $call,
            EventRepo::Sqlite($repo) => $call,
        }
    };
}

impl PersistedEventRepository for EventRepo {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        delegate!(self, r => r.get_events::<A>(aggregate_id).await)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        delegate!(self, r => r.get_last_events::<A>(aggregate_id, last_sequence).await)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        delegate!(self, r => r.get_snapshot::<A>(aggregate_id).await)
    }

    async fn persist<A: Aggregate>(
        &self,
        events: &[SerializedEvent],
        snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        delegate!(self, r => r.persist::<A>(events, snapshot_update).await)
    }

    async fn stream_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        delegate!(self, r => r.stream_events::<A>(aggregate_id).await)
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        delegate!(self, r => r.stream_all_events::<A>().await)
    }
}

pub type Store<A> = PersistedEventStore<EventRepo, A>;
pub type Framework<A> = CqrsFramework<A, Store<A>>;

/// A framework for one aggregate. Read models come from our own projector, not from
/// cqrs-es queries (which run in-process after commit and would be lost on a crash).
pub fn framework<A: Aggregate>(db: &Db, services: A::Services) -> Framework<A> {
    CqrsFramework::new(Store::new_event_store(EventRepo::new(db)), vec![], services)
}
