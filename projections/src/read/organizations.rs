use sqlx::any::AnyRow;
use sqlx::Row;

use tollgate_aggregates::types::Role;

use super::typed;
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationRow {
    pub id: String,
    pub name: String,
    pub project_limit: i64,
    pub live_projects: i64,
    pub credits_nano_usd: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    pub id: String,
    pub organization_id: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreditGrantRow {
    pub position: i64,
    pub amount_nano_usd: i64,
    pub reference: String,
    pub actor: String,
    pub granted_at: i64,
}

fn org_row(r: &AnyRow) -> Result<OrganizationRow> {
    Ok(OrganizationRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        project_limit: r.try_get("project_limit")?,
        live_projects: r.try_get("live_projects")?,
        credits_nano_usd: r.try_get("credits_nano_usd")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn member_row(r: &AnyRow) -> Result<MemberRow> {
    Ok(MemberRow {
        id: r.try_get("id")?,
        organization_id: r.try_get("organization_id")?,
        email: r.try_get("email")?,
        role: typed(r, "rm_members.role", Role::parse)?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn organization(db: &Db, id: &str) -> Result<Option<OrganizationRow>> {
    let row = sqlx::query("SELECT * FROM rm_organizations WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.any)
        .await?;
    row.as_ref().map(org_row).transpose()
}

/// Every organization, oldest first (bounded: the gateway admin's view).
pub async fn organizations(db: &Db, limit: i64) -> Result<Vec<OrganizationRow>> {
    let rows = sqlx::query("SELECT * FROM rm_organizations ORDER BY created_at, id LIMIT $1")
        .bind(limit)
        .fetch_all(&db.any)
        .await?;
    rows.iter().map(org_row).collect()
}

pub async fn credit_grants(db: &Db, organization_id: &str) -> Result<Vec<CreditGrantRow>> {
    let rows = sqlx::query(
        "SELECT position, amount_nano_usd, reference, actor, granted_at FROM rm_credit_grants \
         WHERE organization_id = $1 ORDER BY position",
    )
    .bind(organization_id)
    .fetch_all(&db.any)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CreditGrantRow {
                position: r.try_get("position")?,
                amount_nano_usd: r.try_get("amount_nano_usd")?,
                reference: r.try_get("reference")?,
                actor: r.try_get("actor")?,
                granted_at: r.try_get("granted_at")?,
            })
        })
        .collect()
}

const MEMBER_COLUMNS: &str = "id, organization_id, email, role, created_at";

pub async fn member_by_token_hash(db: &Db, token_hash: &str) -> Result<Option<MemberRow>> {
    let row = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM rm_members WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(&db.any)
    .await?;
    row.as_ref().map(member_row).transpose()
}

pub async fn member(db: &Db, id: &str) -> Result<Option<MemberRow>> {
    let row = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM rm_members WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.any)
    .await?;
    row.as_ref().map(member_row).transpose()
}

pub async fn members_of(db: &Db, organization_id: &str) -> Result<Vec<MemberRow>> {
    let rows = sqlx::query(&format!(
        "SELECT {MEMBER_COLUMNS} FROM rm_members WHERE organization_id = $1 ORDER BY created_at, id"
    ))
    .bind(organization_id)
    .fetch_all(&db.any)
    .await?;
    rows.iter().map(member_row).collect()
}
